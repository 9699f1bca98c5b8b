"""Who may do what on a mount made with -o allow_other: the kernel's
checks (default_permissions) and mailfs's agree.  The mount is made by the
unprivileged test user; another user reads but changes nothing (the
kernel refuses, and the server is unchanged); root may change mail as the
owner can.  Needs root, to act as three users (run by integration-as-root;
skipped otherwise)."""

import os
import pwd
import shutil
import subprocess
import unittest

import corpus
import harness
from harness import Mailfs, ServerView

OWNER = os.environ.get("MAILFS_TEST_OWNER", "mailfs-test")
OTHER = "nobody"

_module = {}


def setUpModule():
    harness.require_mailfs()
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root to act as several users "
                                "(integration-as-root runs it)")
    try:
        pwd.getpwnam(OWNER)
        pwd.getpwnam(OTHER)
    except KeyError as e:
        raise unittest.SkipTest("no such user: %s" % e)
    work, cert, dovecot = harness.module_dovecot("mailfs-allow-")
    os.chmod(cert[0], 0o644)
    seeded = corpus.seed(dovecot)
    _module.update(work=work, cert=cert, dovecot=dovecot, seeded=seeded)


def as_user(user, argv, **kw):
    """ARGV run as USER (setpriv); a CompletedProcess."""
    pw = pwd.getpwnam(user)
    return subprocess.run(["setpriv", "--reuid=%d" % pw.pw_uid,
                           "--regid=%d" % pw.pw_gid, "--init-groups",
                           "--"] + argv,
                          capture_output=True, timeout=30, **kw)


def allows_other():
    """TRUE if /etc/fuse.conf lets a user mount with allow_other."""
    try:
        with open("/etc/fuse.conf") as f:
            return any(l.strip() == "user_allow_other" for l in f)
    except OSError:
        return False


class AllowOtherTest(unittest.TestCase):

    def setUp(self):
        if not allows_other():
            self.skipTest("/etc/fuse.conf lacks user_allow_other "
                          "(scripts/test-user-setup.sh adds it)")
        self.view = ServerView(_module["dovecot"])
        self.mfs = Mailfs(_module["work"], "mfs-" + self._testMethodName)
        self.addCleanup(self.mfs.cleanup)
        self.mfs.configure(_module["dovecot"].url("imaps"),
                           ca_file=_module["cert"][0])
        owner = pwd.getpwnam(OWNER)
        for root, dirs, files in os.walk(self.mfs.dir):
            for name in dirs + files:
                os.chown(os.path.join(root, name), owner.pw_uid,
                         owner.pw_gid)
        os.chown(self.mfs.dir, owner.pw_uid, owner.pw_gid)
        os.chmod(os.path.dirname(self.mfs.dir), 0o755)
        p = as_user(OWNER, [harness.mailfs_bin(), "mount", "--config",
                            self.mfs.config, "-o", "allow_other",
                            self.mfs.mountpoint])
        self.assertEqual(p.returncode, 0, p)
        self.addCleanup(as_user, OWNER, [harness.mailfs_bin(), "umount",
                                         self.mfs.mountpoint])

    def state(self):
        """What the server holds: folders, and each message's UID, flags
        and bytes."""
        folders, msgs = self.view.snapshot()
        return (sorted(f.raw for f in folders),
                {name: {uid: (m.flags, m.body) for uid, m in ms.items()}
                 for name, ms in msgs.items()})

    def inbox(self, *parts):
        return self.mfs.path("INBOX", *parts)

    def test_another_user_reads_and_changes_nothing(self):
        before = self.state()
        name = sorted(os.listdir(self.inbox()))[0]
        p = as_user(OTHER, ["cat", self.inbox(name)])
        self.assertEqual(p.returncode, 0, p)
        self.assertTrue(p.stdout.startswith(b"Return-Path:") or
                        b"Subject:" in p.stdout, p.stdout[:200])
        src = os.path.join(_module["work"], "other.eml")
        with open(src, "wb") as f:
            f.write(b"From: o@example.org\nSubject: other\n\nx\n")
        os.chmod(src, 0o644)
        for argv in (["rm", self.inbox(name)],
                     ["cp", src, self.inbox()],
                     ["mkdir", self.mfs.path("ByOther")],
                     ["mv", self.inbox(name), self.mfs.path("Archive")],
                     ["setfattr", "-n", "user.mailfs.flags", "-v",
                      "\\Seen", self.inbox(name)]):
            if not shutil.which(argv[0]):
                continue
            p = as_user(OTHER, argv)
            self.assertNotEqual(p.returncode, 0, "%s as %s: %r"
                                % (argv, OTHER, p))
            self.assertIn(b"Permission denied", p.stderr, p)
        self.assertEqual(self.state(), before)

    def test_the_owner_and_root_change_mail(self):
        names = sorted(os.listdir(self.inbox()))
        uids = set(self.view.messages("INBOX"))
        p = as_user(OWNER, ["rm", self.inbox(names[0])])
        self.assertEqual(p.returncode, 0, p)
        # Root passes the kernel's checks, and mailfs does not tell root
        # apart from the owner: both may change the owner's mail.
        os.unlink(self.inbox(names[1]))
        left = set(self.view.messages("INBOX"))
        self.assertEqual(len(uids - left), 2, (uids, left))


if __name__ == "__main__":
    unittest.main()
