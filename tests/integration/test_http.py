"""Issue 4: the HTTP API: the seed's curl flow verbatim, keep-alive,
form/multipart/JSON bodies, and bad input."""
import json
import socket
import subprocess
import time
import unittest

from gmqtest import Node


class SeedFlowTest(unittest.TestCase):
    def test_seed_curl_flow_verbatim(self):
        node = Node(self).start()
        base = "http://127.0.0.1:%d" % node.http_port

        def curl(*args):
            p = subprocess.run(["curl", "-s"] + list(args), capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout)

        self.assertEqual(curl(base + "/config?topic=ketang&isAuthoAck=1&mode=1&msgTTR=30&msgRetry=5"),
                         {"code": 0, "data": None, "msg": "success"})
        self.assertEqual(curl(base + "/declareQueue?topic=ketang&bindKey=homework"),
                         {"code": 0, "data": None, "msg": "ok"})
        r = curl(base + "/push", "-X", "POST", "-d",
                 'data={"body":"this is a job","topic":"ketang","delay":0,"route_key":"homework"}')
        self.assertEqual(r["code"], 0)
        mid = r["data"]["msgId"]
        self.assertTrue(mid.isdigit())
        t0 = time.monotonic()
        r = curl(base + "/pop?topic=ketang&bindKey=homework")
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(r, {"code": 0, "data": {"id": mid, "body": "this is a job", "retry_count": 0},
                             "msg": "success"})
        r = curl(base + "/ack?msgId=%s&topic=ketang&bindKey=homework" % mid)
        self.assertEqual(r["code"], 0, r)
        stat = curl(base + "/getTopicStat?topic=ketang")["data"]
        self.assertTrue(stat["is_auto_ack"])
        import re
        self.assertRegex(stat["start_time"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        for key in ("name", "pop_num", "push_num", "dead_num", "queue_msg_num", "queue_num",
                    "delay_num", "wait_ack_num", "is_auto_ack"):
            self.assertIn(key, stat)
        self.assertEqual((stat["push_num"], stat["pop_num"], stat["queue_num"]), (1, 1, 1))


class HttpTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()

    def test_ping(self):
        self.assertEqual(self.node.get("/ping"), (200, "OK"))

    def test_push_raw_json_and_multipart(self):
        self.node.json("/declareQueue?topic=t&bindKey=q")
        body = json.dumps({"body": "raw", "topic": "t", "route_key": "q"}).encode()
        st, out = self.node.get("/push", data=body, headers={"Content-Type": "application/json"})
        self.assertEqual(json.loads(out)["code"], 0, out)
        p = subprocess.run(["curl", "-s", "-F", 'data={"body":"multi","topic":"t","route_key":"q"}',
                            self.node.base + "/push"], capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(p.stdout)["code"], 0, p.stdout)
        self.assertEqual(self.node.json("/pop?topic=t&bindKey=q")["data"]["body"], "raw")
        self.assertEqual(self.node.json("/pop?topic=t&bindKey=q")["data"]["body"], "multi")

    def test_pop_empty_at_once_and_long_poll(self):
        self.node.json("/declareQueue?topic=t&bindKey=q")
        t0 = time.monotonic()
        self.assertEqual(self.node.json("/pop?topic=t&bindKey=q"),
                         {"code": 1, "data": None, "msg": "no message"})
        self.assertLess(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        r = self.node.json("/pop?topic=t&bindKey=q&timeout=1")
        self.assertEqual(r["msg"], "no message")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_long_poll_does_not_block_the_node(self):
        import threading
        self.node.json("/declareQueue?topic=t&bindKey=q")
        res = {}
        th = threading.Thread(target=lambda: res.setdefault("r", self.node.json("/pop?topic=t&bindKey=q&timeout=5")))
        th.start()
        time.sleep(0.2)
        self.assertEqual(self.node.get("/ping"), (200, "OK"))
        self.assertEqual(self.node.push("t", "wake", "q")["code"], 0)
        th.join(10)
        self.assertEqual(res["r"]["data"]["body"], "wake")

    def test_keep_alive_and_pipelining(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=5)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data = b""
        while data.count(b"\r\n\r\nOK") < 3:
            chunk = s.recv(65536)
            self.assertTrue(chunk)
            data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 3)
        s.close()

    def test_missing_and_bad_parameters(self):
        n = self.node
        self.assertEqual(n.json("/pop?bindKey=q")["msg"], "topic is empty")
        self.assertEqual(n.json("/pop?topic=t")["msg"], "bindKey is empty")
        self.assertIn("invalid topic", n.json("/pop?topic=../x&bindKey=q")["msg"])
        self.assertIn("invalid topic", n.json("/pop?topic=" + "a" * 129 + "&bindKey=q")["msg"])
        self.assertEqual(n.json("/ack?topic=t&bindKey=q")["msg"], "msgId is empty")
        self.assertEqual(n.json("/ack?topic=t&bindKey=q&msgId=abc")["msg"], "msgId is empty")
        self.assertEqual(n.post_form("/push", {})["msg"], "data is empty")
        self.assertIn("invalid JSON", n.post_form("/push", {"data": "{nope"})["msg"])
        self.assertIn("topic is empty", n.post_form("/push", {"data": '{"body":"x"}'})["msg"])
        self.assertIn("body", n.post_form("/push", {"data": '{"topic":"t","body":5}'})["msg"])
        self.assertIn("delay", n.post_form("/push", {"data": '{"topic":"t","body":"x","delay":-1}'})["msg"])
        self.assertIn("delay", n.post_form("/push", {"data": '{"topic":"t","body":"x","delay":"soon"}'})["msg"])
        self.assertIn("mode", n.json("/config?topic=t&mode=7")["msg"])
        self.assertEqual(n.json("/getTopicStat?topic=never")["msg"], "topic is not exist")
        self.assertEqual(n.get("/ping"), (200, "OK"))

    def test_body_over_max_body(self):
        big = "x" * (1024 * 1024 + 1)
        r = self.node.push("t", big)
        self.assertEqual(r["code"], 1)
        self.assertIn("max_body", r["msg"])

    def test_huge_content_length_refused(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=5)
        s.sendall(b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
        data = s.recv(65536)
        self.assertIn(b"413", data.split(b"\r\n")[0])
        s.close()
        self.assertEqual(self.node.get("/ping"), (200, "OK"))

    def test_garbage_request(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=5)
        s.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        data = s.recv(65536)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)
        self.assertEqual(s.recv(100), b"")
        s.close()
        self.assertEqual(self.node.get("/ping"), (200, "OK"))

    def test_half_sent_request_then_silence(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=5)
        s.sendall(b"GET /pi")
        self.assertEqual(self.node.get("/ping"), (200, "OK"))
        s.close()

    def test_unknown_path(self):
        st, body = self.node.get("/nope")
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["code"], 1)


if __name__ == "__main__":
    unittest.main()
