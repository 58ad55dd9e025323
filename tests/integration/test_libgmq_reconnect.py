"""libgmq across crashes: a producer (pipelined pubs) and a consumer (pop,
ack) built on the library keep going while the topic's worker and the master
are killed with kill -9 (the master restarted on the same ports and data
directory). Checked from what they print (tests/lib/lib_chaos.c): no
message published with GMQ_OK is lost, none is stored twice, an ack that
returned GMQ_OK is never followed by a redelivery, every message received is
acked in the end, and only publishes reported GMQ_ERR_UNKNOWN may go either
way (a publish refused for sure is never delivered)."""
import os
import signal
import subprocess
import tempfile
import unittest

from gmqtest import BUILD, Node, wait_for

LIB_CHAOS = os.path.join(BUILD, "tests", "lib_chaos")
N = 20000


def lines(path, kind):
    with open(path) as f:
        return [l.split(" ", 4) for l in f.read().splitlines() if l.startswith(kind + " ")]


@unittest.skipUnless(os.access(LIB_CHAOS, os.X_OK), "build/tests/lib_chaos not built")
class ReconnectTest(unittest.TestCase):
    def start(self, *args):
        out = os.path.join(self.tmp, "%s.out" % args[0])
        f = open(out, "wb")
        p = subprocess.Popen([LIB_CHAOS] + list(args) + ["addr=127.0.0.1:%d" % self.node.tcp_port,
                                                         "topic=chaos"],
                             stdout=f, stderr=subprocess.STDOUT)
        f.close()
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p, out

    def progress(self, path, kind, more, what):
        start = len(lines(path, kind))
        wait_for(lambda: len(lines(path, kind)) >= start + more, 60, 0.05, what)

    def test_kill9_master_and_worker(self):
        self.tmp = tempfile.mkdtemp(prefix="gmqchaos-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp])
        self.node = Node(self).start()
        self.assertEqual(self.node.json("/config?topic=chaos&msgTTR=3")["code"], 0)
        self.assertEqual(self.node.json("/declareQueue?topic=chaos&bindKey=q")["code"], 0)
        stop = os.path.join(self.tmp, "stop")
        cons, cons_out = self.start("consume", "stop=" + stop)
        prod, prod_out = self.start("produce", "n=%d" % N, "window=200", "pace_ms=3")

        def kill_worker():
            pid = wait_for(lambda: self.node.worker_pids().get("chaos"), 20, what="chaos worker")
            os.kill(pid, signal.SIGKILL)

        def kill_master():
            self.node.kill()           # SIGKILL; its workers exit when it is gone
            self.node.start()          # same ports, same data directory

        # a crash at every sixth of the publishes, with the consumer busy too
        for step, crash in enumerate((kill_worker, kill_master, kill_worker, kill_master)):
            wait_for(lambda: len(lines(prod_out, "PUB")) >= (step + 1) * N // 6, 60, 0.02,
                     "producer progress before crash %d" % step)
            self.progress(cons_out, "ACK", 100, "consumer progress before crash %d" % step)
            crash()
        self.assertEqual(prod.wait(180), 0, open(prod_out).read()[-2000:])

        pubs = {}
        for _, i, rc, mid, *err in lines(prod_out, "PUB"):
            pubs["m" + i] = (rc, int(mid), err)
        self.assertEqual(len(pubs), N)
        ok = {b for b, (rc, _, _) in pubs.items() if rc == "GMQ_OK"}
        unknown = {b for b, (rc, _, _) in pubs.items() if rc == "GMQ_ERR_UNKNOWN"}
        failed = set(pubs) - ok - unknown
        self.assertEqual(failed, set(), "publishes that failed for sure: %s"
                         % sorted((b, pubs[b]) for b in failed)[:5])

        # every message published with GMQ_OK received, and nothing ready, delayed
        # or in flight left on the node: nothing can come back now
        def drained():
            got = {l[3] for l in lines(cons_out, "GOT")}
            st = self.node.json("/getTopicStat?topic=chaos")["data"]
            return ok <= got and st["queue_msg_num"] == 0 and st["wait_ack_num"] == 0 and \
                st["delay_num"] == 0 and st
        try:
            stats = wait_for(drained, 120, 0.1, "every message received and acked")
        except AssertionError:
            got = {l[3] for l in lines(cons_out, "GOT")}
            raise AssertionError("not received: %s; stats %s; consumer alive: %s"
                                 % (sorted(ok - got)[:5], self.node.json("/getTopicStat?topic=chaos"),
                                    cons.poll() is None))
        open(stop, "w").close()
        self.assertEqual(cons.wait(60), 0)

        # the consumer's story, line by line
        with open(cons_out) as f:
            events = f.read().splitlines()
        ids_of = {}
        acked_at = {}
        for n, line in enumerate(events):
            w = line.split(" ", 4)
            if w[0] == "GOT":
                body = w[3]
                self.assertIn(body, pubs, "a body nobody published: %r" % line)
                self.assertNotIn(w[1], acked_at, "message %s delivered again after its ack "
                                 "returned GMQ_OK (line %d)" % (w[1], acked_at.get(w[1], -1)))
                ids_of.setdefault(body, set()).add(int(w[1]))
            elif w[0] == "ACK" and w[2] == "GMQ_OK":
                acked_at[w[1]] = n
        for body, ids in ids_of.items():
            self.assertEqual(len(ids), 1, "%s stored twice: %s" % (body, ids))
            if body in ok:
                self.assertEqual(ids, {pubs[body][1]})
        self.assertEqual(ok - set(ids_of), set(), "lost")
        # each message received was acked: GMQ_OK, or GMQ_ERR_UNKNOWN when the ack was
        # sent again after its answer was lost (the node has it acked: it drained)
        received = {str(i) for ids in ids_of.values() for i in ids}
        unknown_acks = {l.split()[1] for l in events if l.startswith("ACK ") and " GMQ_ERR_UNKNOWN " in l}
        self.assertEqual(received - set(acked_at) - unknown_acks, set(), "received and never acked")
        self.assertEqual(stats["acked_num"], len(received))
        redelivered = sum(1 for l in events if l.startswith("GOT ")) - len(ids_of)
        print("\n  %d publishes: %d ok, %d outcome unknown (%d of them stored); %d redeliveries; "
              "%d acks with an unknown outcome" % (N, len(ok), len(unknown), len(unknown & set(ids_of)),
                                                 redelivered, len(unknown_acks)))


if __name__ == "__main__":
    unittest.main()
