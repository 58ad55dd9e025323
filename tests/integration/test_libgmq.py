"""libgmq against real nodes: build/tests/lib_api (tests/lib/lib_api.c) runs
one case per API call with its error paths; this module starts the node
(plain, with auth_token, with TLS and client certificates) and checks the
binary round trip over HTTP's octet-stream form too."""
import http.client
import os
import shutil
import subprocess
import tempfile
import unittest

from gmqtest import BUILD, ROOT, Node

LIB_API = os.path.join(BUILD, "tests", "lib_api")


def run_case(test, case, node, *extra, timeout=120):
    args = [LIB_API, case, "addr=127.0.0.1:%d" % node.tcp_port,
            "http=127.0.0.1:%d" % node.http_port] + list(extra)
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    test.assertEqual(p.returncode, 0, "lib_api %s:\n%s%s\n--- node log ---\n%s"
                     % (case, p.stdout, p.stderr, node.read_log()[-3000:]))
    return p.stdout


@unittest.skipUnless(os.access(LIB_API, os.X_OK), "build/tests/lib_api not built")
class LibApiTest(unittest.TestCase):
    """one fresh node per case"""

    def setUp(self):
        self.node = Node(self).start()

    def case(self, name):
        return run_case(self, name, self.node)

    def test_connect(self):
        self.case("connect")

    def test_pub(self):
        self.case("pub")

    def test_mpub(self):
        self.case("mpub")

    def test_pop(self):
        self.case("pop")

    def test_ack(self):
        self.case("ack")

    def test_dead_and_requeue(self):
        self.case("dead")

    def test_peek(self):
        self.case("peek")

    def test_touch_and_release(self):
        self.case("touch_release")

    def test_stats_declare_set(self):
        self.case("stats_set")

    def test_subscribe_publish(self):
        self.case("channels")

    def test_pipelining(self):
        self.case("pipeline")

    def test_protocol_error_on_the_http_port(self):
        self.case("protocol")

    def test_async_many_contexts_on_one_loop(self):
        self.case("async")

    def test_every_byte_value_over_tcp_and_http(self):
        """published through the library: back unchanged through the library's
        raw pop (TCP) and through HTTP /pop with Accept: application/octet-stream"""
        mid = int(self.case("binary").split()[-1])
        h = http.client.HTTPConnection("127.0.0.1", self.node.http_port, timeout=10)
        self.addCleanup(h.close)
        h.request("GET", "/pop?topic=lbin&bindKey=q", headers={"Accept": "application/octet-stream"})
        r = h.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("X-Gmq-Msg-Id"), str(mid))
        self.assertEqual(body, bytes(range(256)))


@unittest.skipUnless(os.access(LIB_API, os.X_OK), "build/tests/lib_api not built")
class LibAuthTest(unittest.TestCase):
    def test_auth_token(self):
        token = "s3cret-token"
        node = Node(self, args=["-auth_token=" + token], auth_token=token).start()
        run_case(self, "auth", node, "token=" + token)


@unittest.skipUnless(os.access(LIB_API, os.X_OK), "build/tests/lib_api not built")
class LibTlsTest(unittest.TestCase):
    def test_tls_with_client_certificates_and_auth(self):
        certs = tempfile.mkdtemp(prefix="gmqcerts-")
        self.addCleanup(shutil.rmtree, certs, True)
        subprocess.run([os.path.join(ROOT, "scripts", "gen-test-certs.sh"), certs], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        token = "tls-token"
        node = Node(self, args=["-tcp_tls=on", "-tls_cert_file=" + os.path.join(certs, "chain.pem"),
                                "-tls_key_file=" + os.path.join(certs, "server.key"),
                                "-tls_client_ca_file=" + os.path.join(certs, "ca.pem"),
                                "-auth_token=" + token], auth_token=token).start()
        run_case(self, "tls", node, "certs=" + certs, "token=" + token)


if __name__ == "__main__":
    unittest.main()
