"""A simulated power loss on a gmq data directory (docs/reliability.md).

The node runs with GMQ_FAULT_SYNC_LOG=<log> (common/seam.c): every msync,
fsync and fdatasync that succeeded is appended to the log, with the file's
device, inode and the byte range (msync) before the call returns, so
before any reply that depends on it. After the node is killed with SIGKILL
(its page cache still holds everything it wrote), apply() rewrites each
segment file as a disk might hold it after the power went:

  - a byte inside a range the log says was synced is kept;
  - a byte that was not synced and is unchanged since the snapshot taken
    at the start of the epoch is kept (it was durable then);
  - a byte that was not synced and changed since (a dirty page) is, by
    mode: "lost" the old byte (the write never reached the disk), "garbage"
    random, "mixed" per 512-byte sector one of old, new (written back
    before the power went) or random;
  - a segment file created since the snapshot that was never fsynced is
    removed (its directory entry may not have reached the disk);
  - the counters file (never synced, by design) is zeroed or garbled.

topic.conf (temp file + fsync + rename + directory fsync) is kept as it is.
"""
import os
import random

SECTOR = 512


def segment_files(data_dir):
    """paths of every segment file under data_dir (q/ and dlq/ of each topic)"""
    out = []
    for root, dirs, files in os.walk(data_dir):
        for f in files:
            if f.startswith("seg-") and f.endswith(".log"):
                out.append(os.path.join(root, f))
    return sorted(out)


def counters_files(data_dir):
    out = []
    for root, dirs, files in os.walk(data_dir):
        if "counters" in files:
            out.append(os.path.join(root, "counters"))
    return out


def snapshot(data_dir):
    """{path: (inode, bytes)}: what is durable at the start of an epoch"""
    snap = {}
    for p in segment_files(data_dir):
        with open(p, "rb") as f:
            snap[p] = (os.fstat(f.fileno()).st_ino, f.read())
    return snap


def read_log(log_path):
    """({inode: [(off, end), ...]} synced by msync, {inodes fsynced as files})"""
    ranges, fsynced = {}, set()
    try:
        with open(log_path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        w = line.split(" ", 5)
        if len(w) < 6:
            continue            # a line cut by the kill: that sync is not counted
        if w[0] == "msync":
            ino, off, n = int(w[2]), int(w[3]), int(w[4])
            ranges.setdefault(ino, []).append((off, off + n))
        elif w[0] in ("fsync", "fdatasync") and w[4] == "file":
            fsynced.add(int(w[2]))
            if w[0] == "fdatasync":          # the whole file's data, as of then
                ranges.setdefault(int(w[2]), []).append((0, int(w[3])))
    return ranges, fsynced


def merge(ranges):
    out = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def unsynced(size, synced):
    """the complement of the merged synced ranges within [0, size)"""
    pos = 0
    for a, b in synced:
        if a > pos:
            yield pos, min(a, size)
        pos = max(pos, b)
        if pos >= size:
            return
    if pos < size:
        yield pos, size


def apply(data_dir, log_path, snap, mode, rnd):
    """rewrite the segment files as after a power loss; returns the figures"""
    ranges, fsynced = read_log(log_path)
    st = {"files": 0, "removed": 0, "synced_bytes": 0, "dirty_bytes": 0, "old": 0, "new": 0,
          "garbage": 0, "counters": 0}
    for path in segment_files(data_dir):
        with open(path, "r+b") as f:
            ino = os.fstat(f.fileno()).st_ino
            cur = f.read()
            old_ino, old = snap.get(path, (None, b""))
            if old_ino != ino:
                old = b""
                if ino not in fsynced and ino not in ranges:
                    f.close()
                    os.unlink(path)
                    st["removed"] += 1
                    continue
            st["files"] += 1
            img = bytearray(cur)
            synced = merge(ranges.get(ino, []))
            st["synced_bytes"] += sum(min(b, len(cur)) - a for a, b in synced if a < len(cur))
            for a, b in unsynced(len(cur), synced):
                # sector by sector: only what changed since the snapshot was being written
                s = a
                while s < b:
                    e = min(b, (s // SECTOR + 1) * SECTOR)
                    o = old[s:e] + bytes(max(0, e - max(s, len(old))))
                    if cur[s:e] != o:
                        st["dirty_bytes"] += e - s
                        pick = mode if mode != "mixed" else rnd.choice(["lost", "new", "garbage"])
                        if pick == "lost":
                            img[s:e] = o
                            st["old"] += e - s
                        elif pick == "garbage":
                            img[s:e] = rnd.randbytes(e - s)
                            st["garbage"] += e - s
                        else:
                            st["new"] += e - s
                    s = e
            if img != cur:
                f.seek(0)
                f.write(img)
    for path in counters_files(data_dir):
        if rnd.random() < 0.5:
            with open(path, "r+b") as f:
                n = os.fstat(f.fileno()).st_size
                f.write(bytes(n) if mode == "lost" else rnd.randbytes(min(n, 512)))
            st["counters"] += 1
    return st
