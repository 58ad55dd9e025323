"""Storage at scale on the real binary: the ready backlog stays in the log
and restarts start from checkpoints. kill -9 of the worker and of the whole
node under load with small segments (freed and relocated on the way) and
every fsync policy: nothing acknowledged lost, nothing acked delivered
again. A restart reads only what follows the checkpoint; lookup by id deep
in a backlog; a data directory written by the previous storage format is
converted at start and loses nothing."""
import json
import os
import random
import signal
import subprocess
import threading
import time
import unittest

from gmqtest import ROOT, Node, TcpClient, wait_for

FIXTURE_V1 = os.path.join(ROOT, "tests", "unit", "fixtures", "v1-data.tar.gz")
FIXTURE_E_DUE_MS = 1827726394232     # when the fixture's delayed message becomes due


def connect(port):
    deadline = time.monotonic() + 20
    while True:
        try:
            return TcpClient(port, timeout=10)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def pub_many(c, topic, bk, bodies):
    """pipelined pubs; returns the ids, in order"""
    for b in bodies:
        c.cmd("pub %s %s 0" % (topic, bk), b)
    ids = []
    for _ in bodies:
        t, d = c.frame()
        assert t == 103, (t, d)
        ids.append(d.decode())
    return ids


def drain(n, topic, bk, wait=2):
    got = []
    c = n.tcp()
    while True:
        c.cmd("pop %s %s %d" % (topic, bk, wait))
        t, d = c.frame()
        while t == 105:
            t, d = c.frame()
        if t != 101:
            break
        m = json.loads(d)
        got.append((m["id"], m["body"] if "body" in m else None))
        c.cmd("ack %s %s %s" % (m["id"], topic, bk))
        assert c.frame()[0] == 103
    c.close()
    return got


class CheckpointCrashTest(unittest.TestCase):
    """Pushes and pop+ack over TCP while the worker is killed -9 three times
    and then the whole node (worker and master) once, with 1 MiB segments so
    that segments are freed (after a checkpoint) and entries relocated all
    along. Bodies up to 4 KB: a checkpoint waits for 1 MiB of log after the
    last one (GMQ_QUEUE_CHECKPOINT_BYTES), and the restarts must read one."""

    TOTAL = 12000

    def crash(self, policy):
        n = Node(self, args=["-fsync=" + policy, "-segment_size=1M"]).start()
        n.json("/config?topic=c&msgTTR=300")
        n.json("/declareQueue?topic=c&bindKey=q")
        lock = threading.Lock()
        pushed, acked, ack_unknown = set(), set(), set()
        done = threading.Event()
        port = n.tcp_port

        def producer(k):
            per = self.TOTAL // 2
            c = connect(port)
            i = 0
            while i < per:
                try:
                    c.cmd("pub c q 0", b"p%d-%d-" % (k, i) + b"x" * random.randrange(4000))
                    t, d = c.frame()
                except (OSError, ConnectionError):
                    c.close()
                    c = connect(port)
                    continue
                if t == 103:
                    with lock:
                        pushed.add(d.decode())
                    i += 1
            c.close()

        def consumer():
            c = connect(port)
            while not done.is_set():
                try:
                    c.cmd("pop c q 1")
                    t, d = c.frame()
                    while t == 105:
                        t, d = c.frame()
                    if t != 101:
                        continue
                    mid = json.loads(d)["id"]
                    with lock:
                        ack_unknown.add(mid)
                    c.cmd("ack %s c q" % mid)
                    t, d = c.frame()
                    if t == 103:
                        with lock:
                            acked.add(mid)
                            ack_unknown.discard(mid)
                except (OSError, ConnectionError):
                    c.close()
                    c = connect(port)
            c.close()

        threads = [threading.Thread(target=producer, args=(k,)) for k in range(2)]
        cons = threading.Thread(target=consumer)
        for t in threads + [cons]:
            t.start()
        rnd = random.Random(11)
        try:
            for _ in range(3):
                time.sleep(rnd.uniform(0.5, 1.5))
                pid = wait_for(lambda: n.worker_pids().get("c"), 10, what="worker up")
                os.kill(pid, signal.SIGKILL)
            time.sleep(rnd.uniform(0.5, 1.5))
            pid = wait_for(lambda: n.worker_pids().get("c"), 10, what="worker up")
            os.kill(pid, signal.SIGKILL)      # the whole node: worker, then master
            n.kill()
            n.start()
        finally:
            for t in threads:
                t.join(300)
            done.set()
            cons.join(60)
        self.assertEqual(len(pushed), self.TOTAL)
        self.assertIn("recovered from its checkpoint", n.read_log())
        self.assertEqual(n.stop(), 0)
        n.start()
        drained = drain(n, "c", "q")
        drained_ids = {m for m, _ in drained}
        self.assertEqual(len(drained_ids), len(drained), "a message delivered twice in the drain")
        self.assertEqual(acked & drained_ids, set(), "acked messages delivered again")
        # every acknowledged push was acked, or its ack's reply was lost, or it is drained
        missing = pushed - acked - drained_ids - ack_unknown
        self.assertEqual(len(missing), 0, "acknowledged pushes lost: %d" % len(missing))
        stat = n.json("/getTopicStat?topic=c")["data"]
        self.assertEqual(stat["queue_msg_num"], 0)
        self.assertEqual(stat["corrupt_records"], 0)
        # what remains on disk is small: the freed segments are gone
        qdir = os.path.join(n.data_dir, "c", "q", "q")
        segs = [f for f in os.listdir(qdir) if f.startswith("seg-")]
        self.assertLessEqual(len(segs), 4, segs)

    def test_always(self):
        self.crash("always")

    def test_everysec(self):
        self.crash("everysec")

    def test_no(self):
        self.crash("no")


class RestartTest(unittest.TestCase):
    def test_restart_reads_after_the_checkpoint(self):
        n = Node(self, args=["-segment_size=1M"]).start()
        n.json("/declareQueue?topic=r&bindKey=q")
        c = n.tcp()
        ids = []
        for k in range(30):
            ids += pub_many(c, "r", "q", [b"m%06d" % (k * 1000 + i) for i in range(1000)])
        c.close()
        self.assertEqual(len(set(ids)), 30000)
        # SIGTERM: a checkpoint at close, nothing to read after it
        self.assertEqual(n.stop(), 0)
        n.start()
        r = n.json("/pop?topic=r&bindKey=q&timeout=5")
        self.assertEqual(r["data"]["id"], ids[0])
        n.json("/ack?topic=r&bindKey=q&msgId=" + ids[0])
        wait_for(lambda: "recovered from its checkpoint and the 0 records after it" in n.read_log(),
                 what="the recovery line")
        self.assertIn("30000 ready", n.read_log().split("recovered from its checkpoint")[-1])
        # a message deep in the backlog, by id: found in the log, no entry of its own
        t = n.json("/msg?topic=r&msgId=" + ids[25000])
        self.assertEqual(t["code"], 0, t)
        self.assertEqual(t["data"]["state"], "ready")
        self.assertEqual(t["data"]["len"], 7)
        self.assertEqual(n.json("/msg?topic=r&msgId=" + ids[0])["code"], 1)     # acked
        # kill -9 of the worker right after more pushes: the respawned one
        # reads the checkpoint and what follows it
        c = n.tcp()
        more = pub_many(c, "r", "q", [b"n%06d" % i for i in range(2000)])
        c.close()
        os.kill(n.worker_pids()["r"], signal.SIGKILL)
        # a pop that reached the worker as it died is answered "retry"
        r = wait_for(lambda: (lambda r: r if r["code"] == 0 else None)(
            n.json("/pop?topic=r&bindKey=q&timeout=10")), timeout=20, what="a pop after the kill")
        self.assertEqual(r["data"]["id"], ids[1])
        n.json("/ack?topic=r&bindKey=q&msgId=" + ids[1])
        rest = drain(n, "r", "q", wait=1)
        self.assertEqual([m for m, _ in rest], ids[2:] + more)     # FIFO, nothing lost
        self.assertEqual(rest[-1][1], "n001999")
        self.assertEqual(n.json("/getTopicStat?topic=r")["data"]["queue_msg_num"], 0)


def segment_rss_kb(pid):
    """kB of the worker's segment mappings resident in it"""
    total, seg = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and ":" not in first:
                seg = "/seg-" in line
            elif seg and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


class ManyTopicsTest(unittest.TestCase):
    def test_topics_on_disk_start_in_turn_a_request_first(self):
        n = Node(self).start()
        c = n.tcp()
        names = ["m%02d" % i for i in range(40)]
        for t in names:
            c.cmd("queue %s q" % t)
            c.cmd("pub %s q 0" % t, t.encode())
        for _ in range(2 * len(names)):
            self.assertEqual(c.frame()[0], 103)
        c.close()
        self.assertEqual(n.stop(), 0)
        n.start()
        # the last one found is asked for at once: served without waiting its turn
        r = n.json("/pop?topic=m39&bindKey=q&timeout=10")
        self.assertEqual(r["data"]["body"], "m39")
        wait_for(lambda: all(w["state"] == "ready" for w in n.json("/debug/workers")["data"]) and
                 len(n.json("/debug/workers")["data"]) == len(names), timeout=30,
                 what="every topic ready")
        for t in names[:-1]:
            self.assertEqual(n.json("/pop?topic=%s&bindKey=q" % t)["data"]["body"], t)
        self.assertIn('gmq_worker_state{topic="m00",state="queued"} 0', n.get("/metrics")[1])
        self.assertIn("40 topics found on disk; their workers start 8 at a time", n.read_log())

    def test_an_idle_worker_holds_no_segment_page(self):
        n = Node(self).start()
        n.json("/declareQueue?topic=idle&bindKey=q")
        c = n.tcp()
        pub_many(c, "idle", "q", [b"x" * 1000] * 200)
        c.close()
        pid = n.worker_pids()["idle"]
        self.assertGreater(segment_rss_kb(pid), 0)
        wait_for(lambda: segment_rss_kb(pid) == 0, timeout=15, what="the pages released")
        # still all there
        self.assertEqual(len(drain(n, "idle", "q", wait=0)), 200)


class UpgradeTest(unittest.TestCase):
    def test_previous_format_converted_at_start(self):
        """tests/unit/fixtures/v1-data.tar.gz: written by the previous version
        and killed -9 (see make-v1-data.py); what that version recovered from
        it, this one delivers."""
        n = Node(self)
        os.makedirs(n.data_dir)
        subprocess.run(["tar", "-xzf", FIXTURE_V1, "-C", n.data_dir], check=True)
        n.start()
        # body E was pushed with a delay of a year (make-v1-data.py): once
        # that is over, it is ready, after the others
        e_due = time.time() < FIXTURE_E_DUE_MS / 1000 - 60
        work = drain(n, "legacy", "work", wait=0)
        self.assertEqual([b for _, b in work], ["body B", "body F", "body G", "body C", "body D"] +
                         ([] if e_due else ["body E"]))
        if e_due:
            p = n.json("/peek?topic=legacy&bindKey=work&state=delayed")["data"]
            self.assertEqual((p["id"], p["body"]), ("1312656066533658624", "body E"))
        self.assertEqual([b for _, b in drain(n, "legacy", "gone", wait=0)], ["after the purge"])
        self.assertEqual([b for _, b in drain(n, "dead", "q", wait=0)], ["body Z"])
        dead = []
        while True:
            r = n.json("/dead?topic=dead&bindKey=q")
            if r["code"] != 0 or not r["data"]:
                break
            dead.append((r["data"]["body"], r["data"]["retry_count"]))
        self.assertEqual(dead, [("body X", 1), ("body Y", 1)])
        log = n.read_log()
        self.assertIn("converting 1 segments of the previous storage format", log)
        self.assertNotIn("[E]", log)
        # converted once: a restart reads the new format from its checkpoint
        self.assertEqual(n.stop(), 0)
        n.start()
        if e_due:
            self.assertEqual(n.json("/peek?topic=legacy&bindKey=work&state=delayed")["data"]["id"],
                             "1312656066533658624")
        self.assertEqual(n.read_log().count("converting"), 4)
        for d in ("legacy/q/work", "legacy/q/gone", "dead/q/q", "dead/dlq/q"):
            with open(os.path.join(n.data_dir, d, "seg-0000000000000001.log"), "rb") as f:
                self.assertEqual(f.read(9)[8], 2, d)
            self.assertFalse(os.path.exists(os.path.join(n.data_dir, d + "~v1")))


if __name__ == "__main__":
    unittest.main()
