"""gmqctl, the admin CLI: usage errors (exit 2 with a usage line), --version,
help for every command and the bash completion script; the token and TLS
flags; and, with a real etcd, nodes, watch and --node."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcdtest  # noqa: E402
from ctltest import CtlCase, ctl, table  # noqa: E402
from gmqtest import GMQCTL, MASTER, ROOT, Node, free_port  # noqa: E402


class UsageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(GMQCTL, os.X_OK):
            raise unittest.SkipTest("%s not built" % GMQCTL)

    def usage(self, *args, expect=None):
        rc, out, err = ctl(*args)
        self.assertEqual(rc, 2, (args, out, err))
        self.assertEqual(out, "")
        self.assertTrue(err.startswith("gmqctl: "), err)
        self.assertIn("usage: gmqctl", err)
        if expect:
            self.assertIn(expect, err.splitlines()[0])

    def test_usage_errors(self):
        self.usage(expect="no command given")
        self.usage("frobnicate", expect="unknown command 'frobnicate'")
        self.usage("topic", expect="topic: give one of its verbs")
        self.usage("topic", "frob", expect="unknown command 'topic frob'")
        self.usage("--bogus", "ping", expect="unknown flag '--bogus'")
        self.usage("ping", "extra", expect="unexpected argument 'extra'")
        self.usage("ack", "t", "q", expect="missing arguments")
        self.usage("--server", "x", "--etcd", "y", "ping", expect="not both")
        self.usage("--server", "x", "--node", "1", "ping", expect="--node picks")
        self.usage("--node", "1", "ping", expect="--node picks")
        self.usage("--key", "k.pem", "ping", expect="--key goes with --cert")
        self.usage("--token", "has space", "ping", expect="--token")
        self.usage("--token", "x" * 257, "ping", expect="too long")
        self.usage("--json=1", "ping", expect="--json takes no value")
        self.usage("ping", "--server", expect="--server wants a value")
        self.usage("--force", "topic", "delete", "t", expect="unknown flag '--force'")
        self.usage("completion", "zsh", expect="only bash")
        self.usage("help", "nope", expect="no command 'nope'")
        self.usage("--server", "http://127.0.0.1:1", "nodes", expect="give --etcd")
        # the command's usage line follows the reason
        rc, out, err = ctl("queue", "purge", "t")
        self.assertEqual(err.splitlines()[1], "usage: gmqctl queue purge TOPIC KEY [--force]")

    def test_version_and_help(self):
        self.assertEqual(ctl("--version")[:2], (0, "gmqctl 0.1.0\n"))
        for args in (["--help"], ["-h"], ["help"]):
            rc, out, err = ctl(*args)
            self.assertEqual(rc, 0)
            self.assertIn("commands:", out)
            self.assertIn("topic config TOPIC", out)
            self.assertIn("exit status", out)

    def commands(self):
        rc, out, err = ctl("help")
        words = []
        section = out.split("commands:\n")[1].split("\n\n")[0]
        for line in section.splitlines():
            parts = line.split()
            if parts[0] in ("topic", "queue", "dead", "msg", "worker"):
                words.append(parts[:2])
            else:
                words.append(parts[:1])
        return words

    def test_help_for_every_command(self):
        cmds = self.commands()
        self.assertEqual(len(cmds), 26, cmds)
        for words in cmds:
            rc, out, err = ctl("help", *words)
            self.assertEqual((rc, err), (0, ""), words)
            self.assertTrue(out.startswith("usage: gmqctl %s" % " ".join(words)), (words, out))
            self.assertIn("\nexample:\n  ", out, words)
            example = out.split("\nexample:\n")[1]
            self.assertIn("gmqctl ", example, words)
            # --help after the command says the same
            rc, out2, err = ctl(*words, "--help")
            self.assertEqual((rc, out2), (0, out), words)
        # a noun alone: every verb
        rc, out, err = ctl("help", "topic")
        for verb in ("list", "show", "config", "delete"):
            self.assertIn("usage: gmqctl topic %s" % verb, out)

    def test_completion_bash(self):
        if not shutil.which("bash"):
            self.skipTest("no bash")
        rc, script, err = ctl("completion", "bash")
        self.assertEqual((rc, err), (0, ""))
        with tempfile.NamedTemporaryFile("w", suffix=".bash", delete=False) as f:
            f.write(script)
        self.addCleanup(os.unlink, f.name)
        p = subprocess.run(["bash", "-n", f.name], capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

        def complete(line):
            words = line.split(" ")
            prog = ("source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_gmqctl\n"
                    "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
                    % (f.name, " ".join("'%s'" % w for w in words), len(words) - 1))
            p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True)
            self.assertEqual(p.stderr, "")
            return sorted(x for x in p.stdout.split("\n") if x)

        self.assertEqual(complete("gmqctl top"), ["topic"])
        self.assertEqual(complete("gmqctl p"), ["peek", "ping", "pop", "push"])
        self.assertEqual(complete("gmqctl topic "), ["config", "delete", "list", "show"])
        self.assertEqual(complete("gmqctl --server http://x:1 queue p"), ["purge"])
        self.assertEqual(complete("gmqctl dead "), ["kick", "list"])
        self.assertEqual(complete("gmqctl topic config t --r"), ["--retry"])
        self.assertEqual(complete("gmqctl --no-h"), ["--no-headers"])
        self.assertEqual(complete("gmqctl peek t q "), ["dead", "delayed", "ready"])
        self.assertEqual(complete("gmqctl help wor"), ["worker", "workers"])
        self.assertEqual(complete("gmqctl help worker "), ["restart"])
        self.assertEqual(complete("gmqctl completion "), ["bash"])
        self.assertEqual(complete("gmqctl ping --timeout "), [])


class TokenTest(CtlCase):
    node_args = ["-auth_token=s3cr3t-T0ken"]
    node_kw = {"auth_token": "s3cr3t-T0ken"}

    def test_token(self):
        err = self.fails(1, "E_AUTH - missing or wrong token", "topic", "list")
        self.assertIn("give --token TOKEN or set GMQ_TOKEN", err)
        err = self.fails(1, "E_AUTH", "--token", "wrong", "topic", "list")
        self.assertIn("not the node's auth_token", err)
        self.assertEqual(table(self.ok("--token", "s3cr3t-T0ken", "topic", "list"))[0][0], "TOPIC")
        self.assertEqual(self.js("topic", "config", "tk_a", "--ttr", "7",
                                 env={"GMQ_TOKEN": "s3cr3t-T0ken"})["msg_ttr"], 7)
        self.assertEqual(self.js("--token", "s3cr3t-T0ken", "queue", "list", "tk_a"), [])
        # /ping needs no token
        self.ok("ping")


class TlsTest(unittest.TestCase):
    """--cacert against an https node; --cert/--key against one with tls_client_ca_file."""

    @classmethod
    def setUpClass(cls):
        for path in (MASTER, GMQCTL):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s not built" % path)
        cls.certs = tempfile.mkdtemp(prefix="gmqctl-certs-")
        subprocess.run([os.path.join(ROOT, "scripts", "gen-test-certs.sh"), cls.certs], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)

    def cert(self, name):
        return os.path.join(self.certs, name)

    def node(self, *extra):
        import ssl
        ctx = ssl.create_default_context(cafile=self.cert("ca.pem"))
        if extra:
            ctx.load_cert_chain(self.cert("client.pem"), self.cert("client.key"))
        return Node(self, args=["-http_tls=on", "-tls_cert_file=" + self.cert("chain.pem"),
                                "-tls_key_file=" + self.cert("server.key")] + list(extra),
                    tls_context=ctx).start()

    def test_cacert(self):
        n = self.node()
        rc, out, err = ctl("--server", n.base, "topic", "list")
        self.assertEqual(rc, 1)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("certificate", err.lower())
        rc, out, err = ctl("--server", n.base, "--cacert", self.cert("ca.pem"), "topic", "list")
        self.assertEqual(rc, 0, err)

    def test_client_certificate(self):
        n = self.node("-tls_client_ca_file=" + self.cert("ca.pem"))
        base = ["--server", n.base, "--cacert", self.cert("ca.pem")]
        rc, out, err = ctl(*base, "topic", "list")
        self.assertEqual(rc, 1)
        self.assertEqual(err.count("\n"), 1, err)
        rc, out, err = ctl(*base, "--cert", self.cert("client.pem"), "--key", self.cert("client.key"),
                           "topic", "list")
        self.assertEqual(rc, 0, err)
        rc, out, err = ctl(*base, "--cert", self.cert("other-client.pem"),
                           "--key", self.cert("other-client.key"), "topic", "list")
        self.assertEqual(rc, 1)


class EtcdTest(unittest.TestCase):
    """nodes, watch, ping and --node against a real etcd and registered gmq-master nodes."""

    @classmethod
    def setUpClass(cls):
        for path in (MASTER, GMQCTL, etcdtest.ETCD):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s missing" % path)

    def setUp(self):
        self.etcd = etcdtest.Etcd()
        self.addCleanup(self.etcd.cleanup)
        self.etcd.start()
        self.url = self.etcd.endpoint

    def node(self, node_id, weight=1):
        n = Node(self, args=["-etcd_endpoints=" + self.url, "-etcd_lease_ttl=2",
                             "-node_id=%d" % node_id, "-node_weight=%d" % weight]).start()
        return n

    def ids(self):
        rc, out, err = ctl("--etcd", self.url, "nodes", "--json")
        return sorted(int(n["node_id"]) for n in json.loads(out)) if rc == 0 else None

    def wait_ids(self, ids):
        etcdtest.wait_until(lambda: self.ids() == ids, 10, what="nodes %s" % ids)

    def test_nodes_ping_and_node_selection(self):
        a = self.node(1, weight=3)
        self.wait_ids([1])
        rows = table(ctl("--etcd", self.url, "nodes")[1])
        self.assertEqual(rows[0], ["ID", "TCP_ADDR", "HTTP_ADDR", "WEIGHT", "UP SINCE"])
        self.assertEqual(rows[1][:4], ["1", "127.0.0.1:%d" % a.tcp_port, "127.0.0.1:%d" % a.http_port, "3"])
        [n] = json.loads(ctl("--etcd", self.url, "nodes", "--json")[1])
        self.assertEqual((n["node_id"], n["weight"]), ("1", "3"))
        # GMQ_ETCD works like --etcd
        rc, out, err = ctl("nodes", "--json", env={"GMQ_ETCD": self.url})
        self.assertEqual(json.loads(out), [n])
        # one node registered: single-node commands use it without --node
        rc, out, err = ctl("--etcd", self.url, "queue", "declare", "et_a", "q")
        self.assertEqual(rc, 0, err)
        self.assertEqual(a.json("/getQueuesByTopic?topic=et_a")["data"], {"q": "et_a_q"})
        b = self.node(2)
        self.wait_ids([1, 2])
        rc, out, err = ctl("--etcd", self.url, "ping", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual([(p["node_id"], p["ok"]) for p in json.loads(out)], [("1", True), ("2", True)])
        # two: --node picks, without it a usage error lists the ids
        rc, out, err = ctl("--etcd", self.url, "topic", "list")
        self.assertEqual(rc, 2)
        self.assertIn("2 nodes are registered in etcd (ids 1, 2): pick one with --node ID",
                      err.splitlines()[0])
        rc, out, err = ctl("--etcd", self.url, "--node", "2", "topic", "config", "et_b", "--ttr", "8")
        self.assertEqual(rc, 0, err)
        self.assertEqual(b.json("/getTopicStat?topic=et_b")["data"]["msg_ttr"], 8)
        self.assertEqual(a.json("/getTopicStat?topic=et_b")["msg"], "topic is not exist")
        rc, out, err = ctl("--etcd", self.url, "--node", "2", "ping", "--json")
        self.assertEqual([p["node_id"] for p in json.loads(out)], ["2"])
        rc, out, err = ctl("--etcd", self.url, "--node", "9", "topic", "list")
        self.assertEqual(rc, 2)
        self.assertIn("--node 9: no such node in etcd (registered: 1, 2)", err.splitlines()[0])
        # a registered node that is down: exit 1
        b.kill()
        rc, out, err = ctl("--etcd", self.url, "--node", "2", "topic", "list")
        if rc == 1:
            self.assertEqual(err, "gmqctl: cannot connect to http://127.0.0.1:%d: Connection refused\n"
                             % b.http_port)
        self.wait_ids([1])

    def test_etcd_down(self):
        dead = "127.0.0.1:%d" % free_port()
        for args in (["nodes"], ["ping"], ["topic", "list"]):
            rc, out, err = ctl("--etcd", dead, *args)
            self.assertEqual(rc, 1, args)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertTrue(err.startswith("gmqctl: "), err)
        rc, out, err = ctl("--etcd", self.url, "topic", "list")
        self.assertEqual((rc, err), (1, "gmqctl: no node is registered in etcd (%s)\n" % self.url))

    def test_watch(self):
        for fmt in ("json", "table"):
            args = [GMQCTL, "--etcd", self.url, "watch"] + (["--json"] if fmt == "json" else [])
            w = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.addCleanup(w.stderr.close)
            self.addCleanup(w.stdout.close)
            self.addCleanup(etcdtest.stop_process, w, signal.SIGKILL)
            lines = []
            threading.Thread(target=lambda: [lines.append(l) for l in w.stdout], daemon=True).start()
            if fmt == "json":
                etcdtest.wait_until(lambda: lines and json.loads(lines[-1]) == [], 5, what="first line")
                n = self.node(4)
                etcdtest.wait_until(lambda: [x["node_id"] for x in json.loads(lines[-1])] == ["4"], 5,
                                    what="node 4 seen")
                n.stop()
                etcdtest.wait_until(lambda: json.loads(lines[-1]) == [], 5, what="node 4 gone")
            else:
                etcdtest.wait_until(lambda: lines and lines[0].split()[0] == "ID", 5, what="header")
                n = self.node(5)
                etcdtest.wait_until(lambda: any(l.split()[:1] == ["5"] for l in lines), 5,
                                    what="node 5 row")
                n.stop()
            etcdtest.stop_process(w)


if __name__ == "__main__":
    unittest.main(verbosity=2)
