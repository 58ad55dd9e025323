"""gmq-bench against real servers: every workload with a small -n against a
gmq node (plain, and TLS with auth_token), against beanstalkd and against
redis-server (both started here on free loopback ports, stopped by PID). The
--json counts must add up (every message pushed was popped and acked, no
error) and the servers' own counters must agree; timings are never checked.
Then the error paths: no server, an empty queue, refused TLS and token, a
server that stops answering (the 30 s stall), bad options."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from gmqtest import BUILD, ROOT, Node, free_port, wait_for

BENCH = os.path.join(BUILD, "gmq-bench")
BEANSTALKD = shutil.which("beanstalkd")
REDIS = shutil.which("redis-server")
WORKLOADS = ("push", "popack", "drain", "mixed")
# small and awkward: 4 connections over 2 topics, 3 in flight each, n not a multiple of either
SMALL = ["-n", "301", "-c", "4", "-P", "3", "--topics", "2", "-d", "64"]


def bench(*args, timeout=120):
    """runs gmq-bench; (exit status, stdout, stderr)"""
    p = subprocess.run([BENCH] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Server:
    """a peer (beanstalkd, redis-server) on a free 127.0.0.1 port with its own
    directory, stopped by PID in the test's cleanup"""

    def __init__(self, test, argv_fn):
        self.tmp = tempfile.mkdtemp(prefix="gmqbench-")
        self.port = free_port()
        self.log = open(os.path.join(self.tmp, "log"), "wb")
        self.proc = subprocess.Popen(argv_fn(self.port, self.tmp), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        test.addCleanup(self.stop)
        wait_for(self.accepts, 10, what="%s on port %d" % (self.proc.args[0], self.port))

    def accepts(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited: %s" % (self.proc.args[0], self.read_log()))
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def read_log(self):
        with open(os.path.join(self.tmp, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def call(self, data, until):
        """send raw protocol bytes, read until the answer ends with `until`"""
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            s.sendall(data)
            buf = b""
            while not buf.endswith(until):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf.decode()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.tmp, True)


def redis_server(test, durable=False):
    def argv(port, tmp):
        return [REDIS, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp, "--save", "",
                "--daemonize", "no", "--appendonly", "yes" if durable else "no"] + \
               (["--appendfsync", "always"] if durable else [])
    return Server(test, argv)


def beanstalkd(test, durable=False):
    def argv(port, tmp):
        return [BEANSTALKD, "-l", "127.0.0.1", "-p", str(port)] + (["-b", tmp, "-f0"] if durable else [])
    return Server(test, argv)


class Checks:
    def run_json(self, *args):
        rc, out, err = bench(*args, "--json")
        self.assertEqual(rc, 0, "gmq-bench %s:\n%s%s" % (" ".join(args), out, err))
        return json.loads(out)

    def check(self, r, workload, n):
        """the counts of one run: nothing lost, nothing failed"""
        self.assertEqual(r["workload"], workload)
        self.assertEqual(r["messages"], n)
        self.assertEqual(r["errors"], 0)
        self.assertNotIn("error", r)
        pushes = workload in ("push", "drain", "mixed")
        pops = workload in ("popack", "drain", "mixed")
        self.assertEqual(r["pushed"], n if pushes else 0)
        self.assertEqual(r["popped"], n if pops else 0)
        self.assertEqual(r["acked"], n if pops else 0)
        names = [p["phase"] for p in r["phases"]]
        self.assertEqual(names, (["push"] if pushes else []) + (["popack"] if pops else []))
        for p in r["phases"]:
            self.assertEqual((p["messages"], p["errors"]), (n, 0), p)
            for k in ("seconds", "rate", "p50_us", "p99_us", "p999_us", "max_us"):
                self.assertIsInstance(p[k], (int, float), k)
            self.assertTrue(p["p50_us"] <= p["p99_us"] <= p["p999_us"] <= p["max_us"], p)

    def every_workload(self, addr_args):
        """push then popack (which takes what push left), drain, mixed"""
        for w in WORKLOADS:
            with self.subTest(workload=w):
                self.check(self.run_json(*addr_args, "-t", w, *SMALL), w, 301)


@unittest.skipUnless(os.access(BENCH, os.X_OK), "build/gmq-bench not built")
class GmqTest(Checks, unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()

    def queues(self, topic):
        return {q["bind_key"]: q for q in self.node.json("/getTopicStat?topic=" + topic)["data"]["queues"]}

    def test_every_workload(self):
        self.every_workload(["-p", str(self.node.tcp_port)])
        # the node counted the same: two topics, every message pushed, popped and acked
        total = {"pushed": 0, "popped": 0, "acked": 0}
        for t in ("bench.0", "bench.1"):
            q = self.queues(t)["q"]
            self.assertEqual((q["ready"], q["in_flight"]), (0, 0), q)
            for k in total:
                total[k] += q[k]
        self.assertEqual(total, {"pushed": 3 * 301, "popped": 3 * 301, "acked": 3 * 301})

    def test_text_output_and_defaults(self):
        rc, out, err = bench("--addr", "127.0.0.1:%d" % self.node.tcp_port, "-n", "120", "-c", "3")
        self.assertEqual(rc, 0, err)
        self.assertIn("gmq at 127.0.0.1:%d: drain, 120 messages of 100 bytes, 3 connections" % self.node.tcp_port,
                      out)
        rows = [l.split() for l in out.splitlines()[2:]]
        self.assertEqual([(r[0], r[1], r[-1]) for r in rows], [("push", "120", "0"), ("pop+ack", "120", "0")])
        q = self.queues("bench")["q"]
        self.assertEqual((q["pushed"], q["acked"], q["ready"]), (120, 120, 0))

    def test_popack_on_an_empty_queue_fails_after_one_wait(self):
        t0 = time.monotonic()
        rc, out, err = bench("-p", str(self.node.tcp_port), "-t", "popack", "-n", "50", "-c", "2",
                             "--queue", "empty")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("no message within 5 s: queue bench_empty is empty", err)
        self.assertLess(time.monotonic() - t0, 60)


@unittest.skipUnless(os.access(BENCH, os.X_OK), "build/gmq-bench not built")
class GmqTlsTest(Checks, unittest.TestCase):
    def setUp(self):
        self.certs = tempfile.mkdtemp(prefix="gmqcerts-")
        self.addCleanup(shutil.rmtree, self.certs, True)
        subprocess.run([os.path.join(ROOT, "scripts", "gen-test-certs.sh"), self.certs], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        c = lambda f: os.path.join(self.certs, f)
        self.node = Node(self, args=["-tcp_tls=on", "-tls_cert_file=" + c("chain.pem"),
                                     "-tls_key_file=" + c("server.key"), "-auth_token=tk"],
                         auth_token="tk").start()
        self.tls = ["-p", str(self.node.tcp_port), "--tls", "--cacert", c("ca.pem"), "--token", "tk"]

    def test_every_workload_over_tls(self):
        self.every_workload(self.tls)

    def test_refusals_are_clear(self):
        port = str(self.node.tcp_port)
        for args, text in (
                (["--tls", "--token", "tk"], "certificate verification failed"),          # no --cacert
                (self.tls[:-1] + ["wrong"], "E_AUTH"),
                (["--token", "tk"], "127.0.0.1:" + port),                                 # plaintext to TLS
                (["--tls", "--cacert", "/nonexistent/ca.pem"], "cannot load the CA file")):
            with self.subTest(args=args):
                rc, out, err = bench("-p", port, "-n", "10", "-c", "2", *args)
                self.assertEqual(rc, 1, out + err)
                self.assertIn(text, err)
                self.assertNotIn("usage:", err)


@unittest.skipUnless(os.access(BENCH, os.X_OK) and BEANSTALKD, "gmq-bench or beanstalkd missing")
class BeanstalkdTest(Checks, unittest.TestCase):
    def test_every_workload(self):
        srv = beanstalkd(self)
        self.every_workload(["--peer", "beanstalkd", "-p", str(srv.port)])
        # a drained tube is gone; the server's own counters: 3 workloads pushed, 3 popped
        text = srv.call(b"stats\r\n", b"\n\r\n")
        for line in ("current-jobs-ready: 0", "current-jobs-reserved: 0", "total-jobs: 903",
                     "cmd-delete: 903", "cmd-put: 903"):
            self.assertIn("\n" + line + "\n", text)

    def test_durable(self):
        srv = beanstalkd(self, durable=True)
        self.check(self.run_json("--peer", "beanstalkd", "-p", str(srv.port), "-n", "200", "-c", "5"),
                   "drain", 200)


@unittest.skipUnless(os.access(BENCH, os.X_OK) and REDIS, "gmq-bench or redis-server missing")
class RedisTest(Checks, unittest.TestCase):
    def llen(self, srv, key):
        cmd = "*2\r\n$4\r\nLLEN\r\n$%d\r\n%s\r\n" % (len(key), key)
        return int(srv.call(cmd.encode(), b"\r\n")[1:])

    def test_every_workload(self):
        srv = redis_server(self)
        self.every_workload(["--peer", "redis", "-p", str(srv.port)])
        for key in ("bench.0_q", "bench.1_q", "bench.0_q:processing", "bench.1_q:processing"):
            self.assertEqual(self.llen(srv, key), 0, key)

    def test_durable(self):
        srv = redis_server(self, durable=True)
        self.check(self.run_json("--peer", "redis", "-p", str(srv.port), "-n", "200", "-c", "5", "-P", "4"),
                   "drain", 200)
        self.assertEqual(self.llen(srv, "bench_q:processing"), 0)


@unittest.skipUnless(os.access(BENCH, os.X_OK), "build/gmq-bench not built")
class ErrorsTest(unittest.TestCase):
    def test_no_server(self):
        port = str(free_port())     # nothing listens there
        for peer in ("gmq", "beanstalkd", "redis"):
            with self.subTest(peer=peer):
                rc, out, err = bench("--peer", peer, "-p", port, "-n", "10", "--json")
                self.assertEqual(rc, 1, out + err)
                self.assertIn("127.0.0.1:%s" % port, err)
                self.assertIn("Connection refused", err)
                r = json.loads(out)
                self.assertIn("Connection refused", r["error"])
                self.assertEqual((r["pushed"], r["phases"]), (0, []))
                rc, out, err = bench("--peer", peer, "-p", port, "-n", "10")
                self.assertEqual((rc, out), (1, ""))

    def test_a_server_that_stops_answering_is_a_stall(self):
        """a Redis look-alike that answers PING and then nothing: after 30 s, exit 1"""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        self.addCleanup(srv.close)
        conns = []

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                conns.append(c)
                if b"PING" in c.recv(4096):
                    c.sendall(b"+PONG\r\n")
        threading.Thread(target=serve, daemon=True).start()
        self.addCleanup(lambda: [c.close() for c in conns])
        rc, out, err = bench("--peer", "redis", "-p", str(srv.getsockname()[1]), "-n", "10", "-c", "2",
                             "-P", "3", "--json")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("stalled: no answer for 30 s with 6 commands in flight (push 0 of 10 done", err)
        self.assertEqual(json.loads(out)["phases"][0]["messages"], 0)

    def test_bad_options_print_the_usage_and_exit_2(self):
        for args, text in ((["-c", "0"], '-c: "0" is not a number in 1..'),
                           (["-n", "ten"], '-n: "ten" is not a number'),
                           (["-P"], "-P needs a value"),
                           (["-t", "pull"], '-t: "pull" is not one of push, popack, drain, mixed'),
                           (["--peer", "kafka"], '--peer: "kafka" is not one of gmq, beanstalkd, redis'),
                           (["--bogus"], "unknown option --bogus"),
                           (["extra"], "unexpected argument extra"),
                           (["--peer", "redis", "--tls"], "are for --peer gmq"),
                           (["--cacert", "ca.pem"], "need --tls"),
                           (["--topic", "a/b"], "--topic:"),
                           (["-c", "3", "--topics", "4"], "at least one connection per topic"),
                           (["-t", "mixed", "-c", "3", "--topics", "2"], "at least two"),
                           (["--addr", "nowhere"], "bad address nowhere"),
                           (["--addr", "127.0.0.1:1", "-p", "2"], "not both"),
                           (["-p", "70000"], "bad address")):
            with self.subTest(args=args):
                rc, out, err = bench(*args)
                self.assertEqual(rc, 2, out + err)
                self.assertIn(text, err)
                self.assertIn("usage: gmq-bench", err)
                self.assertEqual(out, "")

    def test_help(self):
        rc, out, err = bench("--help")
        self.assertEqual((rc, err), (0, ""))
        for w in ("--workload", "popack", "drain", "mixed", "--topics", "--peer gmq|beanstalkd|redis", "--json"):
            self.assertIn(w, out)


if __name__ == "__main__":
    unittest.main()
