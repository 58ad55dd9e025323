"""libgmq's discovery with a real etcd and real nodes (registered with the
-etcd flags, docs/cluster.md): publishes spread by weight (smooth weighted
round-robin), an async consumer (tests/lib/lib_cluster.c) on every node
that leaves a node within 1 s of its SIGTERM (the key is revoked at once)
and within TTL + 1 s of its kill -9 (the lease expires), keeps consuming
from the others and picks up a node that joins.

Time bounds are asserted with a margin of 1.5 s for a loaded machine
(scheduling, etcd's watch delivery): what is checked is that the library
reacts to the key going away, not how fast the machine is."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gmqtest  # noqa: E402
from etcdtest import Etcd, node_ids, wait_until  # noqa: E402

LIB_CLUSTER = os.path.join(gmqtest.BUILD, "tests", "lib_cluster")
TTL = 2
MARGIN_S = 1.5


def now_ms():
    return time.monotonic() * 1000     # CLOCK_MONOTONIC, as the C side prints


def tcp_peers(pid, port):
    """ESTABLISHED connections of process pid to 127.0.0.1:port (from /proc)"""
    inodes = set()
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            t = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            x = line.split()
            if x[3] == "01" and int(x[2].split(":")[1], 16) == port and x[9] in inodes:
                n += 1
    return n


@unittest.skipUnless(os.access(LIB_CLUSTER, os.X_OK), "build/tests/lib_cluster not built")
class LibClusterTest(unittest.TestCase):
    def setUp(self):
        self.etcd = Etcd()
        self.addCleanup(self.etcd.cleanup)
        self.etcd.start()
        self.url = self.etcd.endpoint
        self.tmp = tempfile.mkdtemp(prefix="gmqlibcluster-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp])

    def node(self, node_id, weight=1):
        return gmqtest.Node(self, args=["-etcd_endpoints=" + self.url, "-etcd_lease_ttl=%d" % TTL,
                                        "-node_id=%d" % node_id, "-node_weight=%d" % weight]).start()

    def wait_ids(self, ids, timeout=10):
        wait_until(lambda: node_ids(self.url) == sorted(ids), timeout,
                   what="nodes %s (now %s)" % (sorted(ids), node_ids(self.url)))

    def run_tool(self, *args, timeout=60):
        return subprocess.run([LIB_CLUSTER] + list(args) + ["etcd=" + self.url], capture_output=True,
                              text=True, timeout=timeout)

    def push_num(self, node, topic):
        d = node.json("/getTopicStat?topic=" + topic)
        return d["data"]["push_num"] if d["code"] == 0 else 0

    def test_publishes_spread_by_weight(self):
        nodes = [self.node(i, weight=w) for i, w in ((1, 1), (2, 2), (3, 3))]
        self.wait_ids([1, 2, 3])
        p = self.run_tool("produce", "topic=spread", "n=60")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual([self.push_num(n, "spread") for n in nodes], [10, 20, 30])

    def test_consumer_follows_the_cluster(self):
        nodes = {i: self.node(i) for i in (1, 2, 3)}
        self.wait_ids([1, 2, 3])
        for n in nodes.values():
            self.assertEqual(n.json("/declareQueue?topic=work&bindKey=default")["code"], 0)
        out = os.path.join(self.tmp, "consumer.out")
        with open(out, "wb") as f:
            cons = subprocess.Popen([LIB_CLUSTER, "consume", "etcd=" + self.url, "topic=work"],
                                    stdout=f, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: cons.poll() is None and (cons.kill(), cons.wait()))

        def events(kind, node_id):
            with open(out) as f:
                return [int(l.split()[1]) for l in f
                        if l.startswith("EVENT ") and l.split()[2] == kind and
                        l.split()[3] == "/gmq/node-%d" % node_id]

        def got():
            with open(out) as f:
                return {l.split()[4]: l.split()[2] for l in f if l.startswith("GOT ")}

        def publish(node_id, body):
            r = nodes[node_id].push("work", body)
            self.assertEqual(r["code"], 0, r)

        def consumed(bodies, what):
            wait_until(lambda: set(bodies) <= set(got()), 15, what=what)

        # a connection to every node (one for commands, one for the consumer)
        for i in (1, 2, 3):
            wait_until(lambda: len(events("CONNECTED", i)) >= 2, 10, what="connected to node %d" % i)
        for i in (1, 2, 3):
            publish(i, "first-%d" % i)
        consumed(["first-1", "first-2", "first-3"], "a message from every node")
        self.assertEqual(got()["first-2"], "/gmq/node-2")

        # SIGTERM: the node revokes its lease; the consumer leaves it within 1 s
        t0 = now_ms()
        nodes[1].proc.send_signal(signal.SIGTERM)
        wait_until(lambda: events("REMOVED", 1), 1 + MARGIN_S, 0.02, what="node 1 removed")
        term_ms = events("REMOVED", 1)[0] - t0
        self.assertLess(term_ms, (1 + MARGIN_S) * 1000)
        wait_until(lambda: cons.poll() is None and tcp_peers(cons.pid, nodes[1].tcp_port) == 0,
                   1 + MARGIN_S, 0.02, what="no connection to node 1")
        self.assertEqual(nodes[1].proc.wait(15), 0)

        # kill -9: the key stays until its lease expires; left within TTL + 1 s of the kill
        t0 = now_ms()
        nodes[2].kill()
        wait_until(lambda: events("REMOVED", 2), TTL + 1 + MARGIN_S, 0.02, what="node 2 removed")
        kill_ms = events("REMOVED", 2)[0] - t0
        self.assertLess(kill_ms, (TTL + 1 + MARGIN_S) * 1000)
        print("\n  left node 1 %.0f ms after SIGTERM, node 2 %.0f ms after kill -9 (TTL %d s)"
              % (term_ms, kill_ms, TTL))
        self.wait_ids([3])
        # it tries node 2 no more: no connection attempt after the removal
        removed_at = events("REMOVED", 2)[0]
        wait_until(lambda: tcp_peers(cons.pid, nodes[3].tcp_port) >= 2, 5, what="still on node 3")
        publish(3, "after-3")
        consumed(["after-3"], "node 3 still consumed")

        # a node that joins is picked up
        nodes[4] = self.node(4)
        self.wait_ids([3, 4])
        wait_until(lambda: events("ADDED", 4) and len(events("CONNECTED", 4)) >= 2, 5,
                   what="node 4 picked up")
        publish(4, "joined-4")
        consumed(["joined-4"], "a message from the new node")
        self.assertEqual(got()["joined-4"], "/gmq/node-4")
        with open(out) as f:
            late = [l for l in f if l.startswith("EVENT ") and "/gmq/node-2" in l
                    and int(l.split()[1]) > removed_at]
        self.assertEqual(late, [], "node 2 tried after it left etcd")
        # (node 4 may be asked before its queue exists: the consumer says so and tries again)
        with open(out) as f:
            errors = [l for l in f if l.startswith(("ERR ", "ACKERR ", "CONNECT ")) and
                      "bindKey:default can't match queue" not in l]
        self.assertEqual(errors, [])

        # a sync producer now spreads over nodes 3 and 4 only, without an error
        p = self.run_tool("produce", "topic=later", "n=10")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual([self.push_num(nodes[i], "later") for i in (3, 4)], [5, 5])
        cons.send_signal(signal.SIGTERM)
        self.assertEqual(cons.wait(10), 0)


if __name__ == "__main__":
    unittest.main()
