"""mailfs as a service: a foreground mount tells systemd it is ready
(sd_notify READY=1 on $NOTIFY_SOCKET) and ends with status 0 after a clean
unmount on SIGTERM; its stderr lines carry their priority when stderr is
the journal ($JOURNAL_STREAM); log_file and log_level; the log says where
an account was mounted and when it was unmounted; the default account on
its mount_point with neither named; a mount whose daemon died is detached
by the next mount; a refused login exits 77; `mailfs status` shows the
caller's own mounts only (as root, with a mount of the test user)."""

import os
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Mailfs, ServerView

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-daemon-")
    ServerView(dovecot).append("INBOX", b"From: a@example.com\r\n"
                               b"Subject: daemon\r\n\r\nbody\r\n")
    _module.update(work=work, cert=cert, dovecot=dovecot)


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


class DaemonTest(unittest.TestCase):

    def setUp(self):
        self.dovecot = _module["dovecot"]
        self.mfs = self.new_mfs()

    def new_mfs(self, name=None, **extra):
        mfs = Mailfs(_module["work"], name or "mfs-" + self._testMethodName)
        mfs.configure(self.dovecot.url("imaps"), ca_file=_module["cert"][0],
                      extra=extra)
        self.addCleanup(mfs.cleanup)
        return mfs

    def foreground(self, env, stderr):
        """`mailfs mount -f` of self.mfs in the background, stderr to the
        file STDERR; killed at the end of the test if still running."""
        p = subprocess.Popen([harness.mailfs_bin(), "mount", "-f",
                              "--config", self.mfs.config,
                              self.mfs.mountpoint],
                             stdin=subprocess.DEVNULL, stdout=stderr,
                             stderr=stderr, env=env, start_new_session=True)

        def reap():
            if p.poll() is None:
                p.kill()
            p.wait(10)
        self.addCleanup(reap)
        return p

    def test_notify_ready_and_sigterm_exits_0(self):
        sock_path = os.path.join(self.mfs.dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        self.addCleanup(sock.close)
        sock.settimeout(20)
        err = open(os.path.join(self.mfs.dir, "stderr"), "w+")
        self.addCleanup(err.close)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        env.pop("JOURNAL_STREAM", None)
        p = self.foreground(env, err)
        ready = sock.recv(4096).decode()
        self.assertIn("READY=1", ready.split("\n"))
        self.assertIn("STATUS=account test mounted on %s"
                      % self.mfs.mountpoint, ready)
        # Ready means mounted: it reads at once.
        self.assertTrue(harness.is_mounted(self.mfs.mountpoint))
        self.assertTrue(harness.message_names(self.mfs.path("INBOX")))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0, read_text(err.name))
        self.assertFalse(harness.is_mounted(self.mfs.mountpoint))
        self.assertEqual(sock.recv(4096), b"STOPPING=1")
        text = read_text(err.name)
        self.assertIn("mailfs: account test mounted on %s\n"
                      % self.mfs.mountpoint, text)
        self.assertIn("mailfs: account test unmounted from %s\n"
                      % self.mfs.mountpoint, text)
        # Not the journal's stream: no priorities.
        self.assertNotRegex(text, r"(?m)^<\d>")

    def test_journal_priorities(self):
        port = harness.free_port()  # no SMTP server: sending fails
        self.mfs = self.new_mfs(smtp="smtp://127.0.0.1:%d" % port,
                                **{"from": "alice@example.com"})
        err = open(os.path.join(self.mfs.dir, "stderr"), "w+")
        self.addCleanup(err.close)
        st = os.fstat(err.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev,
                                                         st.st_ino))
        env.pop("NOTIFY_SOCKET", None)
        p = self.foreground(env, err)
        self.assertTrue(harness.wait_until(
            lambda: "mounted on" in read_text(err.name), 20))
        with open(self.mfs.path("outbox", "m.eml"), "wb") as f:
            f.write(b"From: alice@example.com\r\nTo: bob@example.com\r\n"
                    b"Subject: later\r\n\r\nbody\r\n")
        self.assertTrue(harness.wait_until(
            lambda: "not sent yet" in read_text(err.name), 20),
            read_text(err.name))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)
        lines = read_text(err.name).splitlines()
        for line in lines:
            self.assertRegex(line, r"^<[0-7]>mailfs: ", lines)
        self.assertIn("<6>mailfs: account test mounted on %s"
                      % self.mfs.mountpoint, lines)
        self.assertTrue([l for l in lines if l.startswith(
            "<4>mailfs: outbox: m.eml not sent yet")], lines)

    def test_log_file_and_level(self):
        log = os.path.join(self.mfs.dir, "mailfs.log")
        self.mfs = self.new_mfs(log_file=log)
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.mfs.umount().returncode, 0)
        self.assertTrue(self.mfs.wait_daemons_gone(10))
        text = read_text(log)
        self.assertRegex(text, r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d info: "
                         r"account test mounted on %s$"
                         % re.escape(self.mfs.mountpoint))
        self.assertRegex(text, r"(?m) info: account test unmounted from %s$"
                         % re.escape(self.mfs.mountpoint))
        self.assertEqual(os.stat(log).st_mode & 0o777, 0o600)
        # log_level = warning: no info lines, the warnings still.
        quiet = os.path.join(self.mfs.dir, "quiet.log")
        port = harness.free_port()
        self.mfs = self.new_mfs(name="mfs-quiet", log_file=quiet,
                                log_level="warning",
                                smtp="smtp://127.0.0.1:%d" % port,
                                **{"from": "alice@example.com"})
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        with open(self.mfs.path("outbox", "q.eml"), "wb") as f:
            f.write(b"From: alice@example.com\r\nTo: bob@example.com\r\n"
                    b"Subject: later\r\n\r\nbody\r\n")
        self.assertTrue(harness.wait_until(
            lambda: "not sent yet" in read_text(quiet), 20))
        self.assertNotIn(" info: ", read_text(quiet))
        self.assertIn(" warning: outbox: q.eml not sent yet", read_text(quiet))
        # .mailfs/log still has the info lines.
        with open(self.mfs.path(".mailfs", "log")) as f:
            self.assertIn("mounted on", f.read())
        # A log file that cannot be opened is a config error.
        self.assertEqual(self.mfs.umount().returncode, 0)
        self.assertTrue(self.mfs.wait_daemons_gone(10))
        self.mfs = self.new_mfs(name="mfs-nolog", log_file="/proc/nope.log")
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 78, res)
        self.assertIn("log_file /proc/nope.log: cannot open", res.stderr)

    def test_default_account_on_its_mount_point(self):
        mfs = Mailfs(_module["work"], "mfs-default")
        self.addCleanup(mfs.cleanup)
        mp = os.path.join(mfs.dir, "mail", "bob")
        pw = os.path.join(mfs.dir, "bob.pw")
        with open(pw, "w") as f:
            f.write(self.dovecot.users["bob"] + "\n")
        common = {"imap": self.dovecot.url("imaps"),
                  "ca_file": _module["cert"][0], "timeout": 5}
        harness.write_config(mfs.config, {
            "alice": dict(common, user="alice", password_command="false",
                          cache_dir=os.path.join(mfs.dir, "c-alice")),
            "bob": dict(common, user="bob", password_command="cat " + pw,
                        cache_dir=os.path.join(mfs.dir, "c-bob"),
                        mount_point=mp, default="yes"),
        })
        mfs.mountpoint = mp  # for cleanup
        res = harness.run([harness.mailfs_bin(), "mount", "--config",
                           mfs.config])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(harness.fstype_of(mp), "fuse.mailfs")
        self.assertTrue(os.path.isdir(os.path.join(mp, "INBOX")))
        st = harness.run([harness.mailfs_bin(), "status"])
        self.assertIn("== %s (account bob)" % mp, st.stdout)
        res = harness.run([harness.mailfs_bin(), "umount", "--config",
                           mfs.config])
        self.assertEqual(res.returncode, 0, res)
        self.assertFalse(harness.is_mounted(mp))

    def test_dead_mount_is_detached_by_the_next(self):
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        for pid in self.mfs.daemons():
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.mfs.wait_daemons_gone(10))
        with self.assertRaises(OSError):
            os.listdir(self.mfs.mountpoint)  # ENOTCONN
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("had lost its daemon; detached it", res.stderr)
        self.assertTrue(harness.message_names(self.mfs.path("INBOX")))
        self.assertEqual(self.mfs.umount().returncode, 0)
        self.assertFalse(harness.is_mounted(self.mfs.mountpoint))

    def test_refused_login_exits_77(self):
        self.mfs.configure(self.dovecot.url("imaps"),
                           ca_file=_module["cert"][0], password="wrong")
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 77, res)
        self.assertEqual(len(harness.error_lines(res)), 1, res)

    def test_status_shows_own_mounts_only(self):
        harness.skip_unless_root(self, "mount as another user")
        owner = pwd.getpwnam(os.environ.get("MAILFS_TEST_OWNER",
                                            "mailfs-test"))
        for root, dirs, files in os.walk(self.mfs.dir):
            for name in dirs + files:
                os.chown(os.path.join(root, name), owner.pw_uid,
                         owner.pw_gid)
        os.chown(self.mfs.dir, owner.pw_uid, owner.pw_gid)
        os.chmod(os.path.dirname(self.mfs.dir), 0o755)
        as_owner = ["setpriv", "--reuid=%d" % owner.pw_uid,
                    "--regid=%d" % owner.pw_gid, "--init-groups", "--"]
        env = dict(os.environ, HOME=self.mfs.dir)
        res = harness.run(as_owner + [harness.mailfs_bin(), "mount",
                                      "--config", self.mfs.config,
                                      self.mfs.mountpoint], env=env)
        self.assertEqual(res.returncode, 0, res)
        self.addCleanup(harness.run, as_owner + [harness.mailfs_bin(),
                                                 "umount",
                                                 self.mfs.mountpoint])
        self.assertTrue(harness.is_mounted(self.mfs.mountpoint))
        # Root's own view: not the test user's mount, and no error.
        res = harness.run([harness.mailfs_bin(), "status"])
        # Root may have mounts of its own on this machine (another run's,
        # one whose daemon died): status may report those, never ours.
        others = [l for l in res.stderr.splitlines()
                  if "daemon is gone" not in l]
        self.assertTrue(res.returncode == 0 or not others, res)
        self.assertNotIn(self.mfs.mountpoint, res.stdout + res.stderr)
        self.assertNotIn("denied", res.stdout + res.stderr)
        # The owner's view has it.
        res = harness.run(as_owner + [harness.mailfs_bin(), "status"],
                          env=env)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("== %s (account test)" % self.mfs.mountpoint,
                      res.stdout)


if __name__ == "__main__":
    unittest.main()
