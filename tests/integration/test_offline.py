"""Integration tests of the offline cache: what mailfs serves when the
IMAP server goes away, how it comes back by itself, UIDVALIDITY changes,
cache file modes and the cache budget.

Every expectation is checked against what an independent imaplib client
reads from the same private Dovecot, never against hard-coded contents.
The small helpers at the top are also used by test_sync.py.

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_offline
"""

import errno
import os
import re
import stat
import subprocess
import threading
import time
import unittest

import corpus
import harness
from harness import ServerView, imap_quote, mutf7_encode

# How long an uncached read may take to fail once the server is gone.
FAIL_FAST_S = 5.0
# How long a reconnect plus listing refresh may take (backoff is 30 s max).
RECONNECT_S = 45.0


def usable():
    return harness.have_fuse() and os.path.exists("/usr/sbin/dovecot")


# --------------------------------------------------------------------------
# Helpers shared with test_sync.py

def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def read_failure(path):
    """Tries to read PATH; returns (errno or None, seconds taken)."""
    start = time.monotonic()
    try:
        read_file(path)
        code = None
    except OSError as e:
        code = e.errno
    return code, time.monotonic() - start


def wait_until(pred, timeout, interval=0.25):
    """harness.wait_until, polling every 0.25 s unless told."""
    return harness.wait_until(pred, timeout, interval)


def msg_path(m, folder, uid):
    """The mount path of message UID of FOLDER (decoded, '/'-separated),
    found by listing the folder."""
    return m.message(folder, uid)


def msg_paths(m, folder):
    """uid -> mount path of every message file of FOLDER, from one
    listing."""
    d = m.path(*folder.split("/"))
    return {uid: os.path.join(d, name)
            for uid, name in harness.message_names(d).items()}


def uid_list(msgs):
    """The sorted UIDs of MSGS (uid -> anything), as listed_uids gives."""
    return sorted(msgs)


def listed_uids(path):
    """The sorted server UIDs of the message files in the directory PATH
    (not its subfolders)."""
    return harness.message_uids(path)


def bulk_append(dovecot, folder, raws, create=True):
    """Appends every message of RAWS to FOLDER over one connection (much
    faster than ServerView.append); returns the new UIDs."""
    c = dovecot.client()
    uids = []
    try:
        name = imap_quote(mutf7_encode(folder))
        if create:
            typ, data = c.create(name)
            if typ != "OK":
                raise RuntimeError("CREATE %s: %r" % (folder, data))
        for raw in raws:
            typ, data = c.append(name, None, None, raw)
            if typ != "OK":
                raise RuntimeError("APPEND %s: %r" % (folder, data))
            uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)))
    finally:
        c.logout()
    return uids


def filler_message(tag, size):
    """A plain message of about SIZE bytes whose every line names TAG, so
    no two messages share their bytes."""
    head = ("From: Bulk Sender <bulk@example.org>\r\n"
            "To: Alice <alice@example.com>\r\n"
            "Subject: filler %s\r\n"
            "Message-ID: <%s@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n" % (tag, tag))
    lines, n, i = [head], len(head), 0
    while n < size:
        line = "%s line %06d: lorem ipsum dolor sit amet\r\n" % (tag, i)
        lines.append(line)
        n += len(line)
        i += 1
    return "".join(lines).encode("ascii")


def tree_sizes(root):
    """Total size of the regular files below ROOT."""
    total = 0
    for d, _, files in os.walk(root):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except FileNotFoundError:
                pass
    return total


def mount_foreground(testcase, m):
    """Mounts M in the foreground (`mount -f`), its stderr going to a file;
    returns the path of that file.  Cleanup unmounts and reaps it."""
    log = os.path.join(m.dir, "foreground.log")
    errf = open(log, "wb")
    proc = subprocess.Popen(
        [harness.mailfs_bin(), "mount", "--config", m.config, "--account",
         m.account, "-f", m.mountpoint],
        stdin=subprocess.DEVNULL, stdout=errf, stderr=subprocess.STDOUT,
        start_new_session=True)
    errf.close()

    def reap():
        m.cleanup()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    testcase.addCleanup(reap)
    ok = wait_until(lambda: harness.is_mounted(m.mountpoint) or
                    proc.poll() is not None, 15, 0.05)
    testcase.assertTrue(ok and harness.is_mounted(m.mountpoint),
                        "foreground mount did not come up: %s" % read_log(log))
    return log


def read_log(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Relay(harness.TcpRelay):
    """A TCP relay from 127.0.0.1:port to 127.0.0.1:TARGET that can slow
    down what the server sends (RATE bytes per second per connection), so
    that a sync lasts long enough to be interrupted.  stop() closes the
    listener and every relayed connection; start() again reuses the port.
    freeze() stands for a network partition: connections stay open and
    new ones are accepted, but no byte goes through any more."""

    def __init__(self, target, rate=None):
        super().__init__(target)
        self.rate = rate
        self.frozen = threading.Event()

    def freeze(self):
        self.frozen.set()

    def hold_client(self, client):
        return self.frozen.is_set()

    def chunk_size(self, direction):
        return 4096 if self._rate(direction) is not None else 16384

    def _rate(self, direction):
        return self.rate if direction == "down" else None

    def forward(self, data, src, dst, direction, state):
        while self.frozen.is_set() and src.fileno() >= 0:
            time.sleep(0.05)
        dst.sendall(data)
        rate = self._rate(direction)
        if rate:
            time.sleep(len(data) / rate)
        return True

    def stop(self):
        self.frozen.clear()
        super().stop()


class MailfsCase(unittest.TestCase):
    """A private Dovecot and a workdir per test, all cleaned up."""

    def setUp(self):
        if not usable():
            self.skipTest("needs /dev/fuse and dovecot")
        self.workdir = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, self.workdir)
        self.dovecot = harness.Dovecot(self.workdir).start()
        self.addCleanup(self.dovecot.stop)
        self.view = ServerView(self.dovecot)

    def seed_corpus(self):
        self.seeded = corpus.seed(self.dovecot)
        return self.seeded

    def new_mailfs(self, name="mfs", url=None, **kw):
        """A mount that tries to reconnect after 200 ms, not 2 s."""
        m = harness.Mailfs(self.workdir, name)
        kw["extra"] = dict(harness.RECONNECT_KNOBS, **(kw.get("extra") or {}))
        m.configure(url or self.dovecot.url("imaps"),
                    ca_file=self.dovecot.cert, **kw)
        self.addCleanup(m.cleanup)
        return m

    def mount(self, m, offline=False):
        r = m.mount()
        self.assertEqual(r.returncode, 0, "mount failed: %r" % r)
        self.assertTrue(harness.is_mounted(m.mountpoint), "not mounted: %r" % r)
        if offline:
            self.assertIn("offline", r.stderr.lower(),
                          "mount with the server down should say it is "
                          "offline: %r" % r)
        return r

    def umount(self, m):
        r = m.umount()
        self.assertEqual(r.returncode, 0, "umount failed: %r" % r)
        self.assertTrue(m.wait_daemons_gone(10), "daemon still running")

    def stop_server(self):
        self.dovecot.stop()
        self.assertTrue(harness.port_refuses(self.dovecot.imaps_port),
                        "dovecot still accepts connections after stop()")

    def snapshot(self):
        """{folder: {uid: ServerMessage}} of every selectable folder."""
        return self.view.snapshot()[1]

    def assert_reads(self, m, folder, msgs, uids=None):
        paths = msg_paths(m, folder)
        for uid in (msgs if uids is None else uids):
            p = paths.get(uid)
            self.assertIsNotNone(p, "%s: UID %d is not listed" % (folder, uid))
            try:
                data = read_file(p)
            except OSError as e:
                self.fail("reading %s failed: %s" % (p, e))
            self.assertEqual(len(data), len(msgs[uid].body),
                             "%s: size differs from the server's" % p)
            self.assertTrue(data == msgs[uid].body,
                            "%s: bytes differ from the server's" % p)

    def assert_fails_fast(self, path, what="uncached message offline"):
        code, took = read_failure(path)
        self.assertEqual(code, errno.EIO,
                         "%s: %s: expected EIO, got %s"
                         % (what, path, errno.errorcode.get(code, code)))
        self.assertLess(took, FAIL_FAST_S,
                        "%s: %s took %.1f s to fail" % (what, path, took))
        return took


# --------------------------------------------------------------------------

class OfflineTest(MailfsCase):

    def test_server_stops_while_mounted(self):
        """Cached bodies and listings survive the server going away; an
        uncached body fails fast with EIO, and the daemon logs it."""
        self.seed_corpus()
        snap = self.snapshot()
        m = self.new_mailfs()
        log = mount_foreground(self, m)
        listed, cached, uncached = {}, [], []
        for folder, msgs in snap.items():
            d = m.path(*folder.split("/"))
            listed[folder] = listed_uids(d)
            self.assertEqual(listed[folder], uid_list(msgs), folder)
            uids = sorted(msgs)
            self.assert_reads(m, folder, msgs, uids[::2])
            cached += [(folder, u) for u in uids[::2]]
            uncached += [(folder, u) for u in uids[1::2]]
        self.assertTrue(cached and uncached)

        self.stop_server()
        time.sleep(1.2)  # past refresh_interval: listings are stale now
        for folder in snap:
            self.assertEqual(listed_uids(m.path(*folder.split("/"))),
                             listed[folder],
                             "%s: offline listing differs" % folder)
        for folder, uid in cached:
            self.assert_reads(m, folder, snap[folder], [uid])
        for folder, uid in uncached[:3]:
            self.assert_fails_fast(msg_path(m, folder, uid))
        for folder, uid in cached:  # still fine after the failures
            self.assert_reads(m, folder, snap[folder], [uid])
        self.assertTrue(wait_until(lambda: "account test is offline"
                                   in read_log(log), 5),
                        "no 'account test is offline' in the log:\n"
                        + read_log(log))

    def test_network_partition(self):
        """A server that stops answering (no RST, as when the network
        goes) costs one timeout at most; after that, reads fail at once
        and the cache is served without waiting."""
        timeout = 3
        self.seed_corpus()
        msgs = self.view.messages("INBOX")
        uids = sorted(msgs)
        relay = Relay(self.dovecot.imaps_port).start()
        self.addCleanup(relay.stop)
        m = self.new_mailfs(url=relay.url(), timeout=timeout)
        self.mount(m)
        inbox = m.path("INBOX")
        self.assertEqual(listed_uids(inbox), uid_list(msgs))
        paths = msg_paths(m, "INBOX")
        self.assert_reads(m, "INBOX", msgs, uids[:3])

        relay.freeze()
        time.sleep(1.2)  # the listing is stale now
        start = time.monotonic()
        self.assertEqual(listed_uids(inbox), uid_list(msgs))
        took = time.monotonic() - start
        self.assertLess(took, timeout + 1.5,
                        "first ls after the partition took %.1f s with "
                        "timeout = %d s" % (took, timeout))
        for uid in uids[-2:]:
            self.assert_fails_fast(paths[uid], "uncached read, partitioned")
        start = time.monotonic()
        self.assertEqual(listed_uids(inbox), uid_list(msgs))
        self.assert_reads(m, "INBOX", msgs, uids[:3])
        self.assertFalse(read_failure(paths[uids[-1]])[0] is None)
        self.assertLess(time.monotonic() - start, 1.0,
                        "offline, ls and reads should not wait")

    def test_mount_while_server_down(self):
        """A mount with the server down serves the cache of a previous
        mount."""
        self.seed_corpus()
        snap = self.snapshot()
        m = self.new_mailfs()
        self.mount(m)
        cached, uncached = [], []
        for folder, msgs in snap.items():
            listed_uids(m.path(*folder.split("/")))
            uids = sorted(msgs)
            self.assert_reads(m, folder, msgs, uids[:1])
            cached += [(folder, u) for u in uids[:1]]
            uncached += [(folder, u) for u in uids[1:]]
        self.umount(m)
        self.stop_server()

        r = self.mount(m, offline=True)
        self.assertIn("serving the cache", r.stderr, r)
        self.assertLess(r.elapsed, 10, r)
        for folder, msgs in snap.items():
            self.assertEqual(listed_uids(m.path(*folder.split("/"))),
                             uid_list(msgs), folder)
        for folder, uid in cached:
            self.assert_reads(m, folder, snap[folder], [uid])
        self.assertTrue(uncached)
        for folder, uid in uncached[:3]:
            self.assert_fails_fast(msg_path(m, folder, uid))

    def test_mount_server_down_no_cache(self):
        """With the server down and nothing cached, mount fails and says
        why; nothing is left mounted."""
        self.seed_corpus()
        self.stop_server()
        for case in ("empty cache_dir", "missing cache_dir"):
            with self.subTest(case):
                m = self.new_mailfs(name=case.split()[0])
                if case.startswith("empty"):
                    os.makedirs(m.cache_dir, mode=0o700)
                r = m.mount()
                self.assertNotEqual(r.returncode, 0, r)
                self.assertFalse(r.timed_out, r)
                self.assertFalse(harness.is_mounted(m.mountpoint), r)
                self.assertTrue(m.wait_daemons_gone(5), r)
                self.assertIn("'test'", r.stderr, r)
                self.assertIn("no cache", r.stderr, r)
                self.assertIn("offline", r.stderr, r)

    def test_reconnects_by_itself(self):
        """Back online without a remount: a delivered message appears and
        reads, an expunged one disappears, a formerly failing read works."""
        self.seed_corpus()
        snap = self.snapshot()
        m = self.new_mailfs()
        self.mount(m)
        inbox = m.path("INBOX")
        before = listed_uids(inbox)
        self.assertEqual(before, uid_list(snap["INBOX"]))
        uids = sorted(snap["INBOX"])
        self.assert_reads(m, "INBOX", snap["INBOX"], uids[:2])

        self.stop_server()
        time.sleep(1.2)
        self.assertEqual(listed_uids(inbox), before)
        self.assert_fails_fast(msg_path(m, "INBOX", uids[-1]))

        self.dovecot.restart()
        raw = filler_message("delivered-while-mounted-%d" % os.getpid(), 3000)
        new_uid = self.view.append("INBOX", raw)
        gone = uids[2]
        c = self.dovecot.client()
        try:
            c.select("INBOX")
            c.uid("STORE", str(gone), "+FLAGS.SILENT", "(\\Deleted)")
            typ, data = c.uid("EXPUNGE", str(gone))
            self.assertEqual(typ, "OK", data)
        finally:
            c.logout()
        now = self.view.messages("INBOX")
        self.assertIn(new_uid, now)
        self.assertNotIn(gone, now)

        start = time.monotonic()
        seen = wait_until(lambda: listed_uids(inbox) == uid_list(now),
                          RECONNECT_S, 0.5)
        self.assertTrue(seen, "after %.0f s the listing is %s, server has %s"
                        % (RECONNECT_S, listed_uids(inbox), uid_list(now)))
        took = time.monotonic() - start
        self.assert_reads(m, "INBOX", now, [new_uid, uids[-1], uids[0]])
        self.assertLess(took, RECONNECT_S)

    def test_uidvalidity_change(self):
        """A mailbox deleted and recreated on the server is listed anew;
        the old bodies are not served under the new names; mailfs deletes
        nothing on the server."""
        self.seed_corpus()
        folder = "Projects/Alpha"
        snap = self.snapshot()
        old = snap[folder]
        m = self.new_mailfs()
        self.mount(m)
        d = m.path("Projects", "Alpha")
        self.assertEqual(listed_uids(d), uid_list(old))
        self.assert_reads(m, folder, old)

        wire = imap_quote(mutf7_encode(folder))
        c = self.dovecot.client()
        try:
            uv_old = c.status(wire, "(UIDVALIDITY)")[1][0]
            self.assertEqual(c.delete(wire)[0], "OK")
        finally:
            c.logout()
        # Enough new messages to reuse every old UID with other bytes.
        raws = [filler_message("recreated-%d" % i, 500 + 100 * i)
                for i in range(len(old) + 2)]
        bulk_append(self.dovecot, folder, raws, create=True)
        c = self.dovecot.client()
        try:
            uv_new = c.status(wire, "(UIDVALIDITY)")[1][0]
        finally:
            c.logout()
        self.assertNotEqual(uv_old, uv_new, "precondition: UIDVALIDITY "
                            "did not change on the server")
        new = self.view.messages(mutf7_encode(folder))
        self.assertTrue(set(old) <= set(new), "precondition: UIDs reused")

        ok = wait_until(lambda: listed_uids(d) == uid_list(new), 10)
        self.assertTrue(ok, "listing %s, server has %s"
                        % (listed_uids(d), uid_list(new)))
        old_bodies = {msg.body for msg in old.values()}
        problems = []
        for uid in sorted(new):
            p = msg_path(m, folder, uid)
            what = "UID %d (%s)" % (uid, "reused" if uid in old else "new")
            try:
                data = read_file(p)
            except OSError as e:
                problems.append("%s: %s, server has %d bytes"
                                % (what, e.strerror, len(new[uid].body)))
                continue
            if data in old_bodies:
                problems.append("%s: serves the old mailbox's body" % what)
            elif data != new[uid].body:
                problems.append("%s: %d bytes differ from the server's %d"
                                % (what, len(data), len(new[uid].body)))
        self.assertEqual(problems, [], "after `ls` showed the new listing")

        after = self.snapshot()
        for f, msgs in snap.items():
            if f != folder:
                self.assertEqual(sorted(after[f]), sorted(msgs),
                                 "%s changed on the server" % f)
        self.assertEqual(sorted(after[folder]), sorted(new))

    def test_cache_permissions(self):
        """Even with umask 0, every directory under cache_dir is 0700 and
        every file 0600."""
        self.seed_corpus()
        snap = self.snapshot()
        old_umask = os.umask(0)
        self.addCleanup(os.umask, old_umask)
        m = self.new_mailfs()
        self.mount(m)
        for folder, msgs in snap.items():
            self.assert_reads(m, folder, msgs, sorted(msgs)[:1])
        r = harness.run([harness.mailfs_bin(), "sync", "--config", m.config,
                         "--quiet"], timeout=60)
        self.assertEqual(r.returncode, 0, r)
        os.umask(old_umask)
        seen = 0
        bad = []
        for d, dirs, files in os.walk(m.cache_dir):
            mode = stat.S_IMODE(os.lstat(d).st_mode)
            if mode != 0o700:
                bad.append("%s: dir %o" % (d, mode))
            for f in files:
                p = os.path.join(d, f)
                st = os.lstat(p)
                seen += 1
                if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o600:
                    bad.append("%s: %o" % (p, st.st_mode))
        self.assertGreater(seen, sum(len(v) for v in snap.values()))
        self.assertEqual(bad, [])

    def test_cache_budget(self):
        """With cache_max, the bodies on disk stay within the budget, the
        least recently read go first, and evicted ones read again."""
        budget = 200 * 1024
        # 3 bodies fit below the budget, 4 do not (with any headroom).
        raws = [filler_message("budget-%02d" % i, 56 * 1024) for i in range(18)]
        uids = bulk_append(self.dovecot, "Big", raws)
        msgs = self.view.messages("Big")
        self.assertEqual(sorted(msgs), sorted(uids))
        largest = max(len(x.body) for x in msgs.values())
        self.assertTrue(3 * largest < budget * 0.9 and 4 * largest > budget)
        m = self.new_mailfs(extra={"cache_max": "200K"})
        self.mount(m)
        bodies = os.path.join(m.cache_dir, "bodies")

        def check_size(when):
            size = tree_sizes(bodies)
            self.assertLessEqual(size, budget + largest,
                                 "%s: %d bytes of bodies for a budget of %d"
                                 % (when, size, budget))
        for rnd in range(2):
            for uid in uids:
                self.assert_reads(m, "Big", msgs, [uid])
                check_size("round %d, after UID %d" % (rnd, uid))

        # Least recently READ: re-reading u1 makes u2 the oldest.
        u1, u2, u3, u4 = uids[:4]
        for uid in (u1, u2, u1, u3, u4):
            self.assert_reads(m, "Big", msgs, [uid])
        check_size("after the LRU reads")
        self.stop_server()
        self.assert_reads(m, "Big", msgs, [u4, u3, u1])
        self.assert_fails_fast(msg_path(m, "Big", u2),
                               "least recently read body, evicted")


if __name__ == "__main__":
    unittest.main()
