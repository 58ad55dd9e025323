"""Issue 2: the process model, supervision, signals, configuration errors."""
import fcntl
import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from gmqtest import (MASTER, ROOT, Node, free_port, gmq_processes, pid_alive, wait_for)


class MakeRunTest(unittest.TestCase):
    def test_make_run_starts_a_node(self):
        tmp = tempfile.mkdtemp(prefix="gmqrun-")
        http = free_port()
        args = "-tcp_addr=127.0.0.1:%d -http_addr=127.0.0.1:%d -data_save_path=%s/data" % (
            free_port(), http, tmp)
        p = subprocess.Popen(["make", "-s", "run", "RUN_ARGS=" + args], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        self.addCleanup(lambda: (p.poll() is None and os.killpg(p.pid, signal.SIGKILL), p.wait()))
        import urllib.request

        def ping():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % http, timeout=1) as r:
                    return r.read() == b"OK"
            except OSError:
                return False
        wait_for(ping, 60, what="make run to answer /ping")
        os.killpg(p.pid, signal.SIGTERM)
        self.assertEqual(p.wait(10) in (0, 2, -15), True)


class WorkersTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(self).start()

    def use_topic(self, t):
        r = self.node.json("/declareQueue?topic=%s&bindKey=q" % t)
        self.assertEqual(r["code"], 0, r)

    def test_process_titles(self):
        self.use_topic("titles")
        pids = self.node.worker_pids()
        procs = gmq_processes()
        self.assertEqual(procs[pids["titles"]], "gmq-worker: titles")
        self.assertTrue(procs[self.node.proc.pid].startswith("gmq-master"), procs[self.node.proc.pid])

    def test_three_topics_and_kill_one(self):
        for t in ("t1", "t2", "t3"):
            self.use_topic(t)
            self.assertEqual(self.node.push(t, "hello " + t, "q")["code"], 0)
        pids = self.node.worker_pids()
        self.assertEqual(sorted(pids), ["t1", "t2", "t3"])
        self.assertEqual(len(set(pids.values())), 3)
        for pid in pids.values():
            self.assertTrue(pid_alive(pid))

        # the others keep answering while t2 is down and after
        stop = threading.Event()
        failures = []

        def traffic():
            while not stop.is_set():
                for t in ("t1", "t3"):
                    r = self.node.push(t, "x", "q")
                    if r["code"] != 0:
                        failures.append(r)
        th = threading.Thread(target=traffic)
        th.start()
        try:
            os.kill(pids["t2"], signal.SIGKILL)
            t0 = time.monotonic()

            def back():
                w = self.node.worker_pids()
                return w.get("t2") not in (None, pids["t2"]) and \
                    self.node.push("t2", "after")["code"] == 0 and \
                    self.node.json("/pop?topic=t2&bindKey=default")["code"] == 0
            wait_for(back, 5, what="t2 worker respawned and serving")
            self.assertLess(time.monotonic() - t0, 1.5)
        finally:
            stop.set()
            th.join()
        self.assertEqual(failures, [])
        workers = {w["topic"]: w for w in self.node.json("/debug/workers")["data"]}
        self.assertEqual(workers["t2"]["restarts"], 1)
        self.assertIn("signal 9", workers["t2"]["last_exit"])
        self.assertEqual(workers["t1"]["restarts"], 0)

    def test_inflight_request_fails_at_once_when_worker_dies(self):
        self.use_topic("waiting")
        pid = self.node.worker_pids()["waiting"]
        res = {}

        def pop():
            t0 = time.monotonic()
            res["r"] = self.node.json("/pop?topic=waiting&bindKey=q&timeout=30", timeout=40)
            res["t"] = time.monotonic() - t0
        th = threading.Thread(target=pop)
        th.start()
        time.sleep(0.3)    # let the pop reach the worker and wait there
        os.kill(pid, signal.SIGKILL)
        th.join(10)
        self.assertEqual(res["r"]["code"], 1)
        self.assertIn("worker went away", res["r"]["msg"])
        self.assertLess(res["t"], 5)

    def test_fatal_exit_is_not_respawned(self):
        self.use_topic("fatal")
        r = self.node.json("/debug/crash?topic=fatal&code=3")
        self.assertEqual(r["code"], 1)
        wait_for(lambda: [w for w in self.node.json("/debug/workers")["data"]
                          if w["topic"] == "fatal" and w["state"] == "fatal"], 5, what="fatal state")
        time.sleep(0.5)   # a respawn would come after 100 ms
        w = [w for w in self.node.json("/debug/workers")["data"] if w["topic"] == "fatal"][0]
        self.assertEqual(w["state"], "fatal")
        self.assertEqual(w["pid"], 0)
        self.assertIn("status 3", w["last_exit"])
        r = self.node.json("/pop?topic=fatal&bindKey=q")
        self.assertEqual(r["code"], 1)
        self.assertIn("unavailable", r["msg"])

    def test_locked_topic_dir_is_fatal_with_reason(self):
        d = os.path.join(self.node.data_dir, "locked")
        os.makedirs(d)
        fd = os.open(d, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = self.node.json("/declareQueue?topic=locked&bindKey=q")
        self.assertEqual(r["code"], 1)
        w = wait_for(lambda: [w for w in self.node.json("/debug/workers")["data"]
                              if w["topic"] == "locked" and w["state"] == "fatal"], 5, what="fatal")
        self.assertIn("lock", w[0]["last_exit"])
        self.assertEqual(self.node.json("/ping".replace("/ping", "/getAllTopicStat"))["code"], 0)

    def test_crash_loop_stops_respawning(self):
        self.use_topic("loop")
        last = None
        for i in range(5):
            # the next crash request must reach a new worker, not the dying one
            last = wait_for(lambda: self.node.worker_pids().get("loop") not in (None, last) and
                            self.node.worker_pids().get("loop"), 10, what="worker up")
            self.node.json("/debug/crash?topic=loop&code=1")
        w = wait_for(lambda: [w for w in self.node.json("/debug/workers")["data"]
                              if w["topic"] == "loop" and w["state"] == "crashloop"], 10, what="crashloop")
        self.assertEqual(w[0]["pid"], 0)
        self.assertEqual(self.node.json("/ping".replace("ping", "getAllTopicStat"))["code"], 0)
        r = self.node.json("/pop?topic=loop&bindKey=q")
        self.assertIn("crashloop", r["msg"])

    def test_exit_topic_restarts_fresh_and_clears_fatal(self):
        self.use_topic("ex")
        self.node.push("ex", "kept", "q")
        pid = self.node.worker_pids()["ex"]
        self.assertEqual(self.node.json("/exitTopic?topic=ex")["msg"], "topic.ex has exit.")
        wait_for(lambda: not pid_alive(pid), 5, what="worker stopped")
        wait_for(lambda: "ex" not in self.node.worker_pids(), 5, what="topic forgotten")
        r = self.node.json("/pop?topic=ex&bindKey=q")          # starts a new worker
        self.assertEqual(r["data"]["body"], "kept")
        self.assertEqual(self.node.json("/exitTopic?topic=never")["msg"], "topic is not exist")
        # fatal topics come back after /exitTopic
        self.node.json("/debug/crash?topic=ex&code=3")
        wait_for(lambda: [w for w in self.node.json("/debug/workers")["data"]
                          if w["topic"] == "ex" and w["state"] == "fatal"], 5, what="fatal")
        self.assertEqual(self.node.json("/exitTopic?topic=ex")["code"], 0)
        self.assertEqual(self.node.json("/declareQueue?topic=ex&bindKey=q2")["code"], 0)

    def test_existing_topics_get_workers_at_start(self):
        self.use_topic("ondisk")
        self.assertEqual(self.node.stop(), 0)
        node2 = Node(self, data_dir=self.node.data_dir).start()
        wait_for(lambda: "ondisk" in node2.worker_pids(), 5, what="worker for the topic on disk")

    def test_unknown_path_is_404_json(self):
        status, body = self.node.get("/no/such/path")
        self.assertEqual(status, 404)
        self.assertIn('"code":1', body)


class SignalsTest(unittest.TestCase):
    def test_kill_master_workers_exit(self):
        node = Node(self).start()
        for t in ("a", "b", "c"):
            node.json("/declareQueue?topic=%s&bindKey=q" % t)
        pids = list(node.worker_pids().values())
        self.assertEqual(len(pids), 3)
        node.kill()
        wait_for(lambda: not any(pid_alive(p) for p in pids), 2, what="workers to exit after kill -9 of the master")

    def test_sigterm_exits_zero_and_leaves_nothing(self):
        node = Node(self).start()
        for t in ("a", "b"):
            node.json("/declareQueue?topic=%s&bindKey=q" % t)
        pids = list(node.worker_pids().values()) + [node.proc.pid]
        t0 = time.monotonic()
        self.assertEqual(node.stop(timeout=5), 0)
        self.assertLess(time.monotonic() - t0, 5)
        wait_for(lambda: not any(pid_alive(p) for p in pids), 2, what="no gmq process left")

    def test_sigterm_answers_requests_waiting_for_a_restart(self):
        """A request queued for a topic whose worker is in its respawn
        backoff is answered when the node stops, and nothing is leaked
        (make asan: the chaos run found such requests never freed)."""
        node = Node(self).start()
        for attempt in range(3):
            topic = "bo%d" % attempt
            node.json("/declareQueue?topic=%s&bindKey=q" % topic)
            last = None
            for i in range(4):      # the 4th crash backs off 800 ms (a 5th is a crash loop)
                last = wait_for(lambda: node.worker_pids().get(topic) not in (None, last) and
                                node.worker_pids().get(topic), 10, what="worker up")
                node.json("/debug/crash?topic=%s&code=1" % topic)
            wait_for(lambda: [w for w in node.json("/debug/workers")["data"]
                              if w["topic"] == topic and w["state"] == "backoff"], 5,
                     what="backoff")
            c = node.tcp()
            c.cmd("pub %s q 0" % topic, b"waits for a worker")
            w = [w for w in node.json("/debug/workers")["data"] if w["topic"] == topic][0]
            if w["state"] != "backoff" or not w["pending"]:
                c.close()           # the worker came back first: another topic
                continue
            node.proc.send_signal(signal.SIGTERM)
            self.assertEqual(c.frame(), (102, ("E_UNAVAILABLE - topic %s is shutting down"
                                               % topic).encode()))
            self.assertEqual(node.proc.wait(10), 0)
            c.close()
            return
        self.fail("the request never found the worker in backoff")

    def test_sighup_bad_config_keeps_old(self):
        tmp = tempfile.mkdtemp(prefix="gmqhup-")
        conf = os.path.join(tmp, "gmq.conf")
        with open(conf, "w") as f:
            f.write("log_level = 2\n")
        node = Node(self, config_file=conf).start()
        with open(conf, "w") as f:
            f.write("nod_id = 3\n")
        node.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "not reloaded" in node.read_log(), 5, what="reload error in the log")
        self.assertEqual(node.get("/ping")[1], "OK")
        with open(conf, "w") as f:
            f.write("log_level = 4\n")
        node.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in node.read_log(), 5, what="reload in the log")
        self.assertEqual(node.get("/ping")[1], "OK")


class ConfigErrorsTest(unittest.TestCase):
    def run_master(self, *args):
        p = subprocess.run([MASTER] + list(args), capture_output=True, text=True, timeout=10)
        return p.returncode, p.stderr

    def conf(self, text):
        fd, path = tempfile.mkstemp(suffix=".conf")
        os.write(fd, text.encode())
        os.close(fd)
        self.addCleanup(os.unlink, path)
        return path

    def test_bad_key(self):
        rc, err = self.run_master("-config_file=" + self.conf("nod_id = 3\n"))
        self.assertEqual(rc, 2)
        self.assertIn("nod_id", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_bad_value(self):
        rc, err = self.run_master("-config_file=" + self.conf("node_id = 2000\n"))
        self.assertEqual(rc, 2)
        self.assertIn("node_id", err)
        self.assertIn("2000", err)
        self.assertIn("1..1023", err)

    def test_bad_flag_value(self):
        rc, err = self.run_master("-fsync=sometimes")
        self.assertEqual(rc, 2)
        self.assertIn("fsync", err)
        self.assertIn("always", err)

    def test_missing_file(self):
        rc, err = self.run_master("-config_file=/nonexistent/gmq.conf")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/gmq.conf", err)

    def test_help_and_version(self):
        p = subprocess.run([MASTER, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("gmq-master", p.stdout)
        p = subprocess.run([MASTER, "-h"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("-node_id", p.stdout)

    def test_port_in_use(self):
        node = Node(self).start()
        rc, err = self.run_master("-http_addr=127.0.0.1:%d" % node.http_port,
                                  "-tcp_addr=127.0.0.1:%d" % free_port(),
                                  "-data_save_path=" + node.tmp + "/other")
        self.assertEqual(rc, 2)
        self.assertIn("http_addr", err)
