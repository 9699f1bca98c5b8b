"""The command line as a user of mbsync, msmtp or sshfs expects it, without
a mail server: --help of every command, one spelling of "unknown option",
--version's features, exit statuses (2 usage, 75 unreachable, 78 config),
the default account, config errors with FILE:LINE: and "did you mean",
repeated groups, sizes as 2GB, umount's own words, and -o that FUSE
refuses ending with a mailfs: line before the password is asked for."""

import os
import re
import subprocess
import unittest

import harness
from harness import Mailfs

COMMANDS = ("mount", "umount", "status", "sync")


def setUpModule():
    harness.require_mailfs(fuse=False)


def mailfs(*args, env=None):
    return harness.run([harness.mailfs_bin()] + list(args), timeout=20,
                       env=env)


def c_locale():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("LC_") or k == "LANG":
            del env[k]
    env["LC_ALL"] = "C"
    return env


class HelpTest(unittest.TestCase):

    def test_every_command_has_help(self):
        for cmd in COMMANDS:
            for flag in ("--help", "-h"):
                res = mailfs(cmd, flag, env=c_locale())
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(res.stderr, "", res)
                usage = [l.strip() for l in res.stdout.splitlines()
                         if l.strip()]
                self.assertEqual(usage[0], "Usage:", res)
                self.assertTrue(usage[1].startswith("mailfs %s " % cmd), res)
                self.assertIn("-h, --help", res.stdout, res)
                self.assertNotIn("?", res.stdout, res)
            # mailfs help CMD says the same.
            self.assertEqual(mailfs("help", cmd, env=c_locale()).stdout,
                             res.stdout)
        self.assertEqual(mailfs("help", "bogus").returncode, 2)
        res = mailfs("--help", env=c_locale())
        for line in res.stdout.splitlines():
            if re.match(r"^  [a-z]", line):
                self.assertTrue(line.startswith("  mailfs "), line)
        self.assertNotIn("?", res.stdout)

    def test_unknown_option_is_said_one_way(self):
        for cmd in COMMANDS:
            res = mailfs(cmd, "--bogus")
            self.assertEqual(res.returncode, 2, res)
            lines = harness.error_lines(res)
            self.assertEqual(lines[0],
                             "mailfs: %s: unknown option --bogus" % cmd, res)
            self.assertEqual(lines[1], "Try 'mailfs %s --help'." % cmd, res)
        res = mailfs("--bogus")
        self.assertEqual(res.returncode, 2, res)
        self.assertEqual(harness.error_lines(res)[0],
                         "mailfs: unknown option --bogus")
        res = mailfs("status", "a", "b")
        self.assertEqual(res.returncode, 2, res)

    def test_version_tells_the_build_and_the_config(self):
        work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, work)
        env = dict(os.environ, XDG_CONFIG_HOME=work)
        res = mailfs("--version", env=env)
        self.assertEqual(res.returncode, 0, res)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[0], "mailfs " + harness.project_version())
        self.assertRegex(res.stdout, r"(?m)^OAuth2: (yes|no)$")
        self.assertRegex(res.stdout, r"(?m)^sanitizers: \S+")
        path = os.path.join(work, "mailfs", "config")
        self.assertIn("config: %s (not there)\n" % path, res.stdout)
        os.makedirs(os.path.dirname(path))
        open(path, "w").close()
        res = mailfs("-V", env=env)
        self.assertIn("config: %s\n" % path, res.stdout)


class ConfigTest(unittest.TestCase):

    def setUp(self):
        self.work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, self.work)
        self.mfs = Mailfs(self.work, "cli")
        self.addCleanup(self.mfs.cleanup)
        self.port = harness.free_port()  # nothing listens there
        self.url = "imaps://127.0.0.1:%d" % self.port

    def write(self, text):
        with open(self.mfs.config, "w") as f:
            f.write(text)
        os.chmod(self.mfs.config, 0o600)

    def account(self, name, **keys):
        lines = ["[account %s]" % name, "imap = " + self.url, "user = alice",
                 "password_command = echo pw", "timeout = 3",
                 "cache_dir = " + os.path.join(self.work, "cache-" + name)]
        lines += ["%s = %s" % kv for kv in keys.items()]
        return "\n".join(lines) + "\n"

    def one_line(self, res, status):
        """The error line of RES, which exited with STATUS.  (sync also
        logs that the account is offline, as a line before it.)"""
        self.assertFalse(res.timed_out, res)
        self.assertEqual(res.returncode, status, res)
        lines = harness.error_lines(res)
        if "sync" in res.argv and len(lines) == 2:
            self.assertIn("is offline", lines[0], res)
            del lines[0]
        self.assertEqual(len(lines), 1, res)
        return lines[0]

    def test_config_errors_exit_78(self):
        cases = [
            (self.account("a", pasword_command="x"),
             "%s: [account a] pasword_command: unknown key (did you mean "
             "password_command?)"),
            (self.account("a") + "imap imaps://x\n",
             "%s:7: 'imap imaps://x' is not a [group], a key = value line "
             "or a # comment"),
            ("# mine\n" + self.account("a") + "\n" + self.account("a"),
             "%s:9: [account a]: given twice (first at line 2); put the "
             "keys of an account in one group"),
            ("user = x\n" + self.account("a"),
             "%s:1: user: outside any group"),
            (self.account("a", timeout="soon"),
             "%s: [account a] timeout: 'soon' is not a number"),
        ]
        for text, want in cases:
            self.write(text)
            for cmd in ("mount", "sync"):
                res = mailfs(cmd, "--config", self.mfs.config,
                             self.mfs.mountpoint if cmd == "mount" else "x")
                line = self.one_line(res, 78)
                self.assertIn("mailfs: " + want % self.mfs.config, line)

    def test_error_lines_carry_a_priority_for_the_journal(self):
        self.write(self.account("a", tiemout="3"))
        err = os.path.join(self.work, "stderr")
        with open(err, "w") as f:
            st = os.fstat(f.fileno())
            env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev,
                                                             st.st_ino))
            p = subprocess.run([harness.mailfs_bin(), "mount", "--config",
                                self.mfs.config, self.mfs.mountpoint],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                               env=env, timeout=20)
        self.assertEqual(p.returncode, 78)
        with open(err) as f:
            text = f.read()
        self.assertTrue(text.startswith("<3>mailfs: %s: [account a] tiemout: "
                                        "unknown key (did you mean timeout?)"
                                        % self.mfs.config), text)

    def test_sizes_with_units(self):
        for size in ("2GB", "2GiB", "2g", "512MiB"):
            self.write(self.account("a", cache_max=size,
                                    max_message_size=size))
            # Past the config: the server is not there.
            line = self.one_line(mailfs("mount", "--config",
                                        self.mfs.config,
                                        self.mfs.mountpoint), 75)
            self.assertIn("refused", line)

    def test_default_account(self):
        two = self.account("home") + "\n" + self.account("work")
        self.write(two)
        res = mailfs("mount", "--config", self.mfs.config,
                     self.mfs.mountpoint)
        line = self.one_line(res, 2)
        self.assertIn("several accounts (home, work) and no default", line)
        self.assertIn("default = NAME", line)
        res = mailfs("sync", "--config", self.mfs.config)
        self.assertEqual(self.one_line(res, 2), line, res)
        # Named above the groups, or by default = yes: that one is used,
        # and exits 75 as the server is not there.
        for text in ("default = work\n\n" + two,
                     self.account("home") + self.account("work",
                                                         default="yes")):
            self.write(text)
            for cmd in ("mount", "sync"):
                args = [cmd, "--config", self.mfs.config]
                if cmd == "mount":
                    args.append(self.mfs.mountpoint)
                line = self.one_line(mailfs(*args), 75)
                self.assertIn("account 'work'", line)
            line = self.one_line(mailfs("sync", "--config", self.mfs.config,
                                        "--account", "home"), 75)
            self.assertIn("account 'home'", line)
        res = mailfs("sync", "--config", self.mfs.config, "--account", "x")
        self.assertIn("no account 'x' (accounts: home, work)",
                      self.one_line(res, 2))

    def test_mount_point_of_the_config(self):
        mp = os.path.join(self.work, "not", "yet")
        self.write(self.account("a", mount_point=mp))
        line = self.one_line(mailfs("mount", "--config", self.mfs.config),
                             75)
        self.assertIn("account 'a'", line)
        # Made, private, before the server was asked.
        self.assertTrue(os.path.isdir(mp))
        self.assertEqual(os.stat(mp).st_mode & 0o777, 0o700)
        res = mailfs("umount", "--config", self.mfs.config)
        self.assertEqual(self.one_line(res, 1),
                         "mailfs: cannot unmount %s: nothing of mailfs is "
                         "mounted there" % mp)

    def test_bad_fuse_option_before_the_password(self):
        marker = os.path.join(self.work, "asked")
        self.write(self.account("a").replace(
            "password_command = echo pw",
            "password_command = touch %s; echo pw" % marker))
        res = mailfs("mount", "--config", self.mfs.config, "-o", "bogus",
                     self.mfs.mountpoint)
        self.assertEqual(res.returncode, 2, res)
        lines = harness.error_lines(res)
        self.assertTrue(lines[-1].startswith("mailfs: account 'a': cannot "
                                             "mount on "), res)
        self.assertIn("-o bogus", lines[-1])
        self.assertFalse(os.path.exists(marker), "the password was asked for")
        self.assertFalse(harness.is_mounted(self.mfs.mountpoint))


class UmountTest(unittest.TestCase):

    def setUp(self):
        self.work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, self.work)

    def test_own_words(self):
        missing = os.path.join(self.work, "no", "such")
        res = mailfs("umount", missing)
        self.assertEqual(res.returncode, 1, res)
        self.assertEqual(harness.error_lines(res),
                         ["mailfs: cannot unmount %s: no such directory"
                          % missing])
        for path in (self.work, "/proc"):
            res = mailfs("umount", path)
            self.assertEqual(res.returncode, 1, res)
            self.assertEqual(harness.error_lines(res),
                             ["mailfs: cannot unmount %s: nothing of mailfs "
                              "is mounted there" % path])
            self.assertNotIn("mtab", res.stderr)
        res = mailfs("umount", "a", "b")
        self.assertEqual(res.returncode, 2, res)


if __name__ == "__main__":
    unittest.main()
