"""Hostile-input probes, from the client's side: more connections than the
master has descriptors, a new topic on a full disk, and /exitTopic followed
at once by requests. Every node is stopped by PID through Node(self)."""
import http.client
import json
import os
import resource
import socket
import subprocess
import time
import unittest
import urllib.parse

from gmqtest import Node, wait_for

FD_LIMIT = 64


def low_fd_limit():
    # the master raises soft to hard: set both
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


class LowFdNode(Node):
    """A Node started under RLIMIT_NOFILE = FD_LIMIT."""

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True,
                                     preexec_fn=low_fd_limit)
        if wait:
            self.wait_ready()
        return self

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat; 12 and 13 after the ")"
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_lines(self):
        return self.read_log().splitlines()


def ok(r):
    return r if r.get("code") == 0 else None


def workers(node):
    return node.json("/debug/workers")["data"]


class FdExhaustionTest(unittest.TestCase):
    CLIENTS = 200

    def test_more_clients_than_descriptors(self):
        n = LowFdNode(self).start()
        self.assertTrue(any("file descriptor limit: %d" % FD_LIMIT in l for l in n.log_lines()),
                        n.read_log())
        self.assertTrue(any("below max_connections" in l for l in n.log_lines()))
        self.assertEqual(n.push("t", "before", "")["code"], 0)
        # a keep-alive connection accepted before the flood, to ask during it
        hc = http.client.HTTPConnection("127.0.0.1", n.http_port, timeout=10)
        self.addCleanup(hc.close)
        hc.request("GET", "/ping")
        self.assertEqual(hc.getresponse().read(), b"OK")

        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(self.CLIENTS):
            socks.append(socket.create_connection(("127.0.0.1", n.tcp_port), timeout=10))
        wait_for(lambda: n.master_conns()[1] > 0, what="clients waiting in the backlog")
        lines_before = len(n.log_lines())
        cpu0 = n.cpu_seconds()
        time.sleep(3.0)
        cpu = n.cpu_seconds() - cpu0
        self.assertLess(cpu, 1.5, "the master spins with its descriptors used up")

        # a new topic while out of descriptors: refused for now, not made fatal
        body = urllib.parse.urlencode({"data": json.dumps(
            {"body": "x", "topic": "late", "delay": 0, "route_key": ""})})
        hc.request("POST", "/push", body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = json.loads(hc.getresponse().read())
        self.assertNotIn("worker went away", r["msg"])

        lines = n.log_lines()
        self.assertLess(len(lines), 200, "\n".join(lines[-20:]))
        accept = [l for l in lines[lines_before:] if "accept:" in l]
        self.assertLessEqual(len(accept), 6, "accept failures are not rate-limited:\n" +
                             "\n".join(accept[:10]))

        for s in socks:
            s.close()
        socks.clear()
        hc.close()
        wait_for(lambda: n.get("/ping", timeout=2)[1] == "OK", timeout=10, what="a new client served")
        self.assertEqual(n.push("t", "after", "")["code"], 0)
        self.assertEqual(n.json("/pop?topic=t&bindKey=default")["data"]["body"], "before")
        wait_for(lambda: ok(n.push("late", "y", "")), timeout=15, what="the new topic to start")
        for w in workers(n):
            self.assertNotIn(w["state"], ("fatal", "crashloop"), w)

    def test_existing_topics_under_fd_pressure_are_not_fatal(self):
        n = LowFdNode(self)
        topics = ["e%02d" % i for i in range(70)]       # more workers than descriptors
        for t in topics:
            os.makedirs(os.path.join(n.data_dir, t))
        n.start()
        ws = wait_for(lambda: (lambda ws: ws if len(ws) == len(topics) and
                               all(w["state"] in ("ready", "backoff") for w in ws) else None)(
                                   workers(n)), timeout=20, what="every topic ready or in backoff")
        for w in ws:
            self.assertNotIn(w["state"], ("fatal", "crashloop"), w)
        waiting = [w["topic"] for w in ws if w["state"] == "backoff"]
        self.assertTrue(waiting, "no fd pressure: every worker started")
        # free descriptors: the topics waiting start by themselves
        ready = [w["topic"] for w in ws if w["state"] == "ready"]
        for t in ready[:len(waiting) + 5]:
            self.assertEqual(n.json("/exitTopic?topic=" + t)["code"], 0)
        for t in waiting:
            wait_for(lambda: ok(n.push(t, "hello", "")), timeout=20, what="topic %s to start" % t)
            self.assertEqual(n.json("/pop?topic=%s&bindKey=default" % t)["data"]["body"], "hello")
        for w in workers(n):
            self.assertNotIn(w["state"], ("fatal", "crashloop"), w)


class NewTopicFullDiskTest(unittest.TestCase):
    def test_new_topic_on_full_disk_then_space_freed(self):
        fault = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".enospc-fd-%d" % os.getpid())
        self.addCleanup(lambda: os.path.exists(fault) and os.unlink(fault))
        n = Node(self, env={"GMQ_FAULT_ENOSPC_FILE": fault}).start()
        open(fault, "w").close()
        for _ in range(3):
            r = n.push("fresh", "x", "")
            self.assertNotEqual(r["code"], 0, r)
            self.assertIn("no space left on device", r["msg"])
            self.assertIn("nothing was stored", r["msg"])
            self.assertNotIn("went away", r["msg"])
        c = n.tcp()
        self.addCleanup(c.close)
        c.cmd("pub fresh2 default 0", b"x")
        typ, data = c.frame()
        self.assertEqual(typ, 102)
        self.assertTrue(data.startswith(b"E_STORAGE - "), data)
        self.assertIn(b"no space left on device", data)
        for w in workers(n):
            self.assertNotEqual(w["state"], "fatal", w)

        os.unlink(fault)
        # no /exitTopic: the worker is retried with backoff and comes up
        r = wait_for(lambda: ok(n.push("fresh", "stored", "")), timeout=15, what="push after space freed")
        self.assertEqual(n.json("/pop?topic=fresh&bindKey=default")["data"]["body"], "stored")
        wait_for(lambda: ok(n.json("/declareQueue?topic=fresh2&bindKey=default")), timeout=15,
                 what="the second topic to start")
        c.cmd("pub fresh2 default 0", b"y")
        typ, data = c.frame()
        self.assertEqual(typ, 103, data)


class ExitTopicGapTest(unittest.TestCase):
    def test_requests_right_after_exit_topic(self):
        n = Node(self).start()
        self.assertEqual(n.push("x", "warm", "")["code"], 0)
        r = n.json("/pop?topic=x&bindKey=default")
        self.assertEqual(r["data"]["body"], "warm")
        self.assertEqual(n.json("/ack?topic=x&bindKey=default&msgId=" + r["data"]["id"])["code"], 0)
        for i in range(20):
            self.assertEqual(n.json("/exitTopic?topic=x")["code"], 0)
            r = n.push("x", "m%d" % i, "")
            self.assertEqual(r["code"], 0, "push %d after /exitTopic: %s" % (i, r))
            r = n.json("/pop?topic=x&bindKey=default")
            self.assertEqual(r["code"], 0, "pop %d after /exitTopic: %s" % (i, r))
            self.assertEqual(r["data"]["body"], "m%d" % i)
            self.assertEqual(n.json("/ack?topic=x&bindKey=default&msgId=" + r["data"]["id"])["code"], 0)


if __name__ == "__main__":
    unittest.main()


class StartLogTest(unittest.TestCase):
    def test_start_log_says_ports_tls_auth_fsync_and_data_dir(self):
        node = Node(self, args=["-fsync=everysec", "-auth_token=tok-123"], auth_token="tok-123").start()
        log = node.read_log()
        self.assertIn("tcp listens on 127.0.0.1:%d (plain text)" % node.tcp_port, log)
        self.assertIn("http listens on 127.0.0.1:%d (plain text)" % node.http_port, log)
        self.assertIn("auth: on (auth_token)", log)
        self.assertIn("fsync: everysec", log)
        self.assertIn("data: " + os.path.realpath(node.data_dir), log)
