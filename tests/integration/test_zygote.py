"""The worker zygote (master/spawn.c, worker/zygote.c): one gmq-worker the
master starts, which forks the topics' workers as children of the master.
Workers hold none of the master's or the zygote's descriptors; without a
zygote (killed, or hung) workers still start, as programs of their own,
and a new zygote takes over later; it leaves with the master."""
import os
import signal
import time
import unittest

from gmqtest import Node, wait_for


def alive(pid):
    """running (a zombie whose parent is gone may never be reaped here)"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rpartition(")")[2].split()[1])


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().rstrip(b"\0").replace(b"\0", b" ").decode()


def zygote(node):
    m = node.proc.pid
    with open("/proc/%d/task/%d/children" % (m, m)) as f:
        kids = [int(x) for x in f.read().split()]
    found = [k for k in kids if alive(k) and cmdline(k).startswith("gmq-worker --zygote")]
    return found[0] if found else None


def fd_targets(pid):
    res = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            res.add(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return res


def metric(node, sample):
    for line in node.get("/metrics")[1].splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[1])
    raise AssertionError("no sample " + sample)


class ZygoteTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()

    def topic(self, t):
        r = self.node.json("/declareQueue?topic=%s&bindKey=q" % t)
        self.assertEqual(r["code"], 0, r)
        self.assertEqual(self.node.push(t, "hello " + t, "q")["code"], 0)
        return self.node.worker_pids()[t]

    def test_workers_are_forked_by_the_zygote_as_children_of_the_master(self):
        m = self.node.proc.pid
        z = wait_for(lambda: zygote(self.node), 5, what="the zygote")
        self.assertEqual(cmdline(z), "gmq-worker --zygote %d" % m)
        self.assertEqual(ppid(z), m)
        pids = [self.topic(t) for t in ("za", "zb", "zc")]
        for t, pid in zip(("za", "zb", "zc"), pids):
            self.assertEqual(ppid(pid), m)
            self.assertEqual(cmdline(pid), "gmq-worker: " + t)
        self.assertEqual(metric(self.node, 'gmq_worker_starts_total{how="zygote"}'), 3)
        self.assertEqual(metric(self.node, 'gmq_worker_starts_total{how="exec"}'), 0)
        self.assertEqual(metric(self.node, "gmq_worker_zygote_up"), 1)
        # no worker holds the master's sockets (listeners, connections) or
        # the zygote's control socket
        master_socks = {x for x in fd_targets(m) if x.startswith("socket:")}
        zygote_socks = {x for x in fd_targets(z) if x.startswith("socket:")}
        self.assertTrue(zygote_socks)
        for pid in pids:
            mine = fd_targets(pid)
            self.assertEqual(mine & zygote_socks, set(), "worker %d has the zygote's socket" % pid)
            # its IPC socket is its end of a pair: the master holds the other end
            self.assertEqual(mine & master_socks, set(), "worker %d has a master socket" % pid)
        self.assertEqual(self.node.json("/pop?topic=zb&bindKey=q")["data"]["body"], "hello zb")

    def test_workers_start_without_the_zygote_and_a_new_one_takes_over(self):
        m = self.node.proc.pid
        before = self.topic("zbefore")
        z = wait_for(lambda: zygote(self.node), 5, what="the zygote")
        os.kill(z, signal.SIGKILL)
        wait_for(lambda: metric(self.node, "gmq_worker_zygote_up") == 0, 5, what="zygote reaped")
        self.assertIn("worker zygote: killed by signal 9", self.node.read_log())
        # the workers it made keep serving
        self.assertEqual(self.node.worker_pids()["zbefore"], before)
        self.assertEqual(self.node.json("/pop?topic=zbefore&bindKey=q")["data"]["body"],
                         "hello zbefore")
        # a new topic's worker starts on its own meanwhile
        alone = self.topic("zalone")
        self.assertEqual(ppid(alone), m)
        self.assertEqual(cmdline(alone), "gmq-worker: zalone")
        self.assertGreaterEqual(metric(self.node, 'gmq_worker_starts_total{how="exec"}'), 1)
        # after the retry delay the next start brings a new zygote
        n = 0

        def new_zygote():
            nonlocal n
            n += 1
            self.topic("zafter%d" % n)
            z2 = zygote(self.node)
            return z2 if z2 not in (None, z) else None
        z2 = wait_for(new_zygote, 10, interval=0.3, what="a new zygote")
        self.assertNotEqual(z2, z)
        zyg = metric(self.node, 'gmq_worker_starts_total{how="zygote"}')
        self.topic("zlast")
        self.assertEqual(metric(self.node, 'gmq_worker_starts_total{how="zygote"}'), zyg + 1)

    def test_a_hung_zygote_is_replaced_and_the_worker_starts(self):
        z = wait_for(lambda: zygote(self.node), 5, what="the zygote")
        os.kill(z, signal.SIGSTOP)
        try:
            pid = self.topic("zhung")      # waits for the zygote's reply, then starts it alone
        finally:
            if alive(z):
                os.kill(z, signal.SIGCONT)
        self.assertEqual(ppid(pid), self.node.proc.pid)
        wait_for(lambda: not alive(z), 5, what="the hung zygote killed")
        self.assertIn("worker zygote: no reply", self.node.read_log())
        self.assertEqual(self.node.json("/pop?topic=zhung&bindKey=q")["data"]["body"], "hello zhung")

    def test_the_zygote_leaves_with_the_master(self):
        z = wait_for(lambda: zygote(self.node), 5, what="the zygote")
        self.topic("zk")
        self.node.kill()                   # kill -9: no goodbye
        wait_for(lambda: not alive(z), 5, what="the zygote to exit after kill -9 of the master")
        node = Node(self).start()
        z = wait_for(lambda: zygote(node), 5, what="the zygote")
        self.assertEqual(node.stop(timeout=10), 0)
        wait_for(lambda: not alive(z), 5, what="the zygote to exit after SIGTERM")


if __name__ == "__main__":
    unittest.main()
