"""The mailfs command line: help, version, config errors, refused
connections and usage errors, without any server."""

import os
import unittest

import harness
from harness import Mailfs, run


def setUpModule():
    harness.require_mailfs(fuse=False)


def mailfs(*args, timeout=20):
    return run([harness.mailfs_bin()] + list(args), timeout=timeout)


class CliTest(unittest.TestCase):

    def setUp(self):
        self.work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, self.work)
        self.mfs = Mailfs(self.work, "cli")
        self.addCleanup(self.mfs.cleanup)

    def assert_one_line_failure(self, res):
        self.assertFalse(res.timed_out, res)
        self.assertGreater(res.returncode, 0, res)
        self.assertFalse(harness.is_mounted(self.mfs.mountpoint), res)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % res)
        return lines[0]

    def test_help_lists_the_commands(self):
        for flag in ("--help", "-h"):
            res = mailfs(flag)
            self.assertEqual(res.returncode, 0, res)
            words = (res.stdout + res.stderr).split()
            self.assertIn("mount", words, res)
            self.assertIn("umount", words, res)

    def test_version(self):
        res = mailfs("--version")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stdout.splitlines()[0],
                         "mailfs " + harness.project_version())

    def test_unknown_command_fails(self):
        res = mailfs("frobnicate")
        self.assertGreater(res.returncode, 0, res)
        self.assertTrue(res.stderr.strip(), res)

    def test_mount_without_mountpoint_uses_the_mount_point_key(self):
        # Without MOUNTPOINT: the account's mount_point (test_cli_config,
        # test_daemon); two are a usage error.
        self.mfs.configure("imaps://127.0.0.1:1")
        res = mailfs("mount", "--config", self.mfs.config, "a", "b")
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("too many arguments", res.stderr)

    def test_missing_config_names_the_file(self):
        missing = os.path.join(self.work, "no-such-dir", "mailfs.conf")
        res = mailfs("mount", "--config", missing, self.mfs.mountpoint)
        line = self.assert_one_line_failure(res)
        self.assertIn(missing, line, res)

    def test_unknown_key_is_named(self):
        self.mfs.configure("imaps://127.0.0.1:1",
                           extra={"imap_sevrer": "typo.example"})
        res = self.mfs.mount()
        line = self.assert_one_line_failure(res)
        self.assertIn("imap_sevrer", line, res)
        self.assertIn(self.mfs.config, line, res)
        self.assertIn("[account %s]" % self.mfs.account, line, res)

    def test_bad_timeout_value_is_named(self):
        self.mfs.configure("imaps://127.0.0.1:1", timeout="soon")
        res = self.mfs.mount()
        line = self.assert_one_line_failure(res)
        self.assertIn("timeout", line, res)
        self.assertIn(self.mfs.config, line, res)

    def test_unknown_account_fails(self):
        self.mfs.configure("imaps://127.0.0.1:1")
        res = mailfs("mount", "--config", self.mfs.config, "--account",
                     "nosuchaccount", self.mfs.mountpoint)
        line = self.assert_one_line_failure(res)
        self.assertIn("nosuchaccount", line, res)

    def test_password_in_readable_file_is_refused(self):
        self.mfs.configure("imaps://127.0.0.1:1", password_in_file=True)
        os.chmod(self.mfs.config, 0o644)
        res = self.mfs.mount()
        line = self.assert_one_line_failure(res)
        self.assertIn(self.mfs.config, line, res)

    def test_connection_refused_is_fast_and_named(self):
        port = harness.free_port()  # nothing listens there
        url = "imaps://127.0.0.1:%d" % port
        self.mfs.configure(url, timeout=3)
        res = self.mfs.mount()
        line = self.assert_one_line_failure(res)
        self.assertIn("'%s'" % self.mfs.account, line, res)
        self.assertIn("127.0.0.1:%d" % port, line, res)
        self.assertIn("refused", line.lower(), res)
        self.assertLess(res.elapsed, 3, res)

    def test_umount_of_something_not_mounted_fails(self):
        res = mailfs("umount", self.mfs.mountpoint)
        self.assertGreater(res.returncode, 0, res)
        self.assertTrue(res.stderr.strip(), res)


if __name__ == "__main__":
    unittest.main()
