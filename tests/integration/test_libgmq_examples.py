"""The examples of docs/client.md (examples/*.c) built the way a user builds
them: against `make install DESTDIR=...` with `pkg-config --cflags --libs
libgmq` (PKG_CONFIG_PATH into DESTDIR, --define-prefix), linked with the
shared library (and once with the static one), and run against a real
node: the producer's messages all reach the consumers."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from gmqtest import BUILD, ROOT, Node

EXAMPLES = os.path.join(ROOT, "examples")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@unittest.skipUnless(shutil.which("pkg-config") and os.path.exists(os.path.join(BUILD, "libgmq.a")),
                     "pkg-config or build/libgmq.a missing")
class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gmqexamples-")
        cls.dest = os.path.join(cls.tmp, "dest")
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        r = run(["make", "--no-print-directory", "-C", ROOT, "BUILD=" + BUILD, "install",
                 "DESTDIR=" + cls.dest, "PREFIX=/usr/local"], env=env)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp, True)
            raise AssertionError("make install: " + r.stdout[-2000:] + r.stderr[-2000:])
        cls.libdir = os.path.join(cls.dest, "usr/local/lib")
        cls.env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(cls.libdir, "pkgconfig"))
        # a library built with SAN=1 needs the sanitizer runtime in the program too
        nm = run(["nm", "-D", "--undefined-only", os.path.join(cls.libdir, "libgmq.so")]).stdout
        cls.san = ["-fsanitize=address,undefined"] if "__asan_" in nm else []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def pkg(self, *args):
        r = run(["pkg-config", "--define-prefix"] + list(args) + ["libgmq"], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def build(self, name, extra=()):
        """cc example.c $(pkg-config --cflags --libs libgmq): the shared library"""
        out = os.path.join(self.tmp, name)
        cmd = ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", out,
               os.path.join(EXAMPLES, name + ".c")] + self.san + self.pkg("--cflags", "--libs") + list(extra)
        r = run(cmd)
        self.assertEqual(r.returncode, 0, " ".join(cmd) + "\n" + r.stderr)
        return out

    def exe(self, path, *args, timeout=60):
        env = dict(os.environ, LD_LIBRARY_PATH=self.libdir)
        return run([path] + list(args), env=env, timeout=timeout)

    def test_docs_show_the_examples_as_they_are(self):
        with open(os.path.join(ROOT, "docs", "client.md")) as f:
            doc = f.read()
        for name in ("producer", "consumer", "async_consumer"):
            with open(os.path.join(EXAMPLES, name + ".c")) as f:
                self.assertIn("```c\n" + f.read() + "```\n", doc, name)

    def test_pkg_config_flags(self):
        self.assertIn("-I%s/usr/local/include" % self.dest, self.pkg("--cflags"))
        libs = self.pkg("--libs")
        self.assertIn("-L%s" % self.libdir, libs)
        self.assertIn("-lgmq", libs)
        static = self.pkg("--static", "--libs")
        for lib in ("-lssl", "-lcurl", "-lyajl", "-lpthread"):
            self.assertIn(lib, static)

    def test_producer_and_consumers_against_a_node(self):
        producer = self.build("producer")
        consumer = self.build("consumer")
        async_consumer = self.build("async_consumer", extra=["-lev"])
        r = run(["readelf", "-d", producer])
        self.assertIn("libgmq.so.0", r.stdout)
        node = Node(self).start()
        addr = "127.0.0.1:%d" % node.tcp_port

        r = self.exe(producer, addr, "orders", "500")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "500 stored, 0 outcome unknown, 0 failed"),
                         r.stderr)
        r = self.exe(consumer, addr, "orders", "default", "300")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = [int(m.group(1)) for m in re.finditer(r": message (\d+)$", r.stdout, re.M)]
        self.assertEqual(got, list(range(300)))
        self.assertTrue(r.stdout.endswith("300 messages\n"))
        r = self.exe(async_consumer, addr, "orders", "default", "200")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = sorted(int(m.group(1)) for m in re.finditer(r": message (\d+)$", r.stdout, re.M))
        self.assertEqual(got, list(range(300, 500)))
        self.assertIn("connected: %s" % addr, r.stderr)
        # nothing left: the consumer stops after 5 s without a message
        r = self.exe(consumer, addr, "orders", "default")
        self.assertEqual((r.returncode, r.stdout), (0, "0 messages\n"))
        st = node.json("/getTopicStat?topic=orders")["data"]
        self.assertEqual((st["push_num"], st["acked_num"], st["wait_ack_num"]), (500, 500, 0))

        # errors come out as the examples print them
        r = self.exe(producer, addr, "bad/topic", "2")
        self.assertEqual((r.returncode, r.stdout), (1, "0 stored, 0 outcome unknown, 2 failed\n"))
        self.assertIn("message 1: GMQ_ERR_SERVER E_INVALID_TOPIC - invalid topic: use 1..128", r.stderr)
        r = self.exe(consumer, addr, "orders", "bad/key", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("GMQ_ERR_SERVER E_INVALID_BINDKEY", r.stderr)

    def test_static_link(self):
        # libgmq.a, and what it needs as shared libraries (the static closure of
        # libcurl is rarely installed): the Requires.private of libgmq.pc
        flags = self.pkg("--cflags")
        with open(os.path.join(self.libdir, "pkgconfig", "libgmq.pc")) as f:
            req = re.search(r"^Requires.private: (.*)$", f.read(), re.M).group(1).split()
        r = run(["pkg-config", "--libs"] + req)
        self.assertEqual(r.returncode, 0, r.stderr)
        libs = [os.path.join(self.libdir, "libgmq.a")] + r.stdout.split() + ["-lpthread"]
        out = os.path.join(self.tmp, "producer-static")
        r = run(["cc", "-std=c11", "-Wall", "-Werror", "-o", out, os.path.join(EXAMPLES, "producer.c")]
                + self.san + flags + libs)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("libgmq.so", run(["readelf", "-d", out]).stdout)
        node = Node(self).start()
        r = run([out, "127.0.0.1:%d" % node.tcp_port, "static", "20"], timeout=60)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "20 stored, 0 outcome unknown, 0 failed"),
                         r.stderr)


if __name__ == "__main__":
    unittest.main()
