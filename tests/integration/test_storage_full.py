"""A small real filesystem (tmpfs, mounted by the test) filled by many
topics: every refused push or declaration gets a clear error naming the full
disk, the node and its workers stay up, and after the space is freed (the
filesystem grown) and the node restarted every acknowledged message is
delivered, once, and nothing that was refused."""
import os
import shutil
import subprocess
import tempfile
import unittest

from gmqtest import Node, wait_for

SIZE_MB = 24          # the filesystem: room for a few dozen one-message queues
TOPICS = 200


def mount_tmpfs(path, size_mb):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % size_mb,
                           "tmpfs", path], capture_output=True, text=True)


def can_mount():
    d = tempfile.mkdtemp(prefix="gmqmnt-")
    try:
        if mount_tmpfs(d, 1).returncode != 0:
            return False
        subprocess.run(["umount", d], check=True)
        return True
    finally:
        os.rmdir(d)


@unittest.skipUnless(os.geteuid() == 0 and can_mount(), "needs root and mount -t tmpfs")
class FullFilesystemTest(unittest.TestCase):
    def test_many_topics_fill_the_disk_then_space_freed_and_restart(self):
        mnt = tempfile.mkdtemp(prefix="gmqfull-")
        self.addCleanup(lambda: shutil.rmtree(mnt, ignore_errors=True))
        r = mount_tmpfs(mnt, SIZE_MB)
        self.assertEqual(r.returncode, 0, r.stderr)
        # after the node's cleanup (added later, run first)
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt]))
        data = os.path.join(mnt, "data")
        n = Node(self, data_dir=data, args=["-max_topics=%d" % (TOPICS + 10)]).start()

        acked = {}        # topic -> [bodies], in push order
        refused = []      # (topic, body) never stored
        errors = set()
        for i in range(TOPICS):
            t = "full%03d" % i
            d = n.json("/declareQueue?topic=%s&bindKey=q" % t)
            if d["code"] != 0:
                errors.add(d["msg"])
                refused.append((t, None))
                continue
            for k in range(3):
                body = "%s-%d" % (t, k)
                p = n.push(t, body, "q")
                if p["code"] == 0:
                    acked.setdefault(t, []).append(body)
                else:
                    refused.append((t, body))
                    errors.add(p["msg"])
        self.assertTrue(acked, "nothing could be stored")
        self.assertTrue(refused, "the filesystem never filled up")
        for e in errors:
            self.assertIn("no space left on device", e)
        self.assertEqual(n.get("/ping")[1], "OK")
        ws = n.json("/debug/workers")["data"]
        self.assertEqual([w for w in ws if w["state"] in ("fatal", "crashloop")], [])

        # grow the filesystem, restart: everything acknowledged is there
        self.assertEqual(n.stop(), 0)
        r = subprocess.run(["mount", "-o", "remount,size=%dm" % (SIZE_MB * 8), mnt],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        n.start()
        got = {}
        for t in sorted(acked):
            while True:
                m = n.json("/pop?topic=%s&bindKey=q" % t)
                if m["code"] != 0 or not m["data"]:
                    break
                got.setdefault(t, []).append(m["data"]["body"])
                self.assertEqual(n.json("/ack?topic=%s&bindKey=q&msgId=%s" %
                                        (t, m["data"]["id"]))["code"], 0)
        self.assertEqual(got, acked)
        # refused pushes were not stored anywhere; a topic refused at first works now
        for t, body in refused:
            if body is not None and t not in acked:
                r = n.json("/pop?topic=%s&bindKey=q" % t)
                self.assertFalse(r["code"] == 0 and r["data"], r)
        # a topic whose declaration was refused, and one whose push was, work now
        for late in {next((t for t, b in refused if b is None), None),
                     next(t for t, b in refused if b is not None)} - {None}:
            wait_for(lambda: n.json("/declareQueue?topic=%s&bindKey=q" % late)["msg"] in
                     ("ok", "success", "bindKey q has exist."),
                     timeout=15, what="a declaration after the space was freed")
            self.assertEqual(n.push(late, "after", "q")["code"], 0)


if __name__ == "__main__":
    unittest.main()
