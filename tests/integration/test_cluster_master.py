"""Cluster acceptance with real gmq-master nodes and a real etcd: three nodes listed,
kill -9 / SIGTERM leave, an etcd outage under HTTP push traffic, duplicate node id
refused, a node without etcd. The etcd tests skip until the master shows its
registration under "etcd" in GET /debug/stats (master/etcd.c wired in)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gmqtest  # noqa: E402
from etcdtest import Etcd, gmqctl, node_ids, nodes, wait_until  # noqa: E402

TTL = 2


def etcd_status(node):
    """The node's registration status, or None when /debug/stats does not show one."""
    try:
        status, body = node.get("/debug/stats", timeout=2)
        if status != 200:
            return None
        doc = json.loads(body)
    except (OSError, ValueError):
        return None
    for d in (doc, doc.get("data") if isinstance(doc, dict) else None):
        if isinstance(d, dict) and isinstance(d.get("etcd"), dict):
            return d["etcd"]
    return None


class MasterClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path in (gmqtest.MASTER, gmqtest.GMQCTL):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s not built" % path)

    def setUp(self):
        self.etcd = Etcd()
        self.addCleanup(self.etcd.cleanup)
        self.etcd.start()
        self.url = self.etcd.endpoint

    def node(self, node_id, weight=1, ttl=TTL, start=True):
        n = gmqtest.Node(self, args=["-etcd_endpoints=" + self.url, "-etcd_lease_ttl=%d" % ttl,
                                     "-node_id=%d" % node_id, "-node_weight=%d" % weight])
        if start:
            n.start()
            if etcd_status(n) is None:
                self.skipTest("gmq-master does not show \"etcd\" in /debug/stats yet (not wired)")
        return n

    def wait_ids(self, ids, timeout):
        return wait_until(lambda: node_ids(self.url) == sorted(ids), timeout,
                          what="nodes %s (now %s)" % (sorted(ids), node_ids(self.url)))

    def test_three_nodes_listed_with_weights(self):
        ns = [self.node(i, weight=w) for i, w in ((1, 1), (2, 2), (3, 5))]
        self.wait_ids([1, 2, 3], 5)
        listed = nodes(self.url)
        self.assertEqual([(n["node_id"], n["weight"]) for n in listed],
                         [("1", "1"), ("2", "2"), ("3", "5")])
        for n, node in zip(listed, ns):
            self.assertEqual(n["tcp_addr"], "127.0.0.1:%d" % node.tcp_port)
            self.assertEqual(n["http_addr"], "127.0.0.1:%d" % node.http_port)
            self.assertEqual(etcd_status(node)["state"], "registered")
        rc, out, err = gmqctl("--etcd", self.url, "ping", "--json")
        self.assertEqual(rc, 0, err)
        self.assertTrue(all(p["ok"] for p in json.loads(out)))

    def test_kill9_gone_within_ttl_plus_1s(self):
        a, b = self.node(1), self.node(2)
        self.wait_ids([1, 2], 5)
        a.kill()
        t0 = time.monotonic()
        self.wait_ids([2], TTL + 1)
        self.assertLessEqual(time.monotonic() - t0, TTL + 1)

    def test_sigterm_gone_at_once(self):
        a = self.node(1, ttl=30)
        self.node(2, ttl=30)
        self.wait_ids([1, 2], 5)
        self.assertEqual(a.stop(), 0)
        self.assertEqual(node_ids(self.url), [2])  # a 30 s lease: only the revoke does this

    def test_etcd_down_10s_under_push_traffic(self):
        ns = [self.node(i) for i in (1, 2, 3)]
        self.wait_ids([1, 2, 3], 5)
        failures, pushed, stop = [], [0], threading.Event()

        def producer():
            while not stop.is_set():
                for n in ns:
                    try:
                        r = n.push("cluster", "m%d" % pushed[0])
                        if r.get("code") != 0:
                            failures.append(r)
                    except Exception as exc:  # any failed request counts
                        failures.append(repr(exc))
                    pushed[0] += 1

        t = threading.Thread(target=producer, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        self.etcd.stop()
        wait_until(lambda: all(etcd_status(n)["state"] == "retrying" for n in ns), 5,
                   what="all nodes retrying")
        time.sleep(10)  # the scenario: etcd stays down for 10 s under traffic
        self.etcd.start()
        t0 = time.monotonic()
        self.wait_ids([1, 2, 3], 5)
        wait_until(lambda: all(etcd_status(n)["state"] == "registered" for n in ns),
                   5 - (time.monotonic() - t0), what="all nodes registered")
        stop.set()
        t.join(10)
        self.assertEqual(failures, [])
        self.assertGreater(pushed[0], 0)

    def test_duplicate_id_refused_exit_2(self):
        self.node(4, ttl=30)
        self.wait_ids([4], 5)
        dup = self.node(4, start=False)
        p = subprocess.run(dup.command(), capture_output=True, text=True, timeout=15,
                           env=dup.env)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("node_id 4 is already registered in etcd", p.stdout + p.stderr)
        self.assertEqual(node_ids(self.url), [4])


class StandaloneTest(unittest.TestCase):
    def test_node_without_etcd_starts_and_serves(self):
        node = gmqtest.Node(self).start()
        self.assertEqual(node.push("solo", "hello")["code"], 0)
        status = etcd_status(node)
        if status is not None:
            self.assertEqual(status["state"], "disabled")

    def test_node_with_unreachable_etcd_starts_and_serves(self):
        port = gmqtest.free_port()
        node = gmqtest.Node(self, args=["-etcd_endpoints=127.0.0.1:%d" % port,
                                        "-etcd_lease_ttl=2"]).start()
        self.assertEqual(node.push("solo", "hello")["code"], 0)
        status = etcd_status(node)
        if status is not None:
            wait_until(lambda: etcd_status(node)["state"] == "retrying", 5, what="retrying")


if __name__ == "__main__":
    unittest.main(verbosity=2)
