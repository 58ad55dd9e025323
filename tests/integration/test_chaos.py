"""One minute of chaos (tests/chaos/chaos.py): producers and consumers on
eight topics while workers and the master are killed with SIGKILL, the
master is stopped and restarted, reloaded with SIGHUP, and the disk fills
up. No acknowledged push may be lost, nothing never pushed delivered, and
nothing delivered again after its ack was confirmed. `make chaos` runs the
same for 10 minutes (CHAOS_SECONDS)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))

import chaos   # noqa: E402

BUILD = os.environ.get("GMQ_BUILD", "build")
SECONDS = int(os.environ.get("CHAOS_TEST_SECONDS", "60"))


class ChaosTest(unittest.TestCase):
    def test_one_minute_of_chaos(self):
        seed = os.environ.get("CHAOS_SEED")
        report = chaos.run(seconds=SECONDS, build=BUILD, seed=int(seed) if seed else None)
        msg = "seed %d: failures %s, examples %s (work directory %s)" % (
            report["seed"], report["failures"], report.get("examples"), report["workdir"])
        self.assertTrue(report["ok"], msg)
        inj = report["injections"]
        for kind in ("kill9_worker", "kill9_master", "sighup", "enospc"):
            self.assertGreater(inj[kind], 0, "no %s injected: %s" % (kind, inj))
        fig = report["figures"]
        self.assertGreater(fig["pushes_acked"], 100, fig)
        self.assertGreaterEqual(fig["messages_delivered"], fig["pushes_acked"], fig)


if __name__ == "__main__":
    unittest.main()
