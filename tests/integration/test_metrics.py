"""GET /metrics (docs/metrics.md): promtool accepts the text format on nodes with
several topics and queues, with TLS off and on; after a known sequence of pushes,
pops, acks, TTR timeouts and dead letters every counter and gauge equals that
traffic exactly; the request latency and fsync histograms count what happened;
auth_token guards it like the rest of the API; a worker killed with SIGKILL shows
up in the restarts counter, and a topic whose worker is not running keeps only
its state. No timing is asserted."""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

from gmqtest import ROOT, Node, wait_for

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
CTYPE = "text/plain; version=0.0.4"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def gmq_version():
    with open(os.path.join(ROOT, "common", "gmq.h")) as f:
        return re.search(r'#define GMQ_VERSION "([^"]+)"', f.read()).group(1)


def fetch(node, path="/metrics", token=None):
    """(status, content type, body) of one GET; token None = the node's own"""
    req = urllib.request.Request(node.base + path)
    tok = token if token is not None else node.auth_token
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    ctx = node.tls_context if node.http_tls else None
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


class Scrape:
    """One parsed scrape: samples by (name, labels) and the declared families;
    the parser insists on what the format requires of us."""

    def __init__(self, test, text):
        self.text = text
        self.samples = {}
        self.types = {}
        helps = set()
        test.assertTrue(text.endswith("\n"), "the output must end in a newline")
        for line in text.split("\n")[:-1]:
            if line.startswith("# HELP "):
                name = line.split(" ")[2]
                test.assertNotIn(name, helps, "two HELP lines for " + name)
                helps.add(name)
                continue
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ")
                test.assertNotIn(name, self.types, "two TYPE lines for " + name)
                test.assertIn(name, helps, "TYPE before HELP for " + name)
                self.types[name] = typ
                continue
            m = SAMPLE.match(line)
            test.assertIsNotNone(m, "not a sample line: %r" % line)
            name, labels = m.group(1), {}
            if m.group(3):
                rest = m.group(3)
                for lm in LABEL.finditer(rest):
                    labels[lm.group(1)] = lm.group(2)
            family = re.sub(r'_(bucket|sum|count)$', "", name)
            if family not in self.types:
                family = name
            test.assertIn(family, self.types, "sample of an undeclared family: %r" % line)
            key = (name, frozenset(labels.items()))
            test.assertNotIn(key, self.samples, "a sample twice: %r" % line)
            self.samples[key] = float(m.group(4))

    def get(self, name, **labels):
        """the value of one sample, None when absent"""
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name):
        """[(labels dict, value)] of every sample called name"""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]

    def histogram(self, name, **labels):
        """(cumulative buckets by le, sum, count) of one histogram, None when absent"""
        count = self.get(name + "_count", **labels)
        if count is None:
            return None
        buckets = {}
        for lab, v in self.series(name + "_bucket"):
            le = lab.pop("le")
            if lab == labels:
                buckets[le] = v
        return buckets, self.get(name + "_sum", **labels), count


class MetricsCase(unittest.TestCase):

    def scrape(self, node, token=None):
        status, ctype, body = fetch(node, token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual(ctype, CTYPE)
        return Scrape(self, body)

    def promtool(self, text):
        if not os.access(PROMTOOL, os.X_OK):
            if os.environ.get("CI"):
                self.fail("promtool missing: scripts/install-deps.sh installs prometheus")
            self.skipTest("promtool not installed (Debian package prometheus)")
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, "promtool: %s%s\n%s" % (
            p.stdout.decode(), p.stderr.decode(), text[:3000]))

    def check_histogram(self, h):
        buckets, total, count = h
        les = sorted((float(k), v) for k, v in buckets.items())
        self.assertEqual(les[-1][0], float("inf"))
        self.assertEqual(les[-1][1], count, "the +Inf bucket is the count")
        values = [v for _, v in les]
        self.assertEqual(values, sorted(values), "cumulative buckets never go down")
        self.assertGreaterEqual(total, 0)

    def push(self, node, topic, body, route_key="", delay=0):
        r = node.push(topic, body, route_key=route_key, delay=delay)
        self.assertEqual(r["code"], 0, r)
        return r["data"]["msgId"]

    def pop(self, node, topic, queue="default"):
        r = node.json("/pop?topic=%s&bindKey=%s" % (topic, queue))
        self.assertEqual(r["code"], 0, r)
        return r["data"]["id"]

    def ack(self, node, topic, msg_id, queue="default"):
        r = node.json("/ack?topic=%s&bindKey=%s&msgId=%s" % (topic, queue, msg_id))
        self.assertEqual(r["code"], 0, r)


class TestFormat(MetricsCase):

    def traffic(self, node):
        """a few topics and queues, some of each state"""
        self.assertEqual(node.json("/declareQueue?topic=alpha&bindKey=audit")["code"], 0)
        self.assertEqual(node.json("/declareQueue?topic=alpha&bindKey=bulk.eu-1")["code"], 0)
        for i in range(3):
            self.push(node, "alpha", "a%d" % i)
        self.push(node, "alpha", "x", route_key="audit")
        self.push(node, "alpha", "later", delay=3600)
        self.push(node, "beta", "b")
        self.ack(node, "alpha", self.pop(node, "alpha"))
        self.pop(node, "alpha")
        self.assertEqual(node.json("/pop?topic=beta&bindKey=default&timeout=1")["code"], 0)

    def test_promtool_accepts(self):
        node = Node(self, args=["-fsync=always"]).start()
        self.traffic(node)
        s = self.scrape(node)
        self.promtool(s.text)
        for name, typ in s.types.items():
            if typ == "counter":
                self.assertTrue(name.endswith("_total"), name)
        self.assertEqual(s.get("gmq_build_info", version=gmq_version()), 1)
        self.assertEqual(s.types["gmq_request_duration_seconds"], "histogram")
        queues = {(l["topic"], l["queue"]) for l, _ in s.series("gmq_queue_messages_ready")}
        self.assertEqual(queues, {("alpha", "default"), ("alpha", "audit"),
                                  ("alpha", "bulk.eu-1"), ("beta", "default")})
        self.assertEqual(s.get("gmq_connections", port="tcp", tls="false"), 0)
        self.assertGreaterEqual(s.get("gmq_connections", port="http", tls="false"), 1)
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_max_fds", "process_start_time_seconds"):
            self.assertIsNotNone(s.get(name), name)
        for topic in ("alpha", "beta"):
            for name in ("gmq_worker_cpu_seconds_total", "gmq_worker_resident_memory_bytes",
                         "gmq_worker_open_fds", "gmq_worker_max_fds",
                         "gmq_worker_start_time_seconds"):
                self.assertIsNotNone(s.get(name, topic=topic), (name, topic))
            self.assertGreater(s.get("gmq_worker_open_fds", topic=topic), 0)
            self.check_histogram(s.histogram("gmq_topic_fsync_duration_seconds", topic=topic))
        self.assertGreater(s.get("process_open_fds"), 0)
        self.assertGreater(s.get("gmq_worker_resident_memory_bytes", topic="alpha"), 0)
        # the waiting pop has its own label value; the others are "pop"
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="pop_wait")[2], 1)
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="pop")[2], 2)
        for labels, _ in s.series("gmq_request_duration_seconds_count"):
            self.check_histogram(s.histogram("gmq_request_duration_seconds", **labels))
        # a second scrape of the same node is just as valid
        self.promtool(self.scrape(node).text)

    def test_promtool_accepts_tls(self):
        certs = tempfile.mkdtemp(prefix="gmqcerts-")
        self.addCleanup(shutil.rmtree, certs, True)
        subprocess.run([os.path.join(ROOT, "scripts", "gen-test-certs.sh"), certs], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
        node = Node(self, args=["-tls_cert_file=" + os.path.join(certs, "chain.pem"),
                                "-tls_key_file=" + os.path.join(certs, "server.key"),
                                "-tcp_tls=on", "-http_tls=on"], tls_context=ctx).start()
        self.traffic(node)
        c = node.tcp()
        self.addCleanup(c.close)
        c.cmd("ping")
        c.frame()        # answered: the master holds the connection
        s = self.scrape(node)
        self.promtool(s.text)
        self.assertEqual(s.get("gmq_connections", port="tcp", tls="true"), 1)
        self.assertGreaterEqual(s.get("gmq_connections", port="http", tls="true"), 1)
        self.assertIsNone(s.get("gmq_connections", port="tcp", tls="false"))


class TestExact(MetricsCase):
    """Every number against the traffic that made it."""

    def test_traffic_counted_exactly(self):
        node = Node(self, args=["-fsync=always"]).start()
        pushes = pops = 0
        # orders: a TTR no test run reaches; 5 to the default queue, 2 to "audit" (one delayed)
        self.assertEqual(node.json("/config?topic=orders&msgTTR=3600")["code"], 0)
        self.assertEqual(node.json("/declareQueue?topic=orders&bindKey=audit")["code"], 0)
        ids = [self.push(node, "orders", "o%d" % i) for i in range(5)]
        self.push(node, "orders", "a0", route_key="audit")
        self.push(node, "orders", "a1", route_key="audit", delay=3600)
        pushes += 7
        got = [self.pop(node, "orders") for _ in range(3)]
        pops += 3
        self.assertEqual(got, ids[:3])
        self.ack(node, "orders", got[0])
        self.ack(node, "orders", got[1])
        # flaky: TTR 1 s and one retry, so a message never acked dies
        r = node.json("/config?topic=flaky&msgTTR=1&msgRetry=1")
        self.assertEqual(r["code"], 0, r)
        m = self.push(node, "flaky", "f")
        pushes += 1
        self.assertEqual(self.pop(node, "flaky"), m)
        pops += 1
        wait_for(lambda: self.scrape(node).get("gmq_queue_messages_ready", topic="flaky",
                                               queue="default") == 1, 15, 0.1,
                 "the TTR timeout of flaky's message")
        self.assertEqual(self.pop(node, "flaky"), m)     # the redelivery
        pops += 1
        wait_for(lambda: self.scrape(node).get("gmq_queue_messages_dead", topic="flaky",
                                               queue="default") == 1, 15, 0.1,
                 "flaky's message dead-lettered")

        s = self.scrape(node)
        want = {
            ("orders", "default"): dict(ready=2, in_flight=1, delayed=0, dead=0, pushed=5,
                                        delivered=3, acked=2, timed_out=0, dead_lettered=0),
            ("orders", "audit"): dict(ready=1, in_flight=0, delayed=1, dead=0, pushed=2,
                                      delivered=0, acked=0, timed_out=0, dead_lettered=0),
            ("flaky", "default"): dict(ready=0, in_flight=0, delayed=0, dead=1, pushed=1,
                                       delivered=2, acked=0, timed_out=2, dead_lettered=1),
        }
        seen = {(l["topic"], l["queue"]) for l, _ in s.series("gmq_queue_messages_ready")}
        self.assertEqual(seen, set(want))
        for (topic, queue), w in want.items():
            for k, v in w.items():
                name = "gmq_queue_messages_" + k + ("" if k in ("ready", "in_flight", "delayed",
                                                                "dead") else "_total")
                self.assertEqual(s.get(name, topic=topic, queue=queue), v,
                                 "%s{topic=%s,queue=%s}" % (name, topic, queue))
        topics = {
            "orders": dict(pushed=7, delivered=3, acked=2, timed_out=0, dead_lettered=0),
            "flaky": dict(pushed=1, delivered=2, acked=0, timed_out=2, dead_lettered=1),
        }
        for topic, w in topics.items():
            for k, v in w.items():
                name = "gmq_topic_messages_%s_total" % k
                self.assertEqual(s.get(name, topic=topic), v, "%s{topic=%s}" % (name, topic))
            self.assertEqual(s.get("gmq_topic_corrupt_records", topic=topic), 0)
            self.assertGreater(s.get("gmq_topic_disk_bytes", topic=topic), 0)
            self.assertEqual(s.get("gmq_worker_restarts_total", topic=topic), 0)
            self.assertEqual(s.get("gmq_worker_state", topic=topic, state="ready"), 1)
            self.assertEqual(s.get("gmq_worker_state", topic=topic, state="backoff"), 0)
            # fsync=always: every batch of writes was synced, and timed
            h = s.histogram("gmq_topic_fsync_duration_seconds", topic=topic)
            self.check_histogram(h)
            self.assertGreater(h[2], 0)
        self.assertEqual(s.get("gmq_workers"), 2)
        # latency: one observation per request
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="push")[2], pushes)
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="pop")[2], pops)
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="ack")[2], 2)
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="config")[2], 2)
        self.assertEqual(s.histogram("gmq_request_duration_seconds", op="declare")[2], 1)
        self.assertIsNone(s.histogram("gmq_request_duration_seconds", op="pop_wait"))
        # standalone
        self.assertEqual(s.get("gmq_etcd_enabled"), 0)
        self.assertEqual(s.get("gmq_etcd_registered"), 0)

    def test_connections(self):
        node = Node(self).start()
        c = node.tcp()
        self.addCleanup(c.close)
        c.cmd("ping")
        c.frame()
        a = self.scrape(node)
        self.assertEqual(a.get("gmq_connections", port="tcp", tls="false"), 1)
        for _ in range(3):
            self.assertEqual(node.get("/ping")[1], "OK")   # one connection each
        b = self.scrape(node)
        self.assertEqual(b.get("gmq_connections_opened_total")
                         - a.get("gmq_connections_opened_total"), 4)
        c.close()
        wait_for(lambda: self.scrape(node).get("gmq_connections", port="tcp", tls="false") == 0,
                 10, 0.05, "the TCP connection closed")

    def test_client_gone_mid_scrape(self):
        """clients that close right after asking: the workers' answers find no
        one, and the node goes on serving (under ASan: no report)"""
        node = Node(self).start()
        for i in range(8):
            self.push(node, "g%d" % i, "x")
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", node.http_port), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.close()
        s = self.scrape(node)
        self.assertEqual(len(s.series("gmq_topic_messages_pushed_total")), 8)
        self.assertEqual(s.get("gmq_workers"), 8)


class TestAuth(MetricsCase):
    TOKEN = "s3cret-metrics-token"

    def test_token_required(self):
        node = Node(self, args=["-auth_token=" + self.TOKEN], auth_token=self.TOKEN).start()
        self.push(node, "t", "x")
        status, ctype, body = fetch(node, token="")
        self.assertEqual(status, 401)
        self.assertNotIn("gmq_", body)
        status, ctype, body = fetch(node, token="wrong")
        self.assertEqual(status, 401)
        s = self.scrape(node)
        self.assertEqual(s.get("gmq_topic_messages_pushed_total", topic="t"), 1)
        self.promtool(s.text)


class TestWorkers(MetricsCase):

    def test_restart_counted(self):
        node = Node(self).start()
        self.push(node, "r", "x")
        pid = node.worker_pids()["r"]
        os.kill(pid, signal.SIGKILL)

        def restarted():
            s = self.scrape(node)
            return (s.get("gmq_worker_restarts_total", topic="r") == 1 and
                    s.get("gmq_worker_state", topic="r", state="ready") == 1 and
                    s.get("gmq_topic_messages_pushed_total", topic="r") is not None) and s
        s = wait_for(restarted, 15, 0.05, "the restart of r's worker")
        self.assertNotEqual(node.worker_pids()["r"], pid)
        # the counters live in the topic's counters file: they survive the kill
        self.assertEqual(s.get("gmq_topic_messages_pushed_total", topic="r"), 1)
        self.assertEqual(s.get("gmq_queue_messages_ready", topic="r", queue="default"), 1)

    def test_stopped_worker_keeps_its_state_only(self):
        node = Node(self).start()
        self.push(node, "up", "x")
        self.push(node, "down", "x")
        node.json("/debug/crash?topic=down&code=3")     # exit status 3: never respawned
        wait_for(lambda: self.scrape(node).get("gmq_worker_state", topic="down",
                                               state="fatal") == 1, 10, 0.05, "fatal state")
        s = self.scrape(node)
        self.promtool(s.text)
        self.assertEqual(s.get("gmq_worker_state", topic="down", state="ready"), 0)
        self.assertIsNotNone(s.get("gmq_worker_restarts_total", topic="down"))
        self.assertIsNone(s.get("gmq_topic_messages_pushed_total", topic="down"))
        self.assertIsNone(s.get("gmq_worker_open_fds", topic="down"))
        self.assertEqual(s.get("gmq_topic_messages_pushed_total", topic="up"), 1)
        self.assertEqual(s.get("gmq_workers"), 2)


class TestEtcd(MetricsCase):

    def test_registration_and_keepalive_failures(self):
        from etcdtest import Etcd
        etcd = Etcd(name="metrics")
        self.addCleanup(etcd.cleanup)
        etcd.start()
        node = Node(self, args=["-etcd_endpoints=" + etcd.endpoint, "-etcd_lease_ttl=2",
                                "-node_id=7"]).start()
        s = wait_for(lambda: (lambda s: s.get("gmq_etcd_registered") == 1 and s)(
            self.scrape(node)), 15, 0.1, "registered in etcd")
        self.assertEqual(s.get("gmq_etcd_enabled"), 1)
        self.assertGreaterEqual(s.get("gmq_etcd_registrations_total"), 1)
        self.assertEqual(s.get("gmq_etcd_keepalive_failures_total"), 0)
        etcd.stop()
        s = wait_for(lambda: (lambda s: s.get("gmq_etcd_keepalive_failures_total") >= 1 and s)(
            self.scrape(node)), 15, 0.1, "a failed keepalive with etcd gone")
        self.assertEqual(s.get("gmq_etcd_registered"), 0)
        self.assertGreaterEqual(s.get("gmq_etcd_failures_total"),
                                s.get("gmq_etcd_keepalive_failures_total"))
        self.promtool(s.text)


if __name__ == "__main__":
    unittest.main()
