#!/usr/bin/env python3
"""gmq chaos checker: producers and consumers over TCP on several topics
while a nemesis kills workers and the master with SIGKILL (the master is
restarted on the same ports and data directory), stops and restarts the
master with SIGTERM, sends SIGHUP (with a changed config file), and fills
the disk (GMQ_FAULT_ENOSPC_FILE: fallocate fails with ENOSPC while the file
exists). Every push the node acknowledged (its id), every delivery and every
ack the node confirmed is recorded; at the end the faults stop, the queues
are drained, and the history is checked:

  lost       an acknowledged push never delivered
  phantom    a delivery of a body never pushed, of a push the node refused
             (an error other than "outcome is unknown"), or whose id does
             not match the id its push was acknowledged with
  after_ack  a delivery to a pop sent after an ack of that id was confirmed
  stored_twice  one pushed body delivered under two ids
  undrained  messages still held by a queue after the drain
  sanitizer  an ASan/UBSan report in the node's log (a build with SAN=1)

Pushes whose outcome is unknown (E_UNAVAILABLE "... outcome is unknown",
or the connection dropped before the reply) may or may not be delivered;
they are counted apart. Redeliveries (at-least-once) are counted and
reported as duplicates, not as errors.

Producers are paced: they wait while more than --backlog acknowledged
pushes have no confirmed ack yet, so the queues (and the drain at the end)
stay bounded however long the run. An interrupted run (Ctrl-C, SIGTERM,
an error) stops its threads and kills the node's processes by PID.

    python3 tests/chaos/chaos.py --seconds 600       (make chaos)

Exit status 0 when no check failed. The node's log and the data directory
are kept in --workdir when a check fails (or with --keep).
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

MESSAGE, ERROR, RESULT, CHANNEL, PING = 101, 102, 103, 104, 105
TTR = 3                 # seconds: a delivery never acked comes back after this
RETRY = 1000            # deliveries before a message is dead: never, here
BACKLOG = 2000          # acknowledged pushes not yet acked at which producers wait
UNKNOWN = "outcome is unknown"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    """gmq-master on fixed ports and a fixed data directory, restartable."""

    def __init__(self, build, workdir, enospc_file, extra_env=None, args=None):
        self.master = os.path.join(ROOT, build, "gmq-master")
        self.workdir = workdir
        self.data = os.path.join(workdir, "data")
        self.conf = os.path.join(workdir, "gmq.conf")
        self.log_path = os.path.join(workdir, "gmq.log")
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.env = dict(os.environ)
        self.env["GMQ_TEST_HOOKS"] = "1"
        self.env["GMQ_FAULT_ENOSPC_FILE"] = enospc_file
        self.env.update(extra_env or {})
        self.args = list(args or [])
        self.proc = None
        self.session = None
        self.conf_variant = 0
        self.write_conf()

    def write_conf(self):
        """two variants a SIGHUP switches between: segment size and log level"""
        seg = "1M" if self.conf_variant == 0 else "2M"
        with open(self.conf + ".tmp", "w") as f:
            f.write("fsync = always\nsegment_size = %s\nlog_level = %d\nmsg_ttr = %d\n"
                    "msg_max_retry = %d\nmax_connections = 1000\n"
                    % (seg, 1 + self.conf_variant, TTR, RETRY))
        os.rename(self.conf + ".tmp", self.conf)

    def start(self, timeout=30.0):
        log = open(self.log_path, "ab")
        cmd = [self.master, "-config_file=" + self.conf,
               "-tcp_addr=127.0.0.1:%d" % self.tcp_port,
               "-http_addr=127.0.0.1:%d" % self.http_port,
               "-data_save_path=" + self.data] + self.args
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        self.session = self.proc.pid     # the master leads its own session
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gmq-master exited with %s; see %s" % (self.proc.returncode,
                                                                          self.log_path))
            try:
                if self.get("/ping", timeout=1) == (200, "OK"):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("gmq-master not ready after %.0fs; see %s" % (timeout, self.log_path))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get(self, path, timeout=5):
        url = "http://127.0.0.1:%d%s" % (self.http_port, path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def json(self, path, timeout=5):
        return json.loads(self.get(path, timeout)[1])

    def workers(self):
        """{topic: (pid, state)} from /debug/workers; {} when it cannot be asked"""
        try:
            return {w["topic"]: (w["pid"], w["state"]) for w in self.json("/debug/workers")["data"]}
        except (OSError, ValueError, KeyError):
            return {}

    def group_pids(self):
        """the master and its workers: every process of the node's session"""
        if self.proc is None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "-s", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        pids = [int(x) for x in out.split()]
        return sorted(pids, key=lambda p: p != self.proc.pid)     # the master first

    def wait_gone(self, pids, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [p for p in pids if pid_alive(p)]:
                return True
            time.sleep(0.01)
        return False

    def stop(self):
        """SIGTERM and wait; the workers are reaped by the master"""
        if not self.alive():
            return
        pids = self.group_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.wait_gone(pids)

    def kill_all(self):
        if self.proc is None:
            return
        for pid in self.group_pids():
            if session_of(pid) == self.session:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc is not None:
            self.proc.wait(10)


def session_of(pid):
    """the session id of a live process, None if there is none"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[3]) if fields[0] != "Z" else None


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Conn:
    """one TCP connection speaking the gmq v2 protocol, request by request"""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def frame(self):
        """the next reply frame, heartbeats skipped"""
        while True:
            while len(self.buf) < 6:
                self._more()
            typ, n = struct.unpack(">HI", self.buf[:6])
            while len(self.buf) < 6 + n:
                self._more()
            data, self.buf = self.buf[6:6 + n], self.buf[6 + n:]
            if typ != PING:
                return typ, data

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the node")
        self.buf += chunk


PADS = [16, 200, 1000, 3000]


def make_body(key):
    """the body pushed for a key: the key, '-', and a pad whose length the
    key decides (so a delivered body is checked whole, and only keys kept)"""
    return "%s-%s" % (key, "x" * PADS[zlib.crc32(key.encode()) % len(PADS)])


def body_key(body):
    """the key of a delivered body, None if it is not a body make_body wrote"""
    key = body.rsplit("-", 1)[0]
    return key if body == make_body(key) else None


class History:
    """what clients saw, with the times that order it (monotonic seconds)"""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = 0
        self.acked = {}          # id -> key: the node answered the push with this id
        self.refused = {}        # key -> error text: nothing stored, the node said
        self.unknown = set()     # keys whose push outcome is unknown
        self.deliveries = []     # (id, key or the body if it is no body we wrote, retry, pop sent)
        self.ack_ok = {}         # id -> time the node confirmed its ack (first)
        self.ack_unknown = 0
        self.ack_refused = 0
        self.finished = 0        # acknowledged pushes whose ack was confirmed
        self.paced_s = 0.0       # time producers spent waiting for the backlog
        self.max_backlog = 0
        self.errors = {}         # error text (cut) -> count, for the report

    def backlog(self):
        """acknowledged pushes not yet acked (the lock held)"""
        return len(self.acked) - self.finished

    def push_acked(self, mid, key):
        """the node answered a push with mid (the lock held); the consumer
        may have had it, and acked it, before the reply got here"""
        if mid in self.acked:
            return
        self.acked[mid] = key
        if mid in self.ack_ok:
            self.finished += 1
        self.max_backlog = max(self.max_backlog, self.backlog())

    def ack_confirmed(self, mid):
        """the node confirmed an ack of mid (the lock held)"""
        if mid in self.ack_ok:
            return
        self.ack_ok[mid] = time.monotonic()
        if mid in self.acked:
            self.finished += 1

    def note_error(self, what, text):
        key = "%s: %s" % (what, text[:60])
        with self.lock:
            self.errors[key] = self.errors.get(key, 0) + 1


class Producer(threading.Thread):
    def __init__(self, no, node, topics, hist, stop, seed, backlog=BACKLOG):
        super().__init__(daemon=True, name="producer-%d" % no)
        self.no, self.node, self.topics, self.hist, self.stop = no, node, topics, hist, stop
        self.rnd = random.Random(seed)
        self.seq = 0
        self.max_backlog = backlog

    def pace(self):
        """wait while the backlog is full (the consumers catch up)"""
        t0 = time.monotonic()
        while not self.stop.is_set():
            with self.hist.lock:
                if self.hist.backlog() < self.max_backlog:
                    break
            time.sleep(0.01)
        waited = time.monotonic() - t0
        if waited > 0.001:
            with self.hist.lock:
                self.hist.paced_s += waited

    def run(self):
        conn = None
        while not self.stop.is_set():
            self.pace()
            if self.stop.is_set():
                break
            try:
                if conn is None:
                    conn = Conn(self.node.tcp_port)
            except OSError:
                time.sleep(0.05)       # the node is restarting
                continue
            topic = self.rnd.choice(self.topics)
            self.seq += 1
            body = key = "p%d-%d" % (self.no, self.seq)
            data = make_body(key).encode()
            with self.hist.lock:
                self.hist.attempted += 1
            try:
                conn.send(("pub %s q 0\n" % topic).encode() + struct.pack(">I", len(data)) + data)
                typ, reply = conn.frame()
            except (OSError, ConnectionError):
                with self.hist.lock:
                    self.hist.unknown.add(body)
                conn.close()
                conn = None
                continue
            text = reply.decode("utf-8", "replace")
            with self.hist.lock:
                if typ == RESULT:
                    self.hist.push_acked(int(text), body)
                elif UNKNOWN in text:
                    self.hist.unknown.add(body)
                else:
                    self.hist.refused[body] = text
            if typ != RESULT:
                self.hist.note_error("pub", text)
                time.sleep(0.01)
        if conn:
            conn.close()


class Consumer(threading.Thread):
    def __init__(self, no, node, topics, hist, stop, seed, forget=0.01):
        super().__init__(daemon=True, name="consumer-%d" % no)
        self.node, self.topics, self.hist, self.stop = node, topics, hist, stop
        self.rnd = random.Random(seed)
        self.forget = forget            # share of deliveries never acked (TTR brings them back)
        self.dead_letters = False       # also take dead letters (the drain)
        self.idle = 0                   # pops in a row that found nothing

    def run(self):
        conn = None
        i = self.rnd.randrange(len(self.topics))
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = Conn(self.node.tcp_port)
            except OSError:
                time.sleep(0.05)
                continue
            i = (i + 1) % len(self.topics)
            topic = self.topics[i]
            cmd = "dead" if self.dead_letters and self.rnd.random() < 0.2 else "pop"
            sent = time.monotonic()
            try:
                conn.send(("%s %s q 0\n" % (cmd, topic)).encode())
                typ, reply = conn.frame()
            except (OSError, ConnectionError):
                conn.close()
                conn = None
                continue
            if typ != MESSAGE:
                text = reply.decode("utf-8", "replace")
                if text != "no message":
                    self.hist.note_error(cmd, text)
                    time.sleep(0.01)
                else:
                    self.idle += 1
                    time.sleep(0.005)
                continue
            self.idle = 0
            m = json.loads(reply)
            mid = int(m["id"])
            key = body_key(m["body"]) or m["body"]
            with self.hist.lock:
                self.hist.deliveries.append((mid, key, m["retry_count"], sent))
            if self.rnd.random() < self.forget and not self.dead_letters:
                continue
            try:
                conn.send(("ack %d %s q\n" % (mid, topic)).encode())
                typ, reply = conn.frame()
            except (OSError, ConnectionError):
                with self.hist.lock:
                    self.hist.ack_unknown += 1
                conn.close()
                conn = None
                continue
            text = reply.decode("utf-8", "replace")
            with self.hist.lock:
                if typ == RESULT:
                    self.hist.ack_confirmed(mid)
                elif UNKNOWN in text:
                    self.hist.ack_unknown += 1
                else:
                    self.hist.ack_refused += 1
            if typ != RESULT:
                self.hist.note_error("ack", text)
        if conn:
            conn.close()


class Nemesis:
    """one fault at a time, chosen by weight, every 0.05..0.5 s"""

    KINDS = [("kill9_worker", 62), ("kill9_master", 5), ("kill9_all", 3), ("term_master", 3),
             ("sighup", 12), ("enospc", 15)]
    WORKER_KILLS_PER_30S = 4    # below the master's crash loop limit (5 in 30 s)

    def __init__(self, node, topics, enospc_file, seed, log):
        self.node, self.topics, self.enospc_file = node, topics, enospc_file
        self.rnd = random.Random(seed)
        self.log = log
        self.counts = {k: 0 for k, _ in self.KINDS}
        self.kill9 = 0               # SIGKILLs that hit a live process
        self.restarts = 0
        self.exit_topic = 0          # crash loops undone by /exitTopic (operator action)
        self.kill_times = {}         # topic -> recent kill times
        self.enospc_until = 0.0

    def pick(self):
        total = sum(w for _, w in self.KINDS)
        r = self.rnd.uniform(0, total)
        for k, w in self.KINDS:
            r -= w
            if r <= 0:
                return k
        return self.KINDS[-1][0]

    def step(self):
        now = time.monotonic()
        if self.enospc_until and now >= self.enospc_until:
            self.disk_ok()
        if not self.node.alive():
            self.restart("found down")
        kind = self.pick()
        getattr(self, kind)()

    def disk_ok(self):
        try:
            os.unlink(self.enospc_file)
        except FileNotFoundError:
            pass
        self.enospc_until = 0.0

    def restart(self, why):
        for attempt in range(5):
            try:
                self.node.start()
                break
            except RuntimeError as e:      # e.g. the last workers still hold the data lock
                self.log("restart failed (%s); again" % e)
                self.node.kill_all()
                time.sleep(1)
        else:
            raise RuntimeError("gmq-master does not start again; see " + self.node.log_path)
        self.restarts += 1
        self.kill_times.clear()       # a new master counts crashes from zero

    def _kill(self, pid):
        # only a process of this node (its session): a pid read a moment ago
        # may belong to someone else by now
        if session_of(pid) != self.node.session:
            return False
        try:
            os.kill(pid, signal.SIGKILL)
            self.kill9 += 1
            return True
        except ProcessLookupError:
            return False

    def kill9_worker(self):
        workers = self.node.workers()
        now = time.monotonic()
        for topic, (pid, state) in workers.items():
            if state in ("crashloop", "fatal"):
                self.node.get("/exitTopic?topic=" + topic)
                self.exit_topic += 1
        ready = [(t, pid) for t, (pid, state) in workers.items() if pid > 0 and state == "ready"
                 and len([x for x in self.kill_times.get(t, []) if now - x < 31]) <
                 self.WORKER_KILLS_PER_30S]
        if not ready:
            return
        topic, pid = self.rnd.choice(ready)
        if self._kill(pid):
            self.counts["kill9_worker"] += 1
            self.kill_times.setdefault(topic, []).append(now)

    def kill9_master(self):
        if self._kill(self.node.proc.pid):
            self.counts["kill9_master"] += 1
        self.node.proc.wait(10)
        time.sleep(self.rnd.uniform(0, 0.3))
        self.restart("kill -9 master")

    def kill9_all(self):
        pids = self.node.group_pids()
        n = sum(1 for p in pids if self._kill(p))   # (the master first: no respawns)
        self.node.proc.wait(10)
        if n:
            self.counts["kill9_all"] += 1
        self.restart("kill -9 master and %d workers" % (n - 1))

    def term_master(self):
        self.node.stop()
        self.counts["term_master"] += 1
        self.restart("SIGTERM")

    def sighup(self):
        self.node.conf_variant ^= 1
        self.node.write_conf()
        try:
            self.node.proc.send_signal(signal.SIGHUP)
            self.counts["sighup"] += 1
        except ProcessLookupError:
            pass

    def enospc(self):
        if self.enospc_until:
            return
        open(self.enospc_file, "w").close()
        self.enospc_until = time.monotonic() + self.rnd.uniform(0.3, 3.0)
        self.counts["enospc"] += 1


def declare(node, topics):
    """queue q on each topic, TTR and retry limit as the checks assume"""
    c = Conn(node.tcp_port)
    for t in topics:
        for line in ("queue %s q\n" % t, "set %s 0 1 %d %d\n" % (t, TTR, RETRY)):
            c.send(line.encode())
            typ, reply = c.frame()
            if typ != RESULT and b"has exist" not in reply:
                raise RuntimeError("%s: %s" % (line.strip(), reply.decode("utf-8", "replace")))
    c.close()


def drain(node, topics, hist, consumers, timeout):
    """consume until every queue is empty twice in a row; True when it is"""
    deadline = time.monotonic() + timeout
    for c in consumers:
        c.dead_letters = True
    empty_rounds = 0
    while time.monotonic() < deadline:
        time.sleep(0.5)
        held = 0
        try:
            for t in topics:
                d = node.json("/getTopicStat?topic=%s" % t)["data"]
                held += d["queue_msg_num"] + d["wait_ack_num"] + d["delay_num"] + d["dead_num"]
        except (OSError, ValueError, KeyError, TypeError):
            empty_rounds = 0
            continue
        empty_rounds = empty_rounds + 1 if held == 0 else 0
        if empty_rounds >= 2 and all(c.idle > 3 for c in consumers):
            return True, 0
    return False, held


def check(hist):
    """the three properties; returns (failures, figures)"""
    fails = {"lost": [], "phantom": [], "after_ack": [], "stored_twice": []}
    delivered_ids = {}
    body_ids = {}
    for mid, body, retry, sent in hist.deliveries:
        delivered_ids[mid] = delivered_ids.get(mid, 0) + 1
        body_ids.setdefault(body, set()).add(mid)
        if mid in hist.acked:
            if hist.acked[mid] != body:
                fails["phantom"].append("id %d delivered with body %r, pushed as %r"
                                        % (mid, body[:30], hist.acked[mid][:30]))
        elif body in hist.refused:
            fails["phantom"].append("id %d: push of %r was refused (%s) but delivered"
                                    % (mid, body[:30], hist.refused[body][:80]))
        elif body not in hist.unknown:
            fails["phantom"].append("id %d: body %r was never pushed (or came back damaged)"
                                    % (mid, body[:30]))
        t_ack = hist.ack_ok.get(mid)
        if t_ack is not None and sent > t_ack:
            fails["after_ack"].append("id %d delivered to a pop sent %.3fs after its ack was "
                                      "confirmed (retry_count %d)" % (mid, sent - t_ack, retry))
    for mid, body in hist.acked.items():
        if mid not in delivered_ids:
            fails["lost"].append("id %d (%r) acknowledged, never delivered" % (mid, body[:30]))
    unknown_delivered = sum(1 for b in hist.unknown if b in body_ids)
    # each body is sent in one pub: a body under two ids was stored twice
    multi = sum(1 for b, ids in body_ids.items() if len(ids) > 1)
    if multi:
        fails["stored_twice"].append("%d bodies delivered under more than one id" % multi)
    figures = {
        "pushes_attempted": hist.attempted,
        "pushes_acked": len(hist.acked),
        "pushes_refused": len(hist.refused),
        "pushes_unknown": len(hist.unknown),
        "pushes_unknown_delivered": unknown_delivered,
        "deliveries": len(hist.deliveries),
        "messages_delivered": len(delivered_ids),
        "duplicates": len(hist.deliveries) - len(delivered_ids),
        "acks_confirmed": len(hist.ack_ok),
        "acks_unknown": hist.ack_unknown,
        "acks_refused": hist.ack_refused,
    }
    return fails, figures


SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "LeakSanitizer has encountered a fatal error")


def run(seconds=60, build="build", topics=8, producers=4, consumers=4, seed=None,
        workdir=None, keep=False, out=sys.stdout, drain_timeout=120, backlog=BACKLOG):
    """One chaos run; returns the report (a dict, "ok" True when nothing failed).
    However it ends (an exception, KeyboardInterrupt), its threads are told
    to stop and every process of the node is gone when it returns or raises."""
    seed = seed if seed is not None else random.randrange(1 << 30)
    own_dir = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="gmq-chaos-")
    os.makedirs(workdir, exist_ok=True)
    enospc = os.path.join(workdir, "enospc")
    started = time.monotonic()

    def log(msg):
        out.write("[%7.2f] %s\n" % (time.monotonic() - started, msg))
        out.flush()

    log("chaos: %ds, %d topics, %d producers, %d consumers, backlog %d, seed %d, workdir %s"
        % (seconds, topics, producers, consumers, backlog, seed, workdir))
    node = Node(build, workdir, enospc)
    stop_prod, stop_cons = threading.Event(), threading.Event()
    threads = []
    try:
        node.start()
        names = ["chaos%d" % i for i in range(topics)]
        declare(node, names)

        rnd = random.Random(seed)
        hist = History()
        prods = [Producer(i, node, names, hist, stop_prod, rnd.random(), backlog)
                 for i in range(producers)]
        cons = [Consumer(i, node, names, hist, stop_cons, rnd.random()) for i in range(consumers)]
        threads = prods + cons
        for th in threads:
            th.start()
        nem = Nemesis(node, names, enospc, rnd.random(), log)
        last = time.monotonic()
        end = started + seconds
        while time.monotonic() < end:
            time.sleep(nem.rnd.uniform(0.05, 0.5))
            nem.step()
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                with hist.lock:
                    log("kill9 %d, faults %s, pushed %d acked %d, delivered %d, backlog %d"
                        % (nem.kill9, nem.counts, hist.attempted, len(hist.acked),
                           len(hist.deliveries), hist.backlog()))
        # faults off: disk back, node up, every topic out of any crash loop
        nem.disk_ok()
        if not node.alive():
            nem.restart("end of faults")
        for topic, (pid, state) in node.workers().items():
            if state in ("crashloop", "fatal"):
                node.get("/exitTopic?topic=" + topic)
        stop_prod.set()
        for th in prods:
            th.join(30)
        log("faults stopped; draining")
        drained, held = drain(node, names, hist, cons, drain_timeout)
        stop_cons.set()
        for th in cons:
            th.join(30)
        fails, figures = check(hist)
        if not drained:
            fails["undrained"] = ["%d messages still held after %ds of drain" % (held, drain_timeout)]
        # SIGTERM: the master and its workers exit normally (a sanitizer
        # build checks for leaks in each), then the log is read
        node.stop()
    finally:
        stop_prod.set()
        stop_cons.set()
        node.kill_all()          # nothing if the node was stopped; by PID otherwise
        for th in threads:
            th.join(10)
    with open(node.log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    bad = [w for w in SANITIZER_REPORTS if w in text]
    if bad:
        fails["sanitizer"] = ["%s in %s" % (w, node.log_path) for w in bad]
    kill9 = ("kill9_worker", "kill9_master", "kill9_all")
    report = {
        "ok": not any(fails.values()),
        "seconds": seconds,
        "seed": seed,
        "topics": topics,
        "producers": producers,
        "consumers": consumers,
        "injections": dict(nem.counts),
        "kill9_injections": sum(nem.counts[k] for k in kill9),
        "kill9_signals": nem.kill9,
        "master_restarts": nem.restarts,
        "exit_topic": nem.exit_topic,
        "figures": figures,
        "backlog_limit": backlog,
        "max_backlog": hist.max_backlog,
        "producers_paced_s": round(hist.paced_s, 1),
        "failures": {k: len(v) for k, v in fails.items()},
        "examples": {k: v[:10] for k, v in fails.items() if v},
        "errors_seen": dict(sorted(hist.errors.items(), key=lambda kv: -kv[1])[:15]),
        "workdir": workdir,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    log("report: " + json.dumps(report, indent=1))
    if report["ok"] and own_dir and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def on_sigterm(signum, frame):
    """SIGTERM (make interrupted, a CI timeout) ends the run like Ctrl-C:
    run()'s cleanup kills the node"""
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("CHAOS_SECONDS", 600)))
    ap.add_argument("--build", default=os.environ.get("GMQ_BUILD", "build"))
    ap.add_argument("--topics", type=int, default=8)
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--consumers", type=int, default=4)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--backlog", type=int, default=BACKLOG,
                    help="acknowledged pushes not yet acked at which producers wait")
    ap.add_argument("--json", help="write the report to this file")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        report = run(a.seconds, a.build, a.topics, a.producers, a.consumers, a.seed, a.workdir,
                     a.keep, backlog=a.backlog)
    except KeyboardInterrupt as e:
        print("chaos: interrupted (%s); the node was stopped" % (e or "Ctrl-C"), file=sys.stderr)
        return 130
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    print("chaos: %s" % ("ok" if report["ok"] else "FAILED: %s" % report["failures"]))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
