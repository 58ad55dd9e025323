"""Random and mutated input on both ports (seeded, bounded): the node keeps
serving, no worker crashes, nothing stored is lost."""
import json
import random
import socket
import struct
import unittest

from gmqtest import Node

SEEDS_TCP = [
    b"ping\n",
    b"queue fz q\n",
    b"pub fz q 0\n" + struct.pack(">I", 5) + b"hello",
    b"mpub fz 2\n" + struct.pack(">I", 16) + b'{"body":"a","x"}' + struct.pack(">I", 2) + b"{}",
    b"pop fz q 0\n",
    b"ack 123 fz q\n",
    b"dead fz q\n",
    b"set fz 1 2 3 4\n",
    b"subscribe ch\n",
    b"publish ch\n" + struct.pack(">I", 3) + b"abc",
    b"requeue fz q\n",
]

SEEDS_HTTP = [
    b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /pop?topic=fz&bindKey=q HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 62\r\n\r\ndata=%7B%22body%22%3A%22x%22%2C%22topic%22%3A%22fz%22%7D&z=1&q",
    b"GET /config?topic=fz&isAutoAck=1&mode=2&msgTTR=5 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
    b"Content-Length: 70\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{}\r\n--XX--\r\n",
    b"GET /getAllTopicStat HTTP/1.1\r\nHost: x\r\n\r\n",
]


def mutate(rnd, data):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(5)
        pos = rnd.randrange(len(data) + 1)
        if op == 0 and data:                       # flip a byte
            data[min(pos, len(data) - 1)] = rnd.randrange(256)
        elif op == 1:                              # insert random bytes
            data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op == 2:                              # truncate
            del data[pos:]
        elif op == 3:                              # duplicate a slice
            data[pos:pos] = data[rnd.randrange(len(data) + 1):][:16]
        else:                                      # a random length prefix
            data[pos:pos] = struct.pack(">I", rnd.choice([0, 1, 7, 1 << 20, 1 << 31, rnd.randrange(1 << 32)]))
    return bytes(data)


class FuzzTest(unittest.TestCase):
    def send_and_drop(self, port, payload):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        try:
            s.sendall(payload)
            s.settimeout(0.05)
            try:
                s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            s.close()

    def test_mutated_input_on_both_ports(self):
        n = Node(self).start()
        n.json("/declareQueue?topic=keep&bindKey=q")
        kept = [n.push("keep", "msg %d" % i, "q")["data"]["msgId"] for i in range(20)]
        rnd = random.Random(20261124)
        for i in range(400):
            self.send_and_drop(n.tcp_port, mutate(rnd, b"".join(rnd.sample(SEEDS_TCP, 3))))
            self.send_and_drop(n.http_port, mutate(rnd, rnd.choice(SEEDS_HTTP)))
            if i % 50 == 0:
                self.assertEqual(n.get("/ping"), (200, "OK"))
                c = n.tcp()
                c.cmd("ping")
                self.assertEqual(c.frame(), (103, b"pong"))
                c.close()
        # no worker crashed, nothing stored was lost
        for w in n.json("/debug/workers")["data"]:
            self.assertEqual((w["topic"], w["restarts"], w["last_exit"]), (w["topic"], 0, ""), w)
        got = []
        while True:
            r = n.json("/pop?topic=keep&bindKey=q")
            if r["code"] != 0:
                break
            got.append(r["data"]["id"])
        self.assertEqual(got, kept)


if __name__ == "__main__":
    unittest.main()
