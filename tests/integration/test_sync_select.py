"""Which messages `mailfs sync` fetches: folder patterns as mbsync's
Patterns ('Archive*', '*' '!Junk'), subfolders with their folder, each
folder once, sync_folders as the default set, max_message_size and max_age,
--all; and what it shows: the progress line on a terminal of 50 columns,
"1 message" not "1 messages".  What was fetched is checked in the cache's
index (the bodies table) against an independent listing of the server."""

import fcntl
import os
import pty
import re
import sqlite3
import struct
import subprocess
import termios
import time
import unittest

import corpus
import harness
from harness import Mailfs, ServerView

_module = {}


def setUpModule():
    harness.require_mailfs(fuse=False)
    work, cert, dovecot = harness.module_dovecot("mailfs-syncsel-")
    corpus.seed(dovecot)
    _module.update(work=work, cert=cert, dovecot=dovecot,
                   view=ServerView(dovecot))


def cached(mfs):
    """{folder path: number of bodies cached} of MFS's cache."""
    db = os.path.join(mfs.cache_dir, "index.sqlite")
    if not os.path.exists(db):
        return {}
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        rows = con.execute("SELECT f.path, COUNT(*) FROM bodies b JOIN "
                           "folders f ON f.id = b.folder GROUP BY f.path")
        return dict(rows.fetchall())
    finally:
        con.close()


class SyncSelectTest(unittest.TestCase):

    def setUp(self):
        self.dovecot = _module["dovecot"]
        self.view = _module["view"]
        self.snap = {f: len(m) for f, m in self.view.snapshot()[1].items()}

    def new_mfs(self, user="alice", name=None, **extra):
        mfs = Mailfs(_module["work"], name or "mfs-" + self._testMethodName)
        mfs.configure(self.dovecot.url("imaps"), ca_file=_module["cert"][0],
                      user=user, password=self.dovecot.users[user],
                      extra=extra)
        return mfs

    def sync(self, mfs, *args, env=None):
        return harness.run([harness.mailfs_bin(), "sync", "--config",
                            mfs.config] + list(args), timeout=60, env=env)

    def expect(self, *folders):
        """{folder: count} of the server for FOLDERS (those with mail)."""
        return {f: self.snap[f] for f in folders if self.snap.get(f)}

    def test_patterns_like_mbsync(self):
        cases = [
            (["Archive*"], ["Archive", "Archive/2024", "Archive/2024/Q1"]),
            (["*", "!Archive", "!Sent"],
             [f for f in self.snap if f != "Sent" and
              not (f + "/").startswith("Archive/")]),
            (["--no-recurse", "%"], [f for f in self.snap if "/" not in f]),
            (["%"], list(self.snap)),
            (["!Archive*"],
             [f for f in self.snap if not f.startswith("Archive")]),
        ]
        for i, (patterns, folders) in enumerate(cases):
            mfs = self.new_mfs(name="mfs-pattern-%d" % i)
            res = self.sync(mfs, *patterns)
            self.assertEqual(res.returncode, 0, res)
            self.assertEqual(cached(mfs), self.expect(*folders),
                             (patterns, res))

    def test_a_folder_brings_its_subfolders(self):
        mfs = self.new_mfs()
        res = self.sync(mfs, "Archive/2024")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(cached(mfs), self.expect("Archive/2024",
                                                  "Archive/2024/Q1"))
        # --no-recurse: the folder alone.
        mfs = self.new_mfs(name="mfs-no-recurse")
        res = self.sync(mfs, "--no-recurse", "Archive")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(cached(mfs), self.expect("Archive"))
        # A parent that holds no mail (\Noselect) still brings its children.
        mfs = self.new_mfs(name="mfs-noselect")
        res = self.sync(mfs, "Projects")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(cached(mfs), self.expect("Projects/Alpha"))

    def test_each_folder_once(self):
        mfs = self.new_mfs()
        res = self.sync(mfs, "INBOX", "INBOX", "IN*", "Archive", "Archive*")
        self.assertEqual(res.returncode, 0, res)
        lines = [l for l in res.stdout.splitlines() if ": " in l and
                 "fetched (" in l]
        folders = [l.split(":")[0] for l in lines]
        self.assertEqual(sorted(folders), sorted(set(folders)), res)
        self.assertEqual(sorted(folders), sorted(self.expect(
            "INBOX", "Archive", "Archive/2024", "Archive/2024/Q1")), res)
        want = sum(self.expect("INBOX", "Archive", "Archive/2024",
                               "Archive/2024/Q1").values())
        self.assertIn("%d messages fetched" % want, res.stdout, res)

    def test_a_name_that_is_no_folder_fails(self):
        mfs = self.new_mfs()
        res = self.sync(mfs, "INBOX", "No/Such")
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("no folder 'No/Such'", res.stderr)
        self.assertEqual(cached(mfs), {})
        # A wildcard that matches nothing is no error.
        res = self.sync(mfs, "Nothing*")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("0 messages fetched", res.stdout)

    def test_sync_folders_is_the_default_set(self):
        mfs = self.new_mfs(sync_folders="INBOX 'Entw\u00fcrfe'  # mine")
        res = self.sync(mfs)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(cached(mfs), self.expect("INBOX", "Entw\u00fcrfe"))
        # The command line's patterns win.
        res = self.sync(mfs, "Sent")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(cached(mfs), self.expect("INBOX", "Entw\u00fcrfe",
                                                  "Sent"))

    def test_max_message_size(self):
        folder, _ = corpus.LARGE_AT
        mfs = self.new_mfs(max_message_size="100KiB")
        res = self.sync(mfs, "--no-recurse", folder)
        self.assertEqual(res.returncode, 0, res)
        n = self.snap[folder]
        self.assertEqual(cached(mfs), {folder: n - 1}, res)
        self.assertIn("1 left out (max_message_size, max_age)", res.stdout)
        # Without the limit the large one comes, the rest are there.
        mfs.configure(self.dovecot.url("imaps"), ca_file=_module["cert"][0])
        res = self.sync(mfs, "--no-recurse", folder)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("1 message fetched", res.stdout, res)
        self.assertIn("%d were already cached" % (n - 1), res.stdout, res)
        self.assertEqual(cached(mfs), {folder: n})

    def test_max_age_and_one_message(self):
        # Bob's folder Aged: two old messages and one of today.
        c = self.dovecot.client("bob")
        c.create("Aged")
        c.logout()
        bob = ServerView(self.dovecot, "bob")
        old = time.time() - 400 * 86400
        for i in range(2):
            bob.append("Aged", corpus_message("old %d" % i), date=old)
        bob.append("Aged", corpus_message("new"))
        mfs = self.new_mfs(user="bob", max_age="1y")
        res = self.sync(mfs, "Aged")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(cached(mfs), {"Aged": 1})
        # One of each: no "1 messages", no "1 were".
        self.assertIn("Aged: 1 message fetched (", res.stdout, res)
        self.assertRegex(res.stdout, r"(^|\n)1 message fetched \(.*; 0 were "
                         r"already cached; 2 left out", res)
        self.assertNotIn("1 messages", res.stdout + res.stderr)
        res = self.sync(mfs, "Aged")
        self.assertIn("0 messages fetched", res.stdout, res)
        self.assertIn("1 was already cached", res.stdout, res)

    def test_all_accounts(self):
        mfs = Mailfs(_module["work"], "mfs-all")
        keys = {"imap": self.dovecot.url("imaps"),
                "ca_file": _module["cert"][0], "sync_folders": "INBOX"}
        accounts = {}
        for user in ("alice", "bob"):
            pw = os.path.join(mfs.dir, user + ".pw")
            with open(pw, "w") as f:
                f.write(self.dovecot.users[user] + "\n")
            accounts[user] = dict(keys, user=user,
                                  password_command="cat " + pw,
                                  cache_dir=os.path.join(mfs.dir, user))
        harness.write_config(mfs.config, accounts)
        ServerView(self.dovecot, "bob").append("INBOX",
                                               corpus_message("for all"))
        res = self.sync(mfs, "--all")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("== account alice\n", res.stdout)
        self.assertIn("\n== account bob\n", res.stdout)
        for user in ("alice", "bob"):
            inbox = ServerView(self.dovecot, user).messages("INBOX")
            mfs.cache_dir = accounts[user]["cache_dir"]
            self.assertEqual(cached(mfs), {"INBOX": len(inbox)}, user)
        res = self.sync(mfs, "--all", "--account", "bob")
        self.assertEqual(res.returncode, 2, res)

    def test_progress_on_a_narrow_terminal(self):
        mfs = self.new_mfs()
        lines = run_on_pty([harness.mailfs_bin(), "sync", "--config",
                            mfs.config, "*"], columns=50)
        text = lines.decode("utf-8", "replace")
        draws = [d.replace("\x1b[K", "") for d in text.split("\r")]
        draws = [d for d in draws if d.strip() and "%" in d]
        self.assertTrue(draws, repr(text))
        for d in draws:
            self.assertLess(len(d.split("\n")[0]), 50, repr(d))
        last = draws[-1].split("\n")[0]
        self.assertIn("100%", last, repr(text))
        self.assertIn("ETA", last, repr(text))
        self.assertRegex(last, r"\d+/\d+ msgs", repr(text))
        # Then the summary, on a line of its own.
        total = sum(self.snap.values())
        self.assertIn("\n%d messages fetched" % total,
                      text.replace("\r\n", "\n"))
        # Wide enough, the folder and the rate are shown too.
        mfs = self.new_mfs(name="mfs-wide")
        text = run_on_pty([harness.mailfs_bin(), "sync", "--config",
                           mfs.config, "INBOX"], columns=120).decode()
        self.assertRegex(text, r"INBOX  \d+/\d+ msgs  [\d.]+/[\d.]+ MB  "
                         r"\d+%  [\d.-]+ MB/s  ETA ", repr(text))


def corpus_message(subject):
    return ("From: Carol <carol@example.com>\r\nTo: Bob <bob@example.com>\r\n"
            "Subject: %s\r\nMessage-ID: <%s.%d@example.com>\r\n\r\n"
            "body\r\n" % (subject, subject.replace(" ", "-"),
                          time.time_ns())).encode()


def run_on_pty(argv, columns, timeout=60):
    """Runs ARGV with stdout (and stderr) on a pseudo-terminal COLUMNS wide;
    returns every byte it wrote there."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
        p.wait(10)
    if p.returncode != 0:
        raise AssertionError("%r exited %s: %r" % (argv, p.returncode, out))
    return out


if __name__ == "__main__":
    unittest.main()
