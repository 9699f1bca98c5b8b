"""Fault injection: servers that lie in listings and body fetches, and an
index damaged on disk.

- RFC822.SIZE smaller or larger than the body: the message is never read
  cut or padded; opening it fails with EIO and a log line with both sizes,
  and nothing is cached for it; a UID the server lists twice is one file;
- one unparseable item of a listing (a bad INTERNALDATE, a flag with a bad
  escape, a flag with a control byte, a bad RFC822.SIZE) costs only that
  message, with a log line; the rest of the folder reads;
- a body FETCH answered OK without the body: `mailfs sync` counts only what
  it stored, names the message and exits 1; a message deleted on the server
  meanwhile is not a failure;
- random bytes in the middle of index.sqlite of a cache made by a real mount:
  the remount says so in one line and where it moved the damaged index, and
  every message then reads as the server (an independent imaplib client)
  has it.

The scripted servers live here (registered in fakeservers.BEHAVIOURS under
names of their own) so that fakeservers.py stays shared and untouched.

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_faults_server
"""

import errno
import glob
import os
import re
import sqlite3
import unittest

import corpus
import fakeservers
import harness
from fakeservers import FakeServer
from harness import Mailfs, ServerView

TIMEOUT = 3
UIDVALIDITY = 77
DATE = b'"01-Jan-2024 10:00:00 +0000"'
DATE_EPOCH = 1704103200

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-faults-server-")
    _module.update(work=work, cert=cert, dovecot=dovecot)


def message(uid, text=None):
    return (b"From: fake@example.org\r\nSubject: message %d\r\n"
            b"Message-ID: <%d@fake.example.org>\r\n\r\n%s\r\n"
            % (uid, uid, text or (b"body of message %d" % uid)))


class Msg:
    """One message of the scripted INBOX.  SIZE is what RFC822.SIZE says
    (default: the body's real size); META, when given, replaces the whole
    attribute list of its listing reply; BODY None: the server answers a
    body FETCH of it OK without the body; GONE: it is listed, but no fetch
    finds it any more (deleted meanwhile)."""

    def __init__(self, uid, body=b"", size=None, flags=b"", date=DATE,
                 meta=None, send_body=True, gone=False):
        self.uid = uid
        self.body = body or message(uid)
        self.size = len(self.body) if size is None else size
        self.flags = flags
        self.date = date
        self.meta = meta
        self.send_body = send_body
        self.gone = gone

    def meta_reply(self, seq):
        attrs = self.meta or (b"UID %d FLAGS (%s) RFC822.SIZE %d "
                              b"INTERNALDATE %s"
                              % (self.uid, self.flags, self.size, self.date))
        return b"* %d FETCH (%s)\r\n" % (seq, attrs)


def uid_set(text):
    """The UIDs of an IMAP UID set without '*' ("1:3,7")."""
    out = set()
    for part in text.split(b","):
        lo, _, hi = part.partition(b":")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


class InboxServer:
    """A scripted IMAP server with one folder, INBOX, holding MSGS (in
    that order; EXTRA_META are more listing replies sent after theirs)."""

    def __init__(self, msgs, extra_meta=b""):
        self.msgs = msgs
        self.extra_meta = extra_meta

    def seq(self, m):
        return self.msgs.index(m) + 1

    def fetch(self, conn, tag, rest):
        """Answers UID FETCH SET (...)."""
        uids = rest.split(b" ", 2)[1]
        if b"BODY.PEEK[]" in rest:
            for m in self.msgs:
                if m.uid in uid_set(uids) and not m.gone:
                    if m.send_body:
                        conn.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n"
                                  % (self.seq(m), m.uid, len(m.body)) +
                                  m.body + b")\r\n")
                    else:
                        conn.send(b"* %d FETCH (UID %d FLAGS ())\r\n"
                                  % (self.seq(m), m.uid))
        elif uids == b"1:*":
            for m in self.msgs:
                conn.send(m.meta_reply(self.seq(m)))
            conn.send(self.extra_meta)
        else:
            for m in self.msgs:
                if m.uid in uid_set(uids) and not m.gone:
                    conn.send(b"* %d FETCH (UID %d)\r\n" % (self.seq(m), m.uid))
        conn.send(tag + b" OK done\r\n")

    def session(self, conn):
        caps = b"IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS"
        conn.send(b"* OK [CAPABILITY " + caps + b"] fake\r\n")
        while True:
            line = conn.readline()
            if line is None:
                return
            parts = line.split(b" ", 2)
            tag = parts[0]
            cmd = parts[1].upper() if len(parts) > 1 else b""
            rest = parts[2] if len(parts) > 2 else b""
            if cmd == b"CAPABILITY":
                conn.send(b"* CAPABILITY " + caps + b"\r\n" + tag +
                          b" OK done\r\n")
            elif cmd == b"AUTHENTICATE":
                if len(rest.split()) < 2:
                    conn.send(b"+ \r\n")
                    if conn.readline() is None:
                        return
                conn.send(tag + b" OK logged in\r\n")
            elif cmd == b"LIST":
                conn.send(b'* LIST (\\HasNoChildren) "/" INBOX\r\n' + tag +
                          b" OK done\r\n")
            elif cmd in (b"EXAMINE", b"SELECT"):
                conn.send(b"* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n"
                          b"* OK [UIDNEXT %d] ok\r\n"
                          % (len(self.msgs), UIDVALIDITY, 1000) +
                          tag + b" OK [READ-ONLY] done\r\n")
            elif cmd == b"UID" and rest.upper().startswith(b"FETCH"):
                self.fetch(conn, tag, rest)
            elif cmd == b"LOGOUT":
                conn.send(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                return
            else:
                conn.send(tag + b" OK done\r\n")


def start_inbox(test, msgs, extra_meta=b""):
    server = InboxServer(msgs, extra_meta)
    key = "faults-server-%s" % test.id()
    fakeservers.BEHAVIOURS[key] = server.session
    fake = FakeServer(key, _module["cert"]).start()
    test.addCleanup(fake.stop)
    return fake


def read_log(m):
    try:
        with open(m.path(".mailfs", "log"), errors="replace") as f:
            return f.read()
    except OSError as e:
        return "(no log: %s)" % e


def body_files(m):
    """The body files in M's cache."""
    return glob.glob(os.path.join(m.cache_dir, "bodies", "*", "*-*.eml"))


def cached_bodies(m):
    """UID -> size of the body files in M's cache (of one folder)."""
    out = {}
    for p in body_files(m):
        uid = int(os.path.basename(p).split("-")[1].split(".")[0])
        out[uid] = os.path.getsize(p)
    return out


class FakeCase(unittest.TestCase):

    def new_mailfs(self, fake):
        m = Mailfs(_module["work"], "m-" + self._testMethodName)
        self.addCleanup(m.cleanup)
        m.configure(fake.url(), ca_file=_module["cert"][0], timeout=TIMEOUT)
        return m

    def mounted(self, fake):
        m = self.new_mailfs(fake)
        harness.mount_watched(self, m, 120)
        return m

    def assert_eio(self, path):
        with self.assertRaises(OSError) as cm:
            with open(path, "rb") as f:
                f.read()
        self.assertEqual(cm.exception.errno, errno.EIO, cm.exception)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def wait_log(self, m, *words, timeout=5):
        ok = harness.wait_until(lambda: all(w in read_log(m) for w in words),
                                timeout)
        self.assertTrue(ok, "none of %r in the log:\n%s" % (words, read_log(m)))


class SizeTest(FakeCase):
    """The server's RFC822.SIZE disagrees with the body it sends."""

    def test_body_longer_or_shorter_than_announced_is_never_served(self):
        good = Msg(1)
        longer = Msg(2, size=len(message(2)) - 10)
        shorter = Msg(3, size=len(message(3)) + 500)
        m = self.mounted(start_inbox(self, [good, longer, shorter]))
        inbox = m.path("INBOX")
        self.assertEqual(sorted(harness.message_names(inbox)), [1, 2, 3])
        for msg in (longer, shorter):
            path = m.message("INBOX", msg.uid)
            # stat shows what the server announced ...
            self.assertEqual(os.stat(path).st_size, msg.size)
            # ... and reading never gives a cut or padded body.
            self.assert_eio(path)
            self.assert_eio(path)  # also when asked again
            self.wait_log(m, "UID %d" % msg.uid, "announced %d" % msg.size,
                          "has %d" % len(msg.body))
        self.assertEqual(self.read(m.message("INBOX", 1)), good.body)
        self.assertEqual(cached_bodies(m), {1: len(good.body)})


class ListingTest(FakeCase):
    """Replies of a listing that the server got wrong."""

    def test_uid_listed_twice_is_one_file(self):
        msgs = [Msg(1), Msg(2, flags=b"\\Seen"), Msg(3)]
        twice = (msgs[1].meta_reply(2) + msgs[1].meta_reply(2) +
                 Msg(2, flags=b"\\Flagged").meta_reply(4))
        m = self.mounted(start_inbox(self, msgs, extra_meta=twice))
        names = os.listdir(m.path("INBOX"))
        uids = [harness.message_uid(n) for n in names]
        self.assertEqual(sorted(uids), [1, 2, 3], names)
        self.assertEqual(self.read(m.message("INBOX", 2)), msgs[1].body)
        self.wait_log(m, "UID 2", "more than once")

    def test_one_bad_item_costs_only_its_message(self):
        msgs = [
            Msg(1),
            Msg(2, date=b'"31-Foo-2024 99:99:99 +9999"'),
            Msg(3, flags=b'\\Seen "\\q"'),           # a bad escape
            Msg(4, flags=b"\\Seen b\x01d"),          # a control byte
            Msg(5, meta=b"UID 5 FLAGS () RFC822.SIZE 12x INTERNALDATE "
                        + DATE),
            Msg(6, meta=b"UID six FLAGS () RFC822.SIZE 10 INTERNALDATE "
                        + DATE),
            Msg(7),
        ]
        m = self.mounted(start_inbox(self, msgs))
        inbox = m.path("INBOX")
        self.assertEqual(sorted(harness.message_names(inbox)),
                         [1, 2, 3, 4, 7])
        for msg in msgs:
            if msg.uid in (1, 2, 3, 4, 7):
                self.assertEqual(self.read(m.message("INBOX", msg.uid)),
                                 msg.body, msg.uid)
        self.assertEqual(os.stat(m.message("INBOX", 1)).st_mtime, DATE_EPOCH)
        self.assertEqual(os.stat(m.message("INBOX", 2)).st_mtime, 0)
        self.wait_log(m, "UID 2", "INTERNALDATE", "31-Foo-2024")
        self.wait_log(m, "UID 3", "flag left out")
        self.wait_log(m, "UID 4", "flag left out")
        self.wait_log(m, "not listed", "RFC822.SIZE", "12x")
        self.wait_log(m, "not listed", "six")


def sync(m, timeout=60):
    return harness.run([harness.mailfs_bin(), "sync", "--config", m.config],
                       timeout=timeout)


SUMMARY_RE = re.compile(r"(\d+) messages fetched .*; (\d+) were already cached")


class SyncTest(FakeCase):
    """`mailfs sync` counts only what it stored."""

    def test_body_fetch_answered_ok_without_body(self):
        msgs = [Msg(1), Msg(2, send_body=False), Msg(3),
                Msg(4, size=len(message(4)) + 7)]
        m = self.new_mailfs(start_inbox(self, msgs))
        res = sync(m)
        self.assertEqual(res.returncode, 1, res)
        found = SUMMARY_RE.findall(res.stdout)
        self.assertEqual(found and found[-1][0], "2", res)
        self.assertIn("UID 2", res.stderr, res)
        self.assertIn("did not send the body", res.stderr, res)
        self.assertIn("UID 4", res.stderr, res)
        self.assertIn("announced %d" % msgs[3].size, res.stderr, res)
        self.assertRegex(res.stderr, r"2 messages could not be fetched", res)
        self.assertEqual(cached_bodies(m), {1: len(msgs[0].body),
                                            3: len(msgs[2].body)})
        # A second run has the same two left, and says so again.
        again = sync(m)
        self.assertEqual(again.returncode, 1, again)
        self.assertEqual(SUMMARY_RE.findall(again.stdout)[-1], ("0", "2"),
                         again)

    def test_message_gone_meanwhile_is_not_a_failure(self):
        msgs = [Msg(1), Msg(2, gone=True), Msg(3)]
        m = self.new_mailfs(start_inbox(self, msgs))
        res = sync(m)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(SUMMARY_RE.findall(res.stdout)[-1][0], "2", res)
        self.assertIn("INBOX: 2 messages fetched", res.stdout, res)
        self.assertEqual(sorted(cached_bodies(m)), [1, 3])


class IndexDamageTest(unittest.TestCase):
    """index.sqlite of a real cache gets random bytes in its middle."""

    @classmethod
    def setUpClass(cls):
        cls.dovecot = _module["dovecot"]
        corpus.seed(cls.dovecot)

    def mount(self, m):
        res = m.mount()
        self.assertEqual(res.returncode, 0, res)
        wd = harness.Watchdog(m, 180)
        wd.__enter__()
        self.addCleanup(wd.timer.cancel)
        return res

    def read_all(self, m, server):
        """Reads every message and compares it with the server's."""
        n = 0
        for folder, msgs in server.items():
            for uid, sm in msgs.items():
                with open(m.message(folder, uid), "rb") as f:
                    self.assertEqual(f.read(), sm.body, (folder, uid))
                n += 1
        return n

    def corrupt_middle(self, path):
        """Overwrites a whole page in the middle of PATH (SQLite pages are
        4096 bytes here) with random bytes."""
        size = os.path.getsize(path)
        self.assertGreaterEqual(size, 4 * 4096, "index too small to damage")
        at = (size // 2) // 4096 * 4096
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(os.urandom(4096))

    def test_damaged_index_is_set_aside_and_rebuilt(self):
        _, server = ServerView(self.dovecot).snapshot()
        m = Mailfs(_module["work"], "damage")
        self.addCleanup(m.cleanup)
        m.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert,
                    timeout=10)
        self.mount(m)
        total = self.read_all(m, server)
        self.assertGreater(total, 5)
        self.assertEqual(m.umount().returncode, 0)
        self.assertTrue(m.wait_daemons_gone(10))
        index = os.path.join(m.cache_dir, "index.sqlite")
        self.assertFalse(os.path.exists(index + "-wal") and
                         os.path.getsize(index + "-wal") > 0)
        old_bodies = body_files(m)
        self.assertEqual(len(old_bodies), total)

        # An intact index is kept as it is, without a word.
        res = self.mount(m)
        self.assertEqual(harness.error_lines(res), [], res)
        self.assertEqual(glob.glob(os.path.join(m.cache_dir, "damaged-*")),
                         [])
        self.assertEqual(m.umount().returncode, 0)
        self.assertTrue(m.wait_daemons_gone(10))

        self.corrupt_middle(index)
        res = self.mount(m)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, res)
        self.assertIn("index.sqlite is damaged", lines[0])
        aside = glob.glob(os.path.join(m.cache_dir, "damaged-*"))
        self.assertEqual(len(aside), 1, aside)
        self.assertIn(aside[0], lines[0])
        self.assertIn("delete", lines[0])
        # Nothing was deleted: the damaged index and the bodies are there.
        self.assertTrue(os.path.isfile(os.path.join(aside[0],
                                                    "index.sqlite")))
        moved = glob.glob(os.path.join(aside[0], "bodies", "*", "*.eml"))
        self.assertEqual(len(moved), len(old_bodies))
        self.assertIn("is damaged", read_log(m))

        # Every message reads as the server has it, fetched anew.
        self.assertEqual(self.read_all(m, server), total)
        self.assertEqual(len(body_files(m)), total)
        self.assertEqual(m.umount().returncode, 0)
        self.assertTrue(m.wait_daemons_gone(10))
        db = sqlite3.connect(index)
        try:
            self.assertEqual(db.execute("PRAGMA quick_check").fetchall(),
                             [("ok",)])
        finally:
            db.close()

        # The new index is sound: the next mount says nothing.
        res = self.mount(m)
        self.assertEqual(harness.error_lines(res), [], res)
        self.assertEqual(len(glob.glob(os.path.join(m.cache_dir,
                                                    "damaged-*"))), 1)
        self.assertEqual(self.read_all(m, server), total)


if __name__ == "__main__":
    unittest.main()
