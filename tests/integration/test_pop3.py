"""Integration tests of POP3 accounts: a private Dovecot's POP3 and POP3S
ports, mounted with `pop3 = ...`, checked against what an independent
poplib client retrieves; leave_on_server, polling for new mail, offline
mounts, a 10,000-message maildrop, and scripted bad POP3 servers.

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_pop3
"""

import email.parser
import email.utils
import errno
import os
import poplib
import random
import re
import subprocess
import time
import unittest

import harness
from fakeservers import POP3_ODD_MESSAGES, Pop3FakeServer
from harness import Mailfs, Watchdog, imap_quote

# Test messages have lines longer than poplib's default 2048-byte cap.
poplib._MAXLINE = 1024 * 1024

TIMEOUT = 2                  # the config's timeout for the bad servers
MAX_BAD_ELAPSED = 15.0       # timeout plus a generous margin
# ASan's shadow memory and quarantine make every figure larger.  The
# endless UIDL listing is cut at 1,000,000 entries (about 90 MB); the rest
# is the program and its libraries (libcurl's, for OAuth2, about 4 MB).
MAX_RSS_KB = (400 if os.environ.get("MAILFS_SANITIZED") else 110) * 1024
ROFS_ERRNOS = (errno.EROFS, errno.EACCES)
NAME_RE = re.compile(r"^([0-9]+)-([A-Za-z0-9._-]{1,64})\.eml$")


def usable():
    return harness.have_fuse() and os.path.exists("/usr/sbin/dovecot")


def setUpModule():
    harness.require_mailfs(fuse=False)


# --------------------------------------------------------------------------
# Helpers

def sanitise(uidl):
    """The file-name form of a UIDL, as the mailfs contract defines it."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", uidl)[:64]


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def wait_until(pred, timeout, interval=0.2):
    """harness.wait_until, polling every 0.2 s unless told."""
    return harness.wait_until(pred, timeout, interval)


def pop3_client(dovecot, user="alice"):
    p = poplib.POP3_SSL("127.0.0.1", dovecot.pop3s_port,
                        context=dovecot.ssl_context(), timeout=30)
    p.user(user)
    p.pass_(dovecot.users[user])
    return p


def pop3_retr_all(dovecot):
    """{uidl: RETR bytes} as poplib sees the maildrop (read-only: the
    session ends with QUIT but deletes nothing)."""
    p = pop3_client(dovecot)
    try:
        out = {}
        for entry in p.uidl()[1]:
            num, uidl = entry.decode().split(" ", 1)
            _, lines, _ = p.retr(int(num))
            out[uidl] = b"\r\n".join(lines) + b"\r\n"
        return out
    finally:
        p.quit()


def pop3_retr_some(dovecot, uidls):
    """{uidl: RETR bytes} for the UIDLs given."""
    p = pop3_client(dovecot)
    try:
        nums = {}
        for entry in p.uidl()[1]:
            num, uidl = entry.decode().split(" ", 1)
            nums[uidl] = int(num)
        out = {}
        for uidl in uidls:
            _, lines, _ = p.retr(nums[uidl])
            out[uidl] = b"\r\n".join(lines) + b"\r\n"
        return out
    finally:
        p.quit()


def pop3_count(dovecot):
    p = pop3_client(dovecot)
    try:
        return p.stat()[0]
    finally:
        p.quit()


def imap_append_all(dovecot, raws, folder="INBOX"):
    """Appends RAWS to FOLDER over one IMAP connection."""
    c = dovecot.client()
    try:
        for raw in raws:
            typ, data = c.append(imap_quote(folder), None, None, raw)
            if typ != "OK":
                raise RuntimeError("APPEND: %r" % data)
    finally:
        c.logout()


def date_epoch(raw):
    """The Date header of RAW as epoch seconds, or None."""
    hdr = email.parser.BytesHeaderParser().parsebytes(raw)
    if hdr["Date"] is None:
        return None
    return int(email.utils.parsedate_to_datetime(str(hdr["Date"])).timestamp())


def pop3_logouts(dovecot):
    """(retr, deleted) per POP3 session Dovecot logged for alice, from its
    default logout format 'top=%t/%p, retr=%r/%b, del=%d/%m, size=%s'."""
    out = []
    for line in dovecot.log().splitlines():
        if "pop3(alice)" not in line:
            continue
        m = re.search(r"retr=(\d+)/\d+, del=(\d+)/\d+", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def sample_messages():
    """Messages covering what POP3 changes on the wire: dot-stuffing, bare
    LF line ends, a missing final line end, 8-bit text, a long line, a big
    body, an odd Date and none at all."""
    def head(n, date="Mon, 05 Feb 2024 10:%02d:00 +0100" , extra=""):
        h = ("From: Sender %d <s%d@example.org>\r\nTo: alice@example.com\r\n"
             "Subject: pop3 sample %d\r\nMessage-ID: <pop3-sample-%d@example.org>\r\n"
             % (n, n, n, n))
        if date:
            h += "Date: %s\r\n" % (date % n if "%" in date else date)
        return h + extra + "\r\n"

    msgs = [
        (head(1) + "Plain body.\r\nSecond line.\r\n").encode(),
        (head(2) + ".\r\n..\r\n.hidden line\r\n. spaced\r\nend\r\n").encode(),
        (head(3).replace("\r\n", "\n") + "bare LF body\nline two\n").encode(),
        (head(4) + "no final line end").encode(),
        (head(5, date=None) + "This one has no Date header.\r\n").encode(),
        (head(6, extra="Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n")
         + "Grüße aus Köln — ✓\r\n").encode("utf-8"),
        (head(7) + "x" * 5000 + "\r\n").encode(),
        (head(8, date="5 Feb 2024 23:59:59 -0800")
         + "".join("%06d big body line with some padding text\r\n" % i
                   for i in range(5000))).encode(),
        (head(9)).encode(),
    ]
    return msgs


def filler(i, tag="bulk"):
    """A small distinct CRLF message number I."""
    return ("From: Bulk <bulk@example.org>\r\nTo: alice@example.com\r\n"
            "Subject: %s %d\r\nMessage-ID: <%s-%d@example.org>\r\n"
            "Date: Tue, 06 Feb 2024 %02d:%02d:%02d +0000\r\n\r\n"
            "%s message %d\r\n"
            % (tag, i, tag, i, (i // 3600) % 24, (i // 60) % 60, i % 60,
               tag, i)).encode()


# --------------------------------------------------------------------------

class Pop3Case(unittest.TestCase):
    """A private Dovecot and a workdir per test, all cleaned up."""

    def setUp(self):
        if not usable():
            self.skipTest("needs /dev/fuse and dovecot")
        self.workdir = harness.make_workdir("mailfs-pop3-")
        self.addCleanup(harness.remove_workdir, self.workdir)
        self.dovecot = harness.Dovecot(self.workdir).start()
        self.addCleanup(self.dovecot.stop)

    def mailfs(self, kind="pop3s", name="mfs", **keys):
        """A Mailfs for alice over KIND (pop3s or pop3) with extra KEYS."""
        m = Mailfs(self.workdir, name)
        self.addCleanup(m.cleanup)
        self.configure(m, self.dovecot.url(kind), ca_file=self.dovecot.cert,
                       **keys)
        return m

    @staticmethod
    def configure(m, url, ca_file=None, **keys):
        fd = os.open(m.pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("secret\n")
        cfg = {"pop3": url, "user": "alice",
               "password_command": "cat " + m.pwfile,
               "ca_file": ca_file, "cache_dir": m.cache_dir, "timeout": 5}
        cfg.update(keys)
        harness.write_config(m.config, {m.account: cfg})

    def mount(self, m):
        res = m.mount(timeout=60)
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(harness.is_mounted(m.mountpoint), res)
        return res

    def umount(self, m):
        res = m.umount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(m.wait_daemons_gone(10), "mailfs daemon left running")
        return res

    def listing(self, m):
        """{uidl part of the name: file name} of INBOX, checking the
        names' form."""
        out = {}
        for name in os.listdir(m.path("INBOX")):
            mt = NAME_RE.match(name)
            self.assertTrue(mt, "bad message file name %r" % name)
            self.assertNotIn(mt.group(2), out, "UIDL listed twice: %r" % name)
            out[mt.group(2)] = name
        return out

    def assert_matches_server(self, m, expected, t0=None, t1=None):
        """The mount's INBOX holds exactly EXPECTED ({uidl: bytes}), with
        exact sizes, mode 0444, and mtimes from the Date headers (or
        between T0 and T1 when there is none)."""
        names = self.listing(m)
        self.assertEqual(set(names), {sanitise(u) for u in expected})
        got_set = set()
        for uidl, raw in expected.items():
            path = m.path("INBOX", names[sanitise(uidl)])
            with self.subTest(uidl=uidl):
                st = os.stat(path)
                data = read_file(path)
                got_set.add(data)
                self.assertEqual(data, raw)
                self.assertEqual(st.st_size, len(raw))
                self.assertEqual(st.st_mode & 0o7777, 0o444)
                when = date_epoch(raw)
                if when is not None:
                    self.assertEqual(int(st.st_mtime), when)
                elif t0 is not None:
                    self.assertGreaterEqual(st.st_mtime, t0 - 2)
                    self.assertLessEqual(st.st_mtime, t1 + 2)
        self.assertEqual(got_set, set(expected.values()))
        return names


class MountTest(Pop3Case):

    def seed(self):
        imap_append_all(self.dovecot, sample_messages())
        expected = pop3_retr_all(self.dovecot)
        self.assertEqual(len(expected), len(sample_messages()))
        return expected

    def check_mount(self, kind):
        expected = self.seed()
        m = self.mailfs(kind)
        t0 = time.time()
        self.mount(m)
        with Watchdog(m, 60):
            st = os.stat(m.path("INBOX"))
            self.assertEqual(st.st_mode & 0o7777, 0o555)
            # INBOX only (no outbox/ without smtp); hidden control
            # entries such as .mailfs are not mail.
            visible = [n for n in os.listdir(m.mountpoint)
                       if not n.startswith(".")]
            self.assertEqual(visible, ["INBOX"])
            names = self.assert_matches_server(m, expected, t0, time.time())
        # Numbers and names survive a remount.
        self.umount(m)
        self.mount(m)
        with Watchdog(m, 60):
            self.assertEqual(self.listing(m), names)
        return m

    def test_pop3s_matches_poplib(self):
        self.check_mount("pop3s")
        # The session used TLS from the start.
        logins = [l for l in self.dovecot.login_lines("alice")
                  if "pop3-login" in l]
        self.assertTrue(logins)
        for l in logins:
            self.assertIn("TLS", l)

    def test_pop3_stls_matches_poplib(self):
        self.check_mount("pop3")
        # Dovecot's login lines say "TLS" for a session that used STLS and
        # "secured" for a plaintext one on loopback.
        logins = [l for l in self.dovecot.login_lines("alice")
                  if "pop3-login" in l]
        self.assertTrue(logins, self.dovecot.log()[-3000:])
        for l in logins:
            self.assertIn("TLS", l, "plain POP3 login without STLS: " + l)

    def test_messages_stay_on_server_by_default(self):
        expected = self.seed()
        m = self.mailfs(poll_interval=1)
        self.mount(m)
        with Watchdog(m, 60):
            self.assert_matches_server(m, expected)
            time.sleep(2.5)       # a few polls
            self.listing(m)
        self.umount(m)
        self.assertEqual(pop3_count(self.dovecot), len(expected))
        self.assertEqual(pop3_retr_all(self.dovecot), expected)
        sessions = pop3_logouts(self.dovecot)
        self.assertTrue(sessions, "no POP3 session in Dovecot's log")
        self.assertEqual([d for _, d in sessions if d], [],
                         "some session deleted messages: %r" % sessions)
        # Each message is downloaded once, not on every poll (the two
        # poplib sessions of this test retrieved everything twice).
        retrs = sum(r for r, _ in sessions)
        self.assertLessEqual(retrs, 3 * len(expected),
                             "mailfs downloaded messages again and again: "
                             "%r" % sessions)

    def test_leave_on_server_no(self):
        expected = self.seed()
        m = self.mailfs(leave_on_server="no", poll_interval=2)
        self.mount(m)
        with Watchdog(m, 60):
            names = self.listing(m)
            self.assertEqual(set(names), {sanitise(u) for u in expected})
            start = time.monotonic()
            gone = wait_until(lambda: pop3_count(self.dovecot) == 0, 15, 0.5)
            took = time.monotonic() - start
            self.assertTrue(gone, "messages still on the server after %.1f s:"
                            " %d" % (took, pop3_count(self.dovecot)))
            print("\n  leave_on_server=no: server empty %.1f s after ls" % took)
            self.assert_matches_server(m, expected)
            time.sleep(2.5)       # a poll of the now empty maildrop
            self.assert_matches_server(m, expected)
            # Mail that arrives while mounted is stored, then deleted too.
            # A poll may take it before poplib can read it: its UIDL comes
            # from its IMAP UID.
            raw = filler(1, "later")
            c = self.dovecot.client()
            try:
                typ, data = c.append("INBOX", None, None, raw)
                self.assertEqual(typ, "OK", data)
            finally:
                c.logout()
            uv, uid = re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups()
            late = {harness.pop3_uidl(int(uid), int(uv)): raw}
            seen = pop3_retr_all(self.dovecot)
            if seen:
                self.assertEqual(seen, late)
            appeared = wait_until(
                lambda: len(self.listing(m)) == len(expected) + 1, 10, 0.25)
            self.assertTrue(appeared, "new mail not listed")
            gone = wait_until(lambda: pop3_count(self.dovecot) == 0, 10, 0.5)
            self.assertTrue(gone, "new mail not deleted from the server")
            expected.update(late)
            self.assert_matches_server(m, expected)
            names = self.listing(m)
        self.umount(m)
        self.dovecot.stop()
        self.assertTrue(harness.port_refuses(self.dovecot.pop3s_port))
        self.mount(m)
        with Watchdog(m, 60):
            self.assertEqual(self.listing(m), names)
            self.assert_matches_server(m, expected)

    def test_leave_on_server_no_keeps_what_could_not_be_stored(self):
        """A message that does not fit in the cache stays on the server."""
        harness.skip_unless_root(self, "mount a small tmpfs")
        small = sample_messages()[:3]
        big = filler(0, "big") + b"y" * 1000 + b"\r\n"
        big = big + b"".join(b"%07d padding line of the big message\r\n" % i
                             for i in range(4 * 1024 * 1024 // 40))
        imap_append_all(self.dovecot, small + [big])
        expected = pop3_retr_all(self.dovecot)
        big_uidl = [u for u, raw in expected.items() if b"big message" in raw]
        self.assertEqual(len(big_uidl), 1)
        m = self.mailfs(leave_on_server="no", poll_interval=2)
        os.makedirs(m.cache_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs",
                        m.cache_dir], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", m.cache_dir])
        self.mount(m)
        with Watchdog(m, 60):
            try:
                self.listing(m)
            except OSError:
                pass
            time.sleep(3)     # a poll or two
            try:
                self.listing(m)
            except OSError:
                pass
        left = pop3_retr_all(self.dovecot)
        print("\n  small cache: %d of %d messages left on the server"
              % (len(left), len(expected)))
        self.assertIn(big_uidl[0], left,
                      "a message the cache could not hold was deleted on "
                      "the server")
        self.assertEqual(left[big_uidl[0]], expected[big_uidl[0]])

    def test_new_mail_appears_within_poll_interval(self):
        self.seed()
        m = self.mailfs(poll_interval=2)
        self.mount(m)
        with Watchdog(m, 60):
            before = self.listing(m)
            raw = filler(1, "late")
            imap_append_all(self.dovecot, [raw])
            start = time.monotonic()
            after = wait_until(lambda: len(self.listing(m)) > len(before),
                               10, 0.25)
            took = time.monotonic() - start
            self.assertTrue(after, "new mail not listed after %.1f s" % took)
            print("\n  new mail listed after %.1f s" % took)
            new = set(self.listing(m)) - set(before)
            self.assertEqual(len(new), 1)
            uidls = set(pop3_retr_all(self.dovecot))
            uidl = [u for u in uidls if sanitise(u) in new][0]
            want = pop3_retr_some(self.dovecot, [uidl])[uidl]
            self.assertIn(b"late message 1", want)
            path = m.path("INBOX", self.listing(m)[sanitise(uidl)])
            self.assertEqual(read_file(path), want)
            self.assertEqual(os.stat(path).st_size, len(want))
            # The old names did not move.
            for k, v in before.items():
                self.assertEqual(self.listing(m)[k], v)

    def test_offline_mount_serves_cache(self):
        expected = self.seed()
        m = self.mailfs()
        self.mount(m)
        with Watchdog(m, 60):
            names = self.assert_matches_server(m, expected)
        self.umount(m)
        self.dovecot.stop()
        self.assertTrue(harness.port_refuses(self.dovecot.pop3s_port))
        res = self.mount(m)
        self.assertIn("offline", res.stderr.lower(), res)
        with Watchdog(m, 60):
            self.assertEqual(self.listing(m), names)
            self.assert_matches_server(m, expected)


class ReadOnlyTest(Pop3Case):

    def test_every_write_is_refused(self):
        imap_append_all(self.dovecot, sample_messages()[:2])
        expected = pop3_retr_all(self.dovecot)
        m = self.mailfs()
        self.mount(m)
        inbox = m.path("INBOX")
        with Watchdog(m, 60):
            names = self.listing(m)
            first = m.path("INBOX", sorted(names.values())[0])
            before = read_file(first)
            ops = {
                "open O_WRONLY": lambda: os.open(first, os.O_WRONLY),
                "open O_RDWR": lambda: os.open(first, os.O_RDWR),
                "open O_APPEND": lambda: os.open(first, os.O_WRONLY | os.O_APPEND),
                "open O_TRUNC": lambda: os.open(first, os.O_WRONLY | os.O_TRUNC),
                "create in INBOX": lambda: os.open(
                    os.path.join(inbox, "new.eml"),
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644),
                "create at root": lambda: os.open(
                    m.path("new.eml"), os.O_WRONLY | os.O_CREAT, 0o644),
                "truncate": lambda: os.truncate(first, 0),
                "unlink": lambda: os.unlink(first),
                "rename in INBOX": lambda: os.rename(
                    first, os.path.join(inbox, "renamed.eml")),
                "rename INBOX": lambda: os.rename(inbox, m.path("Other")),
                "mkdir in INBOX": lambda: os.mkdir(os.path.join(inbox, "sub")),
                "mkdir at root": lambda: os.mkdir(m.path("Folder")),
                "rmdir INBOX": lambda: os.rmdir(inbox),
                "setxattr file": lambda: os.setxattr(first, "user.test", b"x"),
                "setxattr INBOX": lambda: os.setxattr(inbox, "user.test", b"x"),
                "removexattr": lambda: os.removexattr(first, "user.test"),
                "symlink": lambda: os.symlink("x", os.path.join(inbox, "l")),
                "link": lambda: os.link(first, os.path.join(inbox, "h.eml")),
                "mknod": lambda: os.mknod(os.path.join(inbox, "fifo"),
                                          0o600 | 0o010000),
            }
            for what, op in ops.items():
                with self.subTest(op=what):
                    with self.assertRaises(OSError) as cm:
                        fd = op()
                        if isinstance(fd, int):
                            os.close(fd)
                    # An xattr mailfs does not keep: ENOTSUP (issue 12).
                    codes = ROFS_ERRNOS + ((errno.ENOTSUP,) if "xattr" in what
                                           else ())
                    self.assertIn(cm.exception.errno, codes,
                                  "%s: %s" % (what, cm.exception))
            # Attribute changes: EPERM is also a fair answer there, and
            # so is success that changes nothing (what cp -p, rsync and tar
            # need; issue 12): owner, mode and mtime stay as they were.
            st = os.stat(first)
            for what, op in {
                    "chmod": lambda: os.chmod(first, 0o644),
                    "chown": lambda: os.chown(first, 1, 1),
                    "utime": lambda: os.utime(first, (0, 0)),
            }.items():
                with self.subTest(op=what):
                    try:
                        op()
                    except OSError as e:
                        self.assertIn(e.errno, ROFS_ERRNOS + (errno.EPERM,),
                                      "%s: %s" % (what, e))
                    now = os.stat(first)
                    self.assertEqual((now.st_uid, now.st_gid, now.st_mode,
                                      now.st_mtime),
                                     (st.st_uid, st.st_gid, st.st_mode,
                                      st.st_mtime), what)
            self.assertEqual(self.listing(m), names)
            self.assertEqual(read_file(first), before)
        self.assertEqual(pop3_retr_all(self.dovecot), expected)


class LargeMaildropTest(Pop3Case):

    COUNT = 10000

    def deliver_maildir(self, count):
        """Writes COUNT messages straight into alice's Maildir/cur (with
        S= and W= sizes in the names, so Dovecot need not read them)."""
        c = self.dovecot.client()     # Dovecot makes the Maildir
        c.select("INBOX")
        c.logout()
        mail = os.path.join(self.dovecot.dir, "mail")
        owner = os.stat(mail)
        cur = os.path.join(mail, "alice", "Maildir", "cur")
        self.assertTrue(os.path.isdir(cur), cur)
        base = int(time.time()) - 3600
        for i in range(count):
            raw = filler(i)
            name = "%d.M%dP%d.itest,S=%d,W=%d:2," % (base, i, os.getpid(),
                                                     len(raw), len(raw))
            path = os.path.join(cur, name)
            with open(path, "wb") as f:
                f.write(raw)
            os.chown(path, owner.st_uid, owner.st_gid)

    def test_ten_thousand_messages(self):
        t0 = time.monotonic()
        self.deliver_maildir(self.COUNT)
        t1 = time.monotonic()
        self.assertEqual(pop3_count(self.dovecot), self.COUNT)
        t2 = time.monotonic()
        m = self.mailfs(timeout=30)
        res = self.mount(m)
        t3 = time.monotonic()
        with Watchdog(m, 90):
            names = self.listing(m)
            t4 = time.monotonic()
            self.assertEqual(len(names), self.COUNT)
            self.assertLess(t4 - t3, 30, "listing 10,000 messages is slow")
            nums = [int(NAME_RE.match(n).group(1)) for n in names.values()]
            self.assertEqual(len(set(nums)), self.COUNT, "numbers repeat")
            # A few random files read as poplib retrieves them.
            p = pop3_client(self.dovecot)
            try:
                by_name = {}
                for entry in p.uidl()[1]:
                    num, uidl = entry.decode().split(" ", 1)
                    by_name[sanitise(uidl)] = int(num)
                self.assertEqual(set(by_name), set(names))
                picks = random.Random(7).sample(sorted(names), 8)
                for key in picks:
                    _, lines, _ = p.retr(by_name[key])
                    want = b"\r\n".join(lines) + b"\r\n"
                    path = m.path("INBOX", names[key])
                    self.assertEqual(read_file(path), want)
                    self.assertEqual(os.stat(path).st_size, len(want))
            finally:
                p.quit()
            t5 = time.monotonic()
        print("\n  10k: maildir %.1f s, dovecot STAT %.1f s, mount %.1f s, "
              "first ls %.1f s, checks %.1f s; mount peak RSS %d kB"
              % (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4,
                 res.max_rss_kb))
        rss = [harness._vmhwm_kb(pid) for pid in m.daemons()]
        print("  daemon VmHWM after listing: %r kB" % rss)
        self.assertLess(max(rss or [0]), (800 if os.environ.get("MAILFS_SANITIZED")
                                          else 200) * 1024)


class FakeServerCase(unittest.TestCase):
    """Mounts against scripted POP3 servers (fakeservers.py)."""

    @classmethod
    def setUpClass(cls):
        cls.work = harness.make_workdir("mailfs-pop3bad-")
        cls.addClassCleanup(harness.remove_workdir, cls.work)
        cls.cert = harness.make_cert(cls.work, "fake")

    def mount_against(self, behaviour, tls=True):
        fake = Pop3FakeServer(behaviour, self.cert if tls else None).start()
        self.addCleanup(fake.stop)
        m = Mailfs(self.work, "%s-%s" % (behaviour, "tls" if tls else "plain"))
        self.addCleanup(m.cleanup)
        Pop3Case.configure(m, fake.url(), ca_file=self.cert[0],
                           timeout=TIMEOUT)
        res = m.mount(timeout=60)
        return res, fake, m


class OddUidlTest(FakeServerCase):

    def test_odd_uidls_are_sanitised(self):
        """File names: <n>-<UIDL with other chars as '_', at most 64>.eml;
        two UIDLs that sanitise alike still get two files."""
        res, fake, m = self.mount_against("pop3_odd_uidls")
        self.assertEqual(res.returncode, 0, res)
        with Watchdog(m, 30):
            names = sorted(os.listdir(m.path("INBOX")))
            self.assertEqual(len(names), len(POP3_ODD_MESSAGES), names)
            got = {}
            for name in names:
                mt = NAME_RE.match(name)
                self.assertTrue(mt, "bad file name %r" % name)
                got[name] = read_file(m.path("INBOX", name))
            nums = [NAME_RE.match(n).group(1) for n in names]
            self.assertEqual(len(set(nums)), len(nums), names)
            for uidl, raw in POP3_ODD_MESSAGES:
                want = "-%s.eml" % sanitise(uidl.decode())
                with self.subTest(uidl=uidl):
                    match = [n for n in names if n.endswith(want) and
                             NAME_RE.match(n).group(2) == sanitise(uidl.decode())
                             and got[n] == raw]
                    self.assertEqual(len(match), 1, (want, names))
                    self.assertEqual(os.stat(m.path("INBOX", match[0])).st_size,
                                     len(raw))
        self.assertNotIn("DELE", fake.commands())


class BadServerTest(harness.CleanFailureAssertions, FakeServerCase):
    """Scripted bad POP3 servers: `mailfs mount` must fail with one clear
    line, soon, with bounded memory, never killed by a signal."""

    MAX_ELAPSED = MAX_BAD_ELAPSED
    MAX_RSS_KB = MAX_RSS_KB

    def what_the_mount_does(self, m):
        """For a mount that should have failed but did not: what `ls INBOX`
        gives, how long it takes, and the daemon's memory."""
        pids = m.daemons()
        start = time.monotonic()
        try:
            with Watchdog(m, 30):
                outcome = "%d entries" % len(os.listdir(m.path("INBOX")))
        except OSError as e:
            outcome = "errno %d (%s)" % (e.errno, errno.errorcode[e.errno])
        except AssertionError as e:
            outcome = str(e)
        took = time.monotonic() - start
        # Let the background poller have a go at the server too.
        time.sleep(TIMEOUT + 1)
        peak = max([harness._vmhwm_kb(p) for p in pids] or [0])
        return ("ls INBOX -> %s after %.1f s; daemon %s, peak RSS %d kB"
                % (outcome, took,
                   "alive" if m.daemons() else "gone", peak)), peak

    def mount_succeeded(self, res, m):
        what, peak = self.what_the_mount_does(m)
        self.assertLess(peak, MAX_RSS_KB, what)
        self.fail("mount succeeded against a bad server: " + what)

    def test_garbage_greeting_pop3s(self):
        res, fake, m = self.mount_against("pop3_garbage")
        self.assert_clean_failure(res, fake, m)

    def test_garbage_greeting_pop3(self):
        res, fake, m = self.mount_against("pop3_garbage", tls=False)
        self.assert_clean_failure(res, fake, m)

    def test_endless_greeting(self):
        res, fake, m = self.mount_against("pop3_endless_greeting")
        self.assert_clean_failure(res, fake, m)
        self.assertLess(fake.bytes_sent, 64 * 1024 * 1024, res)

    def test_endless_greeting_pop3(self):
        res, fake, m = self.mount_against("pop3_endless_greeting", tls=False)
        self.assert_clean_failure(res, fake, m)

    def test_capa_never_ends(self):
        res, fake, m = self.mount_against("pop3_capa_unterminated")
        self.assert_clean_failure(res, fake, m, "timed out", "timeout")
        self.assertGreater(res.elapsed, TIMEOUT * 0.8, res)

    def test_capa_never_ends_pop3(self):
        res, fake, m = self.mount_against("pop3_capa_unterminated", tls=False)
        self.assert_clean_failure(res, fake, m, "timed out", "timeout")
        self.assertNotIn("STLS", fake.commands())

    def test_capa_endless_stream(self):
        res, fake, m = self.mount_against("pop3_capa_endless")
        self.assert_clean_failure(res, fake, m)

    def test_uidl_never_ends(self):
        res, fake, m = self.mount_against("pop3_uidl_unterminated")
        self.assert_clean_failure(res, fake, m, "timed out", "timeout")
        self.assertIn("UIDL", fake.commands())

    def test_uidl_endless_stream(self):
        res, fake, m = self.mount_against("pop3_uidl_endless")
        self.assert_clean_failure(res, fake, m)
        self.assertIn("UIDL", fake.commands())

    def test_uidl_line_never_ends(self):
        res, fake, m = self.mount_against("pop3_uidl_long_line")
        self.assert_clean_failure(res, fake, m)
        self.assertLess(fake.bytes_sent, 64 * 1024 * 1024, res)

    def test_no_uidl_in_capa(self):
        res, fake, m = self.mount_against("pop3_no_uidl")
        self.assert_clean_failure(res, fake, m, "uidl")
        self.assertNotIn("RETR", fake.commands())
        self.assertNotIn("DELE", fake.commands())

    def test_no_capa_and_uidl_refused(self):
        res, fake, m = self.mount_against("pop3_no_capa_no_uidl")
        self.assert_clean_failure(res, fake, m, "uidl")
        self.assertIn("UIDL", fake.commands())
        self.assertNotIn("RETR", fake.commands())
        self.assertNotIn("DELE", fake.commands())

    def test_no_stls_never_logs_in(self):
        res, fake, m = self.mount_against("pop3_no_stls", tls=False)
        self.assert_clean_failure(res, fake, m, "stls", "tls")
        cmds = fake.commands()
        for cmd in ("USER", "PASS", "AUTH", "APOP"):
            self.assertNotIn(cmd, cmds, fake.lines)
        self.assertNotIn(b"secret", fake.received)
        self.assertNotIn(b"alice", fake.received)


if __name__ == "__main__":
    unittest.main()
