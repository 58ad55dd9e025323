"""Helpers for gmq integration tests: free ports, a real gmq-master process
(started on 127.0.0.1 with its own data dir, stopped by PID even on failure),
HTTP and TCP clients."""
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("GMQ_BUILD", "build"))
MASTER = os.path.join(BUILD, "gmq-master")
GMQCTL = os.path.join(BUILD, "gmqctl")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# what a sanitizer build writes on stderr (the node's log) when it finds
# something: any of these fails the test that ran the node
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "LeakSanitizer has encountered a fatal error")


def session_pids(sid):
    """the live gmq processes of session sid: a master started with
    start_new_session leads one, and its workers are in it"""
    res = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                arg0 = f.read().split(b"\0")[0]
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid and b"gmq-" in arg0:
            res.append(int(d))
    return res


def gmq_processes():
    """pids of every gmq-master / gmq-worker process on the machine."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if args.startswith("gmq-master") or args.startswith("gmq-worker"):
            res[int(pid)] = args
    return res


class Node:
    """One gmq-master on free loopback ports with a temporary data dir."""

    def __init__(self, test=None, args=None, env=None, data_dir=None, config_file=None,
                 tcp_port=None, http_port=None, tls_context=None, auth_token=None, master=None):
        """tls_context: an ssl.SSLContext for clients of a node with http_tls
        and/or tcp_tls on (used by get() when http_tls is on and by tcp() when
        tcp_tls is on); auth_token: sent by get() as Authorization: Bearer."""
        self.tmp = tempfile.mkdtemp(prefix="gmqtest-")
        self.master = master or MASTER
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.tcp_port = tcp_port or free_port()
        self.http_port = http_port or free_port()
        self.args = list(args or [])
        self.config_file = config_file
        self.env = dict(os.environ)
        self.env["GMQ_TEST_HOOKS"] = "1"
        # under AddressSanitizer freed memory waits in a quarantine (256 MB by
        # default): keep it small so tests that bound RSS measure the node
        asan = self.env.get("ASAN_OPTIONS", "")
        if "quarantine_size_mb" not in asan:
            self.env["ASAN_OPTIONS"] = "quarantine_size_mb=16" + (":" + asan if asan else "")
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(self.tmp, "gmq.log")
        self.log = None
        self.tls_context = tls_context
        self.auth_token = auth_token
        self.http_tls = "-http_tls=on" in self.args
        self.tcp_tls = "-tcp_tls=on" in self.args
        if test is not None:
            test.addCleanup(self.cleanup)

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.http_tls else "http", self.http_port)

    def command(self):
        cmd = [self.master]
        if self.config_file:
            cmd.append("-config_file=" + self.config_file)
        cmd += ["-tcp_addr=127.0.0.1:%d" % self.tcp_port,
                "-http_addr=127.0.0.1:%d" % self.http_port,
                "-data_save_path=" + self.data_dir, "-log_level=3"]
        return cmd + self.args

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10.0):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError("gmq-master exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                return self.get("/ping", timeout=1)[1] == "OK"
            except OSError:
                return False
        wait_for(up, timeout, what="gmq-master /ping")

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._close_log()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def _close_log(self):
        if self.log:
            self.log.close()
            self.log = None

    def worker_pids(self):
        return {w["topic"]: w["pid"] for w in self.json("/debug/workers")["data"] if w["pid"] > 0}

    def shutdown(self, timeout=30.0):
        """The end of every node: SIGTERM to the master, so that it and its
        workers exit normally (a sanitizer build checks for leaks as each
        process exits), SIGKILL if it does not within timeout; then every
        process of its session (workers leave when their master is gone)
        waited for, and killed by PID if one is still there after timeout."""
        if self.proc is None:
            return
        sid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        deadline = time.monotonic() + timeout
        while session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in session_pids(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close_log()

    def sanitizer_report(self):
        """the node's log if a sanitizer reported something in it (in the
        master or any worker), else None"""
        log = self.read_log()
        return log if any(bad in log for bad in SANITIZER_REPORTS) else None

    def cleanup(self):
        try:
            self.shutdown()
            log = self.sanitizer_report()
            if log is not None:
                raise AssertionError("sanitizer report in the node's log:\n" + log[-6000:])
        finally:
            subprocess.run(["rm", "-rf", self.tmp])

    # --- HTTP ---
    def get(self, path, timeout=10, data=None, headers=None, method=None):
        headers = dict(headers or {})
        if self.auth_token is not None and "Authorization" not in headers:
            headers["Authorization"] = "Bearer " + self.auth_token
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        ctx = self.tls_context if self.http_tls else None
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def json(self, path, **kw):
        status, body = self.get(path, **kw)
        return json.loads(body)

    def post_form(self, path, fields, timeout=10):
        data = urllib.parse.urlencode(fields).encode()
        status, body = self.get(path, data=data, timeout=timeout,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        return json.loads(body)

    def push(self, topic, body, route_key="", delay=0):
        return self.post_form("/push", {"data": json.dumps(
            {"body": body, "topic": topic, "delay": delay, "route_key": route_key})})

    def tcp(self, timeout=10, tls_context=None):
        """a TcpClient; over TLS when tcp_tls is on (the node's tls_context
        unless another is given)"""
        ctx = tls_context or (self.tls_context if self.tcp_tls else None)
        return TcpClient(self.tcp_port, timeout, ctx)

    # --- the master process, as the kernel sees it ---
    def master_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def master_conns(self):
        """(client connections open in the master, connections waiting in its
        listen backlogs), from /proc: asking the node would open another one"""
        inodes = set()
        fddir = "/proc/%d/fd" % self.proc.pid
        for fd in os.listdir(fddir):
            try:
                t = os.readlink(os.path.join(fddir, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
        ports = {self.tcp_port, self.http_port}
        conns = backlog = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                x = line.split()
                port = int(x[1].split(":")[1], 16)
                if port not in ports:
                    continue
                if x[3] == "0A":
                    backlog += int(x[4].split(":")[1], 16) if x[9] in inodes else 0
                elif x[9] in inodes:
                    conns += 1
        return conns, backlog

    def master_rss(self):
        """VmRSS of the master in bytes"""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for pid %d" % self.proc.pid)


class TcpClient:
    """The gmq v2 TCP protocol: command lines, u32 bodies, typed frames.
    With an ssl.SSLContext the socket is TLS-wrapped (handshake done here)."""

    def __init__(self, port, timeout=10, ssl_context=None, server_hostname="localhost"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if ssl_context is not None:
            try:
                self.sock = ssl_context.wrap_socket(self.sock, server_hostname=server_hostname)
            except BaseException:
                self.sock.close()
                raise
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, line, body=None):
        data = line.encode() + b"\n"
        if body is not None:
            data += struct.pack(">I", len(body)) + body
        self.send(data)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        typ, n = struct.unpack(">HI", self._read(6))
        return typ, self._read(n)

    def closed(self, timeout=5):
        """True if the server closes the connection (after any pending frames)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except ssl.SSLError:
            return True    # a TLS alert or an unclean end of the session: the server closed


class NodeTest(unittest.TestCase):
    """A test case with a started node in self.node."""
    node_args = []

    def setUp(self):
        self.node = Node(self, args=self.node_args).start()
