"""Binary-safe delivery on the node: the 106 "raw message" frame asked for by a
trailing `raw` on pop/dead, HTTP /pop and /dead with Accept:
application/octet-stream (X-Gmq-Msg-Id, X-Gmq-Retry-Count, 204 when empty),
and the TCP `stats <topic>` command. Every byte value 0-255 comes back as sent;
the JSON forms stay as they were."""
import http.client
import json
import struct
import unittest

from gmqtest import Node

ALL_BYTES = bytes(range(256))


def raw_frame(data):
    """(id, retry count, body) of a 106 frame's data"""
    mid, retry = struct.unpack(">QI", data[:12])
    return mid, retry, data[12:]


class RawTcpTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()
        self.c = self.node.tcp()
        self.addCleanup(self.c.close)

    def pub(self, body, topic="bin", rk="q"):
        self.c.cmd("pub %s %s 0" % (topic, rk), body)
        t, d = self.c.frame()
        self.assertEqual(t, 103, d)
        return int(d)

    def test_raw_pop_every_byte_value(self):
        self.c.cmd("queue bin q")
        self.assertEqual(self.c.frame(), (103, b"ok"))
        mid = self.pub(ALL_BYTES)
        self.c.cmd("pop bin q 0 raw")
        t, d = self.c.frame()
        self.assertEqual(t, 106)
        self.assertEqual(raw_frame(d), (mid, 0, ALL_BYTES))
        # the JSON form is unchanged: invalid UTF-8 becomes U+FFFD there
        mid2 = self.pub(ALL_BYTES)
        self.c.cmd("pop bin q 0")
        t, d = self.c.frame()
        self.assertEqual(t, 101)
        msg = json.loads(d)
        self.assertEqual(msg["id"], str(mid2))
        self.assertIn("\ufffd", msg["body"])

    def test_raw_forms_and_retry_count(self):
        self.c.cmd("set bin 0 1 1 5")        # TTR 1 s
        self.assertEqual(self.c.frame(), (103, b"ok"))
        self.c.cmd("queue bin q")
        self.c.frame()
        mid = self.pub(b"\x00\xff")
        self.c.cmd("pop bin q raw")           # no timeout: blocks until a message
        t, d = self.c.frame()
        self.assertEqual((t, raw_frame(d)), (106, (mid, 0, b"\x00\xff")))
        # not acked: delivered again after its TTR with retry_count 1
        self.c.cmd("pop bin q 5 raw")
        while True:
            t, d = self.c.frame()
            if t != 105:
                break
        self.assertEqual((t, raw_frame(d)), (106, (mid, 1, b"\x00\xff")))
        self.c.cmd("ack %d bin q" % mid)
        self.assertEqual(self.c.frame(), (103, b"ok"))
        # empty: the same 102 "no message" as without raw
        self.c.cmd("pop bin q 0 raw")
        self.assertEqual(self.c.frame(), (102, b"no message"))
        # an empty body
        mid = self.pub(b"")
        self.c.cmd("pop bin q 0 raw")
        t, d = self.c.frame()
        self.assertEqual((t, raw_frame(d)), (106, (mid, 0, b"")))

    def test_raw_dead(self):
        self.c.cmd("set bin 0 1 1 0")        # TTR 1 s, no retry: dead after one expiry
        self.c.frame()
        self.c.cmd("queue bin q")
        self.c.frame()
        mid = self.pub(ALL_BYTES)
        self.c.cmd("pop bin q 0 raw")
        self.assertEqual(self.c.frame()[0], 106)
        self.c.cmd("dead bin q 10 raw")
        while True:
            t, d = self.c.frame()
            if t != 105:
                break
        self.assertEqual((t, raw_frame(d)), (106, (mid, 1, ALL_BYTES)))
        self.c.cmd("dead bin q raw")
        self.assertEqual(self.c.frame(), (102, b"no message"))

    def test_raw_argument_errors(self):
        for line in ("pop bin q 1 2 raw", "dead bin q 1 raw raw", "pop bin q x y"):
            self.c.cmd(line)
            t, d = self.c.frame()
            self.assertEqual(t, 102, line)
            self.assertIn(b"E_INVALID_PARAMS - 2 parameters required:", d)
            self.assertIn(b"[timeout] [raw]", d)
        self.c.cmd("pop bin q RAW")           # case-sensitive: a bad timeout
        t, d = self.c.frame()
        self.assertEqual((t, d), (102, b"E_INVALID_PARAMS - timeout must be seconds between 0 and 86400"))
        self.c.cmd("pop bin q raw 1")         # raw must be last
        self.assertEqual(self.c.frame()[0], 102)
        self.c.cmd("pop bin raw")             # two arguments: "raw" is the bind key
        self.assertEqual(self.c.frame(), (102, b"E_INVALID_POP - bindKey:raw can't match queue"))

    def test_stats(self):
        self.c.cmd("stats never")
        self.assertEqual(self.c.frame(), (102, b"E_NOT_FOUND - topic is not exist"))
        self.c.cmd("queue st q")
        self.c.frame()
        self.pub(b"x", topic="st")
        self.c.cmd("stats st")
        t, d = self.c.frame()
        self.assertEqual(t, 103)
        st = json.loads(d)
        self.assertEqual((st["name"], st["push_num"], st["queue_msg_num"]), ("st", 1, 1))
        self.c.cmd("stats")
        self.assertEqual(self.c.frame(), (102, b"E_INVALID_PARAMS - usage: stats <topic>"))
        self.c.cmd("stats a..b")
        self.assertEqual(self.c.frame()[0], 102)


class RawHttpTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()
        self.h = http.client.HTTPConnection("127.0.0.1", self.node.http_port, timeout=10)
        self.addCleanup(self.h.close)

    def req(self, path, accept="application/octet-stream"):
        self.h.request("GET", path, headers={"Accept": accept} if accept else {})
        r = self.h.getresponse()
        return r, r.read()

    def pub(self, body):
        c = self.node.tcp()
        c.cmd("pub bin q 0", body)
        t, d = c.frame()
        c.close()
        self.assertEqual(t, 103, d)
        return int(d)

    def test_octet_stream_pop_every_byte_value(self):
        self.assertEqual(self.node.json("/declareQueue?topic=bin&bindKey=q")["code"], 0)
        mid = self.pub(ALL_BYTES)
        r, body = self.req("/pop?topic=bin&bindKey=q")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "application/octet-stream")
        self.assertEqual(r.getheader("X-Gmq-Msg-Id"), str(mid))
        self.assertEqual(r.getheader("X-Gmq-Retry-Count"), "0")
        self.assertEqual(body, ALL_BYTES)
        # empty: 204 without a body, and the connection stays usable
        r, body = self.req("/pop?topic=bin&bindKey=q")
        self.assertEqual((r.status, body, r.getheader("Content-Length")), (204, b"", None))
        self.assertEqual(r.getheader("Connection"), "keep-alive")
        # errors stay JSON (200, code 1)
        r, body = self.req("/pop?topic=bin&bindKey=nope")
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, "application/json"))
        self.assertEqual(json.loads(body), {"code": 1, "data": None, "msg": "bindKey:nope can't match queue"})
        r, body = self.req("/pop?topic=bin")
        self.assertEqual(json.loads(body)["msg"], "bindKey is empty")
        # a list of types naming octet-stream counts; without it the JSON form
        mid = self.pub(b"a\x00b")
        r, body = self.req("/pop?topic=bin&bindKey=q", accept="text/plain, application/octet-stream;q=0.9")
        self.assertEqual((r.status, r.getheader("X-Gmq-Msg-Id"), body), (200, str(mid), b"a\x00b"))
        mid = self.pub(b"text")
        r, body = self.req("/pop?topic=bin&bindKey=q", accept=None)
        self.assertEqual(json.loads(body)["data"], {"id": str(mid), "body": "text", "retry_count": 0})

    def test_octet_stream_waits_and_acks(self):
        self.node.json("/declareQueue?topic=bin&bindKey=q")
        mid = self.pub(ALL_BYTES[::-1])
        r, body = self.req("/pop?topic=bin&bindKey=q&timeout=2")
        self.assertEqual((r.status, body), (200, ALL_BYTES[::-1]))
        self.assertEqual(self.node.json("/ack?topic=bin&bindKey=q&msgId=%d" % mid)["code"], 0)
        r, body = self.req("/pop?topic=bin&bindKey=q&timeout=1")
        self.assertEqual(r.status, 204)

    def test_octet_stream_dead(self):
        self.node.json("/config?topic=bin&msgTTR=1&msgRetry=0")
        self.node.json("/declareQueue?topic=bin&bindKey=q")
        mid = self.pub(ALL_BYTES)
        r, _ = self.req("/pop?topic=bin&bindKey=q")
        self.assertEqual(r.status, 200)
        r, body = self.req("/dead?topic=bin&bindKey=q&timeout=10")
        self.assertEqual((r.status, r.getheader("X-Gmq-Msg-Id"), r.getheader("X-Gmq-Retry-Count"), body),
                         (200, str(mid), "1", ALL_BYTES))
        r, body = self.req("/dead?topic=bin&bindKey=q")
        self.assertEqual(r.status, 204)


if __name__ == "__main__":
    unittest.main()
