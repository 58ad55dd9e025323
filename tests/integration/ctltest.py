"""What the gmqctl integration tests share (test_gmqctl.py,
test_gmqctl_access.py): gmqctl run with a clean environment, its tables as
cells, a skip for endpoints a node does not serve yet, and CtlCase, one
node for a whole class."""
import functools
import json
import os
import subprocess
import unittest

from gmqtest import GMQCTL, MASTER, Node

ENV_KEYS = ("GMQ_SERVER", "GMQ_ETCD", "GMQ_TOKEN")
NUM = r"^\d+$"            # a cell holding a count


def ctl(*args, env=None, input=None, timeout=30):
    """Run gmqctl with a clean environment (plus env); returns (rc, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    e.update(env or {})
    p = subprocess.run([GMQCTL] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, env=e, input=input)
    return p.returncode, p.stdout, p.stderr


def table(out):
    """a table's rows as lists of cells (cells are two spaces apart at least)"""
    import re
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


def requires(path):
    """Skip the test while the class's node does not serve path (GET answers 404)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            if not self.serves(path):
                self.skipTest("the node does not serve %s yet" % path)
            return fn(self, *a, **kw)
        return wrapper
    return deco


class CtlCase(unittest.TestCase):
    """One node for the whole class; each test uses its own topics."""
    node_args = []
    node_kw = {}

    @classmethod
    def setUpClass(cls):
        for path in (MASTER, GMQCTL):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s not built" % path)
        cls.node = Node(None, args=cls.node_args, **cls.node_kw).start()
        cls.served = {}

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def serves(self, path):
        if path not in self.served:
            self.served[path] = self.node.get(path)[0] != 404
        return self.served[path]

    def ctl(self, *args, **kw):
        return ctl("--server", self.node.base, *args, **kw)

    def ok(self, *args, **kw):
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, 0, "gmqctl %s: %s" % (" ".join(map(str, args)), err))
        self.assertEqual(err, "")
        return out

    def fails(self, expect_rc, expect_err, *args, **kw):
        """exit status expect_rc with a reason containing expect_err; the reason is one
        line for failures (exit 1), the message and a usage line for usage errors"""
        rc, out, err = self.ctl(*args, **kw)
        self.assertEqual(rc, expect_rc, "gmqctl %s: %r %r" % (" ".join(map(str, args)), out, err))
        lines = err.splitlines()
        self.assertTrue(lines and lines[0].startswith("gmqctl: "), err)
        self.assertIn(expect_err, lines[0])
        if expect_rc == 1:
            self.assertEqual(len(lines), 1, err)
        else:
            self.assertTrue(any(l.startswith("usage: gmqctl") for l in lines[1:]), err)
        return err

    def js(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def api(self, path):
        return self.node.json(path)

    def push(self, topic, body, rk="", delay=0):
        r = self.node.push(topic, body, rk, delay)
        self.assertEqual(r["code"], 0, r)
        return r["data"]["msgId"]

    def topic(self, name, queues=("q",), **config):
        params = "&".join("%s=%s" % kv for kv in config.items())
        self.assertEqual(self.api("/config?topic=%s&%s" % (name, params))["code"], 0)
        for q in queues:
            self.assertEqual(self.api("/declareQueue?topic=%s&bindKey=%s" % (name, q))["code"], 0)
