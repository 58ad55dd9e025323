"""Issue: security and limits. TLS on both listeners (certificates from
scripts/gen-test-certs.sh), mutual TLS, protocol mix-ups, auth_token, every
configured limit, fd/memory stability under dropped connections, SIGHUP
certificate reload and the TLS handshake deadline."""
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

import test_tcp
from gmqtest import ROOT, BUILD, Node, TcpClient, wait_for

CERTS = None


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="gmqcerts-")
    subprocess.run([os.path.join(ROOT, "scripts", "gen-test-certs.sh"), CERTS], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


def client_ctx(ca="ca.pem", certname=None):
    ctx = ssl.create_default_context(cafile=cert(ca))
    if certname:
        ctx.load_cert_chain(cert(certname + ".pem"), cert(certname + ".key"))
    return ctx


def tls_args(tcp=True, http=True, cert_file=None, key_file=None):
    a = ["-tls_cert_file=" + (cert_file or cert("chain.pem")),
         "-tls_key_file=" + (key_file or cert("server.key"))]
    if tcp:
        a.append("-tcp_tls=on")
    if http:
        a.append("-http_tls=on")
    return a


def body_frame(b):
    return struct.pack(">I", len(b)) + b


def raw(port, timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_until_close(s, timeout=5.0):
    """every byte the server sends until it closes; fails if it does not close in time"""
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("the server did not close the connection; got %r" % out[:300])
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError):
            return out
        if not chunk:
            return out
        out += chunk


def tcp_ping(client):
    client.cmd("ping")
    assert client.frame() == (103, b"pong")


def http_response(test, out):
    """(status, JSON body) of one whole HTTP response, checking its Content-Length"""
    head, sep, body = out.partition(b"\r\n\r\n")
    test.assertTrue(sep, out)
    lines = head.decode().split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    test.assertEqual(int(hdrs["content-length"]), len(body), "Content-Length does not match: %r" % out)
    return int(lines[0].split(" ", 2)[1]), json.loads(body)


# ---------------------------------------------------------------- TLS ----

class TlsTcpCommandsTest(test_tcp.TcpTest):
    """Every test of test_tcp.py again, with tcp_tls on: same io table, same behaviour."""

    def setUp(self):
        self.node = Node(self, args=tls_args(http=False), tls_context=client_ctx()).start()
        self.c = self.node.tcp()
        self.addCleanup(self.c.close)
        self.assertIsInstance(self.c.sock, ssl.SSLSocket)


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self, args=tls_args(), tls_context=client_ctx()).start()

    def s_client(self, port, data):
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                            "-CAfile", cert("ca.pem"), "-verify_return_error", "-servername", "localhost",
                            "-ign_eof"], input=data, capture_output=True, timeout=15)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_openssl_s_client_on_both_ports(self):
        # the fatal mpub makes the server close, which ends s_client (-ign_eof)
        rc, out = self.s_client(self.node.tcp_port, b"ping\nmpub t 0\n")
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("pong", out)
        self.assertIn("E_INVALID_PUSHNUM", out)
        rc, out = self.s_client(self.node.http_port,
                                b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("HTTP/1.1 200 OK", out)

    def test_tls_min_version(self):
        def version(port, flag):
            p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                "-CAfile", cert("ca.pem"), flag], input=b"", capture_output=True,
                               timeout=15)
            out = p.stdout.decode("utf-8", "replace")
            for line in out.splitlines():      # "New, TLSv1.3, Cipher is ..." or "New, (NONE), ..."
                if line.startswith("New, "):
                    return line.split(",")[1].strip()
            return "(NONE)"
        # default 1.2: both accepted
        self.assertEqual(version(self.node.tcp_port, "-tls1_2"), "TLSv1.2")
        self.assertEqual(version(self.node.tcp_port, "-tls1_3"), "TLSv1.3")
        n13 = Node(self, args=tls_args() + ["-tls_min_version=1.3"], tls_context=client_ctx()).start()
        self.assertEqual(version(n13.tcp_port, "-tls1_2"), "(NONE)")
        self.assertEqual(version(n13.http_port, "-tls1_2"), "(NONE)")
        self.assertEqual(version(n13.tcp_port, "-tls1_3"), "TLSv1.3")
        tcp_ping(n13.tcp())
        tcp_ping(self.node.tcp())

    def test_seed_curl_flow_over_https(self):
        base = self.node.base
        self.assertTrue(base.startswith("https://"))

        def curl(*args):
            p = subprocess.run(["curl", "-s", "--cacert", cert("ca.pem")] + list(args),
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout)

        self.assertEqual(curl(base + "/config?topic=ketang&isAuthoAck=1&mode=1&msgTTR=30&msgRetry=5"),
                         {"code": 0, "data": None, "msg": "success"})
        self.assertEqual(curl(base + "/declareQueue?topic=ketang&bindKey=homework"),
                         {"code": 0, "data": None, "msg": "ok"})
        r = curl(base + "/push", "-X", "POST", "-d",
                 'data={"body":"this is a job","topic":"ketang","delay":0,"route_key":"homework"}')
        self.assertEqual(r["code"], 0, r)
        mid = r["data"]["msgId"]
        r = curl(base + "/pop?topic=ketang&bindKey=homework")
        self.assertEqual(r, {"code": 0, "data": {"id": mid, "body": "this is a job", "retry_count": 0},
                             "msg": "success"})
        self.assertEqual(curl(base + "/ack?msgId=%s&topic=ketang&bindKey=homework" % mid)["code"], 0)
        # and the same over localhost, the name in the certificate
        p = subprocess.run(["curl", "-s", "--cacert", cert("ca.pem"),
                            "https://localhost:%d/ping" % self.node.http_port],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.stdout, "OK", p.stderr)
        # an untrusting client fails verification
        p = subprocess.run(["curl", "-s", base + "/ping"], capture_output=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)

    def test_many_records_in_one_read_are_all_served(self):
        # 50 TLS records, one command each, sent in one segment: the node reads
        # them in one read() (read-ahead) and must serve every one, though the
        # socket signals nothing more once they are in OpenSSL's buffer: the
        # first ones arrive with the client's Finished (the read that ends the
        # handshake returns no data), and 50 are more than one readiness
        # event's 16 reads
        n = 50
        s = socket.create_connection(("127.0.0.1", self.node.tcp_port), timeout=10)
        self.addCleanup(s.close)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = client_ctx().wrap_bio(inc, out, server_hostname="localhost")
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(out.read())
                data = s.recv(65536)
                self.assertTrue(data, "closed during the handshake")
                inc.write(data)
        s.sendall(out.read())
        for _ in range(n):
            tls.write(b"ping\n")               # a record each
        s.sendall(out.read())                  # all of them at once
        got = b""
        while got.count(b"pong") < n:
            try:
                got += tls.read(65536)
            except ssl.SSLWantReadError:
                data = s.recv(65536)           # times out if the node stalls
                self.assertTrue(data, "closed after %d pongs" % got.count(b"pong"))
                inc.write(data)
        self.assertEqual(got.count(b"pong"), n)

    def test_plain_text_on_tls_ports_is_closed(self):
        keeper = self.node.tcp()
        tcp_ping(keeper)
        for port, data in ((self.node.tcp_port, b"ping\n"),
                           (self.node.http_port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")):
            s = raw(port)
            s.sendall(data)
            out = read_until_close(s)
            self.assertNotIn(b"pong", out)
            self.assertNotIn(b"HTTP/1.1", out)
            s.close()
        tcp_ping(keeper)
        self.assertEqual(self.node.get("/ping"), (200, "OK"))


class TlsHelloOnPlainPortsTest(unittest.TestCase):
    def test_tls_hello_on_plain_ports_is_closed(self):
        node = Node(self).start()
        keeper = node.tcp()
        tcp_ping(keeper)
        ctx = client_ctx()
        for port in (node.tcp_port, node.http_port):
            s = raw(port)
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                ctx.wrap_socket(s, server_hostname="localhost")
            s.close()
        # what the server says before closing
        hello = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(hello[0], hello[1], server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        client_hello = hello[1].read()
        s = raw(node.tcp_port)
        s.sendall(client_hello)
        out = read_until_close(s)
        self.assertIn(b"E_INVALID_CMD - TLS handshake on a plain-text port", out)
        s.close()
        s = raw(node.http_port)
        s.sendall(client_hello)
        out = read_until_close(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
        s.close()
        tcp_ping(keeper)
        self.assertEqual(node.get("/ping"), (200, "OK"))


class MutualTlsTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self, args=tls_args() + ["-tls_client_ca_file=" + cert("ca.pem")],
                         tls_context=client_ctx(certname="client")).start()

    def refused_tcp(self, ctx):
        try:
            c = TcpClient(self.node.tcp_port, 5, ctx)
        except (ssl.SSLError, ConnectionError):
            return True        # TLS 1.2: refused in the handshake
        # TLS 1.3: the server's verdict arrives after the client's handshake
        try:
            c.cmd("ping")
            c.frame()
        except (ssl.SSLError, ConnectionError, OSError):
            return True
        finally:
            c.close()
        return False

    def test_client_certificates(self):
        good = self.node.tcp()
        tcp_ping(good)
        self.assertTrue(self.refused_tcp(client_ctx()), "no certificate was served")
        self.assertTrue(self.refused_tcp(client_ctx(certname="other-client")),
                        "a certificate from another CA was served")
        tcp_ping(good)
        tcp_ping(self.node.tcp())
        base = self.node.base

        def curl(*args):
            return subprocess.run(["curl", "-s", "--cacert", cert("ca.pem")] + list(args) + [base + "/ping"],
                                  capture_output=True, text=True, timeout=10)
        p = curl("--cert", cert("client.pem"), "--key", cert("client.key"))
        self.assertEqual((p.returncode, p.stdout), (0, "OK"), p.stderr)
        self.assertNotEqual(curl().returncode, 0)
        self.assertNotEqual(curl("--cert", cert("other-client.pem"), "--key", cert("other-client.key")).returncode, 0)
        self.assertEqual(self.node.get("/ping"), (200, "OK"))


class TlsReloadAndDeadlineTest(unittest.TestCase):
    def test_sighup_broken_certificate_keeps_the_old_one(self):
        d = tempfile.mkdtemp(prefix="gmqtls-")
        self.addCleanup(shutil.rmtree, d, True)
        cf, kf = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        shutil.copy(cert("chain.pem"), cf)
        shutil.copy(cert("server.key"), kf)
        node = Node(self, args=tls_args(http=False, cert_file=cf, key_file=kf),
                    tls_context=client_ctx()).start()
        old = node.tcp()
        tcp_ping(old)
        with open(cf, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        node.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS not reloaded, keeping the old certificates" in node.read_log(),
                 what="the reload error in the log")
        tcp_ping(node.tcp())                     # still the old, trusted certificate
        tcp_ping(old)
        # a good new certificate (another CA) is taken by new connections only
        shutil.copy(cert("other-server.pem"), cf)
        shutil.copy(cert("other-server.key"), kf)
        node.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "TLS certificates reloaded" in node.read_log(), what="the reload in the log")
        tcp_ping(node.tcp(tls_context=client_ctx("other-ca.pem")))
        with self.assertRaises(ssl.SSLError):
            node.tcp().close()
        tcp_ping(old)

    def test_handshake_that_never_completes_is_closed(self):
        node = Node(self, args=tls_args() + ["-header_timeout=1"], tls_context=client_ctx()).start()
        keeper = node.tcp()
        silent = [raw(node.tcp_port), raw(node.http_port)]
        half = raw(node.tcp_port)
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")    # the start of a ClientHello
        t0 = time.monotonic()
        for s in silent + [half]:
            self.assertEqual(read_until_close(s, timeout=6), b"")
            s.close()
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        tcp_ping(keeper)


# --------------------------------------------------------------- auth ----

class AuthTest(unittest.TestCase):
    TOKEN = "s3cret-t0ken"

    def setUp(self):
        self.node = Node(self, args=["-auth_token=" + self.TOKEN], auth_token=self.TOKEN).start()

    def test_http_token(self):
        n = self.node
        for hdr in ({"Authorization": "Bearer wrong"}, {"Authorization": ""},
                    {"Authorization": "Basic " + self.TOKEN}, {"Authorization": "Bearer " + self.TOKEN + "x"}):
            st, body = n.get("/declareQueue?topic=t&bindKey=q", headers=hdr)
            self.assertEqual(st, 401, body)
            self.assertIn("E_AUTH", body)
        n.auth_token = None
        st, body = n.get("/getAllTopicStat")
        self.assertEqual(st, 401, body)
        self.assertEqual(n.get("/ping"), (200, "OK"))      # health checks need no token
        n.auth_token = self.TOKEN
        self.assertEqual(n.json("/declareQueue?topic=t&bindKey=q")["code"], 0)
        self.assertEqual(n.push("t", "hello", "q")["code"], 0)
        self.assertEqual(n.json("/pop?topic=t&bindKey=q")["data"]["body"], "hello")
        # nothing else is served on a refused connection, even a pipelined good request
        s = raw(n.http_port)
        s.sendall(b"GET /getAllTopicStat HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /getAllTopicStat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  self.TOKEN.encode() + b"\r\n\r\n")
        out = read_until_close(s)
        self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)
        st, js = http_response(self, out)
        self.assertEqual(st, 401)
        self.assertEqual(js["msg"], "E_AUTH - missing or wrong token: send Authorization: Bearer <auth_token>")
        s.close()

    def test_tcp_token(self):
        keeper = self.node.tcp()
        keeper.cmd("auth " + self.TOKEN)
        self.assertEqual(keeper.frame(), (103, b"ok"))
        for first in ("ping", "pub t q 0", "auth wrong", "auth", "auth %s x" % self.TOKEN):
            c = self.node.tcp()
            c.send(first.encode() + b"\n" + (body_frame(b"x") if first.startswith("pub") else b"") +
                   b"auth " + self.TOKEN.encode() + b"\nping\n")
            t, d = c.frame()
            self.assertEqual(t, 102, first)
            self.assertTrue(d.startswith(b"E_AUTH - "), d)
            self.assertTrue(c.closed(), first)
            self.assertEqual(c.buf, b"", "served after a refused auth: %r" % c.buf)
            c.close()
        keeper.cmd("queue t q")
        self.assertEqual(keeper.frame(), (103, b"ok"))
        keeper.cmd("pub t q 0", b"body")
        t, mid = keeper.frame()
        self.assertEqual(t, 103)
        keeper.cmd("pop t q")
        self.assertEqual(json.loads(keeper.frame()[1])["body"], "body")
        tcp_ping(keeper)

    def test_no_exposure_warning_on_loopback(self):
        # a node on 127.0.0.1 is not reachable from other hosts: no warning even without token or TLS
        plain = Node(self).start()
        self.assertNotIn("reachable from other hosts", plain.read_log())
        self.assertNotIn("reachable from other hosts", self.node.read_log())

    def test_auth_over_tls(self):
        node = Node(self, args=tls_args() + ["-auth_token=" + self.TOKEN], tls_context=client_ctx(),
                    auth_token=self.TOKEN).start()
        c = node.tcp()
        c.cmd("ping")
        self.assertTrue(c.frame()[1].startswith(b"E_AUTH"))
        c = node.tcp()
        c.cmd("auth " + self.TOKEN)
        self.assertEqual(c.frame(), (103, b"ok"))
        tcp_ping(c)
        self.assertEqual(node.json("/getAllTopicStat")["code"], 0)
        node.auth_token = "nope"
        self.assertEqual(node.get("/getAllTopicStat")[0], 401)


# ------------------------------------------------------------- limits ----

class LimitsTest(unittest.TestCase):
    def start(self, *args):
        self.node = Node(self, args=list(args)).start()
        self.keeper = self.node.tcp()
        tcp_ping(self.keeper)
        return self.node

    def served(self):
        """the well-behaved client, connected before the limit was crossed, is still served"""
        tcp_ping(self.keeper)
        self.assertEqual(self.node.get("/ping"), (200, "OK"))

    def test_max_connections(self):
        n = Node(self, args=["-max_connections=2"]).start()

        def connect_served():
            c = n.tcp()
            c.cmd("ping")
            f = c.frame()
            if f == (103, b"pong"):
                return c
            c.close()      # the node has not yet seen an earlier client go
            return None
        keeper = wait_for(connect_served, what="a first connection")
        second = wait_for(connect_served, what="a second connection")
        c = n.tcp()
        t, d = c.frame()
        self.assertEqual((t, d), (102, b"E_LIMIT - too many connections: max_connections reached"))
        self.assertTrue(c.closed())
        s = raw(n.http_port)
        st, js = http_response(self, read_until_close(s))
        self.assertEqual((st, js["msg"]), (503, "too many connections: max_connections reached"))
        tcp_ping(keeper)
        second.close()
        wait_for(connect_served, what="a connection after one left").close()
        tcp_ping(keeper)

    def test_max_connections_tls(self):
        n = Node(self, args=tls_args() + ["-max_connections=1"], tls_context=client_ctx()).start()

        def connect_served():
            c = n.tcp()
            c.cmd("ping")
            if c.frame() == (103, b"pong"):
                return c
            c.close()
            return None
        keeper = wait_for(connect_served, what="a first connection")
        c = n.tcp()
        self.assertEqual(c.frame(), (102, b"E_LIMIT - too many connections: max_connections reached"))
        self.assertTrue(c.closed())
        tcp_ping(keeper)
        # an excess client that has not sent its ClientHello yet: the master
        # waits for it (until header_timeout) without spinning
        s = raw(n.tcp_port)
        cpu0, t0 = self.cpu_seconds(n), time.monotonic()
        wait_for(lambda: time.monotonic() - t0 >= 1.0, what="one second")
        self.assertLess(self.cpu_seconds(n) - cpu0, 0.3, "the master spins on a waiting TLS write")
        tcp_ping(keeper)
        s.close()

    def cpu_seconds(self, n):
        with open("/proc/%d/stat" % n.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_idle_timeout(self):
        self.start("-idle_timeout=1")
        idle = self.node.tcp()
        s = raw(self.node.http_port)
        deadline = time.monotonic() + 6
        while not idle.closed(timeout=0.2):      # the keeper stays busy meanwhile
            tcp_ping(self.keeper)
            self.assertLess(time.monotonic(), deadline, "idle client not closed")
        self.assertTrue(idle.buf.endswith(b"E_LIMIT - idle for 1 s (idle_timeout)"), idle.buf)
        self.assertEqual(read_until_close(s), b"")
        tcp_ping(self.keeper)

    def test_idle_timeout_spares_subscribers_and_blocked_pops(self):
        self.start("-idle_timeout=1")
        sub = self.node.tcp()
        sub.cmd("subscribe news")
        self.assertEqual(sub.frame(), (103, b"ok"))
        popper = self.node.tcp()
        popper.cmd("queue t q")
        self.assertEqual(popper.frame(), (103, b"ok"))
        popper.cmd("pop t q")
        idle = self.node.tcp()
        deadline = time.monotonic() + 6
        while not idle.closed(timeout=0.2):
            self.assertLess(time.monotonic(), deadline, "idle client not closed")
        # the idle one is gone; the subscriber and the waiting consumer are not
        pub = self.node.tcp()
        pub.cmd("publish news", b"still here")
        self.assertEqual(pub.frame(), (103, b"ok"))
        self.assertEqual(sub.frame(), (104, b"still here"))
        self.assertEqual(self.node.push("t", "for the waiter", "q")["code"], 0)
        t, d = popper.frame()
        while t == 105:
            t, d = popper.frame()
        self.assertEqual(t, 101)
        for c in (sub, popper, idle, pub):
            c.close()

    def test_header_timeout_slowloris(self):
        self.start("-header_timeout=1", "-idle_timeout=30")
        s = raw(self.node.http_port)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        st, js = http_response(self, read_until_close(s, timeout=6))
        self.assertEqual((st, js["msg"]), (408, "request head not complete within header_timeout"))
        self.served()

    def test_max_header(self):
        self.start("-max_header=1K")
        s = raw(self.node.http_port)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 2000 + b"\r\n\r\n")
        st, js = http_response(self, read_until_close(s))
        self.assertEqual((st, js["msg"]), (431, "request head too large: max_header"))
        self.served()

    def test_max_line(self):
        self.start("-max_line=64")
        c = self.node.tcp()
        c.send(b"ping " + b"x" * 100 + b"\n")
        self.assertEqual(c.frame(), (102, b"E_TOO_LARGE - command line longer than max_line (64 bytes)"))
        self.assertTrue(c.closed())
        self.served()

    def test_max_body(self):
        self.start("-max_body=1K")
        c = self.node.tcp()
        c.cmd("pub t q 0", b"x" * 2000)
        self.assertEqual(c.frame(), (102, b"E_TOO_LARGE - body of 2000 bytes is larger than max_body (1024)"))
        self.assertTrue(c.closed())
        s = raw(self.node.http_port)
        s.sendall(b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        st, js = http_response(self, read_until_close(s))
        self.assertEqual((st, js["msg"]), (413, "request body too large: max_body"))
        self.served()

    def test_max_output(self):
        self.start("-max_output=64K")
        sub = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.settimeout(5)
        sub.connect(("127.0.0.1", self.node.tcp_port))
        sub.sendall(b"subscribe ch\n")
        self.assertEqual(sub.recv(8), b"\x00\x67\x00\x00\x00\x02ok")
        pub = self.node.tcp()
        body = b"m" * 256 * 1024
        for i in range(400):        # at most 100 MiB, far past any socket buffer
            pub.cmd("publish ch", body)
            t, d = pub.frame()
            if d == b"E_INVALID_PUBLISH - no subscribers":
                break
            self.assertEqual((t, d), (103, b"ok"))
        else:
            self.fail("a subscriber that does not read was never disconnected")
        self.assertIn("(max_output); closing", self.node.read_log())
        self.assertLess(self.node.master_rss(), 200 * 1024 * 1024)
        sub.close()
        tcp_ping(pub)
        self.served()

    def test_stalled_worker_sheds_load(self):
        import signal as _signal
        n = self.start("-max_output=64K")
        c = n.tcp()
        c.cmd("queue t q")
        self.assertEqual(c.frame(), (103, b"ok"))
        pid = n.worker_pids()["t"]
        os.kill(pid, _signal.SIGSTOP)
        try:
            body = b"x" * 10000
            c.send((b"pub t q 0\n" + struct.pack(">I", len(body)) + body) * 200)
            self.served()            # the master is not blocked by the stalled worker
        finally:
            os.kill(pid, _signal.SIGCONT)
        ok = limited = 0
        for _ in range(200):
            t, d = c.frame()
            if t == 103:
                ok += 1
            else:
                self.assertEqual(t, 102)
                self.assertIn(b"max_output", d)
                limited += 1
        self.assertGreater(limited, 0)
        self.assertGreater(ok, 0)
        stat = n.json("/getTopicStat?topic=t")["data"]
        self.assertEqual(stat["queue_msg_num"], ok)
        c.close()

    def test_max_topics(self):
        self.start("-max_topics=2")
        c = self.node.tcp()
        for t in ("a", "b"):
            c.cmd("queue %s q" % t)
            self.assertEqual(c.frame(), (103, b"ok"))
        c.cmd("queue c q")
        self.assertEqual(c.frame(), (102, b"E_LIMIT - too many topics: max_topics is 2"))
        r = self.node.json("/declareQueue?topic=d&bindKey=q")
        self.assertEqual(r["code"], 1)
        self.assertIn("max_topics", r["msg"])
        c.cmd("pub a q 0", b"still works")
        self.assertEqual(c.frame()[0], 103)
        self.served()

    def test_max_queues_per_topic(self):
        self.start("-max_queues_per_topic=2")
        c = self.node.tcp()
        for q in ("q1", "q2"):
            c.cmd("queue t " + q)
            self.assertEqual(c.frame(), (103, b"ok"))
        c.cmd("queue t q3")
        t, d = c.frame()
        self.assertEqual(t, 102)
        self.assertTrue(d.startswith(b"E_LIMIT - "), d)
        self.assertIn(b"max_queues_per_topic", d)
        r = self.node.json("/declareQueue?topic=t&bindKey=q4")
        self.assertEqual(r["code"], 1)
        self.assertIn("max_queues_per_topic", r["msg"])
        tcp_ping(c)
        self.served()


# ------------------------------------------------- dropped connections ----

SANITIZED = "asan" in os.path.basename(BUILD)


class DroppedConnectionsTest(unittest.TestCase):
    """Connections dropped mid-request leave no fd and no memory behind."""

    def churn(self, node, n):
        k = 0
        tls = node.tcp_tls
        for i in range(n):
            kind = i % 8
            if kind == 0:
                s = raw(node.tcp_port)
                s.sendall(b"pub t q 0")                              # half a line
            elif kind == 1:
                s = raw(node.tcp_port)
                s.sendall(b"pub t q 0\n" + struct.pack(">I", 5000) + b"x" * 100)   # half a body
            elif kind == 2:
                s = raw(node.tcp_port)
                s.sendall(b"pop t q\n")                              # a blocking pop at the worker
            elif kind == 3:
                s = raw(node.http_port)
                s.sendall(b"GET /pop?topic=t&bindKey=q HTTP/1.1\r\nHo")       # half a head
            elif kind == 4:
                s = raw(node.http_port)
                s.sendall(b"POST /push HTTP/1.1\r\nContent-Length: 900\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\n\r\ndata=")   # half a body
            elif kind == 5:
                s = raw(node.http_port)
                s.sendall(b"GET /pop?topic=t&bindKey=q&timeout=30 HTTP/1.1\r\n\r\n")   # long poll
            elif kind == 6 and tls:
                c = TcpClient(node.tcp_port, 5, node.tls_context)    # handshake, half a line
                c.send(b"pub t q")
                s = c.sock
            elif kind == 6:
                s = raw(node.tcp_port)                               # connect and go
            else:
                s = raw(node.tcp_port)
                s.sendall(b"\x16\x03\x01\x00\x10" if tls else b"ping\nsubscribe ch\n")
            if i % 3 == 0:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            s.close()
            k += 1
        return k

    def settle(self, node):
        """wait until the master has accepted every connection opened so far
        and closed all but the keeper"""
        wait_for(lambda: node.master_conns() == (1, 0), timeout=15,
                 what="the master to close the dropped connections (now %r)" % (node.master_conns(),))

    def churn_paced(self, node, n):
        """n dropped connections, in batches, so the memory peak stays that of one batch"""
        for i in range(0, n, 20):
            self.churn(node, min(20, n - i))
            self.settle(node)

    def run_churn(self, node, n):
        keeper = node.tcp()
        keeper.cmd("queue t q")
        self.assertEqual(keeper.frame(), (103, b"ok"))
        self.churn_paced(node, 400)  # warm up the allocator and buffers
        fds0, rss0 = node.master_fds(), node.master_rss()
        stats0 = node.json("/debug/stats")["data"]
        self.churn_paced(node, n)
        tcp_ping(keeper)
        self.settle(node)
        fds1, rss1 = node.master_fds(), node.master_rss()
        self.assertEqual(fds1, fds0, "master fds: %d before, %d after" % (fds0, fds1))
        tolerance = (64 if SANITIZED else 2) * 1024 * 1024      # allocator slack, not per-connection
        self.assertLessEqual(rss1 - rss0, tolerance, "master RSS grew from %d to %d" % (rss0, rss1))
        stats1 = node.json("/debug/stats")["data"]
        self.assertGreaterEqual(stats1["connections_total"] - stats0["connections_total"], n)
        self.assertEqual(stats1["connections"], 2)      # the keeper and this request
        tcp_ping(keeper)

    def test_1000_plain_connections_dropped_mid_request(self):
        node = Node(self).start()
        self.run_churn(node, 1000)

    def test_300_tls_connections_dropped_mid_handshake_or_request(self):
        node = Node(self, args=tls_args(http=False), tls_context=client_ctx()).start()
        self.run_churn(node, 300)


if __name__ == "__main__":
    unittest.main()
