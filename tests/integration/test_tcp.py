"""Issue 4: the gmq v2 TCP protocol, command by command and error by error."""
import json
import socket
import struct
import threading
import time
import unittest

from gmqtest import Node, wait_for


def body_frame(b):
    return struct.pack(">I", len(b)) + b


class TcpTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()
        self.c = self.node.tcp()
        self.addCleanup(self.c.close)

    def ok(self, line, body=None, expect=b"ok"):
        self.c.cmd(line, body)
        t, d = self.c.frame()
        self.assertEqual(t, 103, d)
        if expect is not None:
            self.assertEqual(d, expect)
        return d

    def err(self, line, body=None, code=None, client=None):
        cl = client or self.c
        cl.cmd(line, body)
        t, d = cl.frame()
        self.assertEqual(t, 102, d)
        if code:
            self.assertTrue(d.startswith(code.encode() + b" - "), d)
        return d

    def alive(self):
        """another client is served"""
        other = self.node.tcp()
        other.cmd("ping")
        self.assertEqual(other.frame(), (103, b"pong"))
        other.close()

    # --- commands ---
    def test_ping_with_and_without_argument(self):
        self.assertEqual(self.ok("ping", expect=b"pong"), b"pong")
        self.assertEqual(self.ok("ping x y", expect=b"pong"), b"pong")

    def test_crlf_line_endings(self):
        self.c.send(b"ping\r\n")
        self.assertEqual(self.c.frame(), (103, b"pong"))

    def test_queue_pub_pop_ack(self):
        self.ok("queue ketang homework")
        self.err("queue ketang homework", code="E_INVALID_DECLARE")
        mid = self.ok("pub ketang homework 0", b"this is a job", expect=None)
        self.assertTrue(mid.isdigit())
        self.c.cmd("pop ketang homework")
        t, d = self.c.frame()
        self.assertEqual(t, 101)
        m = json.loads(d)
        self.assertEqual(m, {"id": mid.decode(), "body": "this is a job", "retry_count": 0})
        self.ok("ack %s ketang homework" % mid.decode())
        self.err("ack %s ketang homework" % mid.decode(), code="E_INVALID_ACK")

    def test_pub_empty_route_key_goes_to_default(self):
        self.ok("pub t1  0", b"to default", expect=None)
        self.c.cmd("pop t1 default")
        t, d = self.c.frame()
        self.assertEqual(json.loads(d)["body"], "to default")

    def test_mpub(self):
        self.ok("queue t q")
        items = [json.dumps({"body": "m%d" % i, "topic": "t", "delay": 0, "route_key": "q"}).encode()
                 for i in range(3)]
        self.c.send(b"mpub t 3\n" + b"".join(body_frame(i) for i in items))
        t, d = self.c.frame()
        self.assertEqual(t, 103, d)
        ids = json.loads(d)
        self.assertEqual(len(ids), 3)
        self.assertTrue(all(isinstance(i, int) for i in ids))
        for i in range(3):
            self.c.cmd("pop t q")
            self.assertEqual(json.loads(self.c.frame()[1])["body"], "m%d" % i)

    def test_mpub_bad_item_stores_nothing_and_stream_stays_in_sync(self):
        self.ok("queue t q")
        items = [json.dumps({"body": "ok", "route_key": "q"}).encode(), b"{not json"]
        self.c.send(b"mpub t 2\n" + b"".join(body_frame(i) for i in items))
        d = self.err("ping", code=None) if False else None
        t, d = self.c.frame()
        self.assertEqual(t, 102)
        self.assertIn(b"item 2", d)
        self.ok("ping", expect=b"pong")
        self.c.cmd("pop t q 0")
        self.assertEqual(self.c.frame(), (102, b"no message"))

    def test_mpub_bad_count_is_fatal(self):
        self.err("mpub t 0", code="E_INVALID_PUSHNUM")
        self.assertTrue(self.c.closed())
        self.alive()

    def test_set_both_forms(self):
        self.ok("set t 1")
        self.ok("set t 0 1 10 3")
        self.err("set t 1 9 10 3", code="E_INVALID_SET")
        self.err("set t", code="E_INVALID_PARAMS")
        stat = self.node.json("/getTopicStat?topic=t")["data"]
        self.assertFalse(stat["is_auto_ack"])

    def test_dead_on_empty_answers_at_once(self):
        self.ok("queue t q")
        self.c.cmd("dead t q")
        t, d = self.c.frame()
        self.assertEqual(t, 102)

    def test_pop_timeout_and_heartbeat_free_wait(self):
        self.ok("queue t q")
        t0 = time.monotonic()
        self.c.cmd("pop t q 1")
        self.assertEqual(self.c.frame(), (102, b"no message"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_blocking_pop_gets_message_pushed_later(self):
        self.ok("queue t q")
        self.c.cmd("pop t q")
        time.sleep(0.2)
        self.assertEqual(self.node.push("t", "later", "q")["code"], 0)
        t, d = self.c.frame()
        self.assertEqual(t, 101)
        self.assertEqual(json.loads(d)["body"], "later")

    def test_blocking_pop_sends_heartbeats(self):
        self.ok("queue t q")
        self.c.cmd("pop t q")
        self.c.sock.settimeout(8)
        self.assertEqual(self.c.frame(), (105, b"ping"))

    def test_disconnect_during_blocked_pop_loses_nothing(self):
        self.ok("queue t q")
        self.c.cmd("pop t q")
        time.sleep(0.2)
        self.c.close()
        time.sleep(0.2)
        self.assertEqual(self.node.push("t", "keep me", "q")["code"], 0)
        c2 = self.node.tcp()
        c2.cmd("pop t q 5")
        t, d = c2.frame()
        self.assertEqual(t, 101, d)
        self.assertEqual(json.loads(d)["body"], "keep me")
        c2.close()

    def test_blocked_pop_does_not_stop_subscriptions(self):
        self.ok("subscribe news")
        self.ok("queue t q")
        self.c.cmd("pop t q")
        pub = self.node.tcp()
        pub.cmd("publish news", b"flash")
        self.assertEqual(pub.frame(), (103, b"ok"))
        self.assertEqual(self.c.frame(), (104, b"flash"))
        pub.close()

    def test_publish_without_subscribers(self):
        self.err("publish nobody", b"x", code="E_INVALID_PUBLISH")
        self.ok("ping", expect=b"pong")

    def test_publish_old_one_line_form(self):
        # gmq-client still sends `publish <channel> <message>` without a body
        self.ok("subscribe ch")
        pub = self.node.tcp()
        pub.cmd("publish ch hello  old world")
        self.assertEqual(pub.frame(), (103, b"ok"))
        self.assertEqual(self.c.frame(), (104, b"hello  old world"))
        pub.cmd("publish ch", b"new form")
        self.assertEqual(pub.frame(), (103, b"ok"))
        self.assertEqual(self.c.frame(), (104, b"new form"))
        pub.close()

    def test_subscribe_twice_and_unsubscribe(self):
        self.ok("subscribe ch")
        self.err("subscribe ch", code="E_INVALID_SUBSCRIBE")
        self.ok("unsubscribe ch")
        self.err("publish ch", b"x", code="E_INVALID_PUBLISH")

    # --- framing ---
    def test_bytes_one_at_a_time(self):
        data = b"queue t q\n" + b"pub t q 0\n" + body_frame(b"slow body") + b"pop t q\n"
        for i in range(len(data)):
            self.c.send(data[i:i + 1])
            time.sleep(0.001)
        self.assertEqual(self.c.frame(), (103, b"ok"))
        t, mid = self.c.frame()
        self.assertEqual(t, 103)
        t, d = self.c.frame()
        self.assertEqual(json.loads(d)["body"], "slow body")

    def test_1000_pipelined_commands_in_one_write(self):
        self.ok("queue t q")
        data = b""
        for i in range(500):
            data += b"pub t q 0\n" + body_frame(b"p%d" % i)
            data += b"ping\n"
        self.c.send(data)
        for i in range(500):
            t, d = self.c.frame()
            self.assertEqual(t, 103)
            self.assertTrue(d.isdigit(), d)
            self.assertEqual(self.c.frame(), (103, b"pong"))
        self.c.cmd("pop t q")
        self.assertEqual(json.loads(self.c.frame()[1])["body"], "p0")

    def test_pipelined_large_bodies(self):
        # requests to the worker are built while earlier ones are half written
        self.ok("queue t q")
        big = b"B" * (1024 * 1024)
        self.c.send((b"pub t q 0\n" + body_frame(big)) * 8)
        for _ in range(8):
            t, d = self.c.frame()
            self.assertEqual(t, 103, d[:200])
        self.c.cmd("pop t q")
        t, d = self.c.frame()
        self.assertEqual(len(json.loads(d)["body"]), len(big))

    # --- errors ---
    def test_param_count_errors_consume_the_body(self):
        self.err("pub t q", b"BODY pub t q 0\n", code="E_INVALID_PARAMS")
        self.ok("ping", expect=b"pong")

    def test_delay_too_large_consumes_the_body(self):
        self.err("pub t q 999999999", b"ping\n", code="E_INVALID_DELAY")
        self.ok("ping", expect=b"pong")

    def test_bad_names(self):
        self.err("pub ../etc q 0", b"x", code="E_INVALID_TOPIC")
        self.err("pub  q 0", b"x", code="E_INVALID_TOPIC")
        self.err("queue t " + "k" * 129, code="E_INVALID_BINDKEY")
        self.err("queue t a/b", code="E_INVALID_BINDKEY")
        self.err("pop " + "t" * 200 + " q", code="E_INVALID_PARAMS")
        self.ok("ping", expect=b"pong")

    def test_unknown_and_empty_commands(self):
        self.err("frobnicate a b", code="E_INVALID_CMD")
        self.err("", code="E_INVALID_CMD")
        self.ok("ping", expect=b"pong")

    def test_length_prefix_of_4gib(self):
        self.c.send(b"pub t q 0\n" + b"\xff\xff\xff\xff" + b"xxxx")
        t, d = self.c.frame()
        self.assertEqual(t, 102)
        self.assertIn(b"max_body", d)
        self.assertTrue(self.c.closed())
        self.alive()

    def test_garbage_bytes(self):
        self.c.send(bytes(range(256)) * 4 + b"\n")
        t, d = self.c.frame()
        self.assertEqual(t, 102)
        self.alive()

    def test_endless_line_is_refused(self):
        try:
            self.c.send(b"x" * 100000)
        except OSError:
            pass
        t, d = self.c.frame()
        self.assertEqual(t, 102)
        self.assertIn(b"max_line", d)
        self.assertTrue(self.c.closed())
        self.alive()

    def test_half_sent_then_silence(self):
        self.c.send(b"pub t q 0\n\x00\x00\x00\x10abc")
        self.alive()
        self.assertEqual(self.node.get("/ping")[1], "OK")


if __name__ == "__main__":
    unittest.main()
