"""The read-only mount (read_only = yes, mailfs mount --read-only) over a
real Dovecot: the same bytes as the server, no change reaches the server,
.mailfs/status stays current, and warm reads never reach the daemon (the
kernel sends no OPEN, and no FLUSH after the first)."""

import errno
import os
import re
import subprocess
import time
import unittest

import corpus
import harness
from harness import Mailfs, Watchdog


def setUpModule():
    harness.require_mailfs()


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class ReadOnlyTest(unittest.TestCase):
    """One Dovecot, seeded once; each test mounts read-only."""

    @classmethod
    def setUpClass(cls):
        corpus.seeded_class(cls)

    def new_mailfs(self, name, in_config=True, smtp=None):
        m = Mailfs(self.work, name)
        extra = {"read_only": "yes"} if in_config else {}
        if smtp:
            extra["smtp"] = smtp
        m.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert,
                    extra=extra)
        self.addCleanup(m.cleanup)
        return m

    def mounted(self, name, in_config=True, smtp=None):
        m = self.new_mailfs(name, in_config, smtp)
        r = m.mount() if in_config else m.mount("--read-only")
        self.assertEqual(r.returncode, 0, "mount failed: %r" % r)
        dog = Watchdog(m, 120)
        dog.__enter__()
        self.addCleanup(dog.__exit__, None, None, None)
        return m

    def mount_path(self, m, folder, *rest):
        return m.path(*folder.split("/"), *rest)

    def assert_errno(self, code, fn, what):
        """FN fails with CODE; for EROFS, a user other than root may be
        stopped by the kernel first with EACCES (the files show
        read-only), and the daemon answers EROFS to what reaches it."""
        codes = {code}
        if code == errno.EROFS and os.geteuid() != 0:
            codes.add(errno.EACCES)
        try:
            fn()
        except OSError as e:
            self.assertIn(e.errno, codes, "%s: expected %s, got %s"
                          % (what, errno.errorcode[code],
                             errno.errorcode.get(e.errno, e.errno)))
            return
        self.fail("%s: expected %s, it succeeded" % (what,
                                                     errno.errorcode[code]))

    # ---------------------------------------------------------------------

    def test_every_message_is_byte_identical(self):
        """Each message reads exactly as the server has it, twice (the
        second time from the kernel's cache), through the --read-only
        flag; grep -r finds the corpus' special word where it is."""
        m = self.mounted("ro-bytes", in_config=False)
        _, msgs = self.view.snapshot()
        n = 0
        for _ in range(2):
            for folder, ms in msgs.items():
                names = harness.message_names(self.mount_path(m, folder))
                for uid, sm in ms.items():
                    with open(self.mount_path(m, folder, names[uid]),
                              "rb") as f:
                        self.assertTrue(f.read() == sm.body, sm)
                    n += 1
        self.assertGreaterEqual(n, 2 * len(self.seeded.messages))
        p = subprocess.run(["grep", "-rl", corpus.SPECIAL_WORD, m.mountpoint],
                           capture_output=True, text=True, timeout=60)
        found = {harness.message_key(os.path.relpath(l, m.mountpoint))
                 for l in p.stdout.splitlines()}
        self.assertEqual(found, self.seeded.special_keys(), p.stderr)

    def test_every_change_is_refused(self):
        """Creating, removing, renaming, flagging and writing fail with
        EROFS (xattrs are off: EOPNOTSUPP); the server is unchanged."""
        before_folders, before = self.view.snapshot()
        m = self.mounted("ro-refuse", smtp="smtp://127.0.0.1:9")
        sm = self.seeded.messages[0]
        msg = sm.path_in(m)
        other = [f.name for f in before_folders
                 if f.selectable and f.name != sm.folder][0]
        checks = [
            ("create in a folder",
             lambda: open(self.mount_path(m, sm.folder, "new.eml"), "wb")),
            ("create in outbox/", lambda: open(m.path("outbox", "x.eml"), "wb")),
            ("mkdir", lambda: os.mkdir(m.path("NewFolder"))),
            ("rmdir", lambda: os.rmdir(self.mount_path(m, other))),
            ("rm", lambda: os.unlink(msg)),
            ("mv to another folder",
             lambda: os.rename(msg, self.mount_path(m, other, "x.eml"))),
            ("rename a folder",
             lambda: os.rename(self.mount_path(m, other), m.path("Renamed"))),
            ("truncate", lambda: os.truncate(msg, 0)),
            ("setfattr", lambda: os.setxattr(msg, "user.mailfs.flags",
                                             b"\\Seen")),
        ]
        for what, fn in checks:
            self.assert_errno(errno.EROFS, fn, what)
        # Root may open a 0444 file for writing once no OPEN reaches the
        # daemon to refuse it (after the first read), but the write fails.
        with open(msg, "rb") as f:
            self.assertEqual(f.read(), sm.raw)
        try:
            fd = os.open(msg, os.O_WRONLY)
        except OSError as e:
            self.assertIn(e.errno, (errno.EROFS, errno.EACCES), e)
        else:
            try:
                self.assert_errno(errno.EROFS, lambda: os.write(fd, b"x"),
                                  "write to a message")
            finally:
                os.close(fd)
        self.assert_errno(errno.EOPNOTSUPP,
                          lambda: os.getxattr(msg, "user.mailfs.flags"),
                          "getfattr")
        after_folders, after = self.view.snapshot()
        self.assertEqual(sorted(f.raw for f in after_folders),
                         sorted(f.raw for f in before_folders))
        for folder, ms in before.items():
            self.assertEqual({u: (x.flags, x.body) for u, x in ms.items()},
                             {u: (x.flags, x.body)
                              for u, x in after[folder].items()}, folder)

    def test_status_stays_current(self):
        """status shows each new state (the kernel drops its cached copy),
        whole every time; ctl still takes commands."""
        m = self.mounted("ro-status")
        status = m.path(".mailfs", "status")
        ctl = m.path(".mailfs", "ctl")

        def state():
            with open(status) as f:
                text = f.read()
            self.assertTrue(text.endswith("\n") and "last_error_at:" in text,
                            text)
            return re.search(r"^state: (.*)$", text, re.M).group(1)

        self.assertEqual(state(), "online")
        with open(ctl, "w") as f:
            f.write("offline\n")
        self.assertEqual(state(), "offline (by request)")
        with open(ctl, "w") as f:
            f.write("online\n")
        self.assertTrue(wait_until(lambda: state() == "online", 10), state())
        with open(m.path(".mailfs", "log")) as f:
            self.assertIn("ctl: online", f.read())

    def test_warm_reads_do_not_reach_the_daemon(self):
        """With the debug trace on: one OPEN at most (answered ENOSYS), one
        FLUSH at most, and a second pass over every message sends no READ."""
        m = self.new_mailfs("ro-trace")
        trace = os.path.join(m.dir, "trace.txt")
        with open(trace, "w") as err:
            p = subprocess.Popen([harness.mailfs_bin(), "mount", "--config",
                                  m.config, "-f", "--debug", m.mountpoint],
                                 stdout=err, stderr=err)
        self.addCleanup(p.wait, 20)
        self.assertTrue(wait_until(lambda: harness.is_mounted(m.mountpoint),
                                   20), "not mounted")
        files = [sm.path_in(m) for sm in self.seeded.messages]

        def read_all():
            for path in files:
                with open(path, "rb") as f:
                    f.read()

        def ops():
            with open(trace, errors="replace") as f:
                return re.findall(r"opcode: ([A-Z]+)", f.read())

        read_all()
        first = ops()
        self.assertIn("READ", first)
        read_all()
        second = ops()[len(first):]
        m.umount()
        self.assertLessEqual(first.count("OPEN"), 1, first)
        self.assertLessEqual(first.count("FLUSH"), 1)
        self.assertEqual(first.count("RELEASE"), 0)
        for op in ("OPEN", "READ", "FLUSH", "RELEASE"):
            self.assertNotIn(op, second, "second pass sent %s" % op)


if __name__ == "__main__":
    unittest.main()
