"""Fault injection: mailfs against servers that die, stall, lie about
sizes or present bad certificates, and checks that nothing leaks.

- the IMAP connection is cut in the middle of a body literal (a TCP relay in
  front of the real Dovecot): the read fails with EIO, and the next read
  through a healthy path is byte-identical (nothing half-written cached);
- a server that sends one byte per second still times out;
- certificates for the wrong host name, or expired, are refused clearly;
- a 1 GiB body is streamed to disk with bounded memory; an announced
  literal over the limit and a body cut short fail cleanly;
- 10,000 opens and reads leave no file descriptor or memory behind;
- the SMTP connection drops during DATA: the message stays queued and is
  sent exactly once later;
- a mount / read / write / unmount cycle of `mailfs mount -f` has no leak
  (LeakSanitizer in an ASan build, else valgrind), and the checker is shown
  to catch a leak.

The fakes live here (registered in fakeservers.BEHAVIOURS by name) so that
fakeservers.py stays shared and untouched."""

import errno
import glob
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import corpus
import fakeservers
import harness
from fakeservers import FakeServer
from harness import Dovecot, Mailfs, Watchdog

TIMEOUT = 3               # the config's timeout, seconds
MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_LIMIT_KB = 100 * 1024  # VmRSS of the daemon, plain build
RSS_GROWTH_KB = 64 * 1024  # growth over a fetch, any build

_module = {}


def is_asan_build(path):
    """TRUE if the binary at PATH was built with AddressSanitizer."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def mailfs_env():
    """The environment for mailfs runs: in an ASan build a small quarantine,
    so that freed memory does not pass for growth."""
    env = dict(os.environ)
    if _module.get("asan"):
        opts = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
            "quarantine_size_mb=8:malloc_context_size=5"
    return env


def mount(mfs, *extra, timeout=30.0):
    """`mailfs mount` of MFS with mailfs_env(); returns the RunResult."""
    argv = [harness.mailfs_bin(), "mount", "--config", mfs.config,
            "--account", mfs.account] + list(extra) + [mfs.mountpoint]
    return harness.run(argv, timeout=timeout, watch_arg=mfs.mountpoint,
                       env=mailfs_env())


def proc_status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_kinds(pid):
    """(sockets, other fds) open in PID."""
    sockets = other = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            sockets += 1
        else:
            other += 1
    return sockets, other


class RssWatcher:
    """Samples the VmRSS of PID every 20 ms while in a `with`; .peak_kb."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_kb = proc_status_kb(pid, "VmRSS")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS"))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-faults-")
    seeded = corpus.seed(dovecot)
    _module.update(work=work, cert=cert, dovecot=dovecot, seeded=seeded,
                   asan=is_asan_build(harness.mailfs_bin()))


# --------------------------------------------------------------------------
# A relay that cuts connections

class CuttingRelay(harness.TcpRelay):
    """A TCP relay from 127.0.0.1:port to 127.0.0.1:TARGET.  While armed, a
    connection whose DIRECTION ("down": server to client, "up": client to
    server) has carried LIMIT bytes since arming is cut right there: the
    first LIMIT bytes go through, then both sockets are shut down.  With
    ONE_SHOT the relay disarms itself after its first cut.  .cuts counts
    the cuts, .cut_event is set at the first.  With RESET the cut is a
    TCP reset (SO_LINGER 0), so the peer's next write fails at once
    instead of filling socket buffers."""

    def __init__(self, target, direction="down", limit=64 * 1024,
                 one_shot=False, reset=False):
        super().__init__(target)
        self.reset = reset
        self.direction = direction
        self.limit = limit
        self.one_shot = one_shot
        self.armed = False
        self.generation = 0
        self.cuts = 0
        self.bytes = {"up": 0, "down": 0}
        self.cut_event = threading.Event()
        self.start()

    def arm(self):
        with self.lock:
            self.generation += 1
            self.armed = True

    def disarm(self):
        with self.lock:
            self.armed = False

    def cut_now(self):
        """Resets every relayed connection now."""
        with self.lock:
            socks = list(self.socks)
            self.cuts += 1
        for s in socks:
            # close() alone would not wake a pump blocked in recv(), and
            # the socket would live on until it returns.
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            s.close()
        self.cut_event.set()

    def _take(self, n, state):
        """How many of N bytes may pass; records a cut when the limit is
        reached.  STATE is [generation, count] of one pump."""
        with self.lock:
            if not self.armed:
                state[1] = 0
                return n, False
            if state[0] != self.generation:
                state[0], state[1] = self.generation, 0
            allowed = min(n, self.limit - state[1])
            state[1] += allowed
            if state[1] < self.limit:
                return allowed, False
            self.cuts += 1
            if self.one_shot:
                self.armed = False
            self.cut_event.set()
            return allowed, True

    def pump_state(self, direction):
        return [None, 0]

    def forward(self, data, src, dst, direction, state):
        with self.lock:
            self.bytes[direction] += len(data)
        cut = False
        if direction == self.direction:
            n, cut = self._take(len(data), state)
            data = data[:n]
        dst.sendall(data)
        return not cut

    def close_pair(self, pair):
        if not self.reset:
            super().close_pair(pair)
            return
        for s in pair:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass


# --------------------------------------------------------------------------
# A fake IMAP server that speaks just enough IMAP for a mount and a read

FAKE_UIDVALIDITY = 42
FAKE_HEAD = b"From: big@example.org\r\nSubject: big\r\n\r\n"


def _trickle(conn, data, forever=False):
    """Sends DATA one byte per second (again and again if FOREVER) until
    the peer goes away or the fake stops."""
    while not conn.stopped():
        for i in range(len(data)):
            if conn.stopped():
                return
            try:
                conn.send(data[i:i + 1])
            except OSError:
                return
            time.sleep(1.0)
        if not forever:
            return


def _send_body(conn, tag, size, send):
    """Answers a body fetch: a literal of SIZE bytes (FAKE_HEAD, then
    zeros), of which SEND are sent; the connection closes if SEND < SIZE."""
    conn.sock.settimeout(60)
    conn.send(b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % size)
    sent = 0
    zeros = bytes(MIB)
    first = FAKE_HEAD[:send]
    try:
        conn.send(first)
        sent = len(first)
        while sent < send and not conn.stopped():
            n = min(MIB, send - sent)
            conn.send(zeros[:n])
            sent += n
        conn.server.bytes_sent += sent
        if sent == size:
            conn.send(b")\r\n" + tag + b" OK Fetch completed\r\n")
            conn.sock.settimeout(0.2)
            return True
    except OSError:
        pass
    return False


def imap_session(conn, size=1000, send=None, trickle=None):
    """One IMAP session with a single message in INBOX: UID 1 of SIZE
    bytes, whose body fetch sends SEND bytes (default all).  TRICKLE
    "greeting" sends the greeting at one byte per second; "list" answers
    LIST that way, forever."""
    send = size if send is None else send
    greeting = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n"
    if trickle == "greeting":
        _trickle(conn, greeting)
        conn.drain()
        return
    conn.send(greeting)
    while True:
        line = conn.readline()
        if line is None:
            return
        parts = line.split(b" ", 2)
        tag = parts[0]
        cmd = parts[1].upper() if len(parts) > 1 else b""
        rest = parts[2].upper() if len(parts) > 2 else b""
        if cmd == b"CAPABILITY":
            conn.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n" +
                      tag + b" OK done\r\n")
        elif cmd == b"AUTHENTICATE":
            if len(rest.split()) < 2:
                conn.send(b"+ \r\n")
                if conn.readline() is None:
                    return
            conn.send(tag + b" OK logged in\r\n")
        elif cmd == b"LIST":
            answer = b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
            if trickle == "list":
                _trickle(conn, answer, forever=True)
                return
            conn.send(answer + tag + b" OK done\r\n")
        elif cmd in (b"EXAMINE", b"SELECT"):
            conn.send(b"* FLAGS (\\Seen)\r\n* 1 EXISTS\r\n"
                      b"* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT 2] ok\r\n"
                      % FAKE_UIDVALIDITY + tag + b" OK [READ-ONLY] done\r\n")
        elif cmd == b"UID" and rest.startswith(b"FETCH"):
            if b"BODY.PEEK[]" in rest:
                if not _send_body(conn, tag, size, send):
                    return
            else:
                conn.send(b'* 1 FETCH (UID 1 FLAGS () RFC822.SIZE %d '
                          b'INTERNALDATE "01-Jan-2024 10:00:00 +0000")\r\n'
                          % size + tag + b" OK done\r\n")
        elif cmd == b"LOGOUT":
            conn.send(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            return
        else:
            conn.send(tag + b" OK done\r\n")


def many_literals_session(conn, count=3000):
    """Answers LIST with one response that carries COUNT inline-sized
    (64 KiB) literals: each is within the parser's limits, together they
    are COUNT * 64 KiB of one response."""
    conn.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n")
    while True:
        line = conn.readline()
        if line is None:
            return
        parts = line.split(b" ")
        tag = parts[0]
        cmd = parts[1].upper() if len(parts) > 1 else b""
        if cmd != b"LIST":
            conn.send(tag + b" OK done\r\n")
            continue
        conn.sock.settimeout(30)
        chunk = b" {65536}\r\n" + b"x" * 65536
        try:
            conn.send(b'* LIST () "/" INBOX')
            for _ in range(count):
                conn.send(chunk)
            conn.send(b"\r\n" + tag + b" OK done\r\n")
        except OSError:
            return


def fake_server(name, cert, **kw):
    """A started FakeServer (implicit TLS) running imap_session(**KW)."""
    key = "faults-%s-%d" % (name, id(kw))
    fakeservers.BEHAVIOURS[key] = lambda conn: imap_session(conn, **kw)
    return FakeServer(key, cert).start()


# --------------------------------------------------------------------------

class FaultTestBase(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.cert = _module["cert"]
        self.dovecot = _module["dovecot"]
        self.seeded = _module["seeded"]
        self.asan = _module["asan"]

    def new_mailfs(self, url, ca_file=None, timeout=TIMEOUT, **kw):
        mfs = Mailfs(self.work, "mfs-" + self._testMethodName)
        self.addCleanup(mfs.cleanup)
        mfs.configure(url, ca_file=ca_file or self.cert[0], timeout=timeout,
                      **kw)
        return mfs

    def mount_ok(self, mfs):
        res = mount(mfs)
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(harness.is_mounted(mfs.mountpoint), res)
        wd = Watchdog(mfs, 300)
        wd.__enter__()
        self.addCleanup(wd.timer.cancel)
        pids = mfs.daemons()
        self.assertEqual(len(pids), 1, "want one daemon: %r" % pids)
        return pids[0]

    def assert_mount_fails(self, mfs, *words, max_elapsed=TIMEOUT + 7):
        res = mount(mfs)
        self.assertFalse(res.timed_out, "mailfs mount hung: %r" % res)
        self.assertGreater(res.returncode, 0, res)
        self.assertLess(res.elapsed, max_elapsed, res)
        self.assertFalse(harness.is_mounted(mfs.mountpoint), res)
        self.assertTrue(mfs.wait_daemons_gone(5), "a mailfs process is left")
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % res)
        low = lines[0].lower()
        self.assertTrue(any(w in low for w in words),
                        "none of %r in %r" % (words, lines[0]))
        return res

    def assert_daemon_alive(self, pid, exc):
        """After EXC from a request: mailfs must still be serving."""
        died = exc.errno in (errno.ECONNABORTED, errno.ENOTCONN)
        time.sleep(0.5)
        state = ""
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            died = True
        self.assertFalse(died or state in ("Z", "X"),
                         "the mailfs daemon died (%s)" % exc)

    def large_message(self):
        return max(self.seeded.messages, key=lambda m: len(m.raw))

    def read_until_ok(self, path, timeout=40):
        """Reads PATH, retrying while mailfs is offline after a fault."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as e:
                if e.errno != errno.EIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


class CutLiteralTest(FaultTestBase):
    """The IMAP server's connection dies in the middle of a body."""

    def test_cut_in_literal_fails_with_eio_and_caches_nothing(self):
        relay = CuttingRelay(self.dovecot.imaps_port, "down", limit=96 * 1024)
        self.addCleanup(relay.stop)
        mfs = self.new_mailfs("imaps://127.0.0.1:%d" % relay.port,
                              extra={"max_connections": 2})
        self.mount_ok(mfs)
        big = self.large_message()
        self.assertGreater(len(big.raw), 2 * relay.limit)
        path = big.path_in(mfs)
        self.assertEqual(os.stat(path).st_size, len(big.raw))

        relay.arm()
        with self.assertRaises(OSError) as cm:
            with open(path, "rb") as f:
                f.read()
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertGreaterEqual(relay.cuts, 1, "the relay never cut")
        relay.disarm()

        self.assertEqual(self.read_until_ok(path), big.raw)
        # The cache holds the whole body, and nothing is left half-written.
        bodies = glob.glob(os.path.join(mfs.cache_dir, "bodies", "*",
                                        "*-%d.eml" % big.uid))
        self.assertTrue(bodies, "body not cached")
        for b in bodies:
            with open(b, "rb") as f:
                self.assertIn(f.read(), [m.raw for m in self.seeded.messages])
        self.assertEqual(os.listdir(os.path.join(mfs.cache_dir, "tmp")), [])

        # A fresh mount of the same cache serves the same bytes.
        res = mfs.umount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(mfs.wait_daemons_gone(10))
        self.mount_ok(mfs)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), big.raw)


    def test_server_drops_every_pooled_session(self):
        # A server restart, or an idle timeout, kills every connection in
        # the pool at once; the next read must not take mailfs down.
        relay = CuttingRelay(self.dovecot.imaps_port)
        self.addCleanup(relay.stop)
        mfs = self.new_mailfs("imaps://127.0.0.1:%d" % relay.port,
                              extra={"max_connections": 4})
        pid = self.mount_ok(mfs)
        msgs = sorted(self.seeded.messages, key=lambda m: -len(m.raw))
        # Found by listing now, before the cut.
        paths = {m.key: m.path_in(mfs) for m in msgs}

        def read(m):
            with open(paths[m.key], "rb") as f:
                return f.read()

        # Several bodies at once, so that several sessions are pooled.
        for _ in range(3):
            threads = [threading.Thread(target=read, args=(m,))
                       for m in msgs[:4]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            msgs = msgs[4:]
        relay.cut_now()
        time.sleep(0.5)
        m = msgs[0]
        try:
            data = read(m)
        except OSError as e:
            self.assert_daemon_alive(pid, e)
            self.assertEqual(e.errno, errno.EIO)
            data = self.read_until_ok(paths[m.key])
        self.assertEqual(data, m.raw)


class TimeoutTest(FaultTestBase):
    """Servers that trickle one byte per second."""

    def trickle(self, where):
        fake = fake_server("trickle-" + where, self.cert, trickle=where)
        self.addCleanup(fake.stop)
        mfs = self.new_mailfs(fake.url())
        res = self.assert_mount_fails(mfs, "timed out", "timeout")
        self.assertGreater(res.elapsed, TIMEOUT * 0.8, res)
        return res, fake

    def test_greeting_at_one_byte_per_second_times_out(self):
        res, fake = self.trickle("greeting")
        self.assertIn("127.0.0.1:%d" % fake.port, res.stderr)

    def test_list_answer_at_one_byte_per_second_times_out(self):
        # Each byte comes well within the idle timeout; only the deadline
        # of the command stops it.
        res, fake = self.trickle("list")
        self.assertIn("LIST", fake.commands())


class CertificateTest(FaultTestBase):
    """Certificates that are trusted (ca_file) but wrong."""

    def refused(self, name, cert, *words):
        work = os.path.join(self.work, name)
        os.makedirs(work, exist_ok=True)
        dovecot = Dovecot(work, cert=cert).start()
        self.addCleanup(dovecot.stop)
        mfs = self.new_mailfs(dovecot.url("imaps"), ca_file=cert[0])
        res = self.assert_mount_fails(mfs, *words)
        self.assertIn("certificate", res.stderr.lower(), res)
        self.assertEqual(dovecot.login_lines("alice"), [], "logged in")
        # STARTTLS on imap:// is refused the same way.
        mfs.configure(dovecot.url("imap"), ca_file=cert[0], timeout=TIMEOUT)
        self.assert_mount_fails(mfs, *words)
        self.assertEqual(dovecot.login_lines("alice"), [], "logged in")
        return dovecot

    def test_wrong_host_name_refused(self):
        cert = harness.make_wrong_host_cert(self.work)
        dovecot = self.refused("wronghost", cert, "ip address mismatch")
        # By name: the same certificate, the host name check.
        mfs = self.new_mailfs("imaps://localhost:%d" % dovecot.imaps_port,
                              ca_file=cert[0])
        self.assert_mount_fails(mfs, "host name mismatch")
        self.assertEqual(dovecot.login_lines("alice"), [], "logged in")

    def test_expired_certificate_refused(self):
        cert = harness.make_expired_cert(self.work)
        self.refused("expired", cert, "expired")


class HugeBodyTest(FaultTestBase):
    """Bodies of 1 GiB, announced or sent, from a fake server."""

    def mount_fake(self, name, **kw):
        fake = fake_server(name, self.cert, **kw)
        self.addCleanup(fake.stop)
        mfs = self.new_mailfs(fake.url(), timeout=10)
        pid = self.mount_ok(mfs)
        path = mfs.message("INBOX", 1)
        return fake, mfs, pid, path

    def assert_bounded(self, pid, watcher, before_kb):
        grown = watcher.peak_kb - before_kb
        self.assertLess(grown, RSS_GROWTH_KB,
                        "VmRSS grew by %d kB (peak %d kB)"
                        % (grown, watcher.peak_kb))
        if not self.asan:
            self.assertLess(watcher.peak_kb, RSS_LIMIT_KB)
            self.assertLess(proc_status_kb(pid, "VmHWM"), RSS_LIMIT_KB)

    def test_one_gib_body_streams_to_disk_with_bounded_memory(self):
        fake, mfs, pid, path = self.mount_fake("gib", size=GIB)
        self.assertEqual(os.stat(path).st_size, GIB)
        before = proc_status_kb(pid, "VmRSS")
        with RssWatcher(pid) as w:
            with open(path, "rb") as f:
                head = f.read(len(FAKE_HEAD))
                f.seek(GIB // 2)
                middle = f.read(4096)
                f.seek(GIB - 4096)
                tail = f.read(8192)
        self.assertEqual(head, FAKE_HEAD)
        self.assertEqual(middle, bytes(4096))
        self.assertEqual(tail, bytes(4096))
        self.assert_bounded(pid, w, before)
        bodies = glob.glob(os.path.join(mfs.cache_dir, "bodies", "*",
                                        "%d-1.eml" % FAKE_UIDVALIDITY))
        self.assertEqual(len(bodies), 1, bodies)
        self.assertEqual(os.stat(bodies[0]).st_size, GIB)

    def test_announced_literal_over_the_limit_fails_fast(self):
        size = 5 * GIB
        fake, mfs, pid, path = self.mount_fake("over", size=size,
                                               send=64 * MIB)
        self.assertEqual(os.stat(path).st_size, size)
        before = proc_status_kb(pid, "VmRSS")
        with RssWatcher(pid) as w:
            start = time.monotonic()
            with self.assertRaises(OSError) as cm:
                with open(path, "rb") as f:
                    f.read(4096)
            elapsed = time.monotonic() - start
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertLess(elapsed, 10)
        self.assert_bounded(pid, w, before)
        self.assertEqual(os.listdir(os.path.join(mfs.cache_dir, "tmp")), [])
        self.assertEqual(glob.glob(os.path.join(mfs.cache_dir, "bodies",
                                                "*", "*.eml")), [])

    def test_body_cut_short_fails_cleanly(self):
        fake, mfs, pid, path = self.mount_fake("short", size=GIB,
                                               send=200 * MIB)
        before = proc_status_kb(pid, "VmRSS")
        with RssWatcher(pid) as w:
            with self.assertRaises(OSError) as cm:
                with open(path, "rb") as f:
                    f.read(4096)
        self.assert_daemon_alive(pid, cm.exception)
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assert_bounded(pid, w, before)
        self.assertEqual(os.listdir(os.path.join(mfs.cache_dir, "tmp")), [])
        self.assertEqual(glob.glob(os.path.join(mfs.cache_dir, "bodies",
                                                "*", "*.eml")), [])
        self.assertTrue(harness.is_mounted(mfs.mountpoint))


class HostileResponseTest(FaultTestBase):
    """One response that stays within every per-item limit."""

    # The inline literals of one response share the line budget
    # (net/imap_parser.c); past it they are streamed, and a LIST reply
    # cannot take a streamed literal: the mount fails, memory bounded.
    def test_many_inline_literals_in_one_response_bounded(self):
        key = "faults-many-literals"
        fakeservers.BEHAVIOURS[key] = many_literals_session
        fake = FakeServer(key, self.cert).start()
        self.addCleanup(fake.stop)
        mfs = self.new_mailfs(fake.url(), timeout=10)
        res = mount(mfs, timeout=120)
        self.assertFalse(res.timed_out, res)
        limit = RSS_LIMIT_KB + (RSS_GROWTH_KB if self.asan else 0)
        self.assertLess(res.max_rss_kb, limit,
                        "3000 x 64 KiB literals in one response: peak "
                        "VmRSS %d kB" % res.max_rss_kb)


class ManyOpensTest(FaultTestBase):
    """10,000 opens and reads leave nothing behind."""

    def test_ten_thousand_opens_leak_no_fd_and_no_memory(self):
        # The daemon is not dumpable: only root may list its fds
        # (tests/meson.build runs this as root too).
        harness.skip_unless_root(self, "list the fds of the daemon")
        mfs = self.new_mailfs(self.dovecot.url("imaps"))
        pid = self.mount_ok(mfs)
        paths = [m.path_in(mfs) for m in self.seeded.messages]
        raws = {p: m.raw for p, m in zip(paths, self.seeded.messages)}

        def cycle(n):
            for i in range(n):
                p = paths[i % len(paths)]
                fd = os.open(p, os.O_RDONLY)
                try:
                    data = os.read(fd, 65536)
                finally:
                    os.close(fd)
                self.assertEqual(data, raws[p][:65536], p)

        # Warm up: every body cached, pools filled; in an ASan build also
        # its quarantine and allocator caches (they level off by 10,000).
        cycle(10000 if self.asan else len(paths) * 3)
        time.sleep(0.5)
        socks_before, fds_before = fd_kinds(pid)
        rss_before = proc_status_kb(pid, "VmRSS")
        cycle(10000)
        fds_after = fds_before
        for _ in range(50):  # FUSE releases are asynchronous
            socks_after, fds_after = fd_kinds(pid)
            if fds_after <= fds_before:
                break
            time.sleep(0.1)
        rss_after = proc_status_kb(pid, "VmRSS")
        # Files and pipes must not grow; a background connection (push,
        # a refresh) may open late on a loaded machine, one or two.
        self.assertLessEqual(fds_after, fds_before,
                             "fds other than sockets %d -> %d: %r"
                             % (fds_before, fds_after,
                                os.listdir("/proc/%d/fd" % pid)))
        self.assertLessEqual(socks_after, socks_before + 2,
                             "sockets %d -> %d" % (socks_before, socks_after))
        self.assertLess(rss_after - rss_before, 8 * 1024,
                        "VmRSS %d -> %d kB" % (rss_before, rss_after))


class SmtpDropTest(FaultTestBase):
    """The SMTP connection drops during DATA."""

    def test_drop_during_data_keeps_it_queued_then_sends_once(self):
        try:
            from smtpserver import SmtpServer
        except ImportError as e:
            self.skipTest("no smtpserver.py: %s" % e)
        smtp = SmtpServer(self.work, self.cert, "smtps", name="smtp-drop")
        self.addCleanup(smtp.stop)
        smtp.start()
        # A reset, and a message larger than socket buffers hold, so that
        # mailfs notices while still sending DATA (a drop after the whole
        # message went out is the other test below).
        relay = CuttingRelay(smtp.port, "up", limit=256 * 1024,
                             one_shot=True, reset=True)
        self.addCleanup(relay.stop)
        mfs = self.new_mailfs(self.dovecot.url("imaps"), timeout=10, extra=dict(
            harness.OUTBOX_KNOBS, **{
                "smtp": "smtps://127.0.0.1:%d" % relay.port,
                "from": "Alice <alice@example.com>", "save_sent": "no"}))
        self.mount_ok(mfs)
        subject = "drop-during-data-%d-%d" % (os.getpid(), time.time())
        body = "".join("line %06d of a long message\n" % i
                       for i in range(300000))
        msg = ("From: Alice <alice@example.com>\nTo: bob@example.com\n"
               "Subject: %s\n\n%s" % (subject, body)).encode()
        self.assertGreater(len(msg), 20 * relay.limit)
        relay.arm()
        path = mfs.path("outbox", "drop.eml")
        with open(path, "wb") as f:
            f.write(msg)
        self.assertTrue(relay.cut_event.wait(30), "the relay never cut")
        st = ""
        deadline = time.monotonic() + 5
        while not st.startswith("queued") and time.monotonic() < deadline:
            try:
                st = os.getxattr(path, "user.mailfs.status").decode()
            except OSError as e:
                st = repr(e)
            time.sleep(0.1)
        self.assertTrue(st.startswith("queued"), st)
        envs = smtp.wait_envelopes(subject.encode(), 1, 45)
        self.assertTrue(envs, "not delivered after the drop; records %r"
                        % smtp.records())
        # The daemon's own word that nothing is left to send (again).
        self.assertTrue(harness.wait_until(lambda: mfs.outbox_idle(sent=1),
                                           30), "the outbox never idle")
        self.assertEqual(len(smtp.envelopes(subject.encode())), 1,
                         "sent more than once")
        self.assertEqual(relay.cuts, 1)
        deadline = time.monotonic() + 20
        while os.path.lexists(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(os.path.lexists(path), "still in outbox/")


    def test_drop_while_waiting_for_the_final_reply_is_never_resent(self):
        # The whole message went out; the connection dies before the
        # server's verdict.  It may have been delivered, so mailfs must not
        # send it again on its own: it goes to outbox/failed/ and says so.
        try:
            from smtpserver import SmtpServer
        except ImportError as e:
            self.skipTest("no smtpserver.py: %s" % e)
        smtp = SmtpServer(self.work, self.cert, "smtps", name="smtp-reply")
        self.addCleanup(smtp.stop)
        smtp.start()
        smtp.delay_data(4)
        relay = CuttingRelay(smtp.port, "up", limit=1 << 40)
        self.addCleanup(relay.stop)
        mfs = self.new_mailfs(self.dovecot.url("imaps"), timeout=10, extra=dict(
            harness.OUTBOX_KNOBS, **{
                "smtp": "smtps://127.0.0.1:%d" % relay.port,
                "from": "Alice <alice@example.com>", "save_sent": "no"}))
        self.mount_ok(mfs)
        subject = "drop-before-reply-%d-%d" % (os.getpid(), time.time())
        msg = ("From: Alice <alice@example.com>\nTo: bob@example.com\n"
               "Subject: %s\n\nshort\n" % subject).encode()
        with open(mfs.path("outbox", "reply.eml"), "wb") as f:
            f.write(msg)
        # Wait until the data went through and the line is quiet.
        deadline = time.monotonic() + 20
        last, quiet = -1, 0
        while quiet < 10 and time.monotonic() < deadline:
            now = relay.bytes["up"]
            quiet = quiet + 1 if now == last and now > len(msg) else 0
            last = now
            time.sleep(0.1)
        relay.cut_now()
        failed = mfs.path("outbox", "failed", "reply.eml")
        deadline = time.monotonic() + 30
        while not os.path.exists(failed) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertTrue(os.path.exists(failed), "not moved to failed/")
        with open(failed + ".error", "rb") as f:
            self.assertIn(b"may have been delivered", f.read())
        self.assertTrue(harness.wait_until(lambda: mfs.outbox_idle(failed=1),
                                           30), "the outbox never idle")
        # Past the first retries (the test knob's), if there were any.
        time.sleep(4 * harness.OUTBOX_RETRY_MS / 1000)
        self.assertLessEqual(len(smtp.envelopes(subject.encode())), 1,
                             "sent twice")


# --------------------------------------------------------------------------
# Leak check of a whole mount cycle

LEAKY_C = b"""
#include <stdlib.h>
#include <string.h>
/* Many blocks, each lost when its frame ends: a checker scans stacks and
 * registers conservatively, so one stale copy of the last pointer may
 * keep that block reachable, never all of them. */
static void __attribute__((noinline)) lose(void) {
	char *volatile p = malloc(4096);
	memset(p, 1, 4096);
}
int main(void) {
	for (int i = 0; i < 64; i++)
		lose();
	return 0;
}
"""


def leak_checked(argv, asan):
    """ARGV wrapped in the leak checker: LeakSanitizer (ASan build, via the
    environment) or valgrind.  Returns (argv, env)."""
    env = dict(os.environ)
    if asan:
        env["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=23"
        return list(argv), env
    return ["valgrind", "--quiet", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--error-exitcode=97",
            "--show-leak-kinds=definite"] + list(argv), env


def leak_found(returncode, stderr):
    return (returncode in (23, 97) or "ERROR: LeakSanitizer" in stderr or
            "definitely lost" in stderr)


class LeakCheckTest(FaultTestBase):
    """mount -f / read / write / unmount under a leak checker."""

    def setUp(self):
        super().setUp()
        if not self.asan and not shutil.which("valgrind"):
            self.skipTest("no valgrind and not an ASan build")

    def test_checker_catches_a_leak(self):
        d = tempfile.mkdtemp(dir=self.work)
        src = os.path.join(d, "leak.c")
        exe = os.path.join(d, "leak")
        with open(src, "wb") as f:
            f.write(LEAKY_C)
        cc = ["cc", "-O0", "-g", "-o", exe, src]
        if self.asan:
            cc.insert(1, "-fsanitize=address")
        subprocess.run(cc, check=True, capture_output=True)
        argv, env = leak_checked([exe], self.asan)
        p = subprocess.run(argv, env=env, capture_output=True, timeout=120)
        self.assertTrue(leak_found(p.returncode, p.stderr.decode()),
                        "the checker missed a leak: %r" % p)

    def test_mount_cycle_leaks_nothing(self):
        mfs = self.new_mailfs(self.dovecot.url("imaps"), timeout=30)
        argv, env = leak_checked(
            [harness.mailfs_bin(), "mount", "-f", "--config", mfs.config,
             "--account", mfs.account, mfs.mountpoint], self.asan)
        err = tempfile.TemporaryFile(dir=self.work)
        self.addCleanup(err.close)
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 120
        while not harness.is_mounted(mfs.mountpoint):
            self.assertIsNone(proc.poll(), "mount -f exited")
            self.assertLess(time.monotonic(), deadline, "never mounted")
            time.sleep(0.1)

        for m in self.seeded.messages[:8]:
            with open(m.path_in(mfs), "rb") as f:
                self.assertEqual(f.read(), m.raw)
        sm = self.seeded.messages[0]
        # A message opened for writing and closed unchanged (issue 12).
        with open(sm.path_in(mfs), "r+b") as f:
            self.assertEqual(f.read(), sm.raw)
        # A file written into a folder is appended: the write path runs too.
        with open(mfs.path("INBOX", "new.eml"), "wb") as f:
            f.write(b"From: leak@example.org\r\nSubject: leak check\r\n"
                    b"\r\nbody\r\n")
        for root, dirs, files in os.walk(mfs.mountpoint):
            for name in files[:2]:
                os.stat(os.path.join(root, name))

        res = mfs.umount(timeout=60)
        self.assertEqual(res.returncode, 0, res)
        try:
            rc = proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.fail("mount -f did not exit after umount")
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        self.assertFalse(leak_found(rc, stderr),
                         "leak at exit (rc %d):\n%s" % (rc, stderr[-6000:]))
        self.assertEqual(rc, 0, stderr[-3000:])


if __name__ == "__main__":
    unittest.main()
