"""Service and packaging: the systemd unit (systemd-analyze verify), the
service verbs of gmq-master (install writes the unit, the config and a
manifest below --root; uninstall removes exactly that, keeping a changed
config), `make install` (the exact file list, paths substituted) and
`make deb` (dpkg-deb contents, lintian without errors)."""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from gmqtest import BUILD, MASTER, ROOT, Node, free_port

UNIT = "/etc/systemd/system/gmq-master.service"
CONF = "/etc/gmq/gmq.conf"
MANIFEST = "/var/lib/gmq/.install-manifest"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def tree(top):
    """every file and symlink below top, as sorted paths relative to it"""
    out = []
    for d, dirs, files in os.walk(top):
        for f in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.append(os.path.relpath(os.path.join(d, f), top))
    return sorted(out)


def unit_keys(path):
    """the unit's Key=value lines as {key: [values]}"""
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                k, _, v = line.partition("=")
                keys.setdefault(k, []).append(v)
    return keys


def tmpdir(test, prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, d, True)
    return d


class UnitFileTest(unittest.TestCase):
    def test_unit_settings(self):
        k = unit_keys(os.path.join(ROOT, "etc", "gmq-master.service"))
        self.assertEqual(k["Type"], ["simple"])
        self.assertEqual(k["ExecStart"], ["/usr/local/bin/gmq-master -config_file=/etc/gmq/gmq.conf"])
        self.assertEqual(k["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(k["Restart"], ["on-failure"])
        self.assertEqual(k["KillSignal"], ["SIGTERM"])
        self.assertGreater(int(k["TimeoutStopSec"][0]), 10)   # the master's drain is 10 s
        self.assertEqual(k["LimitNOFILE"], ["65536"])
        self.assertEqual(k["User"], ["gmq"])
        self.assertEqual(k["ProtectSystem"], ["strict"])
        self.assertEqual(k["ReadWritePaths"], ["/var/lib/gmq"])
        for key in ("ProtectHome", "PrivateTmp", "NoNewPrivileges"):
            self.assertEqual(k[key], ["yes"], key)


class VerbsTest(unittest.TestCase):
    def setUp(self):
        self.root = tmpdir(self, "gmqroot-")

    def verb(self, *args):
        return run([MASTER] + list(args))

    def path(self, rel):
        return self.root + rel

    def test_install_uninstall_round_trip(self):
        r = self.verb("install", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        # the commands it would run, and nothing run
        self.assertIn("would run: systemctl daemon-reload", r.stdout)
        self.assertIn("would run: systemctl enable gmq-master.service", r.stdout)
        self.assertIn("would run: adduser --system", r.stdout)
        self.assertEqual(tree(self.root), sorted(x.lstrip("/") for x in (UNIT, CONF, MANIFEST)))

        k = unit_keys(self.path(UNIT))
        self.assertEqual(k["ExecStart"], ["%s -config_file=/etc/gmq/gmq.conf" % os.path.realpath(MASTER)])
        self.assertEqual(k["User"], ["gmq"])
        with open(self.path(CONF)) as f:
            conf = f.read()
        self.assertIn('\ndata_save_path = "/var/lib/gmq"\n', conf)
        with open(self.path(MANIFEST)) as f:
            manifest = f.read()
        for p in (UNIT, CONF, "/etc/gmq", "/var/lib/gmq"):
            self.assertIn(" " + p + "\n", manifest)

        r = self.verb("uninstall", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("would run: systemctl disable --now gmq-master.service", r.stdout)
        self.assertEqual(os.listdir(self.root), [])   # every directory it created, too

        r = self.verb("uninstall", "--root", self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not installed", r.stderr)

    def test_existing_config_is_neither_overwritten_nor_removed(self):
        os.makedirs(self.path("/etc/gmq"))
        with open(self.path(CONF), "w") as f:
            f.write("node_id = 7\n")
        r = self.verb("install", "--root=" + self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kept " + self.path(CONF), r.stdout)
        with open(self.path(CONF)) as f:
            self.assertEqual(f.read(), "node_id = 7\n")
        self.assertEqual(self.verb("uninstall", "--root", self.root).returncode, 0)
        self.assertEqual(tree(self.root), ["etc/gmq/gmq.conf"])
        with open(self.path(CONF)) as f:
            self.assertEqual(f.read(), "node_id = 7\n")

    def test_changed_config_is_kept_and_reinstall_keeps_it(self):
        self.assertEqual(self.verb("install", "--root", self.root).returncode, 0)
        with open(self.path(CONF), "a") as f:
            f.write("node_id = 9\n")
        # a second install rewrites the unit, leaves the config, remembers it is ours
        r = self.verb("install", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kept " + self.path(CONF), r.stdout)
        r = self.verb("uninstall", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kept %s (changed since install)" % self.path(CONF), r.stdout)
        self.assertEqual(tree(self.root), ["etc/gmq/gmq.conf"])

    def test_unchanged_config_is_removed_with_changed_unit(self):
        self.assertEqual(self.verb("install", "--root", self.root).returncode, 0)
        with open(self.path(UNIT), "a") as f:
            f.write("# local edit\n")
        self.assertEqual(self.verb("uninstall", "--root", self.root).returncode, 0)
        self.assertEqual(os.listdir(self.root), [])

    def test_manifest_naming_other_files_is_refused(self):
        self.assertEqual(self.verb("install", "--root", self.root).returncode, 0)
        victim = self.path("/etc/passwd")
        with open(victim, "w") as f:
            f.write("x\n")
        with open(self.path(MANIFEST), "a") as f:
            f.write("file %s /etc/passwd\n" % ("0" * 64))
        r = self.verb("uninstall", "--root", self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a line install writes", r.stderr)
        self.assertTrue(os.path.exists(victim))
        self.assertTrue(os.path.exists(self.path(UNIT)))

    def test_installed_config_runs_a_node(self):
        self.assertEqual(self.verb("install", "--root", self.root).returncode, 0)
        # the flags Node adds override the ports and the data directory
        node = Node(self, config_file=self.path(CONF)).start()
        self.assertEqual(node.get("/ping")[1], "OK")
        self.assertEqual(node.stop(), 0)

    def test_systemctl_verbs_with_root_print_what_they_would_run(self):
        for v in ("start", "stop", "restart"):
            r = self.verb(v, "--root", self.root)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "would run: systemctl %s gmq-master.service\n" % v)
        r = self.verb("status", "--root", self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not installed", r.stdout)
        self.assertEqual(self.verb("install", "--root", self.root).returncode, 0)
        r = self.verb("status", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("would run: systemctl status gmq-master.service", r.stdout)

    def test_usage_errors(self):
        for args in (["install", "--bogus"], ["install", "--root"], ["start", "extra"]):
            r = self.verb(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: gmq-master install|uninstall", r.stderr)
        r = self.verb("install", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("uninstall", r.stdout)
        r = self.verb("install", "--root", os.path.join(self.root, "missing"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(os.listdir(self.root), [])


def make(*args):
    """make in the tree with this build directory, outside any outer make's jobserver"""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return run(["make", "--no-print-directory", "-C", ROOT, "BUILD=" + BUILD] + list(args), env=env)


INSTALLED = ["bin/gmq-bench", "bin/gmq-master", "bin/gmqctl", "etc/gmq/gmq.conf",
             "include/gmq/adapters/libev.h", "include/gmq/gmq.h",
             "lib/gmq/gmq-worker", "lib/libgmq.a", "lib/libgmq.so", "lib/libgmq.so.0", "lib/libgmq.so.0.1.0",
             "lib/pkgconfig/libgmq.pc", "lib/systemd/system/gmq-master.service",
             "share/man/man1/gmq-bench.1", "share/man/man1/gmqctl.1", "share/man/man8/gmq-master.8"]


class MakeInstallTest(unittest.TestCase):
    def test_usr_local_installs_exactly_the_listed_files(self):
        dest = tmpdir(self, "gmqdest-")
        r = make("install", "DESTDIR=" + dest, "PREFIX=/usr/local")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(tree(dest), ["usr/local/" + p for p in INSTALLED])
        k = unit_keys(os.path.join(dest, "usr/local/lib/systemd/system/gmq-master.service"))
        self.assertEqual(k["ExecStart"], ["/usr/local/bin/gmq-master -config_file=/usr/local/etc/gmq/gmq.conf"])
        for b in ("gmq-master", "gmqctl", "gmq-bench"):
            self.assertTrue(os.access(os.path.join(dest, "usr/local/bin", b), os.X_OK), b)
        with open(os.path.join(dest, "usr/local/etc/gmq/gmq.conf")) as f:
            self.assertIn('\ndata_save_path = "/var/lib/gmq"\n', f.read())
        # the installed master finds its worker program in ../lib/gmq/
        n = Node(self, master=os.path.join(dest, "usr/local/bin/gmq-master")).start()
        n.json("/declareQueue?topic=inst&bindKey=q")
        self.assertEqual(n.push("inst", "installed", "q")["code"], 0)
        self.assertEqual(n.json("/pop?topic=inst&bindKey=q")["data"]["body"], "installed")
        self.assertEqual(os.readlink("/proc/%d/exe" % n.worker_pids()["inst"]),
                         os.path.join(dest, "usr/local/lib/gmq/gmq-worker"))

    def test_master_without_its_worker_program_refuses_to_start(self):
        d = tmpdir(self, "gmqalone-")
        shutil.copy(os.path.join(BUILD, "gmq-master"), d)
        r = run([os.path.join(d, "gmq-master"), "-data_save_path=" + os.path.join(d, "data"),
                 "-tcp_addr=127.0.0.1:%d" % free_port(), "-http_addr=127.0.0.1:%d" % free_port()],
                timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the worker program gmq-worker is neither in %s/ nor in %s/../lib/gmq/" % (d, d),
                      r.stderr)

    def test_library_files(self):
        dest = tmpdir(self, "gmqdest-")
        self.assertEqual(make("install", "DESTDIR=" + dest, "PREFIX=/usr/local").returncode, 0)
        lib = os.path.join(dest, "usr/local/lib")
        self.assertEqual(os.readlink(os.path.join(lib, "libgmq.so")), "libgmq.so.0")
        self.assertEqual(os.readlink(os.path.join(lib, "libgmq.so.0")), "libgmq.so.0.1.0")
        r = run(["readelf", "-d", os.path.join(lib, "libgmq.so.0.1.0")])
        self.assertIn("Library soname: [libgmq.so.0]", r.stdout)
        # only the public API is exported: gmq[A-Z]*, never the node's gmq_* internals
        r = run(["nm", "-D", "--defined-only", os.path.join(lib, "libgmq.so.0.1.0")])
        syms = [l.split()[-1].split("@")[0] for l in r.stdout.splitlines() if l.split()[-2:-1] == ["T"]]
        self.assertIn("gmqConnect", syms)
        self.assertEqual([x for x in syms if not x.startswith("gmq") or x.startswith("gmq_")], [])
        r = run(["nm", "--defined-only", "-g", os.path.join(lib, "libgmq.a")])
        syms = [l.split()[-1] for l in r.stdout.splitlines() if " T " in l]
        self.assertEqual([x for x in syms if not x.startswith("gmq") or x.startswith("gmq_")], [])
        with open(os.path.join(lib, "pkgconfig/libgmq.pc")) as f:
            pc = f.read()
        self.assertIn("prefix=/usr/local\n", pc)
        self.assertIn("libdir=${prefix}/lib\n", pc)

    def test_usr_puts_the_config_in_etc_and_keeps_an_existing_one(self):
        dest = tmpdir(self, "gmqdest-")
        self.assertEqual(make("install", "DESTDIR=" + dest, "PREFIX=/usr").returncode, 0)
        self.assertEqual(tree(dest), sorted(("etc/gmq/gmq.conf" if p.startswith("etc/") else "usr/" + p)
                                            for p in INSTALLED))
        k = unit_keys(os.path.join(dest, "usr/lib/systemd/system/gmq-master.service"))
        self.assertEqual(k["ExecStart"], ["/usr/bin/gmq-master -config_file=/etc/gmq/gmq.conf"])
        conf = os.path.join(dest, "etc/gmq/gmq.conf")
        with open(conf, "w") as f:
            f.write("node_id = 5\n")
        self.assertEqual(make("install", "DESTDIR=" + dest, "PREFIX=/usr").returncode, 0)
        with open(conf) as f:
            self.assertEqual(f.read(), "node_id = 5\n")

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze missing (scripts/install-deps.sh)")
    def test_installed_unit_passes_systemd_analyze_verify(self):
        # installed for real (no DESTDIR) under a temporary PREFIX, so the
        # ExecStart binary exists, and man:gmq-master(8) is found through MANPATH
        prefix = tmpdir(self, "gmqprefix-")
        self.assertEqual(make("install", "PREFIX=" + prefix).returncode, 0)
        unit = os.path.join(prefix, "lib/systemd/system/gmq-master.service")
        r = run(["systemd-analyze", "verify", unit],
                env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")))
        self.assertEqual((r.returncode, r.stderr), (0, ""), r.stdout)

    @unittest.skipUnless(shutil.which("man"), "man missing (scripts/install-deps.sh)")
    def test_man_pages_render_without_warnings(self):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
        for page, words in (("gmq-master.8", ("install", "uninstall", "SIGHUP", "--root")),
                            ("gmqctl.1", ("nodes", "ping", "watch", "--server")),
                            ("gmq-bench.1", ("popack", "drain", "mixed", "--topics", "LREM", "--json"))):
            r = run(["man", "--warnings", "-l", os.path.join(ROOT, "man", page)], env=env)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)
            text = r.stdout.replace("\u2010", "-").replace("\u2212", "-")
            for w in words:
                self.assertIn(w, text, page)


DEB_TOOLS = ("dpkg-buildpackage", "dh", "lintian", "fakeroot")


@unittest.skipUnless(all(shutil.which(t) for t in DEB_TOOLS),
                     "Debian packaging tools missing (scripts/install-deps.sh)")
class DebTest(unittest.TestCase):
    """one `make deb` (about 15 s), then what the package holds and says"""

    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp(prefix="gmqdeb-")
        r = make("deb", "DEB_DIR=" + cls.out)
        debs = glob.glob(os.path.join(cls.out, "gmq_*_*.deb"))
        if r.returncode != 0 or len(debs) != 1:
            shutil.rmtree(cls.out, True)
            raise AssertionError("make deb failed (%d): %s\n%s" % (r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        cls.deb = debs[0]
        cls.lib_debs = {name: glob.glob(os.path.join(cls.out, name + "_*_*.deb"))
                        for name in ("libgmq0", "libgmq-dev")}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, True)

    def member(self, part, name):
        """a file of the package: part 'fsys' (the files) or 'ctrl' (control)"""
        tar = subprocess.run(["dpkg-deb", "--%s-tarfile" % part, self.deb], capture_output=True, check=True)
        return subprocess.run(["tar", "-xOf", "-", name], input=tar.stdout, capture_output=True,
                              check=True).stdout.decode()

    def test_contents(self):
        r = run(["dpkg-deb", "-c", self.deb])
        self.assertEqual(r.returncode, 0, r.stderr)
        files = {line.split()[5] for line in r.stdout.splitlines() if not line.startswith("d")}
        for f in ("./usr/bin/gmq-master", "./usr/bin/gmqctl", "./usr/bin/gmq-bench",
                  "./lib/systemd/system/gmq-master.service", "./etc/gmq/gmq.conf",
                  "./usr/share/man/man8/gmq-master.8.gz", "./usr/share/man/man1/gmqctl.1.gz",
                  "./usr/share/man/man1/gmq-bench.1.gz",
                  "./usr/share/doc/gmq/copyright"):
            self.assertIn(f, files)
        self.assertEqual([f for f in files if "/usr/local" in f], [])

    def test_conffile_unit_and_user(self):
        self.assertEqual(self.member("ctrl", "./conffiles").split(), ["/etc/gmq/gmq.conf"])
        self.assertIn('\ndata_save_path = "/var/lib/gmq"\n', self.member("fsys", "./etc/gmq/gmq.conf"))
        with tempfile.NamedTemporaryFile("w", suffix=".service") as u:
            u.write(self.member("fsys", "./lib/systemd/system/gmq-master.service"))
            u.flush()
            k = unit_keys(u.name)
        self.assertEqual(k["ExecStart"], ["/usr/bin/gmq-master -config_file=/etc/gmq/gmq.conf"])
        postinst = self.member("ctrl", "./postinst")
        self.assertIn("adduser --system", postinst)
        self.assertIn("/var/lib/gmq", postinst)
        self.assertIn("deb-systemd-helper enable 'gmq-master.service'", postinst)   # dh_installsystemd
        self.assertLess(postinst.index("adduser"), postinst.index("deb-systemd-invoke"))
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        self.assertIn("adduser", depends)

    def test_library_packages(self):
        """libgmq0: the shared library; libgmq-dev: headers, .so, .a, libgmq.pc"""
        for name, want in (("libgmq0", ["libgmq.so.0", "libgmq.so.0.1.0"]),
                           ("libgmq-dev", ["libgmq.a", "libgmq.so", "pkgconfig/libgmq.pc"])):
            self.assertEqual(len(self.lib_debs[name]), 1, name)
            deb = self.lib_debs[name][0]
            r = run(["dpkg-deb", "-c", deb])
            files = {line.split()[5] for line in r.stdout.splitlines() if not line.startswith("d")}
            arch = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).stdout.strip()
            for f in want:
                self.assertIn("./usr/lib/%s/%s" % (arch, f), files, name)
            if name == "libgmq-dev":
                for h in ("./usr/include/gmq/gmq.h", "./usr/include/gmq/adapters/libev.h"):
                    self.assertIn(h, files)
                self.assertIn("libgmq0 (= 0.1.0)", run(["dpkg-deb", "-f", deb, "Depends"]).stdout)
            r = run(["lintian", deb])
            errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
            self.assertEqual(errors, [], r.stdout)

    def test_lintian_reports_no_errors(self):
        r = run(["lintian", self.deb])
        errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
