"""The web admin page (docs/web.md) in a real browser, and the HTTP rules it
relies on. Debian's chromium, driven by tests/browser/web_flow.js
(playwright-core from npm, installed by scripts/install-deps.sh), goes through
every view of a real node: a topic made through the API, its config changed
with the form, push/pop/ack/lookup, dead letters kicked back, a worker
restart, the cluster seen from etcd. Screenshots of each view are left in
build/test-artifacts/web/. The node (and etcd) are stopped by PID, and no
chromium process may outlive a run."""

import base64
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gmqtest  # noqa: E402
from etcdtest import Etcd, wait_until  # noqa: E402

BROWSER_DIR = os.path.join(gmqtest.ROOT, "tests", "browser")
FLOW = os.path.join(BROWSER_DIR, "web_flow.js")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(gmqtest.BUILD, "test-artifacts", "web")
WEB_DIR = os.path.join(gmqtest.ROOT, "web")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# app.js and the modules it imports (web/*.js)
SCRIPTS = ["app.js", "dom.js", "state.js", "api.js", "views.js", "actions.js"]
VIEWS = ["topics", "topic", "messages", "dead", "workers", "cluster", "overview"]


def require_browser():
    """The browser test's tools are installed by `make deps`; say so when they are not."""
    missing = [p for p in (CHROMIUM, os.path.join(BROWSER_DIR, "node_modules", "playwright-core"))
               if not os.path.exists(p)]
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        raise AssertionError("missing %s: run `make deps` (scripts/install-deps.sh)" % ", ".join(missing))


def processes_using(marker):
    """pids whose command line contains marker (our chromium's profile directory)"""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def run_flow(test, node, name, topic, queue, token=None, peer_pid=None, ca_file=None):
    """Runs web_flow.js against node; fails the test on a non-zero exit or a
    chromium process left behind. Screenshots go to ARTIFACTS/name. ca_file:
    the CA of an https node, for the script's own API calls."""
    require_browser()
    shots = os.path.join(ARTIFACTS, name)
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)
    profile = tempfile.mkdtemp(prefix="gmq-chromium-")
    cmd = ["node", FLOW, "--url", node.base + "/", "--profile", profile, "--shots", shots,
           "--topic", topic, "--queue", queue]
    if token:
        cmd += ["--token", token]
    if peer_pid:
        cmd += ["--peer-pid", str(peer_pid)]
    try:
        env = dict(os.environ)
        if ca_file:
            env["NODE_EXTRA_CA_CERTS"] = ca_file
        p = subprocess.run(cmd, cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600, env=env)
        out = p.stdout + p.stderr
        sys.stdout.write(out)
        try:
            wait_until(lambda: not processes_using(profile), 15, what="chromium to exit")
        except AssertionError:
            left = processes_using(profile)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise AssertionError("chromium processes outlived the run: %s" % left)
    finally:
        for pid in processes_using(profile):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(profile, ignore_errors=True)
    test.assertEqual(p.returncode, 0, "web_flow.js failed:\n" + out[-6000:] +
                     "\nnode log:\n" + node.read_log()[-3000:])
    for v in VIEWS:
        test.assertTrue(os.path.getsize(os.path.join(shots, v + ".png")) > 0, v)


def make_topic(node, topic, queue):
    r = node.post_form("/config", {"topic": topic, "msgTTR": "30", "msgRetry": "5"})
    assert r["code"] == 0, r
    r = node.post_form("/declareQueue", {"topic": topic, "bindKey": queue})
    assert r["code"] == 0, r


class WebFlowTest(unittest.TestCase):
    """Every view in chromium, with a second node registered in etcd."""

    def test_flow(self):
        require_browser()
        etcd = Etcd()
        self.addCleanup(etcd.cleanup)
        etcd.start()
        common = ["-etcd_endpoints=" + etcd.endpoint, "-etcd_lease_ttl=6"]
        node = gmqtest.Node(self, args=common + ["-node_id=1"]).start()
        peer = gmqtest.Node(self, args=common + ["-node_id=2", "-node_weight=3"]).start()
        wait_until(lambda: node.json("/node")["data"]["etcd_registered"] and
                   peer.json("/node")["data"]["etcd_registered"], 15, what="both nodes registered")
        make_topic(node, "webt", "q1")
        run_flow(self, node, "flow", "webt", "q1", peer_pid=peer.proc.pid)
        # the flow stopped the peer by PID (SIGTERM): it left cleanly
        self.assertEqual(peer.proc.wait(15), 0)


class WebAuthTest(unittest.TestCase):
    """With auth_token, over https: the prompt and no data without the token,
    every flow with it."""

    def test_flow_with_token_over_tls(self):
        require_browser()
        certs = tempfile.mkdtemp(prefix="gmq-webcerts-")
        self.addCleanup(shutil.rmtree, certs, True)
        subprocess.run([os.path.join(gmqtest.ROOT, "scripts", "gen-test-certs.sh"), certs], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        ca = os.path.join(certs, "ca.pem")
        token = "web-Secret-42"
        node = gmqtest.Node(self, args=["-auth_token=" + token, "-http_tls=on",
                                        "-tls_cert_file=" + os.path.join(certs, "chain.pem"),
                                        "-tls_key_file=" + os.path.join(certs, "server.key")],
                            auth_token=token, tls_context=ssl.create_default_context(cafile=ca)).start()
        self.assertTrue(node.base.startswith("https://"))
        make_topic(node, "autht", "q1")
        run_flow(self, node, "auth", "autht", "q1", token=token, ca_file=ca)


def fetch(url, method="GET", headers=None, data=None):
    """(status, headers, body) without following anything"""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class WebHeadersTest(unittest.TestCase):
    """The page's headers and the same-origin rule, with urllib."""

    def start(self, *args, token=None):
        return gmqtest.Node(self, args=list(args), auth_token=token).start()

    def test_page_files_headers_etag(self):
        node = self.start()
        files = {"/": ("index.html", "text/html; charset=utf-8"),
                 "/index.html": ("index.html", "text/html; charset=utf-8"),
                 "/app.css": ("app.css", "text/css; charset=utf-8")}
        self.assertEqual(sorted(SCRIPTS), sorted(n for n in os.listdir(WEB_DIR) if n.endswith(".js")))
        for name in SCRIPTS:
            files["/" + name] = (name, "text/javascript; charset=utf-8")
        for path, (name, ctype) in files.items():
            st, h, body = fetch(node.base + path)
            self.assertEqual(st, 200, path)
            with open(os.path.join(WEB_DIR, name), "rb") as f:
                self.assertEqual(body, f.read(), path)
            self.assertEqual(h["Content-Type"], ctype)
            self.assertEqual(h["Content-Security-Policy"], CSP)
            self.assertEqual(h["X-Content-Type-Options"], "nosniff")
            self.assertEqual(h["Cache-Control"], "no-cache")
            etag = h["ETag"]
            self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
            st, h2, body = fetch(node.base + path, headers={"If-None-Match": etag})
            self.assertEqual((st, body, h2["ETag"]), (304, b"", etag), path)
            self.assertEqual(h2["Content-Security-Policy"], CSP)
            st, _, body = fetch(node.base + path, headers={"If-None-Match": '"other"'})
            self.assertEqual((st, len(body) > 0), (200, True))
            st, h3, body = fetch(node.base + path, method="HEAD")
            self.assertEqual((st, body), (200, b""))
            self.assertEqual(int(h3["Content-Length"]), os.path.getsize(os.path.join(WEB_DIR, name)))
        # the page uses no other origin and no inline script or style
        with open(os.path.join(WEB_DIR, "index.html")) as f:
            html = f.read()
        self.assertNotIn("<style", html)
        self.assertNotIn(" style=", html)
        self.assertNotRegex(html, r"<script(?![^>]*\bsrc=)")
        self.assertNotRegex(html, r"(src|href)=\"(https?:)?//")
        st, h, body = fetch(node.base + "/", method="POST", data=b"x=1")
        self.assertEqual(st, 405)
        self.assertEqual(h["Allow"], "GET, HEAD")
        # other paths are the API's as before
        st, _, body = fetch(node.base + "/nope")
        self.assertEqual((st, json.loads(body)["msg"]), (404, "not found: /nope"))

    def test_cross_origin_requests_refused(self):
        node = self.start()
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        push = b'data={"topic":"xo","body":"b"}'
        st, h, body = fetch(node.base + "/push", "POST", dict(form, Origin="http://evil.example"), push)
        self.assertEqual(st, 403)
        self.assertEqual(h["Content-Type"], "application/json")
        doc = json.loads(body)
        self.assertEqual(doc["code"], 1)
        self.assertIn("cross-origin request refused: Origin http://evil.example does not match Host", doc["msg"])
        for origin in ("null", "http://127.0.0.1:%d" % (node.http_port + 1), "http://127.0.0.1",
                       "http://localhost:%d" % node.http_port, "http://127.0.0.1:%d/x" % node.http_port):
            st, _, _ = fetch(node.base + "/push", "POST", dict(form, Origin=origin), push)
            self.assertEqual(st, 403, origin)
        # a GET that changes state from another site, with no Origin (an <img>): Sec-Fetch-Site
        st, _, body = fetch(node.base + "/config?topic=xo", headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(st, 403)
        self.assertEqual(node.json("/getTopicStat?topic=xo")["msg"], "topic is not exist")
        # a link to the page from elsewhere still opens it
        st, _, _ = fetch(node.base + "/", headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(st, 200)
        # the page's own requests (same origin), and clients that are not browsers
        st, _, body = fetch(node.base + "/push", "POST", dict(form, Origin=node.base), push)
        self.assertEqual((st, json.loads(body)["code"]), (200, 0))
        st, _, body = fetch(node.base + "/push", "POST", dict(form, **{"Sec-Fetch-Site": "same-origin"}), push)
        self.assertEqual((st, json.loads(body)["code"]), (200, 0))
        st, _, body = fetch(node.base + "/push", "POST", form, push)
        self.assertEqual((st, json.loads(body)["code"]), (200, 0))
        self.assertEqual(node.json("/getTopicStat?topic=xo")["data"]["push_num"], 3)

    def test_with_token_cross_origin_refused_and_page_open(self):
        token = "tok-123"
        node = self.start("-auth_token=" + token, token=token)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        push = b'data={"topic":"xt","body":"b"}'
        evil = dict(form, Origin="http://evil.example")
        # a cross-origin POST without the token header: refused
        st, _, body = fetch(node.base + "/push", "POST", evil, push)
        self.assertEqual(st, 403)
        self.assertIn("cross-origin request refused", json.loads(body)["msg"])
        # the rule holds with the token too
        st, _, _ = fetch(node.base + "/push", "POST", dict(evil, Authorization="Bearer " + token), push)
        self.assertEqual(st, 403)
        # same origin without the token: 401, as without the rule
        st, _, body = fetch(node.base + "/push", "POST", dict(form, Origin=node.base), push)
        self.assertEqual(st, 401)
        self.assertIn("E_AUTH", json.loads(body)["msg"])
        self.assertEqual(node.json("/getTopicStat?topic=xt")["msg"], "topic is not exist")
        st, _, body = fetch(node.base + "/push", "POST",
                            dict(form, Origin=node.base, Authorization="Bearer " + token), push)
        self.assertEqual((st, json.loads(body)["code"]), (200, 0))
        # the page itself needs no token (it asks for one); the data does
        for path in ["/", "/app.css"] + ["/" + name for name in SCRIPTS]:
            st, h, _ = fetch(node.base + path)
            self.assertEqual(st, 200, path)
            self.assertEqual(h["Content-Security-Policy"], CSP)
        for path in ("/node", "/cluster/nodes", "/getAllTopicStat"):
            self.assertEqual(fetch(node.base + path)[0], 401, path)

    def test_node_and_standalone_cluster(self):
        node = self.start("-fsync=everysec", "-node_id=7")
        d = node.json("/node")["data"]
        self.assertEqual((d["node_id"], d["version"], d["fsync"], d["auth"], d["etcd_registered"]),
                         (7, "0.1.0", "everysec", False, False))
        self.assertEqual((d["tcp_addr"], d["tcp_tls"]), ("127.0.0.1:%d" % node.tcp_port, False))
        self.assertEqual((d["http_addr"], d["http_tls"]), ("127.0.0.1:%d" % node.http_port, False))
        self.assertEqual(d["pid"], node.proc.pid)
        self.assertEqual(d["etcd"], {"state": "disabled"})
        self.assertLessEqual(d["started_ms"], d["now_ms"])
        self.assertEqual(node.json("/cluster/nodes"),
                         {"code": 0, "data": {"etcd": "disabled", "self": "", "revision": "0", "nodes": []},
                          "msg": "success"})


class ClusterNodesTest(unittest.TestCase):
    """GET /cluster/nodes against a real etcd."""

    def test_nodes_listed_with_health_then_gone(self):
        etcd = Etcd()
        self.addCleanup(etcd.cleanup)
        etcd.start()
        args = ["-etcd_endpoints=" + etcd.endpoint, "-etcd_lease_ttl=6"]
        a = gmqtest.Node(self, args=args + ["-node_id=1", "-node_weight=2"]).start()
        b = gmqtest.Node(self, args=args + ["-node_id=2", "-node_weight=5"]).start()

        def listed():
            d = a.json("/cluster/nodes")["data"]
            return d if len(d["nodes"]) == 2 and all(n["health"] == "up" for n in d["nodes"]) else None
        d = wait_until(listed, 15, what="two nodes up")
        self.assertEqual((d["etcd"], d["self"]), ("registered", "/gmq/node-1"))
        nodes = {n["node_id"]: n for n in d["nodes"]}
        self.assertEqual(nodes["1"]["self"], True)
        self.assertEqual(nodes["2"]["self"], False)
        for n, node, w in ((nodes["1"], a, 2), (nodes["2"], b, 5)):
            self.assertEqual(n["tcp_addr"], "127.0.0.1:%d" % node.tcp_port)
            self.assertEqual(n["http_addr"], "127.0.0.1:%d" % node.http_port)
            self.assertEqual(n["weight"], w)
            self.assertEqual(n["version"], "0.1.0")
            self.assertEqual(n["granted_ttl"], 6)
            self.assertTrue(0 < n["ttl"] <= 6)
        self.assertEqual(a.json("/node")["data"]["etcd_registered"], True)
        # kill -9: no more keepalives; the lease runs down ("late"), then the key goes
        b.kill()
        wait_until(lambda: {n["node_id"]: n["health"] for n in a.json("/cluster/nodes")["data"]["nodes"]}
                   .get("2") == "late", 15, interval=0.2, what="node 2 late")
        wait_until(lambda: [n["node_id"] for n in a.json("/cluster/nodes")["data"]["nodes"]] == ["1"], 15,
                   what="node 2 gone")

    def test_many_registrations_and_odd_values(self):
        etcd = Etcd()
        self.addCleanup(etcd.cleanup)
        etcd.start()
        node = gmqtest.Node(self, args=["-etcd_endpoints=" + etcd.endpoint]).start()
        b64 = lambda s: base64.b64encode(s.encode()).decode()
        lease = etcd.post("/v3/lease/grant", {"TTL": "60"})["ID"]
        for i in range(100, 130):     # more than the 8 lease reads a listing keeps going
            value = json.dumps({"node_id": str(i), "tcp_addr": "10.0.0.%d:9503" % (i - 99),
                                "http_addr": "10.0.0.%d:9504" % (i - 99), "weight": "2"})
            etcd.post("/v3/kv/put", {"key": b64("/gmq/node-%d" % i), "value": b64(value), "lease": lease})
        etcd.post("/v3/kv/put", {"key": b64("/gmq/node-900"),
                                 "value": b64('{"node_id":"900","tcp_addr":"10.9.9.9:1"}')})
        etcd.post("/v3/kv/put", {"key": b64("/gmq/node-901"), "value": b64("not json")})
        d = wait_until(lambda: (lambda x: x if len(x["nodes"]) == 33 else None)(
            node.json("/cluster/nodes")["data"]), 15, what="33 registrations")
        health = {n["key"]: n["health"] for n in d["nodes"]}
        self.assertEqual(health.pop("/gmq/node-900"), "no lease")
        self.assertEqual(health.pop("/gmq/node-901"), "invalid value")
        self.assertEqual(health.pop("/gmq/node-1"), "up")
        self.assertEqual(set(health.values()), {"up"})
        n = [x for x in d["nodes"] if x["key"] == "/gmq/node-117"][0]
        self.assertEqual((n["node_id"], n["tcp_addr"], n["weight"], n["granted_ttl"], n["self"]),
                         ("117", "10.0.0.18:9503", 2, 60, False))

    def test_etcd_that_never_answers_does_not_block_the_node(self):
        # a listener that accepts nothing: etcd calls wait for their timeout
        hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(hole.close)
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        node = gmqtest.Node(self, args=["-etcd_endpoints=http://127.0.0.1:%d" % hole.getsockname()[1]])
        node.start()
        s = socket.create_connection(("127.0.0.1", node.http_port), timeout=30)
        self.addCleanup(s.close)
        s.sendall(b"GET /cluster/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        # while that read waits for etcd, the node serves everything else
        self.assertEqual(node.get("/ping")[1], "OK")
        self.assertEqual(node.push("other", "b")["code"], 0)
        self.assertEqual(select.select([s], [], [], 0)[0], [], "the etcd read should still be waiting")
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        doc = json.loads(body)
        self.assertEqual(doc["code"], 1)
        self.assertTrue(doc["msg"].startswith("etcd: http://127.0.0.1:%d: " % hole.getsockname()[1]), doc["msg"])
        # a read still waiting when the node stops: dropped cleanly (no leak, exit 0)
        s2 = socket.create_connection(("127.0.0.1", node.http_port), timeout=30)
        self.addCleanup(s2.close)
        s2.sendall(b"GET /cluster/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(node.get("/ping")[1], "OK")
        self.assertEqual(node.stop(), 0)


if __name__ == "__main__":
    unittest.main()
