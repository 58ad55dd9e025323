"""gmqctl, the admin CLI, against a real node: the topic, queue, message and
node commands in table and --json form, and their error paths (exit 1 with
a one-line reason: unknown topic, bad id, node down). Usage, help,
completion, the token, TLS and etcd are test_gmqctl_access.py's.

Commands whose endpoints a node does not serve yet (GET answers 404) are skipped at
run time, so they run as soon as the node has them."""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctltest import NUM, CtlCase, ctl, requires, table  # noqa: E402
from gmqtest import free_port, wait_for  # noqa: E402


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
