"""Cluster registration against a real etcd (Debian's etcd-server), driven by
build/tests/etcd_driver (master/etcd.c on its own loop) and observed with build/gmqctl.

Run:  python3 -m unittest -v tests/integration/test_cluster.py   (after make build/gmqctl
build/tests/etcd_driver; GMQ_BUILD=build-asan to use another build directory)"""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcdtest  # noqa: E402
from etcdtest import Driver, Etcd, gmqctl, node_ids, nodes, wait_until  # noqa: E402

TTL = 2


class PingServer:
    """A tiny HTTP server on 127.0.0.1 answering GET /ping like a node does."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"code":0,"data":"pong","msg":"success"}' if self.path == "/ping" else b"no"
                self.send_response(200 if self.path == "/ping" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path in (etcdtest.GMQCTL, etcdtest.DRIVER):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s not built (make build/gmqctl build/tests/etcd_driver)"
                                        % path)

    def setUp(self):
        self.etcd = Etcd()
        self.addCleanup(self.etcd.cleanup)
        self.etcd.start()
        self.url = self.etcd.endpoint

    def driver(self, node_id, **kw):
        kw.setdefault("ttl", TTL)
        kw.setdefault("tcp_addr", "127.0.0.1:%d" % (19500 + node_id))
        kw.setdefault("http_addr", "127.0.0.1:%d" % (19600 + node_id))
        d = Driver(kw.pop("endpoints", self.url), node_id, **kw)
        self.addCleanup(d.cleanup)
        return d

    def wait_ids(self, ids, timeout, url=None):
        return wait_until(lambda: node_ids(url or self.url) == sorted(ids), timeout,
                          what="nodes %s (now %s)" % (sorted(ids), node_ids(url or self.url)))

    # ---- registration ----

    def test_registration_visible_with_string_fields(self):
        d = self.driver(3, weight=4)
        d.wait_state("registered", 5)
        self.wait_ids([3], 2)
        [n] = nodes(self.url)
        self.assertEqual(n["node_id"], "3")
        self.assertEqual(n["tcp_addr"], "127.0.0.1:19503")
        self.assertEqual(n["http_addr"], "127.0.0.1:19603")
        self.assertEqual(n["weight"], "4")
        self.assertRegex(n["join_time"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertRegex(n["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
        # the raw value in etcd: every field a string, the original's key
        import base64
        r = self.etcd.post("/v3/kv/range", {"key": base64.b64encode(b"/gmq/node-3").decode()})
        value = json.loads(base64.b64decode(r["kvs"][0]["value"]))
        self.assertTrue(all(isinstance(v, str) for v in value.values()), value)
        self.assertEqual(set(value), {"node_id", "tcp_addr", "http_addr", "weight", "join_time",
                                      "version", "started_at"})
        self.assertNotEqual(r["kvs"][0].get("lease", "0"), "0")
        # stays registered across several keepalives (TTL 2 s)
        lease = d.states()[-1]["lease_id"]
        time.sleep(TTL * 2)  # the scenario: time passes; keepalives must hold the key
        self.assertEqual(node_ids(self.url), [3])
        self.assertEqual(d.state(), "registered")
        self.assertEqual(d.states()[-1]["lease_id"], lease)

    def test_weights_listed_table_and_json(self):
        for i, w in ((1, 1), (2, 2), (3, 5)):
            self.driver(i, weight=w)
        self.wait_ids([1, 2, 3], 5)
        self.assertEqual([(n["node_id"], n["weight"]) for n in nodes(self.url)],
                         [("1", "1"), ("2", "2"), ("3", "5")])
        rc, out, err = gmqctl("--etcd", self.url, "nodes")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "TCP_ADDR", "HTTP_ADDR", "WEIGHT", "UP", "SINCE"])
        self.assertEqual([l.split()[3] for l in lines[1:]], ["1", "2", "5"])
        self.assertEqual(len(lines), 4)

    def test_wildcard_listen_address_is_not_advertised(self):
        self.driver(7, tcp_addr="0.0.0.0:19507", http_addr=":19607")
        self.wait_ids([7], 5)
        [n] = nodes(self.url)
        for key, port in (("tcp_addr", "19507"), ("http_addr", "19607")):
            host, _, p = n[key].rpartition(":")
            self.assertEqual(p, port)
            self.assertNotIn(host, ("", "0.0.0.0", "::", "[::]"))

    def test_report_addresses_win(self):
        self.driver(8, extra=("--report-tcp-addr", "10.1.2.3:9503",
                              "--report-http-addr", "gmq8.example:9504"))
        self.wait_ids([8], 5)
        [n] = nodes(self.url)
        self.assertEqual((n["tcp_addr"], n["http_addr"]), ("10.1.2.3:9503", "gmq8.example:9504"))

    # ---- leaving ----

    def test_kill9_gone_within_ttl_plus_1s(self):
        d = self.driver(4)
        d.wait_state("registered", 5)
        self.wait_ids([4], 2)
        d.stop(signal.SIGKILL)
        t0 = time.monotonic()
        self.wait_ids([], TTL + 1)
        self.assertLessEqual(time.monotonic() - t0, TTL + 1)

    def test_sigterm_revokes_at_once(self):
        d = self.driver(5, ttl=30)
        d.wait_state("registered", 5)
        self.wait_ids([5], 2)
        t0 = time.monotonic()
        rc = d.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        # with a 30 s lease only the revoke can make it vanish this fast
        self.assertEqual(node_ids(self.url), [])
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(d.states()[-1]["state"], "stopped")
        self.assertIn("revoke", d.stderr())

    def test_duplicate_id_refused(self):
        d = self.driver(6, ttl=30)
        d.wait_state("registered", 5)
        p = subprocess.run([etcdtest.DRIVER, "--endpoints", self.url, "--node-id", "6",
                            "--ttl", "2"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("node_id 6 is already registered in etcd by 127.0.0.1:19506 (lease ",
                      p.stderr)
        # the first one is untouched
        self.assertEqual(node_ids(self.url), [6])
        self.assertEqual(d.state(), "registered")
        # after it leaves, the id is free again
        d.stop(signal.SIGTERM)
        d2 = self.driver(6)
        d2.wait_state("registered", 5)

    # ---- etcd trouble ----

    def test_etcd_down_10s_then_back_reregisters_within_5s(self):
        d = self.driver(9)
        d.wait_state("registered", 5)
        self.etcd.stop()
        d.wait_state("retrying", 3)
        self.assertEqual(d.proc.poll(), None)
        time.sleep(10)  # the scenario: etcd stays down for 10 s
        self.assertEqual(d.proc.poll(), None)
        regs = d.states()[-1]["registrations"]
        t0 = time.monotonic()
        self.etcd.start()
        d.wait_state("registered", 5)
        self.wait_ids([9], 5 - (time.monotonic() - t0))
        self.assertLessEqual(time.monotonic() - t0, 5)
        self.assertGreater(d.states()[-1]["registrations"], regs)
        self.assertGreater(d.states()[-1]["failures"], 0)
        # and the registration holds beyond the lease TTL (keepalive works again)
        time.sleep(TTL + 1)  # the scenario: longer than one TTL
        self.assertEqual(node_ids(self.url), [9])

    def test_etcd_unreachable_at_start_then_registers(self):
        etcd = Etcd(name="late")
        self.addCleanup(etcd.cleanup)
        d = self.driver(10, endpoints=etcd.endpoint)
        d.wait_state("retrying", 5)
        self.assertEqual(d.proc.poll(), None)  # started anyway
        etcd.start()
        d.wait_state("registered", 5)
        self.wait_ids([10], 2, url=etcd.endpoint)

    def test_dead_endpoint_then_live_one(self):
        dead = "127.0.0.1:%d" % etcdtest.free_port()
        d = self.driver(11, endpoints="%s,%s" % (dead, self.url))
        d.wait_state("registered", 5)
        self.assertEqual(d.states()[-1]["endpoint"], self.url)
        rc, out, err = gmqctl("--etcd", "%s,%s" % (dead, self.url), "nodes", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual([n["node_id"] for n in json.loads(out)], ["11"])

    def test_key_deleted_is_put_back(self):
        import base64
        d = self.driver(12)
        d.wait_state("registered", 5)
        self.etcd.post("/v3/kv/deleterange", {"key": base64.b64encode(b"/gmq/node-12").decode()})
        self.wait_ids([12], TTL + 1)
        wait_until(lambda: d.states()[-1]["registrations"] >= 2 and d.state() == "registered",
                   TTL + 1, what="re-put")

    def test_https_endpoint_with_ca_file(self):
        etcd = Etcd(name="tls", tls=True)
        self.addCleanup(etcd.cleanup)
        etcd.start()
        self.assertTrue(etcd.endpoint.startswith("https://"))
        d = self.driver(14, endpoints=etcd.endpoint, extra=("--ca-file", etcd.ca_file))
        d.wait_state("registered", 5)
        self.assertEqual([n["node_id"] for n in nodes(etcd.endpoint, etcd.ca_file)], ["14"])
        # without the CA, certificate verification fails: gmqctl exits 1
        rc, out, err = gmqctl("--etcd", etcd.endpoint, "nodes")
        self.assertEqual(rc, 1)
        self.assertIn("certificate", err.lower())
        # and a node without the CA cannot register, but runs
        d2 = self.driver(15, endpoints=etcd.endpoint)
        d2.wait_state("retrying", 5)
        self.assertIn("certificate", d2.states()[-1]["last_error"].lower())
        d.stop(signal.SIGTERM)
        wait_until(lambda: nodes(etcd.endpoint, etcd.ca_file) == [], 2, what="revoked over TLS")

    # ---- gmqctl ----

    def test_gmqctl_ping_and_exit_codes(self):
        srv = PingServer()
        self.addCleanup(srv.close)
        self.driver(1, http_addr=srv.addr)
        self.wait_ids([1], 5)
        rc, out, err = gmqctl("--etcd", self.url, "ping", "--json")
        self.assertEqual(rc, 0, err)
        [p] = json.loads(out)
        self.assertEqual((p["node_id"], p["http_addr"], p["ok"]), ("1", srv.addr, True))
        rc, out, err = gmqctl("--server", "http://" + srv.addr, "ping")
        self.assertEqual(rc, 0, err)
        self.assertIn("ok", out.splitlines()[1])
        # a registered node that does not answer: 1
        self.driver(2, http_addr="127.0.0.1:%d" % etcdtest.free_port())
        self.wait_ids([1, 2], 5)
        rc, out, err = gmqctl("--etcd", self.url, "ping", "--json")
        self.assertEqual(rc, 1)
        self.assertEqual([x["ok"] for x in json.loads(out)], [True, False])
        # etcd unreachable: 1 with a message
        rc, out, err = gmqctl("--etcd", "127.0.0.1:%d" % etcdtest.free_port(), "nodes")
        self.assertEqual(rc, 1)
        self.assertIn("gmqctl:", err)
        # usage: 2 with a usage line
        for args in (["frobnicate"], ["--bogus", "nodes"], ["nodes", "--bogus"], []):
            rc, out, err = gmqctl(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn("usage: gmqctl", err)
        rc, out, err = gmqctl("--help")
        self.assertEqual(rc, 0)
        self.assertIn("nodes", out)
        self.assertIn("ping", out)

    def test_watch_sees_changes_within_1s(self):
        w = subprocess.Popen([etcdtest.GMQCTL, "--etcd", self.url, "watch", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(w.stderr.close)
        self.addCleanup(w.stdout.close)
        self.addCleanup(etcdtest.stop_process, w, signal.SIGKILL)
        lines = []
        reader = threading.Thread(target=lambda: [lines.append(json.loads(l)) for l in w.stdout],
                                  daemon=True)
        reader.start()
        wait_until(lambda: lines and lines[-1] == [], 5, what="first (empty) watch line")
        d = self.driver(13)
        d.wait_state("registered", 5)
        wait_until(lambda: [n["node_id"] for n in lines[-1]] == ["13"], 1, what="node 13 seen")
        d.stop(signal.SIGTERM)
        t0 = time.monotonic()
        wait_until(lambda: lines[-1] == [], 1, what="node 13 gone")
        self.assertLess(time.monotonic() - t0, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
