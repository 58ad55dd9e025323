"""Helpers for cluster tests: a real Debian etcd on free 127.0.0.1 ports with its own
data directory, processes stopped by PID, and bounded polling instead of sleeps."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("GMQ_BUILD", "build"))
GMQCTL = os.path.join(BUILD, "gmqctl")
DRIVER = os.path.join(BUILD, "tests", "etcd_driver")
ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; return it, or raise after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = cond()
        except Exception as exc:  # a poll that raises counts as "not yet"
            last = None
            err = exc
        else:
            err = None
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s"
                                 % (timeout, what, " (%s)" % err if err else ""))
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=5):
    """Signal proc by PID and reap it; SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=5)


def make_tls(directory):
    """A throwaway CA and a server certificate for IP 127.0.0.1 (openssl CLI).
    Returns (ca_file, cert_file, key_file)."""
    ca_key, ca_crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr = os.path.join(directory, "server.key"), os.path.join(directory, "server.csr")
    crt, ext = os.path.join(directory, "server.crt"), os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run = lambda *a: subprocess.run(["openssl"] + list(a), check=True, capture_output=True,
                                    timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
        "-days", "1", "-subj", "/CN=gmq-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "1", "-extfile", ext)
    return ca_crt, crt, key


class Etcd:
    """One etcd member on 127.0.0.1 free ports; restartable with the same data dir.
    tls=True serves the client URL over https with a throwaway CA (self.ca_file)."""

    def __init__(self, name="gmqtest", tls=False):
        self.name = name
        self.tls = tls
        self.tmp = tempfile.mkdtemp(prefix="gmq-etcd-")
        self.ca_file = None
        if tls:
            self.ca_file, self.cert_file, self.key_file = make_tls(self.tmp)
        self.data_dir = os.path.join(self.tmp, "etcd")
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.tmp, "etcd.log")

    @property
    def endpoint(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.client_port)

    def _open(self, req, timeout):
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.tls else None
        return urllib.request.urlopen(req, timeout=timeout, context=ctx)

    def start(self, timeout=15):
        peer = "http://127.0.0.1:%d" % self.peer_port
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [ETCD, "--name", self.name, "--data-dir", self.data_dir,
             "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", "%s=%s" % (self.name, peer)]
            + (["--cert-file", self.cert_file, "--key-file", self.key_file] if self.tls else []),
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(self.healthy, timeout, what="etcd /health")
        return self

    def healthy(self):
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError("etcd exited, see %s" % self.log_path)
        try:
            with self._open(self.endpoint + "/health", 1) as r:
                return json.loads(r.read().decode()).get("health") == "true"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self, sig=signal.SIGTERM):
        stop_process(self.proc, sig)
        self.proc = None

    def restart(self, timeout=15):
        self.stop()
        return self.start(timeout)

    def cleanup(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def post(self, path, body):
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with self._open(req, 3) as r:
            return json.loads(r.read().decode())


def gmqctl(*args, timeout=10):
    """Run build/gmqctl; returns (rc, stdout, stderr)."""
    p = subprocess.run([GMQCTL] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def nodes(etcd_url, cacert=None):
    """The node list as gmqctl nodes --json shows it, or None when gmqctl fails."""
    extra = ["--cacert", cacert] if cacert else []
    rc, out, _ = gmqctl("--etcd", etcd_url, "--timeout", "1", *extra, "nodes", "--json")
    if rc != 0:
        return None
    return json.loads(out)


def node_ids(etcd_url):
    n = nodes(etcd_url)
    return None if n is None else sorted(int(x["node_id"]) for x in n)


class Driver:
    """build/tests/etcd_driver: master/etcd.c alone on a libev loop."""

    def __init__(self, endpoints, node_id, ttl=2, weight=1, tcp_addr=None, http_addr=None,
                 extra=()):
        self.node_id = node_id
        self.tmp = tempfile.mkdtemp(prefix="gmq-driver-")
        self.out_path = os.path.join(self.tmp, "stdout")
        self.err_path = os.path.join(self.tmp, "stderr")
        args = [DRIVER, "--endpoints", endpoints, "--ttl", str(ttl), "--node-id", str(node_id),
                "--weight", str(weight), "--log-level", "3"]
        if tcp_addr:
            args += ["--tcp-addr", tcp_addr]
        if http_addr:
            args += ["--http-addr", http_addr]
        args += list(extra)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err)

    def states(self):
        """The status JSON lines printed so far (one per state change)."""
        with open(self.out_path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def state(self):
        s = self.states()
        return s[-1]["state"] if s else None

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_state(self, state, timeout):
        return wait_until(lambda: self.state() == state, timeout,
                          what="driver %d state %s (now %s)" % (self.node_id, state, self.state()))

    def stop(self, sig=signal.SIGTERM, timeout=5):
        return stop_process(self.proc, sig, timeout)

    def cleanup(self):
        stop_process(self.proc, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)
