"""gmqctl, the admin CLI, against real nodes (and a real etcd for nodes, watch and
--node): every command in table and --json form, its error paths (exit 1 with a
one-line reason: unknown topic, bad id, node down; exit 2 for usage errors), the
token and TLS flags, the default server, help for every command and the bash
completion script.

Commands whose endpoints a node does not serve yet (GET answers 404) are skipped at
run time, so they run as soon as the node has them."""
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcdtest  # noqa: E402
from gmqtest import GMQCTL, MASTER, ROOT, Node, free_port, wait_for  # noqa: E402

ENV_KEYS = ("GMQ_SERVER", "GMQ_ETCD", "GMQ_TOKEN")
NUM = r"^\d+$"


def ctl(*args, env=None, input=None, timeout=30):
    """Run gmqctl with a clean environment (plus env); returns (rc, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    e.update(env or {})
    p = subprocess.run([GMQCTL] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, env=e, input=input)
    return p.returncode, p.stdout, p.stderr


def table(out):
    """a table's rows as lists of cells (cells are two spaces apart at least)"""
    import re
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


def requires(path):
    """Skip the test while the class's node does not serve path (GET answers 404)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            if not self.serves(path):
                self.skipTest("the node does not serve %s yet" % path)
            return fn(self, *a, **kw)
        return wrapper
    return deco


class CtlCase(unittest.TestCase):
    """One node for the whole class; each test uses its own topics."""
    node_args = []
    node_kw = {}

    @classmethod
    def setUpClass(cls):
        for path in (MASTER, GMQCTL):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s not built" % path)
        cls.node = Node(None, args=cls.node_args, **cls.node_kw).start()
        cls.served = {}

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def serves(self, path):
        if path not in self.served:
            self.served[path] = self.node.get(path)[0] != 404
        return self.served[path]

    def ctl(self, *args, **kw):
        return ctl("--server", self.node.base, *args, **kw)

    def ok(self, *args, **kw):
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, 0, "gmqctl %s: %s" % (" ".join(map(str, args)), err))
        self.assertEqual(err, "")
        return out

    def fails(self, expect_rc, expect_err, *args, **kw):
        """exit status expect_rc with a reason containing expect_err; the reason is one
        line for failures (exit 1), the message and a usage line for usage errors"""
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, expect_rc, "gmqctl %s: %r %r" % (" ".join(map(str, args)), out, err))
        lines = err.splitlines()
        self.assertTrue(lines and lines[0].startswith("gmqctl: "), err)
        self.assertIn(expect_err, lines[0])
        if expect_rc == 1:
            self.assertEqual(len(lines), 1, err)
        else:
            self.assertTrue(any(l.startswith("usage: gmqctl") for l in lines[1:]), err)
        return err

    def js(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def api(self, path):
        return self.node.json(path)

    def push(self, topic, body, rk="", delay=0):
        r = self.node.push(topic, body, rk, delay)
        self.assertEqual(r["code"], 0, r)
        return r["data"]["msgId"]

    def topic(self, name, queues=("q",), **config):
        params = "&".join("%s=%s" % kv for kv in config.items())
        self.assertEqual(self.api("/config?topic=%s&%s" % (name, params))["code"], 0)
        for q in queues:
            self.assertEqual(self.api("/declareQueue?topic=%s&bindKey=%s" % (name, q))["code"], 0)


class TopicQueueTest(CtlCase):
    def test_topic_list(self):
        self.topic("tl_a", ("x", "y"))
        self.push("tl_a", "one", "x")
        rows = table(self.ok("topic", "list"))
        self.assertEqual(rows[0], ["TOPIC", "QUEUES", "READY", "DELAYED", "IN_FLIGHT", "DEAD",
                                   "PUSHED", "POPPED", "AUTO_ACK", "MODE", "STARTED"])
        [row] = [r for r in rows if r[0] == "tl_a"]
        self.assertEqual(row[1:10], ["2", "1", "0", "0", "0", "1", "0", "false", "1"])
        self.assertRegex(row[10], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        no_head = table(self.ok("topic", "list", "--no-headers"))
        self.assertEqual(no_head, rows[1:])
        self.assertEqual([r[0] for r in rows[1:]], sorted(r[0] for r in rows[1:]))
        data = self.js("topic", "list")
        by_name = lambda ts: sorted(ts, key=lambda t: t["name"])
        self.assertEqual(by_name(data), by_name(self.api("/getAllTopicStat")["data"]))
        self.assertIn("tl_a", [t["name"] for t in data])

    def test_numbers_right_aligned(self):
        self.topic("tl_align")
        for i in range(12):
            self.push("tl_align", "m%d" % i, "q")
        out = self.ok("topic", "list")
        lines = out.splitlines()
        head = lines[0]
        col = head.index("READY") + len("READY")
        # the READY column ends where its header ends, on every row
        for line in lines[1:]:
            self.assertTrue(line[col - 1].isdigit(), (line, out))
            self.assertEqual(line[col:col + 2], "  ", out)

    def test_topic_show(self):
        self.topic("ts_a", ("q", "r"), msgTTR=40)
        self.push("ts_a", "b", "q")
        out = self.ok("topic", "show", "ts_a")
        head, queues = out.split("\n\n")
        fields = dict(table(head)[1:])
        self.assertEqual(table(head)[0], ["FIELD", "VALUE"])
        self.assertEqual((fields["name"], fields["push_num"], fields["msg_ttr"]), ("ts_a", "1", "40"))
        q = table(queues)
        self.assertEqual(q[0][0], "BIND_KEY")
        self.assertEqual(sorted(r[0] for r in q[1:]), ["q", "r"])
        self.assertEqual(self.js("topic", "show", "ts_a"), self.api("/getTopicStat?topic=ts_a")["data"])
        # errors: unknown topic (nothing created), bad name, usage
        self.fails(1, "gmqctl: topic is not exist", "topic", "show", "ts_never")
        self.assertEqual(self.api("/getTopicStat?topic=ts_never")["msg"], "topic is not exist")
        self.fails(2, "invalid topic 'a b'", "topic", "show", "a b")
        self.fails(2, "missing arguments", "topic", "show")
        self.fails(2, "unexpected argument 'x'", "topic", "show", "ts_a", "x")

    def test_topic_config(self):
        self.topic("tc_a")
        rows = table(self.ok("topic", "config", "tc_a"))
        self.assertEqual(rows, [["TOPIC", "AUTO_ACK", "MODE", "TTR", "RETRY"],
                                ["tc_a", "false", "1 (exact)", "30", "5"]])
        rows = table(self.ok("topic", "config", "tc_a", "--ttr", "61", "--retry", "2", "--mode", "3"))
        self.assertEqual(rows[1], ["tc_a", "false", "3 (topic)", "61", "2"])
        st = self.api("/getTopicStat?topic=tc_a")["data"]
        self.assertEqual((st["msg_ttr"], st["msg_retry"], st["mode"]), (61, 2, 3))
        j = self.js("topic", "config", "tc_a", "--auto-ack", "1")
        self.assertEqual(j, {"name": "tc_a", "is_auto_ack": True, "mode": 3, "msg_ttr": 61,
                             "msg_retry": 2})
        # /config creates a topic; showing an unknown one does not
        self.assertEqual(self.js("topic", "config", "tc_new", "--ttr", "9")["msg_ttr"], 9)
        self.fails(1, "gmqctl: topic is not exist", "topic", "config", "tc_never")
        for opt, bad in (("--auto-ack", "2"), ("--mode", "0"), ("--mode", "4"), ("--ttr", "0"),
                         ("--ttr", "86401"), ("--retry", "1001"), ("--retry", "x")):
            self.fails(2, "%s '%s'" % (opt, bad), "topic", "config", "tc_a", opt, bad)
        self.fails(2, "--ttr wants a value", "topic", "config", "tc_a", "--ttr")

    @requires("/deleteTopic")
    def test_topic_delete(self):
        self.topic("td_a")
        self.push("td_a", "x", "q")
        self.assertEqual(self.ok("topic", "delete", "td_a"), "topic td_a deleted\n")
        self.assertEqual(self.api("/getTopicStat?topic=td_a")["msg"], "topic is not exist")
        self.fails(1, "gmqctl: topic is not exist", "topic", "delete", "td_never")
        # in flight: refused without --force
        self.topic("td_b")
        self.push("td_b", "x", "q")
        self.assertEqual(self.api("/pop?topic=td_b&bindKey=q")["code"], 0)
        self.fails(1, "gmqctl: topic td_b has 1 messages in flight; use force", "topic", "delete", "td_b")
        self.assertEqual(self.js("topic", "delete", "td_b", "--force"), None)
        self.assertEqual(self.api("/getTopicStat?topic=td_b")["msg"], "topic is not exist")

    def test_queue_declare_and_list(self):
        self.topic("qd_a", ())
        self.assertEqual(self.ok("queue", "declare", "qd_a", "zeta"), "topic qd_a: queue zeta declared\n")
        self.assertIsNone(self.js("queue", "declare", "qd_a", "alpha"))
        self.fails(1, "gmqctl: bindKey zeta has exist.", "queue", "declare", "qd_a", "zeta")
        self.fails(2, "invalid bind key 'a/b'", "queue", "declare", "qd_a", "a/b")
        self.push("qd_a", "m", "zeta")
        rows = table(self.ok("queue", "list", "qd_a"))
        self.assertEqual(rows[0], ["BIND_KEY", "QUEUE", "READY", "IN_FLIGHT", "DELAYED", "DEAD",
                                   "PUSHED", "POPPED", "ACKED"])
        self.assertEqual(rows[1:], [["alpha", "qd_a_alpha", "0", "0", "0", "0", "0", "0", "0"],
                                    ["zeta", "qd_a_zeta", "1", "0", "0", "0", "1", "0", "0"]])
        j = self.js("queue", "list", "qd_a")
        self.assertEqual([(q["bind_key"], q["queue"], q["ready"]) for q in j],
                         [("alpha", "qd_a_alpha", 0), ("zeta", "qd_a_zeta", 1)])
        # unknown topic: an error, and the topic is not created
        self.fails(1, "gmqctl: topic is not exist", "queue", "list", "qd_never")
        self.assertEqual(self.api("/getTopicStat?topic=qd_never")["msg"], "topic is not exist")

    @requires("/purgeQueue")
    def test_queue_purge(self):
        self.topic("qp_a")
        for i in range(3):
            self.push("qp_a", "m%d" % i, "q")
        out = self.ok("queue", "purge", "qp_a", "q")
        self.assertIn("3 messages dropped", out)
        self.assertEqual(self.api("/getTopicStat?topic=qp_a")["data"]["queue_msg_num"], 0)
        self.assertEqual(self.js("queue", "purge", "qp_a", "q"), {"purged": 0})
        self.push("qp_a", "f", "q")
        self.assertEqual(self.api("/pop?topic=qp_a&bindKey=q")["code"], 0)
        self.fails(1, "gmqctl: queue q has 1 messages in flight; use force", "queue", "purge", "qp_a", "q")
        self.assertEqual(self.js("queue", "purge", "qp_a", "q", "--force"), {"purged": 1})
        self.fails(1, "gmqctl: topic is not exist", "queue", "purge", "qp_never", "q")

    @requires("/deleteQueue")
    def test_queue_delete(self):
        self.topic("qx_a", ("q", "r"))
        self.push("qx_a", "m", "q")
        out = self.ok("queue", "delete", "qx_a", "q")
        self.assertIn("1 messages dropped", out)
        self.assertEqual(self.api("/getQueuesByTopic?topic=qx_a")["data"], {"r": "qx_a_r"})
        self.assertEqual(self.js("queue", "delete", "qx_a", "r", "--force"), {"deleted": 0})
        self.fails(1, "gmqctl: bindkey:q is not associated with queue", "queue", "delete", "qx_a", "q")


class MessageTest(CtlCase):
    def test_push_pop_ack(self):
        self.topic("pp_a")
        rows = table(self.ok("push", "pp_a", "hello world", "--route-key", "q"))
        self.assertEqual(rows[0], ["MSG_ID"])
        self.assertRegex(rows[1][0], NUM)
        mid = self.ok("push", "pp_a", "two", "--route-key", "q", "--no-headers").strip()
        self.assertRegex(mid, NUM)
        rows = table(self.ok("pop", "pp_a", "q"))
        self.assertEqual(rows, [["ID", "RETRY", "BODY"], [rows[1][0], "0", "hello world"]])
        first = rows[1][0]
        got = self.js("pop", "pp_a", "q")
        self.assertEqual(got, {"id": mid, "body": "two", "retry_count": 0})
        self.assertEqual(self.ok("ack", "pp_a", "q", first), "message %s acknowledged\n" % first)
        self.assertIsNone(self.js("ack", "pp_a", "q", mid))
        self.fails(1, "gmqctl: msgId:%s is not exist." % mid, "ack", "pp_a", "q", mid)
        self.fails(2, "message id 'abc'", "ack", "pp_a", "q", "abc")
        self.fails(2, "message id '0'", "ack", "pp_a", "q", "0")
        self.fails(1, "gmqctl: no message", "pop", "pp_a", "q")
        self.fails(1, "gmqctl: bindKey:nope can't match queue", "pop", "pp_a", "nope")
        self.fails(1, "gmqctl: topic is not exist", "ack", "pp_never", "q", "5")

    def test_push_body_from_stdin_and_json(self):
        self.topic("ps_a")
        body = 'line 1\nline "2"\t\u00e9 \u2603 {&+%}'
        mid = self.js("push", "ps_a", "-", "--route-key", "q", input=body)["msgId"]
        self.assertEqual(self.api("/pop?topic=ps_a&bindKey=q")["data"],
                         {"id": mid, "body": body, "retry_count": 0})
        # no BODY at all: stdin too
        self.js("push", "ps_a", "--route-key", "q", input="from stdin")
        self.assertEqual(self.js("pop", "ps_a", "q")["body"], "from stdin")
        # a table escapes control characters, --json keeps them
        self.ok("push", "ps_a", "a\nb\x01c", "--route-key", "q")
        self.assertEqual(table(self.ok("pop", "ps_a", "q"))[1][2], "a\\nb\\x01c")
        # the default queue when there is no route key
        self.ok("push", "ps_a", "d")
        self.assertEqual(self.js("pop", "ps_a", "default")["body"], "d")
        self.fails(1, "gmqctl: routeKey:zz is not match with queue", "push", "ps_a", "x",
                   "--route-key", "zz")
        self.fails(2, "--delay 'x'", "push", "ps_a", "x", "--delay", "x")
        self.fails(2, "invalid topic", "push", "bad topic", "x")
        self.fails(2, "unknown flag '--bogus'", "push", "ps_a", "x", "--bogus")

    def test_pop_waits_with_timeout(self):
        self.topic("pw_a")
        mid = self.push("pw_a", "later", "q", delay=1)
        t0 = time.monotonic()
        got = self.js("pop", "pw_a", "q", "--timeout", "10")
        self.assertEqual(got["id"], mid)
        self.assertLess(time.monotonic() - t0, 9)
        # the global --timeout before the command is the request timeout, not the wait
        rc, out, err = self.ctl("--timeout", "0.5", "pop", "pw_a", "q", "--timeout", "2")
        self.assertEqual((rc, err), (1, "gmqctl: no message\n"))
        self.fails(2, "--timeout '86401'", "pop", "pw_a", "q", "--timeout", "86401")

    def test_request_timeout(self):
        self.topic("rt_a")
        rc, out, err = self.ctl("--timeout", "0.3", "pop", "rt_a", "q", "--timeout", "0")
        self.assertEqual(rc, 1)
        # a pop that waits longer than --timeout still gets its whole wait
        t0 = time.monotonic()
        rc, out, err = self.ctl("--timeout", "0.3", "pop", "rt_a", "q", "--timeout", "1")
        self.assertEqual((rc, err), (1, "gmqctl: no message\n"))
        self.assertGreater(time.monotonic() - t0, 0.9)
        self.fails(2, "--timeout x", "--timeout", "x", "ping")
        self.fails(2, "--timeout 0", "--timeout", "0", "ping")

    def test_msg_show(self):
        self.topic("ms_a")
        mid = self.push("ms_a", "x", "q")
        fields = dict(table(self.ok("msg", "show", "ms_a", mid))[1:])
        self.assertEqual((fields["id"], fields["queue"], fields["state"]), (mid, "q", "ready"))
        self.assertRegex(fields["pushed_at"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
        j = self.js("msg", "show", "ms_a", mid)
        self.assertEqual(j, self.api("/msg?topic=ms_a&msgId=" + mid)["data"])
        self.fails(1, "gmqctl: msgId:5 is not exist.", "msg", "show", "ms_a", "5")
        self.fails(2, "message id '12x'", "msg", "show", "ms_a", "12x")
        self.fails(1, "gmqctl: topic is not exist", "msg", "show", "ms_never", "5")

    @requires("/peek")
    def test_peek(self):
        self.topic("pk_a")
        mid = self.push("pk_a", "first", "q")
        self.push("pk_a", "second", "q")
        rows = table(self.ok("peek", "pk_a", "q"))
        self.assertEqual(rows[0], ["ID", "STATE", "RETRY", "PUSHED_AT", "DUE_AT", "BODY"])
        self.assertEqual((rows[1][0], rows[1][1], rows[1][2], rows[1][5]), (mid, "ready", "0", "first"))
        j = self.js("peek", "pk_a", "q", "ready")
        self.assertEqual((j["id"], j["body"], j["state"], j["retry_count"]), (mid, "first", "ready", 0))
        self.assertIsInstance(j["pushed_at"], int)
        # nothing changed: the same message pops first
        self.assertEqual(self.api("/pop?topic=pk_a&bindKey=q")["data"]["id"], mid)
        did = self.push("pk_a", "later", "q", delay=60)
        j = self.js("peek", "pk_a", "q", "delayed")
        self.assertEqual((j["id"], j["state"]), (did, "delayed"))
        self.assertGreater(j["due_at"], j["pushed_at"])
        self.fails(1, "gmqctl: no message", "peek", "pk_a", "q", "dead")
        self.fails(2, "state 'gone'", "peek", "pk_a", "q", "gone")
        self.fails(1, "gmqctl: topic is not exist", "peek", "pk_never", "q")

    @requires("/touch")
    def test_touch(self):
        self.topic("th_a", msgTTR=5)
        self.push("th_a", "x", "q")
        mid = self.api("/pop?topic=th_a&bindKey=q")["data"]["id"]
        rows = table(self.ok("touch", "th_a", "q", mid))
        self.assertEqual(rows[0], ["ID", "DEADLINE"])
        self.assertEqual(rows[1][0], mid)
        self.assertRegex(rows[1][1], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
        j = self.js("touch", "th_a", "q", mid)
        self.assertGreater(j["deadline"], int(time.time() * 1000))
        self.fails(1, "gmqctl: msgId:12345 is not in flight in queue q", "touch", "th_a", "q", "12345")
        self.fails(2, "message id 'x'", "touch", "th_a", "q", "x")

    @requires("/release")
    def test_release(self):
        self.topic("rl_a")
        self.push("rl_a", "x", "q")
        mid = self.api("/pop?topic=rl_a&bindKey=q")["data"]["id"]
        self.assertEqual(self.ok("release", "rl_a", "q", mid), "message %s released, due at once\n" % mid)
        got = self.api("/pop?topic=rl_a&bindKey=q")["data"]
        self.assertEqual((got["id"], got["retry_count"]), (mid, 1))
        self.assertIsNone(self.js("release", "rl_a", "q", mid, "--delay", "60"))
        self.assertEqual(self.api("/getTopicStat?topic=rl_a")["data"]["delay_num"], 1)
        self.fails(1, "gmqctl: msgId:%s is not in flight in queue q" % mid, "release", "rl_a", "q", mid)
        self.fails(2, "--delay 'soon'", "release", "rl_a", "q", mid, "--delay", "soon")

    def dead_letters(self, topic, n):
        """n dead letters in topic's queue q (retry 0, TTR 1 s)"""
        self.topic(topic, msgTTR=1, msgRetry=0)
        ids = [self.push(topic, "dead %d" % i, "q") for i in range(n)]
        for _ in ids:
            self.assertEqual(self.api("/pop?topic=%s&bindKey=q" % topic)["code"], 0)
        wait_for(lambda: self.api("/getTopicStat?topic=" + topic)["data"]["dead_num"] == n, 10,
                 what="%d dead letters" % n)
        return ids

    @requires("/listDead")
    def test_dead_list(self):
        ids = self.dead_letters("dl_a", 3)
        rows = table(self.ok("dead", "list", "dl_a", "q"))
        self.assertEqual(rows[0], ["ID", "RETRY", "PUSHED_AT", "BODY"])
        self.assertEqual([r[0] for r in rows[1:]], ids)
        self.assertEqual(rows[1][3], "dead 0")
        j = self.js("dead", "list", "dl_a", "q", "--limit", "2")
        self.assertEqual([m["id"] for m in j], ids[:2])
        self.assertEqual(j[0]["body"], "dead 0")
        self.fails(2, "--limit 'x'", "dead", "list", "dl_a", "q", "--limit", "x")
        self.fails(2, "--limit '1001'", "dead", "list", "dl_a", "q", "--limit", "1001")
        self.assertEqual(len(self.js("dead", "list", "dl_a", "q", "--limit", "1000")), 3)
        self.fails(1, "gmqctl: topic is not exist", "dead", "list", "dl_never", "q")

    @requires("/kick")
    def test_dead_kick(self):
        ids = self.dead_letters("dk_a", 3)
        self.assertIn(": 1 dead letters back", self.ok("dead", "kick", "dk_a", "q"))
        self.assertEqual(self.js("dead", "kick", "dk_a", "q", "5"), {"kicked": 2})
        st = self.api("/getTopicStat?topic=dk_a")["data"]
        self.assertEqual((st["dead_num"], st["queue_msg_num"]), (0, 3))
        self.assertEqual(self.api("/pop?topic=dk_a&bindKey=q")["data"]["id"], ids[0])
        self.fails(2, "N '0'", "dead", "kick", "dk_a", "q", "0")
        self.fails(2, "N '100001'", "dead", "kick", "dk_a", "q", "100001")
        self.fails(1, "gmqctl: topic is not exist", "dead", "kick", "dk_never", "q")


class NodeCommandsTest(CtlCase):
    def test_ping(self):
        rows = table(self.ok("ping"))
        self.assertEqual(rows[0], ["ID", "HTTP_ADDR", "STATUS", "TIME_MS"])
        self.assertEqual(rows[1][:3], ["-", "127.0.0.1:%d" % self.node.http_port, "ok"])
        [p] = self.js("ping")
        self.assertEqual((p["node_id"], p["ok"], p["error"]), ("-", True, ""))

    def test_workers_and_restart(self):
        self.topic("wk_a")
        rows = table(self.ok("workers"))
        self.assertEqual(rows[0], ["TOPIC", "PID", "STATE", "RESTARTS", "STARTED", "PENDING",
                                   "LAST_EXIT"])
        [row] = [r for r in rows if r[0] == "wk_a"]
        pid = int(row[1])
        self.assertEqual(row[2], "ready")
        self.assertEqual([r[0] for r in rows[1:]], sorted(r[0] for r in rows[1:]))
        by_topic = lambda ws: sorted((w["topic"], w["pid"]) for w in ws)
        self.assertEqual(by_topic(self.js("workers")), by_topic(self.api("/debug/workers")["data"]))
        out = self.ok("worker", "restart", "wk_a")
        self.assertEqual(out, "topic wk_a: worker stopped; the next request naming the topic starts "
                              "a fresh worker\n")
        # the worker finishes its batch and exits; the entry goes with it
        wait_for(lambda: "wk_a" not in self.node.worker_pids(), 10, what="wk_a's worker gone")
        self.push("wk_a", "x", "q")
        self.assertNotEqual(self.node.worker_pids()["wk_a"], pid)
        self.assertEqual(self.api("/getTopicStat?topic=wk_a")["data"]["queue_msg_num"], 1)
        self.assertIsNone(self.js("worker", "restart", "wk_a"))
        self.fails(1, "gmqctl: topic is not exist", "worker", "restart", "wk_never")

    def test_stats(self):
        self.topic("st_a")
        out = self.ok("stats")
        head, procs = out.split("\n\n")
        fields = dict(table(head)[1:])
        self.assertEqual(fields["version"], "0.1.0")
        self.assertEqual(fields["etcd.state"], "disabled")
        p = table(procs)
        self.assertEqual(p[0][:2], ["ROLE", "PID"])
        self.assertIn("master", [r[0] for r in p[1:]])
        j = self.js("stats")
        self.assertEqual(j["node_id"], 1)
        self.assertEqual(j["processes"][0]["role"], "master")

    @requires("/metrics")
    def test_metrics(self):
        status, body = self.node.get("/metrics")
        out = self.ok("metrics")
        self.assertIn("# TYPE", out)
        self.assertEqual(out.splitlines()[0], body.splitlines()[0])
        self.assertEqual(self.ok("metrics", "--json").splitlines()[0], body.splitlines()[0])

    def test_endpoint_missing_on_older_node(self):
        # a node that predates an endpoint answers 404 with its JSON error
        import http.server

        class Old(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                body = json.dumps({"code": 1, "data": None, "msg": "not found: " + path}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Old)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        base = "http://127.0.0.1:%d" % srv.server_address[1]
        for args, path in ((["peek", "t", "q"], "/peek"), (["metrics"], "/metrics"),
                           (["queue", "purge", "t", "q"], "/purgeQueue")):
            rc, out, err = ctl("--server", base, *args)
            self.assertEqual((rc, out), (1, ""), args)
            self.assertEqual(err, "gmqctl: %s does not serve %s (HTTP 404): is the node older than "
                                  "gmqctl?\n" % (base, path))

    def test_node_down(self):
        down = "http://127.0.0.1:%d" % free_port()
        for args in (["ping"], ["topic", "list"], ["topic", "show", "t"], ["push", "t", "x"],
                     ["pop", "t", "q"], ["ack", "t", "q", "1"], ["workers"], ["stats"],
                     ["metrics"], ["msg", "show", "t", "1"], ["--json", "topic", "list"]):
            rc, out, err = ctl("--server", down, *args)
            self.assertEqual(rc, 1, args)
            self.assertEqual(err.count("\n"), 1, (args, err))
            self.assertIn("cannot connect to %s: Connection refused" % down, out + err, args)
            if args != ["ping"]:
                self.assertEqual(err, "gmqctl: cannot connect to %s: Connection refused\n" % down)
                self.assertEqual(out, "")

    def test_server_url_forms(self):
        # host:port without a scheme, a trailing slash, GMQ_SERVER
        hp = "127.0.0.1:%d" % self.node.http_port
        for args, env in ((["--server", hp], None), (["--server", self.node.base + "/"], None),
                          (["-s", hp], None), ([], {"GMQ_SERVER": self.node.base})):
            rc, out, err = ctl(*args, "ping", env=env)
            self.assertEqual(rc, 0, (args, err))
        # the --server flag wins over GMQ_ETCD, --etcd over GMQ_SERVER
        rc, out, err = ctl("--server", hp, "ping", env={"GMQ_ETCD": "127.0.0.1:1"})
        self.assertEqual(rc, 0, err)
        rc, out, err = ctl("--etcd", "127.0.0.1:%d" % free_port(), "ping",
                           env={"GMQ_SERVER": self.node.base})
        self.assertEqual(rc, 1)

    def test_default_server(self):
        # with neither --server nor --etcd gmqctl talks to http://127.0.0.1:9504
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 9504))
        except OSError:
            s.close()
            self.skipTest("127.0.0.1:9504 is in use here")
        try:   # bound, not listening: a connection is refused
            rc, out, err = ctl("topic", "list")
            self.assertEqual((rc, out), (1, ""))
            self.assertEqual(err, "gmqctl: cannot connect to http://127.0.0.1:9504: Connection refused\n")
            rc, out, err = ctl("ping", "--json")
            self.assertEqual(rc, 1)
            self.assertEqual(json.loads(out)[0]["http_addr"], "127.0.0.1:9504")
        finally:
            s.close()


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
