"""Queue management (issue 11): purge, delete of a queue and of a topic,
peek, dead-letter list and kick, touch, release with a delay, on TCP and
HTTP, each error path, and kill -9 of the worker in the middle of a purge
or a delete (crash points and random timing): after the restart the queue
or topic is either as before or as after, never a mix."""
import json
import os
import random
import signal
import time
import unittest

from gmqtest import Node, wait_for


def fill(node, topic, bk, n, delayed=0):
    node.json("/declareQueue?topic=%s&bindKey=%s" % (topic, bk))
    c = node.tcp()
    try:
        for i in range(n):
            c.cmd("pub %s %s 0" % (topic, bk), b"m%05d" % i)
        for i in range(delayed):
            c.cmd("pub %s %s 600" % (topic, bk), b"d%05d" % i)
        for _ in range(n + delayed):
            assert c.frame()[0] == 103
    finally:
        c.close()


def queue_stat(node, topic, bk):
    r = node.json("/getTopicStat?topic=%s" % topic)
    if r["code"] != 0:
        return None
    for q in r["data"]["queues"]:
        if q["bind_key"] == bk:
            return q
    return None


class HttpManageTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self, args=["-msg_max_retry=0"]).start()

    def test_purge(self):
        n = self.node
        fill(n, "p", "q", 5, delayed=2)
        m = n.json("/pop?topic=p&bindKey=q")["data"]
        r = n.json("/purgeQueue?topic=p&bindKey=q")
        self.assertEqual(r, {"code": 1, "data": None,
                             "msg": "queue q has 1 messages in flight; use force"})
        self.assertEqual(queue_stat(n, "p", "q")["ready"], 4)
        self.assertEqual(n.json("/ack?topic=p&bindKey=q&msgId=%s" % m["id"])["code"], 0)
        self.assertEqual(n.json("/purgeQueue?topic=p&bindKey=q"),
                         {"code": 0, "data": {"purged": 6}, "msg": "success"})
        q = queue_stat(n, "p", "q")
        self.assertEqual((q["ready"], q["delayed"], q["in_flight"]), (0, 0, 0))
        # the binding stays
        self.assertEqual(n.push("p", "after", "q")["code"], 0)
        self.assertEqual(n.json("/pop?topic=p&bindKey=q")["data"]["body"], "after")

    def test_purge_force_and_errors(self):
        n = self.node
        fill(n, "pf", "q", 2)
        m = n.json("/pop?topic=pf&bindKey=q")["data"]
        self.assertEqual(n.json("/purgeQueue?topic=pf&bindKey=q&force=1")["data"], {"purged": 2})
        self.assertEqual(n.json("/ack?topic=pf&bindKey=q&msgId=%s" % m["id"])["msg"],
                         "msgId:%s is not exist." % m["id"])
        self.assertEqual(n.json("/purgeQueue?topic=pf&bindKey=nope")["msg"],
                         "bindkey:nope is not associated with queue")
        self.assertEqual(n.json("/purgeQueue?topic=never&bindKey=q")["msg"], "topic is not exist")
        self.assertEqual(n.json("/purgeQueue?topic=pf")["msg"], "bindKey is empty")
        self.assertEqual(n.json("/purgeQueue?topic=pf&bindKey=q&force=2")["msg"],
                         "force must be a number between 0 and 1")

    def test_delete_queue(self):
        n = self.node
        fill(n, "dq", "a", 3)
        fill(n, "dq", "b", 1)
        n.json("/pop?topic=dq&bindKey=a")
        self.assertEqual(n.json("/deleteQueue?topic=dq&bindKey=a")["msg"],
                         "queue a has 1 messages in flight; use force")
        self.assertEqual(n.json("/deleteQueue?topic=dq&bindKey=a&force=1")["data"], {"deleted": 3})
        self.assertEqual(n.json("/getQueuesByTopic?topic=dq")["data"], {"b": "dq_b"})
        self.assertFalse(os.path.exists(os.path.join(n.data_dir, "dq", "q", "a")))
        self.assertEqual(n.json("/pop?topic=dq&bindKey=a")["msg"], "bindKey:a can't match queue")
        self.assertIn("queue a deleted with 3 messages", n.read_log())

    def test_delete_queue_answers_a_waiting_pop(self):
        import threading
        n = self.node
        fill(n, "dw", "a", 0)
        out = {}
        t = threading.Thread(target=lambda: out.update(
            r=n.json("/pop?topic=dw&bindKey=a&timeout=30", timeout=40)))
        t.start()
        time.sleep(0.3)
        self.assertEqual(n.json("/deleteQueue?topic=dw&bindKey=a")["data"], {"deleted": 0})
        t.join(10)
        self.assertEqual(out["r"]["msg"], "bindKey:a can't match queue")

    def test_delete_topic(self):
        n = self.node
        fill(n, "dt", "q", 3)
        n.json("/pop?topic=dt&bindKey=q")
        self.assertEqual(n.json("/deleteTopic?topic=dt")["msg"],
                         "topic dt has 1 messages in flight; use force")
        old = n.worker_pids()["dt"]
        self.assertEqual(n.json("/deleteTopic?topic=dt&force=1"),
                         {"code": 0, "data": None, "msg": "success"})
        wait_for(lambda: "dt" not in n.worker_pids(), what="the worker to exit")
        wait_for(lambda: os.listdir(n.data_dir) == [] or
                 all(x.startswith(".") for x in os.listdir(n.data_dir)),
                 what="the topic's files removed")
        self.assertEqual(n.json("/getTopicStat?topic=dt")["msg"], "topic is not exist")
        self.assertEqual(n.json("/deleteTopic?topic=dt")["msg"], "topic is not exist")
        # the name can be used again: a fresh, empty topic
        n.json("/declareQueue?topic=dt&bindKey=q")
        self.assertNotEqual(n.worker_pids()["dt"], old)
        self.assertEqual(queue_stat(n, "dt", "q")["ready"], 0)
        self.assertIn("topic dt deleted with 1 queues and 3 messages (1 in flight)", n.read_log())

    def test_peek(self):
        n = self.node
        fill(n, "pk", "q", 0)
        self.assertEqual(n.json("/peek?topic=pk&bindKey=q")["msg"], "no message")
        n.push("pk", "first", "q")
        n.push("pk", "second", "q")
        n.push("pk", "later", "q", delay=300)
        r = n.json("/peek?topic=pk&bindKey=q")["data"]
        self.assertEqual((r["body"], r["state"], r["retry_count"]), ("first", "ready", 0))
        self.assertEqual(n.json("/peek?topic=pk&bindKey=q&state=ready")["data"], r)
        d = n.json("/peek?topic=pk&bindKey=q&state=delayed")["data"]
        self.assertEqual((d["body"], d["state"]), ("later", "delayed"))
        self.assertGreater(d["due_at"], d["pushed_at"] + 299000)
        self.assertEqual(n.json("/peek?topic=pk&bindKey=q&state=dead")["msg"], "no message")
        self.assertEqual(n.json("/peek?topic=pk&bindKey=q&state=gone")["msg"],
                         "state must be ready, delayed or dead")
        # nothing was delivered by peeking
        self.assertEqual(n.json("/pop?topic=pk&bindKey=q")["data"]["body"], "first")
        self.assertEqual(n.json("/peek?topic=pk&bindKey=q")["data"]["body"], "second")

    def test_dead_list_and_kick(self):
        n = self.node
        n.json("/config?topic=dl&msgTTR=1&msgRetry=0")
        fill(n, "dl", "q", 3)
        for _ in range(3):
            n.json("/pop?topic=dl&bindKey=q")
        wait_for(lambda: queue_stat(n, "dl", "q")["dead"] == 3, timeout=15, what="dead letters")
        dead = n.json("/listDead?topic=dl&bindKey=q")["data"]
        self.assertEqual([d["body"] for d in dead], ["m00000", "m00001", "m00002"])
        self.assertEqual(len(n.json("/listDead?topic=dl&bindKey=q&limit=2")["data"]), 2)
        self.assertEqual(n.json("/listDead?topic=dl&bindKey=q&limit=0")["msg"],
                         "limit must be a number between 1 and 1000")
        self.assertEqual(n.json("/peek?topic=dl&bindKey=q&state=dead")["data"]["body"], "m00000")
        self.assertEqual(n.json("/kick?topic=dl&bindKey=q")["data"], {"kicked": 1})
        self.assertEqual(n.json("/kick?topic=dl&bindKey=q&n=10")["data"], {"kicked": 2})
        self.assertEqual(n.json("/kick?topic=dl&bindKey=q&n=10")["data"], {"kicked": 0})
        self.assertEqual(n.json("/kick?topic=dl&bindKey=q&n=0")["msg"],
                         "n must be a number between 1 and 100000")
        got = [n.json("/pop?topic=dl&bindKey=q")["data"] for _ in range(3)]
        self.assertEqual(sorted(g["body"] for g in got), ["m00000", "m00001", "m00002"])
        self.assertTrue(all(g["retry_count"] == 0 for g in got))

    def test_touch_extends_the_ttr(self):
        n = self.node
        n.json("/config?topic=tc&msgTTR=2&msgRetry=5")
        fill(n, "tc", "q", 1)
        m = n.json("/pop?topic=tc&bindKey=q")["data"]
        t0 = time.time()
        # touched every second for 5 s: never redelivered meanwhile
        while time.time() - t0 < 5:
            r = n.json("/touch?topic=tc&bindKey=q&msgId=%s" % m["id"])
            self.assertEqual(r["code"], 0, r)
            self.assertGreater(r["data"]["deadline"], int(time.time() * 1000) + 1000)
            self.assertEqual(n.json("/pop?topic=tc&bindKey=q")["msg"], "no message")
            time.sleep(1)
        # left alone, it comes back after its TTR
        again = n.json("/pop?topic=tc&bindKey=q&timeout=10", timeout=15)["data"]
        self.assertEqual((again["id"], again["retry_count"]), (m["id"], 1))
        self.assertEqual(n.json("/touch?topic=tc&bindKey=q&msgId=1")["msg"],
                         "msgId:1 is not in flight in queue q")
        self.assertEqual(n.json("/touch?topic=tc&bindKey=q&msgId=x")["msg"],
                         "msgId must be a decimal message id")

    def test_release_with_and_without_delay(self):
        n = self.node
        n.json("/config?topic=rl&msgTTR=600&msgRetry=5")
        fill(n, "rl", "q", 1)
        m = n.json("/pop?topic=rl&bindKey=q")["data"]
        self.assertEqual(n.json("/release?topic=rl&bindKey=q&msgId=%s" % m["id"])["code"], 0)
        m2 = n.json("/pop?topic=rl&bindKey=q")["data"]
        self.assertEqual((m2["id"], m2["retry_count"]), (m["id"], 1))
        t0 = time.time()
        self.assertEqual(n.json("/release?topic=rl&bindKey=q&msgId=%s&delay=2" % m["id"])["code"], 0)
        self.assertEqual(queue_stat(n, "rl", "q")["delayed"], 1)
        self.assertEqual(n.json("/pop?topic=rl&bindKey=q")["msg"], "no message")
        m3 = n.json("/pop?topic=rl&bindKey=q&timeout=10", timeout=15)["data"]
        self.assertGreaterEqual(time.time() - t0, 1.9)
        self.assertEqual((m3["id"], m3["retry_count"]), (m["id"], 2))
        self.assertEqual(n.json("/release?topic=rl&bindKey=q&msgId=%s&delay=999999999" % m["id"])["msg"],
                         "delay must be a number between 0 and %d" % 259200)
        self.assertEqual(n.json("/ack?topic=rl&bindKey=q&msgId=%s" % m["id"])["code"], 0)
        self.assertEqual(n.json("/release?topic=rl&bindKey=q&msgId=%s" % m["id"])["msg"],
                         "msgId:%s is not in flight in queue q" % m["id"])

    def test_delayed_release_survives_a_restart(self):
        n = self.node
        n.json("/config?topic=rr&msgTTR=600")
        fill(n, "rr", "q", 1)
        m = n.json("/pop?topic=rr&bindKey=q")["data"]
        n.json("/release?topic=rr&bindKey=q&msgId=%s&delay=3" % m["id"])
        os.kill(n.worker_pids()["rr"], signal.SIGKILL)
        wait_for(lambda: queue_stat(n, "rr", "q") is not None, what="the worker back")
        self.assertEqual(queue_stat(n, "rr", "q")["delayed"], 1)
        m2 = n.json("/pop?topic=rr&bindKey=q&timeout=10", timeout=15)["data"]
        self.assertEqual(m2["id"], m["id"])


class TcpManageTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self, args=["-msg_max_retry=0"]).start()
        self.c = self.node.tcp()
        self.addCleanup(self.c.close)

    def call(self, line):
        self.c.cmd(line)
        return self.c.frame()

    def test_every_command(self):
        n, call = self.node, self.call
        fill(n, "tt", "q", 3, delayed=1)
        t, d = call("peek tt q")
        self.assertEqual(t, 103)
        self.assertEqual(json.loads(d)["body"], "m00000")
        self.assertEqual(json.loads(call("peek tt q delayed")[1])["body"], "d00000")
        self.assertEqual(call("peek tt q dead"), (102, b"no message"))
        self.assertEqual(call("peek tt q other"), (102, b"E_INVALID_PARAMS - state must be ready, delayed or dead"))
        m = json.loads(call("pop tt q")[1])
        t, d = call("touch tt q %s" % m["id"])
        self.assertEqual(t, 103)
        self.assertIn("deadline", json.loads(d))
        self.assertEqual(call("release tt q %s" % m["id"]), (103, b"ok"))
        m = json.loads(call("pop tt q")[1])
        self.assertEqual(call("release tt q %s 1" % m["id"]), (103, b"ok"))
        self.assertEqual(call("purge tt q"), (103, b'{"purged":4}'))
        self.assertEqual(call("deadlist tt q"), (103, b"[]"))
        self.assertEqual(call("kick tt q 5"), (103, b'{"kicked":0}'))
        self.assertEqual(call("delqueue tt q"), (103, b'{"deleted":0}'))
        self.assertEqual(call("deltopic tt"), (103, b"ok"))
        self.assertEqual(call("deltopic tt"), (102, b"E_NOT_FOUND - topic is not exist"))

    def test_errors(self):
        n, call = self.node, self.call
        fill(n, "te", "q", 1)
        json.loads(call("pop te q")[1])
        self.assertEqual(call("purge te q"), (102, b"E_IN_FLIGHT - queue q has 1 messages in flight; use force"))
        self.assertEqual(call("delqueue te q"), (102, b"E_IN_FLIGHT - queue q has 1 messages in flight; use force"))
        self.assertEqual(call("deltopic te"), (102, b"E_IN_FLIGHT - topic te has 1 messages in flight; use force"))
        self.assertEqual(call("purge te q now"), (102, b"E_INVALID_PARAMS - usage: purge <topic> <bind_key> [force]"))
        self.assertEqual(call("purge te"), (102, b"E_INVALID_PARAMS - usage: purge <topic> <bind_key> [force]"))
        self.assertEqual(call("purge te zz"), (102, b"E_NOT_FOUND - bindkey:zz is not associated with queue"))
        self.assertEqual(call("touch te q abc"), (102, b"E_INVALID_PARAMS - id must be a decimal message id"))
        self.assertEqual(call("touch te q 1"), (102, b"E_NOT_FOUND - msgId:1 is not in flight in queue q"))
        self.assertEqual(call("release te q 1 x"), (102, b"E_INVALID_DELAY - delay must be a number"))
        self.assertEqual(call("kick te q 0"), (102, b"E_INVALID_PARAMS - n must be a number between 1 and 100000"))
        self.assertEqual(call("deadlist te q 5000"), (102, b"E_INVALID_PARAMS - limit must be a number between 1 and 1000"))
        self.assertEqual(call("purge nope q"), (102, b"E_NOT_FOUND - topic is not exist"))
        self.assertEqual(call("purge te q force"), (103, b'{"purged":1}'))
        # the connection is still good
        self.assertEqual(call("ping"), (103, b"pong"))

    def test_auth_required(self):
        node = Node(self, args=["-auth_token=s3cret"], auth_token="s3cret").start()
        c = node.tcp()
        self.addCleanup(c.close)
        c.cmd("purge a b")
        self.assertEqual(c.frame(), (102, b"E_AUTH - authentication required: send auth <token> first"))
        self.assertTrue(c.closed())
        r = node.get("/purgeQueue?topic=a&bindKey=b", headers={"Authorization": ""})
        self.assertEqual(r[0], 401)


class CrashTest(unittest.TestCase):
    """kill -9 inside a purge or a delete: all or nothing after the restart"""

    def crash_node(self, point):
        return Node(self, args=["-segment_size=1M"], env={"GMQ_FAULT_CRASH_AT": point}).start()

    def test_crash_right_after_the_purge_record(self):
        n = self.crash_node("purge-written")
        fill(n, "cp", "q", 200, delayed=20)
        old = n.worker_pids()["cp"]
        r = n.json("/purgeQueue?topic=cp&bindKey=q")
        self.assertEqual(r["code"], 1)
        self.assertIn("outcome is unknown", r["msg"])
        wait_for(lambda: n.worker_pids().get("cp", old) != old, what="the worker respawned")
        q = queue_stat(n, "cp", "q")
        self.assertEqual((q["ready"], q["delayed"]), (0, 0))     # the new state, whole

    def test_crash_after_the_delete_commit(self):
        for point in ("delete-queue-committed", "delete-queue-half"):
            n = self.crash_node(point)
            fill(n, "cd", "a", 300)
            fill(n, "cd", "b", 2)
            n.json("/config?topic=cd&msgTTR=1&msgRetry=0")
            n.json("/pop?topic=cd&bindKey=a")
            wait_for(lambda: queue_stat(n, "cd", "a")["dead"] == 1, timeout=15, what="a dead letter")
            old = n.worker_pids()["cd"]
            r = n.json("/deleteQueue?topic=cd&bindKey=a")
            self.assertIn("outcome is unknown", r["msg"], point)
            wait_for(lambda: n.worker_pids().get("cd", old) != old, what="the worker respawned")
            self.assertEqual(n.json("/getQueuesByTopic?topic=cd")["data"], {"b": "cd_b"}, point)
            self.assertFalse(os.path.exists(os.path.join(n.data_dir, "cd", "q", "a")), point)
            self.assertFalse(os.path.exists(os.path.join(n.data_dir, "cd", "dlq", "a")), point)
            self.assertEqual(queue_stat(n, "cd", "b")["ready"], 2, point)
            n.cleanup()

    def test_crash_after_the_topic_rename(self):
        n = self.crash_node("delete-topic-renamed")
        fill(n, "ct", "q", 100)
        r = n.json("/deleteTopic?topic=ct")
        self.assertIn("outcome is unknown", r["msg"])
        wait_for(lambda: "not respawning" in n.read_log(), what="the worker not respawned")
        self.assertEqual(n.json("/getTopicStat?topic=ct")["msg"], "topic is not exist")
        self.assertEqual([x for x in os.listdir(n.data_dir) if not x.startswith(".")],
                         ["~deleted-ct-" + x.split("-")[-1] for x in os.listdir(n.data_dir)
                          if x.startswith("~deleted-ct-")])
        # the next start removes what the rename left
        n.kill()
        n.start()
        self.assertEqual([x for x in os.listdir(n.data_dir) if not x.startswith(".")], [])
        self.assertIn("(a deleted topic)", n.read_log())

    def test_random_kills_during_purge_and_delete(self):
        """real kill -9 at random moments while purges and deletes run"""
        rnd = random.Random(11)
        n = Node(self, args=["-segment_size=1M"]).start()
        for round_ in range(6):
            topic = "rk%d" % round_
            fill(n, topic, "a", 400)
            fill(n, topic, "b", 50)
            pid = n.worker_pids()[topic]
            c = n.tcp()
            c.cmd("purge %s a" % topic if round_ % 2 == 0 else "delqueue %s a" % topic)
            time.sleep(rnd.uniform(0, 0.004))
            os.kill(pid, signal.SIGKILL)
            c.close()
            wait_for(lambda: n.worker_pids().get(topic, pid) != pid, what="the worker respawned")
            qa = queue_stat(n, topic, "a")
            qs = n.json("/getQueuesByTopic?topic=%s" % topic)["data"]
            if round_ % 2 == 0:
                self.assertIn(qa["ready"], (0, 400), "purge left a mix")
            else:
                self.assertTrue(qa is None and qs == {"b": "%s_b" % topic} or
                                qa is not None and qa["ready"] == 400, "delete left a mix")
            self.assertEqual(queue_stat(n, topic, "b")["ready"], 50)


if __name__ == "__main__":
    unittest.main()
