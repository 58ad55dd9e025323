"""Power loss with fsync=always: the node runs with its syncs logged
(GMQ_FAULT_SYNC_LOG, common/seam.c), producers and consumers work on three
topics, and every few seconds the master and its workers are killed with
SIGKILL at once; then every byte of the segment files that was not synced
is lost, garbled or kept (tests/chaos/powerloss.py), and the node starts
on what is left. After the last crash the queues are drained: every push
that was acknowledged is delivered, nothing never pushed is, and no
message comes back after its ack was confirmed (docs/reliability.md)."""
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))

import chaos       # noqa: E402
import powerloss   # noqa: E402

BUILD = os.environ.get("GMQ_BUILD", "build")
CYCLES = int(os.environ.get("POWERLOSS_CYCLES", "6"))
MODES = ["lost", "garbage", "mixed"]


class PowerLossTest(unittest.TestCase):
    def test_acknowledged_messages_survive_power_loss(self):
        seed = int(os.environ.get("POWERLOSS_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        work = tempfile.mkdtemp(prefix="gmq-powerloss-")
        sync_log = os.path.join(work, "sync.log")
        node = chaos.Node(BUILD, work, os.path.join(work, "no-enospc"),
                          extra_env={"GMQ_FAULT_SYNC_LOG": sync_log})
        topics = ["pl0", "pl1", "pl2"]
        hist = chaos.History()
        figures = []
        ok = False
        try:
            for cycle in range(CYCLES):
                snap = powerloss.snapshot(node.data)
                open(sync_log, "w").close()
                node.start()
                if cycle == 0:
                    chaos.declare(node, topics)
                stop = threading.Event()
                clients = [chaos.Producer(cycle * 10 + i, node, topics, hist, stop, rnd.random())
                           for i in range(3)]
                clients += [chaos.Consumer(i, node, topics, hist, stop, rnd.random(), forget=0.05)
                            for i in range(2)]
                for th in clients:
                    th.start()
                time.sleep(rnd.uniform(1.0, 3.0))
                node.kill_all()                 # the power goes: master and workers at once
                stop.set()
                for th in clients:
                    th.join(20)
                mode = MODES[cycle % len(MODES)]
                st = powerloss.apply(node.data, sync_log, snap, mode, rnd)
                figures.append((mode, st))
            node.start()
            cons = [chaos.Consumer(i, node, topics, hist, threading.Event(), rnd.random(), forget=0)
                    for i in range(2)]
            for th in cons:
                th.start()
            drained, held = chaos.drain(node, topics, hist, cons, 60)
            for th in cons:
                th.stop.set()
                th.join(20)
            node.stop()
            fails, fig = chaos.check(hist)
            msg = "seed %d, %s, crashes %s, failures %s" % (
                seed, fig, figures, {k: v[:5] for k, v in fails.items() if v})
            print("\npowerloss: " + msg)
            self.assertTrue(drained, "%d messages still held; %s" % (held, msg))
            self.assertFalse(any(fails.values()), msg)
            self.assertGreater(fig["pushes_acked"], 100, msg)
            self.assertGreater(fig["acks_confirmed"], 50, msg)
            ok = True
        finally:
            node.kill_all()
            if ok:
                shutil.rmtree(work, ignore_errors=True)
            else:
                print("work directory kept: " + work)


if __name__ == "__main__":
    unittest.main()
