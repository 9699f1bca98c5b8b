"""Integration tests of mailfs' IMAP write operations over a real mount:
rm (to Trash, or expunge), mv between folders, new files appended on
close, mkdir/rmdir/rename of folders, flags as the user.mailfs.flags
xattr, IDLE push, and changes made offline that are replayed once the
server is back.

Every effect is checked with an independent imaplib client against the
same private Dovecot, never against what mailfs itself reports.

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_imap_write
"""

import calendar
import errno
import os
import re
import signal
import subprocess
import time
import unittest

import harness
from harness import ServerView, imap_quote, mutf7_encode

FLAGS_XATTR = "user.mailfs.flags"
# Bound for a pushed change to show in `ls` (IDLE should make it ~1 s).
PUSH_BOUND_S = 5.0
# How long a reconnect plus replay may take (backoff is 30 s at most).
RECONNECT_S = 45.0
# An offline change must not wait for the network.
OFFLINE_OP_S = 3.0


def usable():
    return harness.have_fuse() and os.path.exists("/usr/sbin/dovecot")


# --------------------------------------------------------------------------
# Helpers (local copies, so this file depends on harness.py only)

def wait_until(pred, timeout, interval=0.1):
    """harness.wait_until, polling every 0.1 s unless told."""
    return harness.wait_until(pred, timeout, interval)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def listdir_uids(path):
    """The sorted server UIDs named by the message files in PATH; a file
    written or moved through the mount may keep another name (see
    WriteCase.listed)."""
    return harness.message_uids(path)


def crlf(data):
    """DATA with every bare LF turned into CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def message(tag, size=0, eol="\r\n"):
    """A small message whose every line names TAG (about SIZE bytes)."""
    lines = ["From: Writer <writer@example.org>",
             "To: Alice <alice@example.com>",
             "Subject: write test %s" % tag,
             "Message-ID: <%s@example.org>" % tag,
             "Date: Tue, 02 Jan 2024 10:00:00 +0100",
             "", "Body of %s." % tag]
    n, i = 0, 0
    while n < size:
        line = "%s filler line %06d, lorem ipsum dolor sit amet" % (tag, i)
        lines.append(line)
        n += len(line) + 2
        i += 1
    return (eol.join(lines) + eol).encode()


def flagset(text):
    """A set of flags from an xattr value or an IMAP flag list."""
    if isinstance(text, bytes):
        text = text.decode()
    return frozenset(text.split())


def tag_of(body):
    """The tag of a message made by message(), or its size."""
    m = re.search(rb"Message-ID: <([^>]+)@example.org>", body)
    return m.group(1).decode() if m else "%d bytes" % len(body)


def errname(code):
    return errno.errorcode.get(code, str(code))


# --------------------------------------------------------------------------

def mount_log(m):
    """The last lines of the mount's own log, for a failure message."""
    try:
        with open(m.path(".mailfs", "log"), errors="replace") as f:
            return "".join(f.readlines()[-40:])
    except OSError as e:
        return "(no log: %s)" % e


class WriteCase(unittest.TestCase):
    """A private Dovecot, a workdir and (when asked) one mount per test."""

    def setUp(self):
        if not usable():
            self.skipTest("needs /dev/fuse and dovecot")
        if not os.access(harness.mailfs_bin(), os.X_OK):
            self.fail("no mailfs binary at %s" % harness.mailfs_bin())
        self.workdir = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, self.workdir)
        self.dovecot = harness.Dovecot(self.workdir).start()
        self.addCleanup(self.dovecot.stop)
        self.view = ServerView(self.dovecot)

    # -- server side --------------------------------------------------

    def seed(self, folder, raws, flags=None, create=False):
        """Appends RAWS to FOLDER (decoded name) over one connection;
        returns the new UIDs.  FLAGS: a flag list text per message."""
        c = self.dovecot.client()
        uids = []
        try:
            name = imap_quote(mutf7_encode(folder))
            if create:
                typ, data = c.create(name)
                self.assertEqual(typ, "OK", data)
            for i, raw in enumerate(raws):
                fl = flags[i] if flags else None
                typ, data = c.append(name, "(%s)" % fl if fl else None,
                                     None, raw)
                self.assertEqual(typ, "OK", data)
                uids.append(int(re.search(rb"APPENDUID \d+ (\d+)",
                                          data[0]).group(1)))
        finally:
            c.logout()
        return uids

    def server(self, folder):
        """uid -> ServerMessage of FOLDER (decoded name) on the server."""
        return self.view.messages(mutf7_encode(folder))

    def server_folders(self):
        """{wire name: ServerFolder} as the server lists them."""
        return {f.raw: f for f in self.view.folders()}

    def other_store(self, folder, uid, op, flags):
        """Another client changes the flags of UID in FOLDER."""
        c = self.dovecot.client()
        try:
            typ, data = c.select(imap_quote(mutf7_encode(folder)))
            self.assertEqual(typ, "OK", data)
            typ, data = c.uid("STORE", str(uid), op, "(%s)" % flags)
            self.assertEqual(typ, "OK", data)
        finally:
            c.logout()  # no CLOSE: nothing is expunged

    def other_expunge(self, folder, uid):
        c = self.dovecot.client()
        try:
            typ, data = c.select(imap_quote(mutf7_encode(folder)))
            self.assertEqual(typ, "OK", data)
            c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
            typ, data = c.uid("EXPUNGE", str(uid))
            self.assertEqual(typ, "OK", data)
        finally:
            c.logout()

    def stop_server(self):
        self.dovecot.stop()
        self.assertTrue(harness.port_refuses(self.dovecot.imaps_port),
                        "dovecot still accepts connections after stop")

    # -- mailfs side --------------------------------------------------

    def new_mailfs(self, name="mfs", refresh_interval=1, poll_interval=None,
                   delete=None, timeout=3):
        m = harness.Mailfs(self.workdir, name)
        extra = dict(harness.RECONNECT_KNOBS)  # offline: retry in 200 ms
        if poll_interval is not None:
            extra["poll_interval"] = poll_interval
        if delete is not None:
            extra["delete"] = delete
        m.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert,
                    timeout=timeout, refresh_interval=refresh_interval,
                    extra=extra)
        self.addCleanup(m.cleanup)
        return m

    def mount(self, m, offline=False):
        r = m.mount()
        self.assertEqual(r.returncode, 0, "mount failed: %r" % r)
        self.assertTrue(harness.is_mounted(m.mountpoint), "not mounted: %r" % r)
        if offline:
            self.assertIn("offline", r.stderr.lower(), r)
        dog = harness.Watchdog(m, 150)
        dog.__enter__()
        self.addCleanup(dog.__exit__, None, None, None)
        return m

    def mounted(self, **kw):
        return self.mount(self.new_mailfs(**kw))

    def fpath(self, m, folder, *rest):
        return m.path(*folder.split("/"), *rest)

    def mpath(self, m, folder, uid):
        """The file of the message with server UID in FOLDER, as listed
        under its server name."""
        return harness.message_file(self.fpath(m, folder), uid)

    def listed(self, m, folder, msgs=None):
        """[(uid, path)] of every message file FOLDER lists, sorted by
        UID (None last).  A file is matched to the server message of
        FOLDER (MSGS: uid -> ServerMessage, read when not given) by its
        bytes, as written (line ends made CRLF) or as served: a file
        written or moved through the mount may keep the name it was
        written or moved under, so its name need not hold its UID here."""
        msgs = self.server(folder) if msgs is None else msgs
        d = self.fpath(m, folder)
        out = []
        for name in os.listdir(d):
            path = os.path.join(d, name)
            if os.path.isdir(path):
                continue
            data = read_file(path)
            uids = [u for u, x in msgs.items()
                    if x.body == data or harness.as_appended(data, x.body)]
            out.append((uids[0] if len(uids) == 1 else None, path))
        return sorted(out, key=lambda x: (x[0] is None, x[0] or 0, x[1]))

    def listed_uids(self, m, folder, msgs=None):
        """The UIDs of self.listed (None for a file no message matches)."""
        return [u for u, _ in self.listed(m, folder, msgs)]

    def assert_listing(self, m, folder, timeout=10):
        """Waits until the mount lists FOLDER as the server does (each
        server message once, nothing else); returns the server's
        messages."""
        msgs = {}

        def same():
            msgs.clear()
            msgs.update(self.server(folder))
            return self.listed_uids(m, folder, msgs) == sorted(msgs)
        ok = wait_until(same, timeout, 0.25)
        self.assertTrue(ok, "%s: mount lists %s, server has %s"
                        % (folder, self.listed(m, folder, msgs),
                           sorted(msgs)))
        return dict(msgs)

    def assert_oserror(self, code, fn, *args, what=""):
        try:
            fn(*args)
        except OSError as e:
            self.assertEqual(e.errno, code, "%s: expected %s, got %s (%s)"
                             % (what, errname(code), errname(e.errno), e))
            return
        self.fail("%s: expected %s, it succeeded" % (what, errname(code)))

    def run_ok(self, argv):
        p = subprocess.run(argv, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, "%s: %r" % (argv, p))
        return p


# --------------------------------------------------------------------------

class RemoveTest(WriteCase):

    def test_rm_moves_to_trash(self):
        """rm moves the message to Trash (same bytes, same flags); the
        other messages stay; both listings follow."""
        raws = [message("rm-%d" % i) for i in range(3)]
        uids = self.seed("INBOX", raws, ["\\Seen", "\\Flagged", ""])
        m = self.mounted()
        self.assertEqual(listdir_uids(m.path("INBOX")), sorted(uids))
        self.assertEqual(listdir_uids(m.path("Trash")), [])

        gone = self.mpath(m, "INBOX", uids[1])
        self.run_ok(["rm", gone])
        inbox = self.server("INBOX")
        self.assertEqual(sorted(inbox), [uids[0], uids[2]],
                         "INBOX on the server after rm")
        trash = self.server("Trash")
        self.assertEqual(len(trash), 1, "Trash on the server after rm")
        moved = list(trash.values())[0]
        self.assertTrue(moved.body == raws[1], "bytes in Trash differ")
        self.assertIn("\\Flagged", moved.flags)
        self.assertNotIn("\\Deleted", moved.flags)
        self.assertFalse(os.path.lexists(gone))
        self.assert_listing(m, "INBOX", timeout=0.5)
        self.assert_listing(m, "Trash")
        self.assertEqual([read_file(p) for _, p in self.listed(m, "Trash")],
                         [raws[1]])

    def test_rm_in_trash_expunges(self):
        """rm inside Trash deletes the message for good."""
        raws = [message("trash-%d" % i) for i in range(2)]
        uids = self.seed("Trash", raws)
        m = self.mounted()
        self.assertEqual(listdir_uids(m.path("Trash")), sorted(uids))
        self.run_ok(["rm", self.mpath(m, "Trash", uids[0])])
        _, snap = self.view.snapshot()
        self.assertEqual(sorted(snap["Trash"]), [uids[1]])
        total = sum(len(v) for v in snap.values())
        self.assertEqual(total, 1, "the removed message went somewhere: %s"
                         % {f: sorted(v) for f, v in snap.items() if v})
        self.assert_listing(m, "Trash", timeout=0.5)

    def test_rm_with_delete_expunge(self):
        """With delete = expunge, rm expunges; nothing lands in Trash."""
        raws = [message("exp-%d" % i) for i in range(2)]
        uids = self.seed("INBOX", raws)
        m = self.mounted(delete="expunge")
        listdir_uids(m.path("INBOX"))
        self.run_ok(["rm", self.mpath(m, "INBOX", uids[0])])
        self.assertEqual(sorted(self.server("INBOX")), [uids[1]])
        self.assertEqual(self.server("Trash"), {})
        self.assert_listing(m, "INBOX", timeout=0.5)

    def _other_deleted_survives(self, folder, **kw):
        raws = [message("keep-%d" % i) for i in range(3)]
        uids = self.seed(folder, raws)
        m = self.mounted(**kw)
        self.assertEqual(listdir_uids(self.fpath(m, folder)), sorted(uids))
        # Another client marks uids[2] \Deleted and does not expunge.
        self.other_store(folder, uids[2], "+FLAGS.SILENT", "\\Deleted")
        self.run_ok(["rm", self.mpath(m, folder, uids[0])])
        msgs = self.server(folder)
        self.assertNotIn(uids[0], msgs, "the removed message is still there")
        self.assertIn(uids[2], msgs, "another client's \\Deleted message was "
                      "expunged by mailfs' rm (a bare EXPUNGE?)")
        self.assertIn("\\Deleted", msgs[uids[2]].flags)
        self.assertEqual(sorted(msgs), [uids[1], uids[2]])

    def test_rm_spares_other_deleted_trash_mode(self):
        """rm (to Trash) expunges only its own message."""
        self._other_deleted_survives("INBOX")

    def test_rm_spares_other_deleted_expunge_mode(self):
        """rm with delete = expunge expunges only its own message."""
        self._other_deleted_survives("INBOX", delete="expunge")

    def test_rm_spares_other_deleted_in_trash(self):
        """rm inside Trash expunges only its own message."""
        self._other_deleted_survives("Trash")


class MoveTest(WriteCase):

    def test_mv_between_folders(self):
        """mv A/NAME B/ moves it on the server: same bytes and flags, a
        new UID in B, gone from A, nothing in Trash."""
        raws = [message("mv-%d" % i, 2000) for i in range(3)]
        uids = self.seed("INBOX", raws, ["\\Seen $Label1", "", ""])
        self.seed("Archive", [message("already-there")])
        m = self.mounted()
        listdir_uids(m.path("INBOX"))
        before = set(self.server("Archive"))

        gone = self.mpath(m, "INBOX", uids[0])
        self.run_ok(["mv", gone, m.path("Archive") + "/"])
        self.assertEqual(sorted(self.server("INBOX")), uids[1:])
        archive = self.server("Archive")
        new = sorted(set(archive) - before)
        self.assertEqual(len(new), 1, "Archive gained %s" % new)
        moved = archive[new[0]]
        self.assertTrue(moved.body == raws[0], "moved bytes differ")
        self.assertEqual(moved.flags, frozenset({"\\Seen", "$Label1"}))
        self.assertEqual(self.server("Trash"), {},
                         "mv went through copy + rm (to Trash)?")
        self.assertFalse(os.path.lexists(gone))
        self.assert_listing(m, "INBOX", timeout=0.5)
        self.assert_listing(m, "Archive")
        path = dict(self.listed(m, "Archive"))[new[0]]
        self.assertEqual(read_file(path), raws[0])

    def test_mv_into_nested_folder(self):
        """A move into a nested folder lands there."""
        raw = message("mv-nested")
        uid = self.seed("INBOX", [raw])[0]
        self.seed("Projects/Alpha", [], create=True)
        m = self.mounted()
        listdir_uids(m.path("INBOX"))
        src = self.mpath(m, "INBOX", uid)
        os.rename(src, self.fpath(m, "Projects/Alpha", os.path.basename(src)))
        self.assertEqual(self.server("INBOX"), {})
        alpha = self.server("Projects/Alpha")
        self.assertEqual([x.body for x in alpha.values()], [raw])
        self.assert_listing(m, "Projects/Alpha")

    def test_rename_within_folder_changes_nothing_on_the_server(self):
        """Renaming a message inside its folder is refused (EPERM) or
        renames only its file here: either way the server is unchanged and
        the message reads the same under the name it then has."""
        raws = [message("ren-%d" % i) for i in range(2)]
        uids = self.seed("INBOX", raws)
        m = self.mounted()
        path = self.mpath(m, "INBOX", uids[0])
        for target in ("renamed.eml", "%d.eml" % (uids[1] + 100)):
            with self.subTest(target=target):
                new = self.fpath(m, "INBOX", target)
                try:
                    os.rename(path, new)
                except OSError as e:
                    self.assertEqual(e.errno, errno.EPERM, e)
                else:
                    path = new
                self.assertEqual(read_file(path), raws[0])
                msgs = self.server("INBOX")
                self.assertEqual(sorted(msgs), uids)
                self.assertEqual([msgs[u].body for u in uids], raws)
                self.assertEqual(self.server("Trash"), {})
        self.assertEqual(self.listed_uids(m, "INBOX"), sorted(uids))


class AppendTest(WriteCase):

    def new_in(self, folder, before):
        """The messages of FOLDER on the server that are not in BEFORE."""
        msgs = self.server(folder)
        return {u: x for u, x in msgs.items() if u not in before}

    def test_cp_appends_with_mtime(self):
        """cp --preserve=timestamps of a file with bare LFs (and a few
        CRLFs) appends it once, with CRLF line ends and INTERNALDATE =
        the file's mtime; close returns after the append; the listing
        shows it under its UID at once."""
        src = os.path.join(self.workdir, "local.eml")
        data = message("cp-lf", 300 * 1024, eol="\n")
        data = data.replace(b"Body of", b"Mixed\r\nline ends; body of")
        with open(src, "wb") as f:
            f.write(data)
        mtime = calendar.timegm((2021, 3, 4, 5, 6, 7))
        os.utime(src, (mtime, mtime))
        before = set(self.seed("Archive", [message("old-archive")]))
        m = self.mounted(refresh_interval=300, poll_interval=300)
        listdir_uids(m.path("Archive"))

        self.run_ok(["cp", "--preserve=timestamps", src,
                     m.path("Archive", "new.eml")])
        new = self.new_in("Archive", before)  # no waiting: close is done
        self.assertEqual(len(new), 1, "messages appended: %s" % sorted(new))
        got = list(new.values())[0]
        want = crlf(data)
        self.assertEqual(len(got.body), len(want))
        self.assertTrue(got.body == want, "appended bytes differ")
        self.assertEqual(got.internaldate, mtime,
                         "INTERNALDATE %s, file mtime %s"
                         % (time.ctime(got.internaldate), time.ctime(mtime)))
        listed = dict(self.listed(m, "Archive"))
        self.assertEqual(sorted(listed), sorted(set(before) | set(new)),
                         "listing right after the append")
        # Under its server name it reads as the server has it; under the
        # name it was written under, as written.
        path = listed[got.uid]
        self.assertEqual(read_file(path),
                         want if harness.message_uid(os.path.basename(path))
                         else data)

    def test_utime_on_fd_then_close(self):
        """A file written with os.write, its mtime set through the open fd
        before close: INTERNALDATE = that mtime."""
        m = self.mounted()
        listdir_uids(m.path("INBOX"))
        mtime = calendar.timegm((2019, 12, 31, 23, 59, 58))
        data = message("fd-utime", eol="\n")
        fd = os.open(m.path("INBOX", "draft.eml"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data[:50])
            os.write(fd, data[50:])
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)
        new = self.server("INBOX")
        self.assertEqual(len(new), 1)
        got = list(new.values())[0]
        self.assertTrue(got.body == crlf(data), "bytes differ")
        self.assertEqual(got.internaldate, mtime)
        self.assertEqual(self.listed_uids(m, "INBOX"), sorted(new))

    def test_append_without_mtime_is_now(self):
        """Without an mtime set, INTERNALDATE is the time of the append."""
        m = self.mounted()
        listdir_uids(m.path("INBOX"))
        data = message("now", eol="\r\n")
        t0 = time.time()
        with open(m.path("INBOX", "now.eml"), "wb") as f:
            f.write(data)
        t1 = time.time()
        new = self.server("INBOX")
        self.assertEqual(len(new), 1)
        got = list(new.values())[0]
        self.assertTrue(got.body == data, "CRLF input was changed")
        self.assertGreaterEqual(got.internaldate, int(t0) - 2)
        self.assertLessEqual(got.internaldate, t1 + 2)

    def test_shell_redirect(self):
        """printf ... > Folder/x.eml (several writes on one open) makes
        one message, whole."""
        m = self.mounted()
        listdir_uids(m.path("Drafts"))
        target = m.path("Drafts", "x.eml")
        script = ('{ printf "Subject: redirect\\nFrom: a@example.org\\n\\n"; '
                  'printf "line one\\n"; printf "line two\\n"; } > "$1"')
        self.run_ok(["sh", "-c", script, "sh", target])
        new = self.server("Drafts")
        self.assertEqual(len(new), 1, "messages in Drafts: %s" % sorted(new))
        got = list(new.values())[0]
        written = (b"Subject: redirect\nFrom: a@example.org\n\n"
                   b"line one\nline two\n")
        self.assertTrue(harness.as_appended(written, got.body), got.body)
        self.assertEqual(self.listed_uids(m, "Drafts"), sorted(new))


class FolderTest(WriteCase):

    def test_mkdir(self):
        """mkdir makes a mailbox, mkdir A/B a nested one, a non-ASCII name
        is sent in modified UTF-7; all show in the mount."""
        m = self.mounted()
        for parts in (("NewBox",), ("NewBox", "Child"), ("Entwürfe2",)):
            try:
                os.mkdir(m.path(*parts))
            except OSError as e:
                self.fail("mkdir %s: %s\nmount log:\n%s"
                          % ("/".join(parts), e, mount_log(m)))
        folders = self.server_folders()
        for raw in ("NewBox", "NewBox/Child", "Entw&APw-rfe2"):
            self.assertIn(raw, folders, "server folders: %s" % sorted(folders))
            self.assertTrue(folders[raw].selectable, folders[raw])
        self.assertNotIn("Entwürfe2", folders, "name not mUTF-7 encoded")
        self.assertIn("Entwürfe2", os.listdir(m.mountpoint))
        self.assertIn("NewBox", os.listdir(m.mountpoint))
        self.assertEqual(os.listdir(m.path("NewBox")), ["Child"])
        # The new mailboxes work: a message appended from outside shows.
        uid = self.seed("Entwürfe2", [message("in-new-box")])[0]
        self.assertTrue(wait_until(
            lambda: listdir_uids(m.path("Entwürfe2")) == sorted([uid]), 10))
        self.assert_oserror(errno.EEXIST, os.mkdir, m.path("NewBox"),
                            what="mkdir of an existing folder")

    def test_rmdir(self):
        """rmdir deletes an empty folder; one with messages or with a
        subfolder fails with ENOTEMPTY and stays."""
        self.seed("Empty", [], create=True)
        self.seed("Full", [message("full")], create=True)
        self.seed("Parent", [], create=True)
        self.seed("Parent/Kid", [], create=True)
        m = self.mounted()
        for name in ("Empty", "Full", "Parent"):
            self.assertTrue(os.path.isdir(m.path(name)), name)

        os.rmdir(m.path("Empty"))
        self.assertNotIn("Empty", self.server_folders())
        self.assertNotIn("Empty", os.listdir(m.mountpoint))

        self.assert_oserror(errno.ENOTEMPTY, os.rmdir, m.path("Full"),
                            what="rmdir of a folder with a message")
        self.assert_oserror(errno.ENOTEMPTY, os.rmdir, m.path("Parent"),
                            what="rmdir of a folder with a subfolder")
        folders = self.server_folders()
        for raw in ("Full", "Parent", "Parent/Kid"):
            self.assertIn(raw, folders)
        self.assertEqual(len(self.server("Full")), 1)
        os.rmdir(m.path("Parent", "Kid"))
        os.rmdir(m.path("Parent"))
        folders = self.server_folders()
        self.assertNotIn("Parent/Kid", folders)
        self.assertNotIn("Parent", folders)

    def test_rename_mailbox(self):
        """mv DIR NEWNAME renames the mailbox (with its messages and its
        subfolders)."""
        raws = [message("ren-box-%d" % i) for i in range(2)]
        self.seed("OldName", raws, create=True)
        self.seed("OldName/Sub", [message("sub")], create=True)
        m = self.mounted()
        self.assertEqual(len(listdir_uids(m.path("OldName"))), 2)
        self.run_ok(["mv", m.path("OldName"), m.path("Neuer Name")])
        folders = self.server_folders()
        self.assertNotIn("OldName", folders)
        self.assertIn("Neuer Name", folders)
        self.assertIn("Neuer Name/Sub", folders)
        bodies = sorted(x.body for x in self.server("Neuer Name").values())
        self.assertEqual(bodies, sorted(raws))
        self.assertEqual(len(self.server("Neuer Name/Sub")), 1)
        top = os.listdir(m.mountpoint)
        self.assertIn("Neuer Name", top)
        self.assertNotIn("OldName", top)
        self.assert_listing(m, "Neuer Name")
        self.assert_listing(m, "Neuer Name/Sub")


class FlagsTest(WriteCase):

    def test_xattr_lists_and_reads_server_flags(self):
        """listxattr names user.mailfs.flags; getxattr gives the server's
        flags and keywords, and nothing else (no session flag such as
        \\Recent, which no client can set and which depends on which
        session saw the message first)."""
        uids = self.seed("INBOX", [message("rd-0"), message("rd-1")],
                         ["\\Seen $Label1", ""])
        m = self.mounted()
        for uid, want in zip(uids, ({"\\Seen", "$Label1"}, set())):
            p = self.mpath(m, "INBOX", uid)
            self.assertIn(FLAGS_XATTR, os.listxattr(p))
            self.assertEqual(flagset(os.getxattr(p, FLAGS_XATTR)), want,
                             "xattr of UID %d, server has %s" % (
                                 uid, sorted(self.server("INBOX")[uid].flags)))

    def test_xattr_write_back(self):
        """Writing back what getxattr gave (as cp -a or setfattr --restore
        would) succeeds and changes nothing on the server."""
        uid = self.seed("INBOX", [message("wb")], ["\\Seen"])[0]
        m = self.mounted()
        p = self.mpath(m, "INBOX", uid)
        value = os.getxattr(p, FLAGS_XATTR)
        try:
            os.setxattr(p, FLAGS_XATTR, value)
        except OSError as e:
            self.fail("setxattr of the value getxattr gave (%r) failed: %s"
                      % (value, e))
        self.assertEqual(self.server("INBOX")[uid].flags, {"\\Seen"})

    def test_xattr_set_replaces_server_flags(self):
        """setxattr replaces the flags on the server (set and clear); the
        xattr then reads the new value; other messages are untouched."""
        uids = self.seed("INBOX", [message("fl-0"), message("fl-1")],
                         ["\\Seen", "\\Answered"])
        m = self.mounted()
        p = self.mpath(m, "INBOX", uids[0])
        cases = [b"\\Seen \\Flagged $Label1", b"\\Flagged", b"",
                 b"\\Draft $Work"]
        for value in cases:
            with self.subTest(value=value):
                os.setxattr(p, FLAGS_XATTR, value)
                server = self.server("INBOX")
                self.assertEqual(server[uids[0]].flags, flagset(value),
                                 "server flags after setxattr %r" % value)
                self.assertEqual(flagset(os.getxattr(p, FLAGS_XATTR)),
                                 flagset(value))
        other = self.server("INBOX")[uids[1]]
        self.assertEqual(other.flags, {"\\Answered"}, "other message changed")
        self.assertEqual(self.server("INBOX")[uids[0]].body, message("fl-0"))

    def test_flags_of_other_client_show(self):
        """A flag change by another client shows through the xattr
        without a remount.  (\\Recent is left out here: the test above
        covers it.)"""
        uid = self.seed("INBOX", [message("fl-other")])[0]
        m = self.mounted(refresh_interval=1)
        p = self.mpath(m, "INBOX", uid)

        def flags():
            return flagset(os.getxattr(p, FLAGS_XATTR)) - {"\\Recent"}
        self.assertEqual(flags(), set())
        self.other_store("INBOX", uid, "+FLAGS", "\\Flagged $Important")
        want = {"\\Flagged", "$Important"}
        self.assertTrue(wait_until(lambda: flags() == want, 10),
                        "xattr still %r after 10 s, server has %s"
                        % (os.getxattr(p, FLAGS_XATTR),
                           sorted(self.server("INBOX")[uid].flags)))
        self.other_store("INBOX", uid, "-FLAGS", "\\Flagged")
        self.assertTrue(wait_until(lambda: flags() == {"$Important"}, 10),
                        "removal not seen: %r" % os.getxattr(p, FLAGS_XATTR))


class PushTest(WriteCase):

    def status(self, m):
        with open(m.path(".mailfs", "status"), errors="replace") as f:
            return f.read()

    def time_until(self, pred, bound):
        start = time.monotonic()
        ok = wait_until(pred, bound * 3, 0.02)
        return bool(ok), time.monotonic() - start

    def test_push_new_and_expunged(self):
        """With refresh and poll at 300 s, a delivered message shows in
        `ls` within seconds (IDLE), an expunged one goes; on INBOX and on
        the folder looked at last."""
        inbox_uids = self.seed("INBOX", [message("push-%d" % i)
                                         for i in range(2)])
        arch_uids = self.seed("Archive", [message("push-arch")])
        m = self.mounted(refresh_interval=300, poll_interval=300)
        inbox = m.path("INBOX")
        self.assertEqual(listdir_uids(inbox), sorted(inbox_uids))
        ok = wait_until(lambda: "push: active" in self.status(m), 10)
        self.assertTrue(ok, "status: %s" % self.status(m))
        time.sleep(0.5)

        new = self.seed("INBOX", [message("pushed-new")])[0]
        want = sorted(inbox_uids + [new])
        ok, took = self.time_until(lambda: listdir_uids(inbox) == want,
                                   PUSH_BOUND_S)
        print("\npush latency, INBOX new: %.2f s" % took)
        self.assertTrue(ok and took < PUSH_BOUND_S,
                        "new INBOX message listed after %.1f s (%s)"
                        % (took, listdir_uids(inbox)))

        self.other_expunge("INBOX", inbox_uids[0])
        want = sorted(inbox_uids[1:] + [new])
        ok, took = self.time_until(lambda: listdir_uids(inbox) == want,
                                   PUSH_BOUND_S)
        print("push latency, INBOX expunged: %.2f s" % took)
        self.assertTrue(ok and took < PUSH_BOUND_S,
                        "expunged INBOX message gone after %.1f s (%s)"
                        % (took, listdir_uids(inbox)))

        arch = m.path("Archive")
        self.assertEqual(listdir_uids(arch), sorted(arch_uids))
        time.sleep(1.0)  # let the IDLE move to the folder just looked at
        self.assertIn("push: active", self.status(m))
        new = self.seed("Archive", [message("pushed-arch")])[0]
        want = sorted(arch_uids + [new])
        ok, took = self.time_until(lambda: listdir_uids(arch) == want,
                                   PUSH_BOUND_S)
        print("push latency, Archive new: %.2f s" % took)
        self.assertTrue(ok and took < PUSH_BOUND_S,
                        "new Archive message listed after %.1f s (%s)"
                        % (took, listdir_uids(arch)))
        self.other_expunge("Archive", arch_uids[0])
        want = sorted([new])
        ok, took = self.time_until(lambda: listdir_uids(arch) == want,
                                   PUSH_BOUND_S)
        print("push latency, Archive expunged: %.2f s" % took)
        self.assertTrue(ok and took < PUSH_BOUND_S,
                        "expunged Archive message gone after %.1f s (%s)"
                        % (took, listdir_uids(arch)))

    def test_no_push_without_idle_target(self):
        """Control: a folder that is not watched is not refreshed before
        refresh_interval (300 s), so the push test above measures push.
        The second watch moves at most once per 30 s (cache/push.h):
        Archive, looked at first, keeps it when Sent is looked at next."""
        uids = self.seed("Sent", [message("ctl-sent")])
        m = self.mounted(refresh_interval=300, poll_interval=300)
        listdir_uids(m.path("INBOX"))
        listdir_uids(m.path("Archive"))  # takes the second watch
        time.sleep(1.0)
        sent = m.path("Sent")
        self.assertEqual(listdir_uids(sent), sorted(uids))
        self.seed("Sent", [message("ctl-sent-new")])
        time.sleep(2.0)
        self.assertEqual(listdir_uids(sent), sorted(uids),
                         "Sent refreshed without push or refresh_interval")


class OfflineWriteTest(WriteCase):

    def maildir_file(self, token):
        """The Maildir file of the INBOX message holding TOKEN."""
        base = os.path.join(self.dovecot.dir, "mail", "alice", "Maildir")
        found = []
        for sub in ("cur", "new"):
            d = os.path.join(base, sub)
            for name in os.listdir(d):
                if token.encode() in read_file(os.path.join(d, name)):
                    found.append(os.path.join(d, name))
        self.assertEqual(len(found), 1, "Maildir files holding %s: %s"
                         % (token, found))
        return found[0]

    def timed(self, what, fn, *args):
        start = time.monotonic()
        fn(*args)
        took = time.monotonic() - start
        self.assertLess(took, OFFLINE_OP_S, "%s offline took %.1f s"
                        % (what, took))

    def prepare(self):
        """INBOX with 7 messages, Archive with one, a mount that listed
        both; returns (mailfs, uids, raws)."""
        raws = [message("off-%d" % i) for i in range(7)]
        uids = self.seed("INBOX", raws, ["\\Seen"] * 7)
        self.archive_before = self.seed("Archive", [message("off-arch")])
        self.seed("EmptyBox", [], create=True)
        m = self.mounted(refresh_interval=1, timeout=3)
        self.assertEqual(listdir_uids(m.path("INBOX")), sorted(uids))
        listdir_uids(m.path("Archive"))
        for u in uids:
            os.getxattr(self.mpath(m, "INBOX", u), FLAGS_XATTR)
        return m, uids, raws

    def offline_changes(self, m, uids, raws):
        """With the server down: rm, setxattr, mv, cp, and an rm and a
        flag change of messages that the server loses meanwhile.
        Returns the bytes of the offline append.  What does not show
        locally goes to self.local_problems (checked after the replay)."""
        self.local_problems = []
        a, b, c, g1, g2 = uids[0], uids[1], uids[2], uids[5], uids[6]
        self.timed("rm", os.unlink, self.mpath(m, "INBOX", a))
        self.timed("setxattr", os.setxattr, self.mpath(m, "INBOX", b),
                   FLAGS_XATTR, b"\\Flagged $Offline")
        src = self.mpath(m, "INBOX", c)
        self.timed("mv", os.rename, src,
                   self.fpath(m, "Archive", os.path.basename(src)))
        self.timed("rm of a message gone on the server", os.unlink,
                   self.mpath(m, "INBOX", g1))
        self.timed("setxattr of a message gone on the server", os.setxattr,
                   self.mpath(m, "INBOX", g2), FLAGS_XATTR, b"\\Flagged")
        new = message("off-append", eol="\n")
        src = os.path.join(self.workdir, "offline.eml")
        with open(src, "wb") as f:
            f.write(new)
        start = time.monotonic()
        self.run_ok(["cp", src, m.path("INBOX", "offline.eml")])
        self.assertLess(time.monotonic() - start, OFFLINE_OP_S, "cp offline")

        # The changes show locally.
        listed = listdir_uids(m.path("INBOX"))
        for u in (a, c, g1):
            self.assertNotIn(u, listed, "offline, INBOX lists UIDs %s"
                             % listed)
        self.assertEqual(flagset(os.getxattr(self.mpath(m, "INBOX", b),
                                             FLAGS_XATTR)),
                         {"\\Flagged", "$Offline"})
        arch = sorted(n for n in os.listdir(m.path("Archive"))
                      if n.endswith(".eml"))
        if len(arch) != 2:
            self.local_problems.append(
                "offline, Archive lists %s after the mv of UID %d into it "
                "(want the old message and the moved one)" % (arch, c))
        # Folder operations need the server.
        self.assert_oserror(errno.EIO, os.mkdir, m.path("Offline"),
                            what="mkdir offline")
        self.assert_oserror(errno.EIO, os.rmdir, m.path("EmptyBox"),
                            what="rmdir offline")
        self.assert_oserror(errno.EIO, os.rename, m.path("EmptyBox"),
                            m.path("Renamed"), what="rename offline")
        return crlf(new)

    def lose_on_server(self, raws, idx):
        """Deletes messages from the Maildir while Dovecot is down, as if
        another client had expunged them."""
        for i in idx:
            os.unlink(self.maildir_file("<%s@example.org>" % tag_of(raws[i])))

    def expected_problems(self, uids, raws, appended):
        """What differs between the server and the expected state after
        the replay ([] when all is applied)."""
        b = uids[1]
        problems = []
        _, snap = self.view.snapshot()
        inbox = snap["INBOX"]
        old = {u: x for u, x in inbox.items() if u in uids}
        if sorted(old) != [b, uids[3], uids[4]]:
            problems.append("INBOX holds %s of the old UIDs, want %s"
                            % (sorted(old), [b, uids[3], uids[4]]))
        for u, x in sorted(old.items()):
            if x.body != raws[uids.index(u)]:
                problems.append("INBOX UID %d is now %s" % (u, tag_of(x.body)))
        new = [x for u, x in inbox.items() if u not in uids]
        if [x.body for x in new] != [appended]:
            problems.append("INBOX new messages: %s (want the offline cp)"
                            % [len(x.body) for x in new])
        if b in inbox and inbox[b].flags != {"\\Flagged", "$Offline"}:
            problems.append("flags of %d: %s" % (b, sorted(inbox[b].flags)))
        for u in (uids[3], uids[4]):
            if u in inbox and inbox[u].flags != {"\\Seen"}:
                problems.append("untouched %d has flags %s"
                                % (u, sorted(inbox[u].flags)))
        trash = [x.body for x in snap["Trash"].values()]
        if trash != [raws[0]]:
            problems.append("Trash holds %s, want [%s]" % (
                [tag_of(x) for x in trash], tag_of(raws[0])))
        arch = [x.body for u, x in snap["Archive"].items()
                if u not in self.archive_before]
        if arch != [raws[2]]:
            problems.append("Archive gained %s, want [%s]" % (
                [tag_of(x) for x in arch], tag_of(raws[2])))
        others = {f: len(v) for f, v in snap.items()
                  if f not in ("INBOX", "Trash", "Archive") and v}
        if others:
            problems.append("other folders changed: %s" % others)
        return problems

    def replay_and_check(self, m, uids, raws, appended, poke=True):
        """Restarts Dovecot, pokes mailfs through .mailfs/ctl when POKE
        (else it must reconnect by itself) and waits for the replay."""
        self.dovecot.restart()
        if poke:
            with open(m.path(".mailfs", "ctl"), "w") as f:
                f.write("refresh\n")
        start = time.monotonic()
        ok = wait_until(lambda: not self.expected_problems(uids, raws,
                                                           appended),
                        RECONNECT_S, 0.5)
        took = time.monotonic() - start
        print("\noffline replay applied after %.1f s" % took)
        self.assertTrue(ok, "after %.0f s: %s"
                        % (took, self.expected_problems(uids, raws, appended)))
        # The mount converges to the server.
        self.assert_listing(m, "INBOX", timeout=15)
        self.assert_listing(m, "Archive", timeout=15)
        self.assert_listing(m, "Trash", timeout=15)
        self.assertEqual(flagset(os.getxattr(self.mpath(m, "INBOX", uids[1]),
                                             FLAGS_XATTR)),
                         {"\\Flagged", "$Offline"})
        self.assertEqual(self.local_problems, [])

    def test_offline_changes_replayed(self):
        """rm, setxattr, mv and cp succeed at once offline, show locally,
        and reach the server after it returns; changes to messages the
        server lost meanwhile are skipped without harm; folder operations
        fail with EIO offline."""
        m, uids, raws = self.prepare()
        self.stop_server()
        appended = self.offline_changes(m, uids, raws)
        self.lose_on_server(raws, (5, 6))
        self.replay_and_check(m, uids, raws, appended)

    def test_offline_changes_survive_restart(self):
        """The offline changes are durable: after the daemon is killed and
        mailfs mounted again (still offline), they are replayed once the
        server is back, without a poke (reconnect with backoff)."""
        m, uids, raws = self.prepare()
        self.stop_server()
        appended = self.offline_changes(m, uids, raws)
        self.lose_on_server(raws, (5, 6))
        for pid in m.daemons():
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(m.wait_daemons_gone(10))
        harness.force_unmount(m.mountpoint)
        self.mount(m, offline=True)
        self.replay_and_check(m, uids, raws, appended, poke=False)


if __name__ == "__main__":
    unittest.main()
