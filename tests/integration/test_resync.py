"""Incremental refreshes against a real Dovecot that announces QRESYNC,
only CONDSTORE, or neither (imap_capability): flags changed, messages
expunged and added by another client (imaplib) show in `mailfs sync`'s
cache and on a mount, a folder deleted and made again (a new UIDVALIDITY)
is listed anew, and what crosses the wire is checked in Dovecot's rawlog:
once a folder is listed, a refresh sends no full `UID FETCH 1:*` listing.
Push: a flag set by another client shows in user.mailfs.flags without a
listing.  (A HIGHESTMODSEQ that goes back is tested with a scripted server
in tests/unit/test_backend_imap.c.)"""

import os
import sqlite3
import time
import unittest

import harness
from harness import Mailfs, wait_until

FULL_FETCH = "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"
FLAGS_XATTR = "user.mailfs.flags"
N = 12


def message(i, tag):
    return ("From: a@example.org\r\nTo: alice@localhost\r\n"
            "Subject: %s %d\r\nMessage-ID: <%s.%d@example.org>\r\n\r\n"
            "body %d\r\n" % (tag, i, tag, i, i)).encode()


def read(path):
    with open(path) as f:
        return f.read()


class ResyncBase:
    """The tests, run against the Dovecot of each subclass (CAPS)."""

    CAPS = None
    MODSEQ = True       # flags resync without a full listing

    @classmethod
    def setUpClass(cls):
        harness.require_mailfs()
        cls.work = harness.make_workdir("mailfs-resync-")
        cls.dovecot = harness.RecordingDovecot(cls.work, caps=cls.CAPS)
        cls.dovecot.start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()
        harness.remove_workdir(cls.work)

    # --- the other client ---

    def imap(self):
        c = self.dovecot.client()
        self.addCleanup(lambda: c.logout())
        return c

    def make_folder(self, name, n=N):
        c = self.dovecot.client()
        try:
            c.create(name)
            for i in range(n):
                c.append(name, None, None, message(i, name))
        finally:
            c.logout()

    def server_flags(self, name):
        """uid -> frozenset of flags, as the server has them."""
        c = self.dovecot.client()
        try:
            typ, data = c.select(name, readonly=True)
            self.assertEqual(typ, "OK", data)
            if int(data[0]) == 0:
                return {}
            typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
            out = {}
            for line in data:
                text = line.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                flags = text.split("FLAGS (")[1].split(")")[0].split()
                out[uid] = frozenset(flags) - {"\\Recent"}
            return out
        finally:
            c.logout()

    def uidvalidity(self, name):
        c = self.dovecot.client()
        try:
            typ, data = c.status(name, "(UIDVALIDITY)")
            return int(data[0].decode().split("UIDVALIDITY ")[1].rstrip(")"))
        finally:
            c.logout()

    def change(self, name, flag_uid, expunge_uid):
        """Flags FLAG_UID, expunges EXPUNGE_UID and adds a message."""
        c = self.dovecot.client()
        try:
            c.select(name)
            c.uid("STORE", str(flag_uid), "+FLAGS", "(\\Flagged)")
            c.uid("STORE", str(expunge_uid), "+FLAGS", "(\\Deleted)")
            c.uid("EXPUNGE", str(expunge_uid))
            c.append(name, None, None, message(99, name + "-new"))
        finally:
            c.logout()

    # --- mailfs ---

    def mfs(self, **keys):
        m = Mailfs(self.work, "mfs-%s-%s" % (type(self).__name__,
                                             self._testMethodName))
        self.addCleanup(m.cleanup)
        extra = {"poll_interval": keys.pop("poll_interval", 300)}
        m.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert,
                    refresh_interval=keys.pop("refresh_interval", 1),
                    extra=extra)
        return m

    def sync(self, m, folder):
        res = harness.run([harness.mailfs_bin(), "sync", "--config",
                           m.config, "--no-recurse", folder], timeout=60)
        self.assertEqual(res.returncode, 0, res)
        return res

    def cached(self, m, folder):
        """(uidvalidity, uid -> frozenset of flags) of the cache's
        listing of FOLDER."""
        db = sqlite3.connect(os.path.join(m.cache_dir, "index.sqlite"))
        try:
            row = db.execute("SELECT id, uidvalidity FROM folders WHERE "
                             "name = ?", (folder,)).fetchone()
            rows = db.execute("SELECT uid, flags FROM messages WHERE "
                              "folder = ?", (row[0],)).fetchall()
        finally:
            db.close()
        return row[1], {u: frozenset(f.split()) for u, f in rows}

    def mount_flags(self, m, folder):
        d = m.path(folder)
        out = {}
        for uid, name in harness.message_names(d).items():
            try:
                out[uid] = frozenset(os.getxattr(
                    os.path.join(d, name), FLAGS_XATTR).decode().split())
            except FileNotFoundError:
                pass
        return out

    def assert_no_full_listing(self, mark, what):
        sent = self.dovecot.sent_since(mark)
        self.assertNotIn(FULL_FETCH, sent, "%s listed the folder in full:\n%s"
                         % (what, sent[-3000:]))
        # The rawlog did record mailfs at work.
        self.assertRegex(sent, r"A\d+ (EXAMINE|STATUS|IDLE)|DONE")
        return sent

    # --- the tests ---

    def test_sync_resyncs_only_changes(self):
        """mailfs sync: the second run of an unchanged folder, and one
        after another client changed it, do not list it in full (without
        CONDSTORE each run lists once, to learn the flags); the cache then
        holds what the server holds; a folder made again is listed anew."""
        folder = "Sync" + type(self).__name__
        self.make_folder(folder)
        m = self.mfs()
        self.sync(m, folder)
        self.assertEqual(self.cached(m, folder)[1], self.server_flags(folder))
        mark = self.dovecot.mark()
        self.sync(m, folder)
        if self.MODSEQ:
            sent = self.assert_no_full_listing(mark, "an unchanged sync")
            self.assertLess(self.dovecot.bytes_out_since(mark), 6000)
            if "QRESYNC" in (self.CAPS or "QRESYNC"):
                self.assertIn("(QRESYNC (", sent)
        self.change(folder, 3, 5)
        mark = self.dovecot.mark()
        self.sync(m, folder)
        if self.MODSEQ:
            self.assert_no_full_listing(mark, "a sync after changes")
        uv, cached = self.cached(m, folder)
        want = self.server_flags(folder)
        self.assertEqual(cached, want)
        self.assertIn("\\Flagged", cached[3])
        self.assertNotIn(5, cached)
        # A new UIDVALIDITY: the folder is listed anew.
        c = self.dovecot.client()
        c.delete(folder)
        c.logout()
        self.make_folder(folder, 3)
        self.assertNotEqual(self.uidvalidity(folder), uv)
        self.sync(m, folder)
        uv2, cached = self.cached(m, folder)
        self.assertEqual(uv2, self.uidvalidity(folder))
        self.assertEqual(cached, self.server_flags(folder))

    def test_mount_refresh_is_incremental(self):
        """On a mount: a refresh of an unchanged folder sends no full
        listing; flags changed, a message expunged and one added by
        another client all show (through push and refreshes) without
        one."""
        folder = "Mount" + type(self).__name__
        self.make_folder(folder)
        m = self.mfs(refresh_interval=1, poll_interval=1)
        harness.mount_watched(self, m, 120)
        d = m.path(folder)
        self.assertEqual(len(harness.message_uids(d)), N)
        time.sleep(1.5)
        os.listdir(d)                      # the first refresh
        time.sleep(0.5)
        mark = self.dovecot.mark()
        for _ in range(3):
            time.sleep(1.2)
            self.assertEqual(len(harness.message_uids(d)), N)
        self.assert_no_full_listing(mark, "a refresh of an unchanged folder")
        # About three polls and three refreshes: bytes, not a listing.
        self.assertLess(self.dovecot.bytes_out_since(mark), 12000)
        self.change(folder, 3, 5)
        want = self.server_flags(folder)
        ok = wait_until(lambda: self.mount_flags(m, folder) == want, 15, 0.2)
        self.assertTrue(ok, "mount shows %r, server has %r"
                        % (self.mount_flags(m, folder), want))
        self.assert_no_full_listing(mark, "the refreshes after changes")

    def test_push_flag_without_listing(self):
        """A flag set by another client shows in the xattr through push,
        with no listing of the folder (refreshes are minutes apart)."""
        folder = "Push" + type(self).__name__
        self.make_folder(folder)
        m = self.mfs(refresh_interval=300, poll_interval=300)
        harness.mount_watched(self, m, 120)
        d = m.path(folder)
        self.assertEqual(len(harness.message_uids(d)), N)
        status = m.path(".mailfs", "status")
        self.assertTrue(wait_until(lambda: "push: active" in read(status),
                                   10))
        time.sleep(1.0)                    # both watches idling
        mark = self.dovecot.mark()
        c = self.dovecot.client()
        c.select(folder)
        start = time.monotonic()
        c.uid("STORE", "4", "+FLAGS", "(\\Answered)")
        c.logout()
        path = harness.message_file(d, 4)
        ok = wait_until(lambda: "\\Answered" in os.getxattr(
            path, FLAGS_XATTR).decode(), 10, 0.01)
        took = time.monotonic() - start
        self.assertTrue(ok, os.getxattr(path, FLAGS_XATTR))
        print("\n%s: pushed flag visible after %.3f s"
              % (type(self).__name__, took))
        self.assert_no_full_listing(mark, "a pushed flag change")

    def test_mail_before_idle_starts(self):
        """A message added while the push watch of a folder is being set
        up (after the folder was listed, before IDLE) is listed at once:
        refreshes are minutes apart."""
        folder = "Race" + type(self).__name__
        self.make_folder(folder, 3)
        m = self.mfs(refresh_interval=300, poll_interval=300)
        harness.mount_watched(self, m, 120)
        status = m.path(".mailfs", "status")
        self.assertTrue(wait_until(lambda: "push: active" in read(status),
                                   10))
        c = self.dovecot.client()           # ready before the listing
        d = m.path(folder)
        self.assertEqual(len(harness.message_uids(d)), 3)
        c.append(folder, None, None, message(50, folder))  # the watch
        c.logout()                                         # connects now
        ok = wait_until(lambda: len(harness.message_uids(d)) == 4, 5, 0.05)
        self.assertTrue(ok, harness.message_uids(d))


class QresyncTest(ResyncBase, unittest.TestCase):
    CAPS = harness.DOVECOT_CAPS_QRESYNC


class CondstoreTest(ResyncBase, unittest.TestCase):
    CAPS = harness.DOVECOT_CAPS_CONDSTORE


class PlainTest(ResyncBase, unittest.TestCase):
    CAPS = harness.DOVECOT_CAPS_PLAIN
    MODSEQ = False


if __name__ == "__main__":
    unittest.main()
