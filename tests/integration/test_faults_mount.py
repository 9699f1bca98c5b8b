"""Faults around the mount itself (issue 13 items 4, 6, 8, 10, 11, 18 and
issue 12's mount point): two mounts of one cache, POP3 downloads that do
not match what the server announced, server text with terminal escapes,
a push watch stopped while it connects, what the daemon keeps of the
password, and mount points that cannot take a mount.

Real Dovecot, a real SMTP server (smtpserver.py), scripted POP3 and IMAP
servers (fakeservers.FakeServer with behaviours of this module), and the
outcome checked where it happened: the SMTP server's records, the
scripted POP3 server's maildrop, the bytes mailfs printed and kept.  Runs
as root and as an unprivileged user."""

import base64
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from fakeservers import FakeServer
from harness import Dovecot, Mailfs, Watchdog, wait_until
from smtpserver import SmtpServer

RUN = "%d-%d" % (os.getpid(), int(time.time()))
# Terminal escapes a hostile server may send: colour and clear screen
# (CSI), a window title (OSC ended by BEL), an 8-bit CSI (C1, U+009B).
ESCAPES = b"\x1b[31m\x1b[2J\x1b]0;owned\x07\xc2\x9b5m"

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-faults-mount-")
    _module.update(work=work, cert=cert, dovecot=dovecot)


def mailfs(*args, timeout=30):
    return harness.run([harness.mailfs_bin()] + list(args), timeout=timeout)


def raw_controls(data):
    """The control bytes (C0 but newline, DEL, C1 as UTF-8) in DATA."""
    text = data.decode("utf-8", "surrogateescape")
    return sorted({c for c in text
                   if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7f
                   or 0x80 <= ord(c) <= 0x9f or 0xdc80 <= ord(c) <= 0xdcff})


class Base(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.cert = _module["cert"]
        self.dovecot = _module["dovecot"]

    def new_mfs(self, name=None, **configure):
        mfs = Mailfs(self.work, name or "m-%s-%d" % (self._testMethodName,
                                                   len(self._cleanups)))
        self.addCleanup(mfs.cleanup)
        if configure is not None:
            configure.setdefault("ca_file", self.cert[0])
            url = configure.pop("url", None) or self.dovecot.url("imaps")
            mfs.configure(url, **configure)
        return mfs

    def beside(self, mfs, name):
        """A second Mailfs with MFS's config and cache, another mount
        point."""
        other = Mailfs(self.work, name)
        self.addCleanup(other.cleanup)
        other.config, other.cache_dir = mfs.config, mfs.cache_dir
        return other

    def mount(self, mfs, *extra):
        res = mfs.mount(*extra)
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(harness.is_mounted(mfs.mountpoint), res)
        return res

    def umount(self, mfs):
        res = mfs.umount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(mfs.wait_daemons_gone(10), "daemon still running")

    def daemon_pid(self, mfs):
        pids = mfs.daemons()
        self.assertEqual(len(pids), 1, pids)
        return pids[0]

    def assert_refused(self, res, mfs, *words):
        """RES (of mounting MFS) failed before mounting, with one line
        holding every one of WORDS; returns the line."""
        self.assertFalse(res.timed_out, res)
        self.assertEqual(res.returncode, 1, res)
        self.assertFalse(harness.is_mounted(mfs.mountpoint), res)
        self.assertTrue(mfs.wait_daemons_gone(5), "a mailfs process is left")
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % res)
        for w in words:
            self.assertIn(w, lines[0], res)
        return lines[0]

    def ctl(self, mfs, command):
        with open(mfs.path(".mailfs", "ctl"), "w") as f:
            f.write(command + "\n")

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()


# --------------------------------------------------------------------------
# Item 4: one mount per cache directory

def outbox_message(subject):
    return ("From: Alice <alice@example.com>\nTo: Bob <bob@example.com>\n"
            "Subject: %s\n\nsent once, I hope\n" % subject).encode()


class CacheLockTest(Base):

    def test_second_mount_refused_and_each_queued_message_sent_once(self):
        smtp = SmtpServer(self.work, self.cert, "starttls",
                          name="smtp-lock-" + RUN)
        self.addCleanup(smtp.stop)
        smtp.port = harness.free_port()        # not started yet: mail queues
        first = self.new_mfs("lock-a", timeout=5,
                             extra={"smtp": smtp.url,
                                    "from": "alice@example.com"})
        second = self.beside(first, "lock-b")
        self.mount(first)
        subjects = ["lock %d %s" % (i, RUN) for i in range(10)]
        with Watchdog(first, 120):
            for i, subject in enumerate(subjects):
                with open(first.path("outbox", "m%d.eml" % i), "wb") as f:
                    f.write(outbox_message(subject))
            pid = self.daemon_pid(first)

            res = second.mount()
            line = self.assert_refused(res, second, "cache directory",
                                       "pid %d" % pid, first.mountpoint)
            self.assertIn("'%s'" % second.account, line)
            print("\n  refused: " + line)
            # Nor with the daemon of the second mount left behind.
            self.assertEqual(first.daemons(), [pid])
            # mailfs sync beside a mount stays allowed.
            res = mailfs("sync", "--quiet", "--config", first.config)
            self.assertEqual(res.returncode, 0, res)

            smtp.start()
            self.ctl(first, "flush")
            got = smtp.wait_envelopes(b"lock ", 10, 60)
            self.assertEqual(len(got), 10, smtp.records())
            self.assertTrue(wait_until(
                lambda: "outbox_queued: 0" in
                self.read(first.path(".mailfs", "status")).decode(), 20))
        time.sleep(1.0)
        self.umount(first)
        # The lock went with the daemon: the other mount point works now,
        # and sends nothing again.
        self.mount(second)
        with Watchdog(second, 60):
            time.sleep(2.0)
            self.assertEqual(os.listdir(second.path("outbox")), ["failed"])
        self.umount(second)
        counts = {}
        for env in smtp.envelopes():
            subject = re.search(rb"Subject: (.*)\r\n", env["data"]).group(1)
            counts[subject.decode()] = counts.get(subject.decode(), 0) + 1
        self.assertEqual(counts, {s: 1 for s in subjects})

    def test_lock_is_released_by_a_killed_daemon(self):
        first = self.new_mfs("kill-a")
        second = self.beside(first, "kill-b")
        self.mount(first)
        pid = self.daemon_pid(first)
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(first.wait_daemons_gone(10))
        harness.force_unmount(first.mountpoint)
        self.mount(second)
        with open(os.path.join(first.cache_dir, "lock")) as f:
            self.assertEqual(f.read(), "%d %s\n" % (self.daemon_pid(second),
                                                    second.mountpoint))
        self.umount(second)


# --------------------------------------------------------------------------
# Item 8: a password_command that leaves a child holding its stdout

class PasswordCommandTest(Base):

    def test_background_child_does_not_block_mount_or_sync(self):
        mfs = self.new_mfs(timeout=5)
        marker = "29.%d" % (os.getpid() % 10000)   # sleep's own argument
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in
                                 harness.processes_with_arg(marker)])
        text = open(mfs.config).read().replace(
            "password_command = cat %s" % mfs.pwfile,
            "password_command = cat %s; setsid sleep %s 2>/dev/null &"
            % (mfs.pwfile, marker))
        with open(mfs.config, "w") as f:     # stays 0600
            f.write(text)
        self.assertIn("setsid sleep", text)
        res = self.mount(mfs)
        self.assertLess(res.elapsed, 4, res)
        self.assertTrue(harness.processes_with_arg(marker))
        with Watchdog(mfs, 60):
            self.assertIn("INBOX", os.listdir(mfs.mountpoint))
        self.umount(mfs)
        res = mailfs("sync", "--quiet", "--config", mfs.config)
        self.assertEqual(res.returncode, 0, res)
        self.assertLess(res.elapsed, 4, res)


# --------------------------------------------------------------------------
# Issue 12: mount points that cannot take a mount

class MountPointTest(Base):

    def test_regular_file_refused(self):
        mfs = self.new_mfs()
        os.rmdir(mfs.mountpoint)
        with open(mfs.mountpoint, "w") as f:
            f.write("not a directory\n")
        self.assert_refused(mfs.mount(), mfs, "cannot mount on",
                            mfs.mountpoint, "not a directory")

    def test_missing_directory_refused(self):
        mfs = self.new_mfs()
        os.rmdir(mfs.mountpoint)
        self.assert_refused(mfs.mount(), mfs, "cannot mount on",
                            "No such file or directory")

    def test_non_empty_directory_refused_unless_nonempty(self):
        mfs = self.new_mfs()
        keep = os.path.join(mfs.mountpoint, "precious.txt")
        with open(keep, "w") as f:
            f.write("mine\n")
        self.assert_refused(mfs.mount(), mfs, "cannot mount on",
                            "not empty", "-o nonempty")
        # Accepted, and not passed on to libfuse 3, which refuses it.
        self.mount(mfs, "-o", "nonempty")
        with Watchdog(mfs, 60):
            self.assertIn("INBOX", os.listdir(mfs.mountpoint))
            self.assertFalse(os.path.exists(keep))
        self.umount(mfs)
        self.assertEqual(self.read(keep), b"mine\n")
        # Among other options, too.
        self.mount(mfs, "-o", "noatime,nonempty")
        self.umount(mfs)

    def test_live_mount_refused_as_already_mounted(self):
        mfs = self.new_mfs()
        self.mount(mfs)
        pid = self.daemon_pid(mfs)
        other = self.new_mfs("live-other")
        other.mountpoint = mfs.mountpoint   # another account, same point
        res = other.mount()
        self.assertEqual(res.returncode, 1, res)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, res)
        self.assertIn("already mounted", lines[0])
        self.assertIn("mailfs umount %s" % mfs.mountpoint, lines[0])
        # The first mount is untouched, and still the only one there.
        self.assertEqual(mfs.daemons(), [pid])
        self.assertEqual(harness.mounted_paths().count(mfs.mountpoint), 1)
        with Watchdog(mfs, 30):
            self.assertIn("INBOX", os.listdir(mfs.mountpoint))
        self.umount(mfs)


# --------------------------------------------------------------------------
# Item 6: POP3 with leave_on_server = no deletes only what arrived whole

def crlf(text):
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Pop3Drop:
    """The maildrop of a scripted POP3 server, kept across sessions.  Each
    message: uidl, body (CRLF), the size LIST announces, and what RETR
    sends (default: the body)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []     # dicts: uidl, body, listed, retr
        self.deleted = []      # uidls whose deletion was committed
        self.dele_error = set()  # uidls whose DELE is answered -ERR
        self.sessions = 0

    def add(self, uidl, body, listed=None, retr=None):
        with self.lock:
            self.messages.append({"uidl": uidl, "body": body,
                                  "listed": len(body) if listed is None
                                  else listed,
                                  "retr": body if retr is None else retr})

    def uidls(self):
        with self.lock:
            return [m["uidl"] for m in self.messages]


def _stuff(raw):
    lines = raw.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"


def pop3_session(conn, drop):
    """One POP3 session on DROP: what the maildrop holds at login, DELE
    marks, QUIT commits."""
    with drop.lock:
        drop.sessions += 1
        msgs = list(drop.messages)
    marked = set()
    conn.send(b"+OK scripted POP3 ready\r\n")
    while True:
        line = conn.readline()
        if line is None:
            return
        parts = line.split(b" ")
        cmd = parts[0].upper()
        n = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if cmd == b"CAPA":
            conn.send(b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n")
        elif cmd in (b"USER", b"PASS", b"NOOP"):
            conn.send(b"+OK\r\n")
        elif cmd == b"RSET":
            marked.clear()
            conn.send(b"+OK\r\n")
        elif cmd == b"STAT":
            conn.send(b"+OK %d %d\r\n" % (len(msgs),
                                          sum(m["listed"] for m in msgs)))
        elif cmd == b"UIDL":
            conn.send(b"+OK\r\n" + b"".join(
                b"%d %s\r\n" % (i + 1, m["uidl"].encode())
                for i, m in enumerate(msgs)) + b".\r\n")
        elif cmd == b"LIST":
            conn.send(b"+OK\r\n" + b"".join(
                b"%d %d\r\n" % (i + 1, m["listed"])
                for i, m in enumerate(msgs)) + b".\r\n")
        elif cmd == b"RETR" and 1 <= n <= len(msgs):
            conn.send(b"+OK\r\n" + _stuff(msgs[n - 1]["retr"]))
        elif cmd == b"DELE" and 1 <= n <= len(msgs):
            if msgs[n - 1]["uidl"] in drop.dele_error:
                conn.send(b"-ERR \x1b[31mmailbox is locked\r\n")
            else:
                marked.add(n)
                conn.send(b"+OK marked\r\n")
        elif cmd == b"QUIT":
            with drop.lock:
                for i in sorted(marked):
                    uidl = msgs[i - 1]["uidl"]
                    drop.deleted.append(uidl)
                    drop.messages = [m for m in drop.messages
                                     if m["uidl"] != uidl]
            conn.send(b"+OK bye\r\n")
            return
        else:
            conn.send(b"-ERR no\r\n")


class ScriptedServer(FakeServer):
    """A FakeServer (implicit TLS with CERT) running FN(conn, *ARGS)."""

    def __init__(self, cert, fn, *args, scheme="pop3s"):
        super().__init__("silent", cert)
        self.behaviour = lambda conn: fn(conn, *args)
        self.scheme = scheme

    def url(self, scheme=None):
        return "%s://127.0.0.1:%d" % (scheme or self.scheme, self.port)


def pop3_body(i, lines=3, dots=False):
    text = (b"From: pop@example.org\r\nSubject: pop %d\r\n"
            b"Date: Wed, 07 Feb 2024 12:00:%02d +0000\r\n\r\n" % (i, i))
    for k in range(lines):
        text += b"line %d of message %d\r\n" % (k, i)
    if dots:
        text += b".starts with a dot\r\n..two\r\n.\r\n"
    return text


class Pop3SizeTest(Base):

    def pop3_mount(self, drop):
        server = ScriptedServer(self.cert, pop3_session, drop).start()
        self.addCleanup(server.stop)
        mfs = Mailfs(self.work, "pop-%s" % self._testMethodName)
        self.addCleanup(mfs.cleanup)
        harness.write_config(mfs.config, {mfs.account: {
            "pop3": server.url(), "user": "alice", "password": "secret",
            "ca_file": self.cert[0], "cache_dir": mfs.cache_dir,
            "timeout": 5, "leave_on_server": "no", "poll_interval": 1}})
        self.mount(mfs)
        return mfs

    def log(self, mfs):
        return self.read(mfs.path(".mailfs", "log")).decode("utf-8", "replace")

    def test_only_messages_that_arrived_whole_are_deleted(self):
        drop = Pop3Drop()
        exact = pop3_body(1)
        drop.add("exact-1", exact)
        lf = pop3_body(2, lines=40)
        drop.add("lf-counted-2", lf, listed=len(lf) - lf.count(b"\n"))
        dotted = pop3_body(3, dots=True)
        drop.add("stuffed-3", dotted, listed=len(_stuff(dotted)) - 3)
        # 102 of 5443 bytes (issue 13, 6), and nothing at all.
        long = pop3_body(4, lines=200)[:5443]
        cut = long[:102]
        cut = cut[:cut.rindex(b"\r\n") + 2]
        drop.add("cut-4", long, listed=5443, retr=cut)
        drop.add("empty-5", pop3_body(5), retr=b"")
        mfs = self.pop3_mount(drop)
        with Watchdog(mfs, 90):
            names = os.listdir(mfs.path("INBOX"))
            self.assertTrue(wait_until(
                lambda: sorted(drop.deleted) ==
                ["exact-1", "lf-counted-2", "stuffed-3"], 20),
                "deleted: %r" % drop.deleted)
            self.assertEqual(drop.uidls(), ["cut-4", "empty-5"])
            # Later checks keep them there.
            sessions = drop.sessions
            self.assertTrue(wait_until(lambda: drop.sessions >= sessions + 2,
                                       20))
            self.assertEqual(drop.uidls(), ["cut-4", "empty-5"])
            log = self.log(mfs)
            self.assertRegex(log, r"message cut-4: kept on the server: it "
                             r"arrived as %d bytes, but the server announced"
                             r" 5443" % len(cut))
            self.assertRegex(log, r"message empty-5: it arrived empty: not "
                             r"stored, and kept on the server")
            self.assertEqual(log.count("message cut-4:"), 1, log)
            self.assertNotIn("(a bug)", log)
            # What arrived whole is served; the empty one is not listed.
            listed = sorted(os.listdir(mfs.path("INBOX")))
            self.assertEqual(len(listed), 4, listed)
            bodies = sorted(self.read(mfs.path("INBOX", n)) for n in listed)
            self.assertEqual(bodies, sorted([exact, lf, dotted, cut]))
        self.umount(mfs)
        self.assertTrue(names)

    def test_refused_deletion_keeps_the_listing_and_is_logged(self):
        drop = Pop3Drop()
        for i in range(3):
            drop.add("keep-%d" % i, pop3_body(i))
        drop.dele_error.add("keep-1")
        mfs = self.pop3_mount(drop)
        with Watchdog(mfs, 60):
            self.assertEqual(len(os.listdir(mfs.path("INBOX"))), 3)
            self.assertTrue(wait_until(
                lambda: "deleting stored messages on the server" in
                self.log(mfs), 15), self.log(mfs))
            log = self.log(mfs)
            self.assertIn("mailbox is locked", log)
            self.assertNotIn("\x1b", log)
            self.assertNotIn("(a bug)", log)
            # Without QUIT nothing was deleted, and the listing stands.
            self.assertEqual(drop.deleted, [])
            self.assertEqual(len(os.listdir(mfs.path("INBOX"))), 3)
        self.umount(mfs)


# --------------------------------------------------------------------------
# Item 11: what a server says is printed and kept without its escapes

def imap_session(conn, examine_reply, login_reply=b"OK logged in"):
    """A scripted IMAP server: greets with ESCAPES, logs anyone in (or
    answers LOGIN_REPLY), lists INBOX, answers EXAMINE with EXAMINE_REPLY
    (an untagged BYE: then it hangs up)."""
    conn.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hello " +
              ESCAPES + b"\r\n")
    while True:
        line = conn.readline()
        if line is None:
            return
        parts = line.split(b" ", 2)
        tag = parts[0]
        cmd = parts[1].upper() if len(parts) > 1 else b""
        if cmd == b"CAPABILITY":
            conn.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n" +
                      tag + b" OK done\r\n")
        elif cmd == b"AUTHENTICATE":
            conn.send(tag + b" " + login_reply + b"\r\n")
        elif cmd == b"LIST":
            conn.send(b'* LIST () "/" INBOX\r\n' + tag + b" OK done\r\n")
        elif cmd in (b"EXAMINE", b"SELECT") and \
                examine_reply.startswith(b"* BYE"):
            conn.send(examine_reply + b"\r\n")
            return
        elif cmd in (b"EXAMINE", b"SELECT"):
            conn.send(tag + b" " + examine_reply + b"\r\n")
        elif cmd == b"LOGOUT":
            conn.send(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            return
        elif cmd == b"NOOP":
            conn.send(tag + b" OK done\r\n")
        else:
            conn.send(tag + b" BAD unknown\r\n")


class EscapeTest(Base):

    def fake_imap(self, *args):
        server = ScriptedServer(self.cert, imap_session, *args,
                                scheme="imaps").start()
        self.addCleanup(server.stop)
        return server

    def test_refused_login_text_reaches_stderr_cleaned(self):
        server = self.fake_imap(b"OK", b"NO [AUTHENTICATIONFAILED] " +
                                ESCAPES + b"bad password")
        mfs = self.new_mfs(url=server.url())
        res = mfs.mount()
        self.assertEqual(res.returncode, 77, res)  # EX_NOPERM
        err = res.stderr.encode("utf-8", "surrogateescape")
        self.assertEqual(raw_controls(err), [], res)
        self.assertIn("\\x1b[31m\\x1b[2J\\x1b]0;owned\\x07\\xc2\\x9b5m",
                      res.stderr)
        self.assertIn("bad password", res.stderr)

    def test_server_error_is_cleaned_in_log_status_and_stderr(self):
        server = self.fake_imap(b"* BYE " + ESCAPES + b" shutting down")
        mfs = self.new_mfs(url=server.url())
        errfile = tempfile.TemporaryFile()
        self.addCleanup(errfile.close)
        proc = subprocess.Popen(
            [harness.mailfs_bin(), "mount", "-f", "--config", mfs.config,
             mfs.mountpoint], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=errfile,
            start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(wait_until(lambda: harness.is_mounted(mfs.mountpoint),
                                   20), "not mounted")
        with Watchdog(mfs, 60):
            with self.assertRaises(OSError):
                os.listdir(mfs.path("INBOX"))
            status = self.read(mfs.path(".mailfs", "status"))
            log = self.read(mfs.path(".mailfs", "log"))
            shown = mailfs("status", mfs.mountpoint)
        self.umount(mfs)
        self.assertEqual(proc.wait(20), 0)
        errfile.seek(0)
        stderr = errfile.read()
        for what, data in (("status", status), ("log", log),
                           ("mailfs status", shown.stdout.encode(
                               "utf-8", "surrogateescape")),
                           ("stderr", stderr)):
            self.assertEqual(raw_controls(data), [], "%s: %r" % (what, data))
            self.assertIn(b"\\x1b[31m\\x1b[2J\\x1b]0;owned\\x07", data,
                          "%s: %r" % (what, data))
        self.assertEqual(shown.returncode, 0, shown)
        self.assertRegex(status.decode(), r"last_error: .*shutting down")


# --------------------------------------------------------------------------
# Item 10: a push watch that is stopped while it connects

class GateRelay(harness.TcpRelay):
    """A relay that, while closed, holds what the server sends on new
    connections until opened."""

    def __init__(self, target):
        super().__init__(target)
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0

    def pump_state(self, direction):
        return {"gated": direction == "down" and not self.gate.is_set()}

    def forward(self, data, src, dst, direction, state):
        if state["gated"]:
            with self.lock:
                self.held += 1
            self.gate.wait(30)
            state["gated"] = False
        dst.sendall(data)
        return True


class PushStopTest(Base):

    def test_unmount_while_push_connects_exits_cleanly(self):
        relay = GateRelay(self.dovecot.imaps_port).start()
        self.addCleanup(relay.stop)
        self.addCleanup(relay.gate.set)
        mfs = self.new_mfs(url=relay.url("imaps"), timeout=15)
        proc = subprocess.Popen(
            [harness.mailfs_bin(), "mount", "-f", "--config", mfs.config,
             mfs.mountpoint], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(wait_until(lambda: harness.is_mounted(mfs.mountpoint),
                                   20), "not mounted")
        status = lambda: self.read(mfs.path(".mailfs", "status")).decode()
        with Watchdog(mfs, 90):
            self.assertIn("INBOX", os.listdir(mfs.mountpoint))
            self.assertTrue(wait_until(lambda: "push: active" in status(),
                                       20), status())
            # Push reconnects while the server's answers are held.
            relay.gate.clear()
            self.ctl(mfs, "offline")
            self.ctl(mfs, "online")
            self.assertTrue(wait_until(lambda: relay.held >= 1, 20),
                            "push did not reconnect")
            self.assertIn("push: off", status())
        umount = subprocess.Popen([harness.mailfs_bin(), "umount",
                                   mfs.mountpoint],
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        self.assertEqual(umount.wait(20), 0)
        time.sleep(1.0)           # the daemon is stopping its push watches
        relay.gate.set()          # now the connection completes
        self.assertEqual(proc.wait(30), 0, "the daemon did not exit cleanly")


# --------------------------------------------------------------------------
# Item 18: the daemon keeps one copy of the password and cannot be dumped

def sanitized(pid):
    """TRUE if PID runs with AddressSanitizer, whose allocator reserves
    terabytes and keeps freed blocks aside: its memory is not counted."""
    with open("/proc/%d/maps" % pid) as maps:
        return "libasan" in maps.read()


def memory_count(pid, needle):
    """How many times NEEDLE is in the readable memory of PID (read in
    pieces that overlap by len(NEEDLE) - 1 bytes)."""
    count, piece = 0, 1 << 20
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar]" in line or \
                    "[vsyscall]" in line:
                continue
            start, end = (int(x, 16) for x in addr.split("-"))
            tail = b""
            for at in range(start, end, piece):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(piece, end - at))
                except (OSError, OverflowError, ValueError):
                    break
                count += data.count(needle)
                tail = data[-(len(needle) - 1):]
    return count


class PasswordMemoryTest(Base):
    """As root the daemon's memory is read through /proc/PID/mem (root may
    read any process's); as another user it cannot be read at all, which
    is itself what PR_SET_DUMPABLE 0 promises (and /proc/PID then belongs
    to root)."""

    PASSWORD = "pw-%s-only-%s" % (base64.b32encode(os.urandom(10)).decode(),
                                  base64.b32encode(os.urandom(10)).decode())

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="mailfs-pwmem-", dir=_module["work"])
        os.chmod(cls.work, 0o755)
        cls.dovecot = Dovecot(cls.work, cert=_module["cert"],
                              users={"carol": cls.PASSWORD}).start()
        cls.addClassCleanup(cls.dovecot.stop)

    def setUp(self):
        self.cert = _module["cert"]

    def check_daemon(self, in_file, smtp=None):
        mfs = Mailfs(self.work, "pw-%s-%s" % (in_file, bool(smtp)))
        self.addCleanup(mfs.cleanup)
        extra = {"smtp": smtp.url, "from": "carol@example.com"} if smtp else {}
        mfs.configure(self.dovecot.url("imaps"), user="carol",
                      password=self.PASSWORD, password_in_file=in_file,
                      ca_file=self.cert[0], extra=extra)
        self.mount(mfs)
        with Watchdog(mfs, 60):
            self.assertIn("INBOX", os.listdir(mfs.mountpoint))
            pid = self.daemon_pid(mfs)
            if os.geteuid() == 0 and sanitized(pid):
                self.skipTest("copies are not counted under ASan")
            if os.geteuid() == 0:
                # Its end: a freed block whose start the allocator
                # overwrote still counts.
                copies = memory_count(pid, self.PASSWORD[-12:].encode())
            else:
                st = os.stat("/proc/%d/mem" % pid)
                self.assertEqual(st.st_uid, 0, "the daemon is dumpable")
                with self.assertRaises(PermissionError):
                    open("/proc/%d/mem" % pid, "rb").read(1)
                copies = None
        self.umount(mfs)
        return copies

    def test_one_copy_in_the_daemon(self):
        for in_file in (False, True):
            copies = self.check_daemon(in_file)
            if copies is not None:
                self.assertEqual(copies, 1, "password_in_file=%s" % in_file)

    def test_daemon_of_a_user_is_not_dumpable(self):
        """As root, the same for a mount made by nobody (setpriv)."""
        if os.geteuid() != 0:
            self.skipTest("the other tests check this when not root")
        mfs = Mailfs(self.work, "pw-nobody")
        self.addCleanup(mfs.cleanup)
        mfs.configure(self.dovecot.url("imaps"), user="carol",
                      password=self.PASSWORD, ca_file=self.cert[0])
        for path in (mfs.dir, mfs.mountpoint, mfs.config, mfs.pwfile):
            os.chown(path, 65534, 65534)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534",
                     "--clear-groups", harness.mailfs_bin()]
        res = harness.run(as_nobody + ["mount", "--config", mfs.config,
                                       mfs.mountpoint],
                          watch_arg=mfs.mountpoint)
        self.assertEqual(res.returncode, 0, res)
        pid = self.daemon_pid(mfs)
        with open("/proc/%d/status" % pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(uids[0], "65534")
        self.assertEqual(os.stat("/proc/%d/mem" % pid).st_uid, 0,
                         "the daemon is dumpable")
        res = harness.run(as_nobody + ["umount", mfs.mountpoint])
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(mfs.wait_daemons_gone(10))

    def test_with_an_outbox_the_sender_holds_its_own(self):
        smtp = SmtpServer(self.work, self.cert, "starttls",
                          name="smtp-pw-" + RUN,
                          users={"carol": self.PASSWORD})
        self.addCleanup(smtp.stop)
        smtp.start()
        copies = self.check_daemon(False, smtp)
        if copies is not None:
            # The outbox borrows the account's (see docs/SECURITY.md).
            self.assertEqual(copies, 1)
