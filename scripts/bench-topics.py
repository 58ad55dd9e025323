#!/usr/bin/env python3
"""bench-topics.py - `make bench-scale`, many topics on one node: creates
TOPICS topics with one 100-byte message each (pipelined over one TCP
connection), measures the idle PSS of the master and every worker, stops the
node (SIGTERM), starts it again and measures how long until every worker is
serving (a pop answered with its message, for every topic) and the idle PSS
again. Prints one JSON object. Every process it starts is stopped by PID.

    bench-topics.py <build dir> <data dir> <topics>
"""
import json, os, signal, socket, struct, subprocess, sys, time, urllib.request

BUILD, DATA, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
BATCH = 500


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Node:
    def __init__(self):
        self.tcp, self.http = free_port(), free_port()
        self.p = None

    def start(self):
        self.p = subprocess.Popen([os.path.join(BUILD, "gmq-master"), "-tcp_addr=127.0.0.1:%d" % self.tcp,
                                   "-http_addr=127.0.0.1:%d" % self.http, "-data_save_path=" + DATA,
                                   "-max_topics=%d" % max(N, 256), "-log_level=1"],
                                  stdout=open(DATA + ".log", "a"), stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.http, timeout=5).read()
                return
            except OSError:
                if self.p.poll() is not None or time.monotonic() - t0 > 60:
                    sys.exit("gmq-master did not start")
                time.sleep(0.01)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=300)

    def pss_kb(self):
        pids = [self.p.pid] + [int(x) for x in open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)).read().split()]
        tot = 0
        for pid in pids:
            try:
                for l in open("/proc/%d/smaps_rollup" % pid):
                    if l.startswith("Pss:"):
                        tot += int(l.split()[1])
            except OSError:
                pass
        return len(pids), tot


class Tcp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def frame(self):
        while True:
            if len(self.buf) >= 6:
                typ, n = struct.unpack(">HI", self.buf[:6])
                if len(self.buf) >= 6 + n:
                    d = self.buf[6:6 + n]
                    self.buf = self.buf[6 + n:]
                    return typ, d
            chunk = self.s.recv(1 << 16)
            if not chunk:
                sys.exit("connection closed")
            self.buf += chunk


def each_topic(c, make, replies):
    for s in range(0, N, BATCH):
        c.send(b"".join(make("t%05d" % i) for i in range(s, min(N, s + BATCH))))
        for i in range(s, min(N, s + BATCH)):
            for _ in range(replies):
                typ, d = c.frame()
                while typ == 105:            # keepalive while a pop waits
                    typ, d = c.frame()
                if typ not in (101, 103):
                    sys.exit("t%05d: %d %r" % (i, typ, d))


body = b"x" * 100
n = Node()
try:
    n.start()
    c = Tcp(n.tcp)
    t0 = time.monotonic()
    each_topic(c, lambda t: b"queue %s q\npub %s q 0\n" % (t.encode(), t.encode()) +
               struct.pack(">I", len(body)) + body, 2)
    created = time.monotonic() - t0
    time.sleep(5)
    procs, pss = n.pss_kb()
    n.stop()
    t0 = time.monotonic()
    n.start()
    ping = time.monotonic() - t0
    c = Tcp(n.tcp)
    each_topic(c, lambda t: b"pop %s q 30\n" % t.encode(), 1)
    serving = time.monotonic() - t0
    time.sleep(5)
    procs2, pss2 = n.pss_kb()
    print(json.dumps({"topics": N, "created_s": round(created, 1), "processes": procs,
                      "idle_pss_kb": pss, "restart_ping_s": round(ping, 2),
                      "restart_all_serving_s": round(serving, 1), "idle_pss_after_restart_kb": pss2}))
finally:
    if n.p is not None and n.p.poll() is None:
        n.p.kill()
        n.p.wait()
