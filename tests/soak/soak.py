#!/usr/bin/env python3
"""gmq soak: an hour (--seconds) of mixed load with faults, while the RSS,
PSS and open descriptors of the master and of every worker are sampled;
then a check that they stayed flat and that no acknowledged push was lost.

Load, on six topics (queue q each; two of them dead-letter after one
retry), paced at --rate pushes a second in all and a bounded backlog:

  TCP producers    pub, a fifth of them delayed 1..3 s
  HTTP producer    POST /push (form, JSON), a new connection each time
  TCP consumers    pop; then ack (most), release (some, with a delay of
                   0..2 s), or nothing (TTR brings it back, or it goes dead)
  HTTP consumer    /pop, /ack, /release on one keep-alive connection
  janitor          requeue: the dead letters of each topic back to ready

Every client reconnects every 50..500 requests. Faults, one every 10..30
s: kill -9 of a worker of the three "fault" topics (the other three keep
their worker the whole run), SIGHUP with the config file changed, and a
burst of 20..100 connections opened, half-used and dropped.

Every --sample seconds (the bursts held off meanwhile): for the master and
each worker (found by its session and title in /proc) VmRSS, Pss
(smaps_rollup) and the entries of /proc/PID/fd, into samples.csv. The
checks at the end:

  flat       per series — the master, each steady topic's worker, each
             fault topic's workers (a worker restarted by a fault is a new
             process: a fault topic is judged on the maxima of all its
             processes, young and old, in each quarter) — the maximum of
             the last quarter of the run is at most the first quarter's
             maximum plus --rss-margin (%) and --rss-slack (KiB) for RSS,
             plus --fd-slack descriptors for fds
  lost       an acknowledged push never delivered
  damaged    a delivered body that is not the one pushed under its id
  undrained  messages still held after the drain

    python3 tests/soak/soak.py --seconds 3600 --out build/soak   (make soak)

Exit status 0 when every check passed. The node's processes are killed by
PID however the run ends.
"""
import argparse
import csv
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))

import chaos   # noqa: E402  (Node, Conn, make_body, body_key)

MESSAGE, ERROR, RESULT = chaos.MESSAGE, chaos.ERROR, chaos.RESULT
UNKNOWN = chaos.UNKNOWN
STEADY = ["soak0", "soak1", "soak2"]      # their workers are never killed
FAULTY = ["soak3", "soak4", "soak5"]      # their workers are, with kill -9
TOPICS = STEADY + FAULTY
DEAD_AFTER_ONE = {"soak1", "soak4"}       # msg_retry 1: dead letters, requeued
BACKLOG = 2000


class Ledger:
    """what the clients saw, kept small: only pushes not yet finished"""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = {}            # id -> [key, deliveries]: acked push, ack not confirmed
        self.early = set()        # ids acked before their push's reply came
        self.ack_unknown = set()  # ids whose ack's outcome is unknown
        self.pushed = self.refused = self.unknown = 0
        self.deliveries = self.acks = self.releases = self.forgotten = 0
        self.requeued = 0
        self.damaged = []
        self.by_client = {}
        self.errors = {}

    def note_error(self, what, text):
        k = "%s: %s" % (what, text[:60])
        with self.lock:
            self.errors[k] = self.errors.get(k, 0) + 1

    def push_acked(self, mid, key):
        with self.lock:
            self.pushed += 1
            if mid in self.early:
                self.early.discard(mid)
            else:
                self.open[mid] = [key, 0]

    def delivered(self, mid, body):
        key = chaos.body_key(body)
        with self.lock:
            self.deliveries += 1
            e = self.open.get(mid)
            if e is not None:
                e[1] += 1
                if key != e[0]:
                    self.damaged.append("id %d: body %r, pushed %r" % (mid, body[:30], e[0]))
            elif key is None:
                self.damaged.append("id %d: body %r is no body a producer wrote" % (mid, body[:30]))

    def ack_confirmed(self, mid):
        with self.lock:
            self.acks += 1
            if self.open.pop(mid, None) is None:
                self.early.add(mid)

    def backlog(self):
        with self.lock:
            return len(self.open)

    def settled(self):
        """nothing left open but deliveries whose ack's outcome is unknown
        (an ack the node applied before its worker was killed)"""
        with self.lock:
            return all(e[1] > 0 and mid in self.ack_unknown for mid, e in self.open.items())


class Client(threading.Thread):
    """a load thread: reconnects every 50..500 requests and after errors"""

    def __init__(self, name, node, ledger, stop, seed):
        super().__init__(daemon=True, name=name)
        self.node, self.ledger, self.stop = node, ledger, stop
        self.rnd = random.Random(seed)
        self.left = 0              # requests before the next reconnect
        self.reconnects = 0
        self.draining = False      # the drain: ack everything, nothing else

    def pause(self, s):
        self.stop.wait(s)


class TcpClient(Client):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.conn = None

    def conn_get(self):
        if self.conn is not None and self.left <= 0:
            self.drop()
        if self.conn is None:
            self.conn = chaos.Conn(self.node.tcp_port)
            self.left = self.rnd.randint(50, 500)
            self.reconnects += 1
        self.left -= 1
        return self.conn

    def drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, line, body=None):
        """(type, text) of the reply; None if the connection failed"""
        try:
            c = self.conn_get()
            data = line.encode() + b"\n"
            if body is not None:
                data += struct.pack(">I", len(body)) + body
            c.send(data)
            typ, reply = c.frame()
            return typ, reply.decode("utf-8", "replace")
        except (OSError, ConnectionError):
            self.drop()
            return None


class TcpProducer(TcpClient):
    def __init__(self, no, node, ledger, stop, seed, rate, backlog):
        super().__init__("tcp-producer-%d" % no, node, ledger, stop, seed)
        self.no, self.rate, self.max_backlog, self.seq = no, rate, backlog, 0

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            nxt += 1.0 / self.rate
            self.pause(max(0.0, nxt - time.monotonic()))
            while self.ledger.backlog() >= self.max_backlog and not self.stop.is_set():
                self.pause(0.05)
                nxt = time.monotonic()
            self.seq += 1
            key = "t%d-%d" % (self.no, self.seq)
            topic = self.rnd.choice(TOPICS)
            delay = self.rnd.randint(1, 3) if self.rnd.random() < 0.2 else 0
            r = self.call("pub %s q %d" % (topic, delay), chaos.make_body(key).encode())
            push_reply(self.ledger, "pub", key, r)
            if r is None or r[0] != RESULT:
                self.pause(0.02)
        self.drop()


def push_reply(ledger, what, key, r):
    """record a push's reply: (type, text), or None for a dropped connection"""
    if r is None:
        with ledger.lock:
            ledger.unknown += 1
    elif r[0] == RESULT:
        ledger.push_acked(int(r[1]), key)
    else:
        with ledger.lock:
            if UNKNOWN in r[1]:
                ledger.unknown += 1
            else:
                ledger.refused += 1
        ledger.note_error(what, r[1])


class TcpConsumer(TcpClient):
    def __init__(self, no, node, ledger, stop, seed):
        super().__init__("tcp-consumer-%d" % no, node, ledger, stop, seed)

    def run(self):
        i = self.rnd.randrange(len(TOPICS))
        empty = 0
        while not self.stop.is_set():
            i = (i + 1) % len(TOPICS)
            topic = TOPICS[i]
            r = self.call("pop %s q 0" % topic)
            if r is None or r[0] != MESSAGE:
                if r is not None and r[1] != "no message":
                    self.ledger.note_error("pop", r[1])
                empty += 1
                if empty >= len(TOPICS):
                    empty = 0
                    self.pause(0.05)
                continue
            empty = 0
            m = json.loads(r[1])
            mid = int(m["id"])
            self.ledger.delivered(mid, m["body"])
            x = 1.0 if self.draining else self.rnd.random()
            if x < 0.03:
                with self.ledger.lock:
                    self.ledger.forgotten += 1
                continue
            if x < 0.08:
                r = self.call("release %s q %d %d" % (topic, mid, self.rnd.randint(0, 2)))
                if r is not None and r[0] == RESULT:
                    with self.ledger.lock:
                        self.ledger.releases += 1
                    continue
            r = self.call("ack %d %s q" % (mid, topic))
            ack_reply(self.ledger, mid, r)
        self.drop()


def ack_reply(ledger, mid, r):
    if r is not None and r[0] == RESULT:
        ledger.ack_confirmed(mid)
        return
    if r is None or UNKNOWN in r[1]:
        with ledger.lock:
            ledger.ack_unknown.add(mid)
    if r is not None:
        ledger.note_error("ack", r[1])


class HttpClient(Client):
    """one keep-alive connection (reconnected like the TCP clients), or a
    new connection per request (fresh=True)"""

    def __init__(self, name, node, ledger, stop, seed, fresh=False):
        super().__init__(name, node, ledger, stop, seed)
        self.fresh = fresh
        self.conn = None

    def request(self, method, path, body=None):
        """the reply's JSON, or None"""
        if self.conn is not None and (self.fresh or self.left <= 0):
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.node.http_port, timeout=10)
            self.left = self.rnd.randint(50, 500)
            self.reconnects += 1
        self.left -= 1
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
            return json.loads(data)
        except (OSError, http.client.HTTPException, ValueError):
            self.conn.close()
            self.conn = None
            return None


class HttpProducer(HttpClient):
    def __init__(self, node, ledger, stop, seed, rate, backlog):
        super().__init__("http-producer", node, ledger, stop, seed, fresh=True)
        self.rate, self.max_backlog, self.seq = rate, backlog, 0

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            nxt += 1.0 / self.rate
            self.pause(max(0.0, nxt - time.monotonic()))
            while self.ledger.backlog() >= self.max_backlog and not self.stop.is_set():
                self.pause(0.05)
                nxt = time.monotonic()
            self.seq += 1
            key = "h-%d" % self.seq
            topic = self.rnd.choice(TOPICS)
            delay = self.rnd.randint(1, 3) if self.rnd.random() < 0.2 else 0
            data = urllib.parse.urlencode({"data": json.dumps(
                {"body": chaos.make_body(key), "topic": topic, "delay": delay,
                 "route_key": "q"})})
            j = self.request("POST", "/push", data)
            if j is None:
                r = None
            elif j.get("code") == 0:
                r = (RESULT, j["data"]["msgId"])
            else:
                r = (ERROR, j.get("msg") or "")
            push_reply(self.ledger, "/push", key, r)
            if r is None or r[0] != RESULT:
                self.pause(0.02)


class HttpConsumer(HttpClient):
    def __init__(self, node, ledger, stop, seed):
        super().__init__("http-consumer", node, ledger, stop, seed)

    def run(self):
        i = 0
        empty = 0
        while not self.stop.is_set():
            i = (i + 1) % len(TOPICS)
            topic = TOPICS[i]
            j = self.request("GET", "/pop?topic=%s&bindKey=q" % topic)
            if j is None or j.get("code") != 0:
                if j is not None and j.get("msg") != "no message":
                    self.ledger.note_error("/pop", j.get("msg") or "")
                empty += 1
                if empty >= len(TOPICS):
                    empty = 0
                    self.pause(0.05)
                continue
            empty = 0
            mid = int(j["data"]["id"])
            self.ledger.delivered(mid, j["data"]["body"])
            if not self.draining and self.rnd.random() < 0.05:
                j = self.request("GET", "/release?topic=%s&bindKey=q&msgId=%d&delay=%d"
                                 % (topic, mid, self.rnd.randint(0, 2)))
                if j is not None and j.get("code") == 0:
                    with self.ledger.lock:
                        self.ledger.releases += 1
                    continue
            j = self.request("GET", "/ack?msgId=%d&topic=%s&bindKey=q" % (mid, topic))
            if j is None:
                ack_reply(self.ledger, mid, None)
            elif j.get("code") == 0:
                ack_reply(self.ledger, mid, (RESULT, "ok"))
            else:
                ack_reply(self.ledger, mid, (ERROR, j.get("msg") or ""))


class Janitor(TcpClient):
    """requeue: dead letters back to ready, every second on each topic"""

    def __init__(self, node, ledger, stop, seed):
        super().__init__("janitor", node, ledger, stop, seed)

    def run(self):
        while not self.stop.is_set():
            for t in sorted(DEAD_AFTER_ONE):
                r = self.call("requeue %s q" % t)
                if r is not None and r[0] == RESULT:
                    n = json.loads(r[1]).get("requeued", 0)
                    with self.ledger.lock:
                        self.ledger.requeued += n
                elif r is not None and "no dead letters" not in r[1]:
                    self.ledger.note_error("requeue", r[1])
            self.pause(1.0)
        self.drop()


def proc_sample(pid):
    """(rss_kb, pss_kb, fds) of a live process, None if it is gone"""
    try:
        rss = pss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, ValueError):
        return None
    return rss, pss, fds


def node_processes(sid):
    """[(pid, role, topic)] of the node's session: the master and its workers"""
    res = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        if chaos.session_of(pid) != sid:
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                title = f.read().split(b"\0")[0].decode("utf-8", "replace")
        except OSError:
            continue
        if title.startswith("gmq-worker: "):
            res.append((pid, "worker", title[len("gmq-worker: "):].strip()))
        elif pid == sid:
            res.append((pid, "master", ""))
    return res


class Nemesis(threading.Thread):
    def __init__(self, node, ledger, stop, seed, quiet, log):
        super().__init__(daemon=True, name="nemesis")
        self.node, self.ledger, self.stop, self.quiet, self.log = node, ledger, stop, quiet, log
        self.rnd = random.Random(seed)
        self.counts = {"kill9_worker": 0, "sighup": 0, "conn_burst": 0}
        self.kill_times = {}

    def run(self):
        while not self.stop.wait(self.rnd.uniform(10, 30)):
            k = self.rnd.choices(list(self.counts), weights=[50, 25, 25])[0]
            try:
                getattr(self, k)()
            except OSError as e:
                self.log("nemesis %s: %s" % (k, e))

    def kill9_worker(self):
        now = time.monotonic()
        procs = [(p, t) for p, role, t in node_processes(self.node.session)
                 if role == "worker" and t in FAULTY
                 and len([x for x in self.kill_times.get(t, []) if now - x < 31]) < 3]
        if not procs:
            return
        pid, topic = self.rnd.choice(procs)
        if chaos.session_of(pid) == self.node.session:
            os.kill(pid, signal.SIGKILL)
            self.counts["kill9_worker"] += 1
            self.kill_times.setdefault(topic, []).append(now)

    def sighup(self):
        self.node.conf_variant ^= 1
        self.node.write_conf()
        self.node.proc.send_signal(signal.SIGHUP)
        self.counts["sighup"] += 1

    def conn_burst(self):
        """connections opened, some half a command or request sent, dropped"""
        with self.quiet:
            socks = []
            for _ in range(self.rnd.randint(20, 100)):
                port = self.rnd.choice([self.node.tcp_port, self.node.http_port])
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    continue
                socks.append(s)
                try:
                    if self.rnd.random() < 0.5:
                        s.sendall(b"pub soak0 q 0\n\x00\x00" if port == self.node.tcp_port
                                  else b"GET /ping HTTP/1.1\r\nHost: x")
                except OSError:
                    pass
            for s in socks:
                s.close()
            time.sleep(0.5)          # the master notices the closes
        self.counts["conn_burst"] += 1


def declare(node):
    c = chaos.Conn(node.tcp_port)
    for t in TOPICS:
        retry = 1 if t in DEAD_AFTER_ONE else chaos.RETRY
        for line in ("queue %s q\n" % t, "set %s 0 1 %d %d\n" % (t, chaos.TTR, retry)):
            c.send(line.encode())
            typ, reply = c.frame()
            if typ != RESULT and b"has exist" not in reply:
                raise RuntimeError("%s: %s" % (line.strip(), reply.decode("utf-8", "replace")))
    c.close()


def held(node):
    n = 0
    for t in TOPICS:
        d = node.json("/getTopicStat?topic=%s" % t)["data"]
        n += d["queue_msg_num"] + d["wait_ack_num"] + d["delay_num"] + d["dead_num"]
    return n


def flatness(rows, seconds, rss_margin, rss_slack, fd_slack):
    """per series: first and last quarter maxima and the verdict"""
    series = {}
    for r in rows:
        if r["role"] == "master":
            name = "master"
        elif r["topic"] in STEADY:
            name = "worker %s" % r["topic"]
        else:
            name = "workers %s" % r["topic"]
        series.setdefault(name, []).append(r)
    q1, q4 = seconds / 4.0, seconds * 3 / 4.0
    out = {}
    for name, rs in sorted(series.items()):
        first = [r for r in rs if r["t"] < q1]
        last = [r for r in rs if r["t"] >= q4]
        pids = sorted({r["pid"] for r in rs})
        v = {"processes": len(pids)}
        if not first or not last:
            v["ok"] = False
            v["why"] = "no samples in the first or the last quarter"
            out[name] = v
            continue
        for k in ("rss_kb", "pss_kb", "fds"):
            v[k] = [max(r[k] for r in first), max(r[k] for r in last)]
        rss_lim = v["rss_kb"][0] * (1 + rss_margin / 100.0) + rss_slack
        fd_lim = v["fds"][0] + fd_slack
        v["rss_limit_kb"] = int(rss_lim)
        v["fd_limit"] = fd_lim
        v["ok"] = v["rss_kb"][1] <= rss_lim and v["fds"][1] <= fd_lim
        if name.startswith("worker ") or name == "master":
            # one process throughout: the slope of its RSS over the last
            # three quarters, for the record (KiB a minute)
            pts = [(r["t"], r["rss_kb"]) for r in rs if r["t"] >= q1]
            if len(pts) > 2:
                mt = sum(t for t, _ in pts) / len(pts)
                mr = sum(x for _, x in pts) / len(pts)
                den = sum((t - mt) ** 2 for t, _ in pts)
                v["rss_slope_kb_min"] = round(60 * sum((t - mt) * (x - mr) for t, x in pts) / den, 2) \
                    if den else 0.0
            if len(pids) != 1:
                v["ok"] = False
                v["why"] = "expected one process, saw %d" % len(pids)
        out[name] = v
    return out


def table(rows, every):
    """a compact table: at each `every` seconds, each series' RSS (MiB) and fds"""
    cols = ["master"] + ["w:" + t for t in TOPICS]
    buckets = {}
    for r in rows:
        b = int(r["t"] // every)
        col = "master" if r["role"] == "master" else "w:" + r["topic"]
        cur = buckets.setdefault(b, {})
        # the sample nearest the start of the bucket: the first one seen
        cur.setdefault(col, (r["rss_kb"], r["fds"], r["t"]))
    unit, div = ("min", 60) if every >= 60 else ("s", 1)
    lines = ["| t (%s) | " % unit + " | ".join(c + " RSS MiB / fds" for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for b in sorted(buckets):
        cells = []
        for c in cols:
            x = buckets[b].get(c)
            cells.append("%.1f / %d" % (x[0] / 1024.0, x[1]) if x else "–")
        lines.append("| %d | %s |" % (b * every // div, " | ".join(cells)))
    return "\n".join(lines)


def run(seconds, build, out_dir, sample, rate, backlog, seed, rss_margin, rss_slack, fd_slack,
        drain_timeout=180, log_out=sys.stdout):
    seed = seed if seed is not None else random.randrange(1 << 30)
    os.makedirs(out_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="gmq-soak-")
    started = time.monotonic()

    def log(msg):
        log_out.write("[%7.1f] %s\n" % (time.monotonic() - started, msg))
        log_out.flush()

    log("soak: %ds, rate %d/s, sample every %ds, seed %d, workdir %s, out %s"
        % (seconds, rate, sample, seed, workdir, out_dir))
    node = chaos.Node(build, workdir, os.path.join(workdir, "no-enospc"))
    ledger = Ledger()
    stop_load, stop_cons, stop_nem = threading.Event(), threading.Event(), threading.Event()
    quiet = threading.Lock()
    threads = []
    rows = []
    csv_path = os.path.join(out_dir, "samples.csv")
    fails = {}
    try:
        node.start()
        declare(node)
        rnd = random.Random(seed)
        prods = [TcpProducer(i, node, ledger, stop_load, rnd.random(), rate * 0.4, backlog)
                 for i in range(2)]
        prods.append(HttpProducer(node, ledger, stop_load, rnd.random(), rate * 0.2, backlog))
        cons = [TcpConsumer(i, node, ledger, stop_cons, rnd.random()) for i in range(2)]
        cons.append(HttpConsumer(node, ledger, stop_cons, rnd.random()))
        jan = Janitor(node, ledger, stop_cons, rnd.random())
        nem = Nemesis(node, ledger, stop_nem, rnd.random(), quiet, log)
        threads = prods + cons + [jan, nem]
        for th in threads:
            th.start()
        t0 = time.monotonic()
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t", "role", "topic", "pid", "rss_kb", "pss_kb", "fds"])
            nxt = t0
            last_log = t0
            while True:
                now = time.monotonic()
                if now - t0 >= seconds:
                    break
                if not node.alive():
                    raise RuntimeError("gmq-master died; see " + node.log_path)
                with quiet:
                    t = round(time.monotonic() - t0, 1)
                    for pid, role, topic in node_processes(node.session):
                        s = proc_sample(pid)
                        if s is None or s[0] is None or s[1] is None:
                            continue
                        row = {"t": t, "role": role, "topic": topic, "pid": pid,
                               "rss_kb": s[0], "pss_kb": s[1], "fds": s[2]}
                        rows.append(row)
                        w.writerow([t, role, topic, pid, s[0], s[1], s[2]])
                f.flush()
                if now - last_log >= 60:
                    last_log = now
                    m = [r for r in rows if r["t"] == t and r["role"] == "master"]
                    with ledger.lock:
                        log("pushed %d (refused %d, unknown %d), delivered %d, acked %d, "
                            "backlog %d, faults %s, master rss %s KiB fds %s"
                            % (ledger.pushed, ledger.refused, ledger.unknown, ledger.deliveries,
                               ledger.acks, len(ledger.open), nem.counts,
                               m[0]["rss_kb"] if m else "?", m[0]["fds"] if m else "?"))
                nxt += sample
                time.sleep(max(0.0, nxt - time.monotonic()))
        load_s = time.monotonic() - t0
        stop_nem.set()
        nem.join(60)
        stop_load.set()
        for th in prods:
            th.join(30)
        log("load stopped after %.0fs; draining" % load_s)
        for c in cons:
            c.draining = True
        deadline = time.monotonic() + drain_timeout
        empty = 0
        left = -1
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                left = held(node)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            empty = empty + 1 if left == 0 and ledger.settled() else 0
            if empty >= 3:
                break
        stop_cons.set()
        for th in cons + [jan]:
            th.join(30)
        if left != 0:
            fails["undrained"] = ["%d messages still held after %ds of drain" % (left, drain_timeout)]
        node.stop()
    finally:
        stop_load.set()
        stop_cons.set()
        stop_nem.set()
        node.kill_all()
        for th in threads:
            th.join(10)
    lost = [(mid, e[0]) for mid, e in ledger.open.items() if e[1] == 0]
    unconfirmed = [mid for mid, e in ledger.open.items() if e[1] > 0]
    if lost:
        fails["lost"] = ["id %d (%s) acknowledged, never delivered" % x for x in lost[:10]]
    bad_unconfirmed = [m for m in unconfirmed if m not in ledger.ack_unknown]
    if bad_unconfirmed:
        fails["unacked"] = ["id %d delivered, never acked, and gone after the drain" % m
                            for m in bad_unconfirmed[:10]]
    if ledger.damaged:
        fails["damaged"] = ledger.damaged[:10]
    flat = flatness(rows, seconds, rss_margin, rss_slack, fd_slack)
    bad_flat = ["%s: %s" % (k, v) for k, v in flat.items() if not v["ok"]]
    if bad_flat:
        fails["not_flat"] = bad_flat
    with open(node.log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    bad = [x for x in chaos.SANITIZER_REPORTS if x in text]
    if bad:
        fails["sanitizer"] = bad
    report = {
        "ok": not fails,
        "seconds": seconds,
        "seed": seed,
        "rate": rate,
        "sample_s": sample,
        "margins": {"rss_pct": rss_margin, "rss_slack_kb": rss_slack, "fd_slack": fd_slack},
        "faults": dict(nem.counts),
        "figures": {
            "pushes_acked": ledger.pushed, "pushes_refused": ledger.refused,
            "pushes_unknown": ledger.unknown, "deliveries": ledger.deliveries,
            "acks_confirmed": ledger.acks, "acks_unknown": len(ledger.ack_unknown),
            "releases": ledger.releases, "forgotten": ledger.forgotten,
            "requeued_dead_letters": ledger.requeued,
            "delivered_ack_unknown_left": len(unconfirmed),
            "reconnects": sum(getattr(t, "reconnects", 0) for t in threads),
        },
        "flat": flat,
        "failures": {k: len(v) for k, v in fails.items()},
        "examples": fails,
        "errors_seen": dict(sorted(ledger.errors.items(), key=lambda kv: -kv[1])[:15]),
        "samples": len(rows),
        "csv": csv_path,
        "workdir": workdir,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    every = 300 if seconds >= 1800 else max(sample, seconds // 12)
    report["table"] = table(rows, every)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(report["table"] + "\n")
    log("report: " + json.dumps({k: v for k, v in report.items() if k != "table"}, indent=1))
    log("samples (every %ds):\n%s" % (every, report["table"]))
    if report["ok"]:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        shutil.copy(node.log_path, os.path.join(out_dir, "gmq.log"))
    return report


def on_sigterm(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", 3600)))
    ap.add_argument("--build", default=os.environ.get("GMQ_BUILD", "build"))
    ap.add_argument("--out", default=None, help="where samples.csv and report.json go "
                    "(default BUILD/soak)")
    ap.add_argument("--sample", type=int, default=10, help="seconds between samples")
    ap.add_argument("--rate", type=int, default=200, help="pushes a second, all producers")
    ap.add_argument("--backlog", type=int, default=BACKLOG)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--rss-margin", type=float, default=10.0, help="percent")
    ap.add_argument("--rss-slack", type=int, default=2048, help="KiB")
    ap.add_argument("--fd-slack", type=int, default=4)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        report = run(a.seconds, a.build, a.out or os.path.join(a.build, "soak"), a.sample, a.rate,
                     a.backlog, a.seed, a.rss_margin, a.rss_slack, a.fd_slack)
    except KeyboardInterrupt as e:
        print("soak: interrupted (%s); the node was stopped" % (e or "Ctrl-C"), file=sys.stderr)
        return 130
    print("soak: %s" % ("ok" if report["ok"] else "FAILED: %s" % report["failures"]))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
