"""Integration tests of `mailfs sync`: everything (or the named folders)
downloaded so that the account reads offline, alongside a mount, and
robust against kill -9, SIGINT/SIGTERM and a server that is down.

Server copies come from an independent imaplib client.  To make a sync
last long enough to interrupt, mailfs talks to Dovecot through a relay
that slows down what the server sends (see test_offline.Relay); stopping
the relay makes the server unreachable.

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_sync
"""

import errno
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

import harness
from test_offline import (MailfsCase, Relay, bulk_append, uid_list,
                          filler_message, listed_uids, msg_paths,
                          read_file, read_log)

# The slow corpus: BULK_FOLDERS folders of BULK_COUNT messages of BULK_SIZE
# bytes, sent at RATE bytes/s per connection: one folder takes about
# 1.3 s, a full sync about 2.5 s with 4 connections.
BULK_FOLDERS = ["Bulk/F%d" % i for i in range(6)]
BULK_COUNT = 10
BULK_SIZE = 64 * 1024
RATE = 500 * 1024

SUMMARY_RE = re.compile(r"(\d+) messages fetched .*; (\d+) were already cached")


def sync_argv(m, *args):
    return [harness.mailfs_bin(), "sync", "--config", m.config] + list(args)


def summary(stdout):
    """(fetched, already cached) from sync's closing line, or None."""
    found = SUMMARY_RE.findall(stdout)
    return tuple(int(x) for x in found[-1]) if found else None


def bodies_kept(m):
    """How many bodies the index of M's cache lists as stored (read-only,
    beside a running sync)."""
    index = os.path.join(m.cache_dir, "index.sqlite")
    if not os.path.exists(index):
        return 0
    db = sqlite3.connect("file:%s?mode=ro" % index, uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM bodies").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # no such table yet
    finally:
        db.close()


class SyncCase(MailfsCase):

    def run_sync(self, m, *args, timeout=60):
        return harness.run(sync_argv(m, *args), timeout=timeout)

    def start_sync(self, m, *args):
        """Starts a sync in the background, stdout and stderr in files
        (not a terminal); returns (Popen, stdout path, stderr path)."""
        out = tempfile.NamedTemporaryFile(dir=self.workdir, delete=False)
        err = tempfile.NamedTemporaryFile(dir=self.workdir, delete=False)
        p = subprocess.Popen(sync_argv(m, *args), stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err, start_new_session=True)
        out.close()
        err.close()

        def reap():
            if p.poll() is None:
                p.kill()
            p.wait(10)
        self.addCleanup(reap)
        return p, out.name, err.name

    def seed_bulk(self):
        for i, folder in enumerate(BULK_FOLDERS):
            bulk_append(self.dovecot, folder,
                        [filler_message("bulk-%d-%02d" % (i, n), BULK_SIZE)
                         for n in range(BULK_COUNT)])
        snap = self.snapshot()
        for folder in BULK_FOLDERS:
            self.assertEqual(len(snap[folder]), BULK_COUNT)
        return snap

    def slow_relay(self):
        relay = Relay(self.dovecot.imaps_port, RATE).start()
        self.addCleanup(relay.stop)
        return relay

    def read_all(self, m, snap, allow_eio=False):
        """Reads every message of SNAP through M; returns the number read.
        Each must be byte-identical; with ALLOW_EIO, EIO is accepted."""
        ok, problems = 0, []
        for folder, msgs in snap.items():
            try:
                paths = msg_paths(m, folder)
            except OSError as e:
                problems.append("ls %s: %s" % (folder, e))
                continue
            if sorted(paths) != uid_list(msgs):
                problems.append("ls %s: %s, server has %s"
                                % (folder, sorted(paths), uid_list(msgs)))
            for uid, msg in sorted(msgs.items()):
                if uid not in paths:
                    continue
                p = paths[uid]
                try:
                    data = read_file(p)
                except OSError as e:
                    if not (allow_eio and e.errno == errno.EIO):
                        problems.append("%s UID %d: %s" % (folder, uid, e))
                    continue
                if data != msg.body:
                    problems.append("%s UID %d: %d bytes, not the server's %d"
                                    % (folder, uid, len(data), len(msg.body)))
                else:
                    ok += 1
        self.assertEqual(problems, [])
        return ok


class SyncTest(SyncCase):

    def test_sync_all_then_offline(self):
        """After a sync, every message of every folder (nested ones too)
        reads byte-identical with the server down."""
        self.seed_corpus()
        snap = self.snapshot()
        m = self.new_mailfs()
        r = self.run_sync(m)
        self.assertEqual(r.returncode, 0, r)
        self.assertNotIn("\033", r.stdout, "terminal codes on a pipe")
        lines = r.stdout.splitlines()
        for folder, msgs in snap.items():
            if msgs:
                self.assertTrue(any(l.startswith(folder + ":") for l in lines),
                                "no line for %s in %r" % (folder, r.stdout))
        total = sum(len(v) for v in snap.values())
        self.assertEqual(summary(r.stdout), (total, 0), r)

        r2 = self.run_sync(m)
        self.assertEqual(r2.returncode, 0, r2)
        self.assertEqual(summary(r2.stdout), (0, total), r2)

        self.stop_server()
        self.mount(m, offline=True)
        self.assertEqual(self.read_all(m, snap), total)
        self.assertTrue(os.path.isdir(m.path("Projects")))

    def test_sync_named_folders(self):
        """`mailfs sync FOLDER...` fetches those folders only."""
        self.seed_corpus()
        snap = self.snapshot()
        named = ["Archive/2024", "Entwürfe"]
        m = self.new_mailfs()
        self.mount(m)  # list every folder, read nothing
        for folder in snap:
            self.assertEqual(listed_uids(m.path(*folder.split("/"))),
                             uid_list(snap[folder]))
        self.umount(m)

        r = self.run_sync(m, *named)
        self.assertEqual(r.returncode, 0, r)
        # A folder comes with its subfolders.
        named = [f for f in snap if any(f == n or f.startswith(n + "/")
                                        for n in named)]
        self.assertIn("Archive/2024/Q1", named)
        for line in r.stdout.splitlines():
            folder = line.split(":")[0]
            if folder in snap:
                self.assertIn(folder, named, "synced %s: %r" % (folder, r))
        self.assertEqual(summary(r.stdout)[0],
                         sum(len(snap[f]) for f in named), r)

        self.stop_server()
        self.mount(m, offline=True)
        for folder, msgs in snap.items():
            paths = msg_paths(m, folder)
            for uid in sorted(msgs):
                p = paths[uid]
                if folder in named:
                    self.assertEqual(read_file(p), msgs[uid].body, p)
                else:
                    code, _ = _read_errno(p)
                    self.assertEqual(code, errno.EIO,
                                     "%s was not to be synced" % p)

    def test_sync_unknown_folder(self):
        """A folder name that does not exist is an error, not a silent
        success."""
        self.seed_corpus()
        m = self.new_mailfs()
        r = self.run_sync(m, "No/Such/Folder")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("No/Such/Folder", r.stderr, r)

    def test_sync_while_mounted(self):
        """A sync and reads through a mount at the same time agree, and the
        mount then serves the bodies the sync fetched, offline."""
        snap = self.seed_bulk()
        relay = self.slow_relay()
        # A generous timeout: the relay is slow on purpose, and a loaded
        # machine (or a sanitizer build) is slower still.
        m = self.new_mailfs(url=relay.url(), timeout=30)
        self.mount(m)
        p, out, err = self.start_sync(m)
        # Read every other message of each folder while the sync runs.
        overlapped = 0
        for folder in BULK_FOLDERS:
            msgs = snap[folder]
            paths = msg_paths(m, folder)
            for uid in sorted(msgs)[::2]:
                self.assertEqual(read_file(paths[uid]), msgs[uid].body)
                overlapped += p.poll() is None
        self.assertGreater(overlapped, 3, "the reads and the sync did not "
                           "overlap")
        rc = p.wait(60)
        self.assertEqual(rc, 0, read_log(out) + read_log(err))

        relay.stop()
        total = sum(len(v) for v in snap.values())
        # The running mount sees what the other process stored.
        self.assertEqual(self.read_all(m, snap), total)
        self.umount(m)
        self.mount(m, offline=True)
        self.assertEqual(self.read_all(m, snap), total)

    def test_sync_killed(self):
        """kill -9 in the middle of a sync never leaves a wrong body behind;
        the next sync completes the cache."""
        snap = self.seed_bulk()
        relay = self.slow_relay()
        m = self.new_mailfs(url=relay.url())
        p, out, err = self.start_sync(m)
        # Killed once it has committed something (a chunk), whatever the
        # machine's speed: the relay keeps it from finishing soon after.
        self.assertTrue(harness.wait_until(lambda: bodies_kept(m), 60),
                        "nothing stored: " + read_log(out) + read_log(err))
        self.assertIsNone(p.poll(), "sync finished too early: "
                          + read_log(out) + read_log(err))
        p.kill()
        self.assertEqual(p.wait(10), -signal.SIGKILL)

        relay.stop()
        self.mount(m, offline=True)
        got = self.read_all(m, snap, allow_eio=True)
        total = sum(len(v) for v in snap.values())
        self.assertGreater(got, 0, "nothing was kept of the killed sync")
        self.assertLess(got, total, "the killed sync had fetched everything")
        self.umount(m)

        relay.start()
        r = self.run_sync(m)
        self.assertEqual(r.returncode, 0, r)
        fetched, cached = summary(r.stdout)
        self.assertEqual(fetched + cached, total, r)
        self.assertGreaterEqual(cached, got, r)
        relay.stop()
        self.mount(m, offline=True)
        self.assertEqual(self.read_all(m, snap), total)
        self.assertEqual(os.listdir(os.path.join(m.cache_dir, "tmp")), [])

    def test_sync_interrupted(self):
        """SIGINT and SIGTERM stop a sync with status 130 and keep what was
        fetched."""
        snap = self.seed_bulk()
        total = sum(len(v) for v in snap.values())
        relay = self.slow_relay()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                m = self.new_mailfs(name="mfs-" + sig.name, url=relay.url())
                p, out, err = self.start_sync(m)
                time.sleep(1.8)
                self.assertIsNone(p.poll(), "sync finished too early")
                start = time.monotonic()
                p.send_signal(sig)
                try:
                    rc = p.wait(15)
                except subprocess.TimeoutExpired:
                    self.fail("sync still running 15 s after %s" % sig.name)
                took = time.monotonic() - start
                text = read_log(out) + read_log(err)
                self.assertEqual(rc, 130, text)
                self.assertLess(took, 5, text)
                self.assertIn("interrupted", read_log(err), text)
                first = summary(read_log(out))
                self.assertIsNotNone(first, text)
                self.assertGreater(first[0], 0, text)
                self.assertLess(first[0], total, text)

                r = self.run_sync(m)
                self.assertEqual(r.returncode, 0, r)
                fetched, cached = summary(r.stdout)
                self.assertEqual(cached, first[0],
                                 "the interrupted sync said it fetched %d; "
                                 "%r" % (first[0], r))
                self.assertEqual(fetched + cached, total, r)

    def test_sync_server_down(self):
        """With the server down, sync fails quickly and says so, with or
        without a cache."""
        self.seed_corpus()
        with_cache = self.new_mailfs(name="cached")
        r = self.run_sync(with_cache, "INBOX")
        self.assertEqual(r.returncode, 0, r)
        without = self.new_mailfs(name="empty")
        self.stop_server()
        for m in (without, with_cache):
            with self.subTest(m.dir):
                r = self.run_sync(m)
                self.assertNotEqual(r.returncode, 0, r)
                self.assertFalse(r.timed_out, r)
                self.assertLess(r.elapsed, 10, r)
                self.assertIn("'test'", r.stderr, r)
                self.assertTrue(harness.error_lines(r), r)


class VerifyTest(SyncCase):
    """A cached body is hashed as it is written and checked again at an
    open only when its file changed; `mailfs verify` checks them all.  A
    body found damaged either way is never served: it is fetched again."""

    def synced(self):
        self.seed_corpus()
        snap = self.snapshot()
        m = self.new_mailfs()
        r = self.run_sync(m)
        self.assertEqual(r.returncode, 0, r)
        return m, snap

    def damage_one(self, m, snap, keep_mtime):
        """Flips a byte of the biggest cached body in place (with
        KEEP_MTIME its mtime is put back, as bit rot would leave it);
        returns the (folder, uid) of its message."""
        bodies = [os.path.join(dp, f) for dp, _, fs in
                  os.walk(os.path.join(m.cache_dir, "bodies")) for f in fs]
        path = max(bodies, key=os.path.getsize)
        with open(path, "rb") as f:
            data = f.read()
        uid = int(os.path.basename(path).split("-")[1].split(".")[0])
        where = [(folder, uid) for folder, msgs in snap.items()
                 if uid in msgs and msgs[uid].body == data]
        self.assertEqual(len(where), 1, path)
        st = os.stat(path)
        if not keep_mtime:
            time.sleep(0.05)   # past the file system's clock granularity
        with open(path, "r+b") as f:
            f.seek(len(data) // 2)
            f.write(b"#" if data[len(data) // 2:len(data) // 2 + 1] != b"#"
                    else b"%")
        if keep_mtime:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        return where[0]

    def run_verify(self, m, *args):
        return harness.run([harness.mailfs_bin(), "verify", "--config",
                            m.config] + list(args), timeout=60)

    def test_verify_removes_a_damaged_body(self):
        m, snap = self.synced()
        r = self.run_verify(m)
        self.assertEqual(r.returncode, 0, r)
        total = sum(len(v) for v in snap.values())
        self.assertIn("%d bodies checked, 0 damaged" % total, r.stdout)
        folder, uid = self.damage_one(m, snap, keep_mtime=True)
        r = self.run_verify(m)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("%d bodies checked, 1 damaged" % total, r.stdout)
        self.assertIn("is damaged", r.stderr)
        r = self.run_verify(m, "--quiet")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r)
        # Fetched again from the server when read.
        self.mount(m)
        self.assert_reads(m, folder, snap[folder], [uid])

    def test_verify_while_mounted(self):
        m, snap = self.synced()
        self.mount(m)
        folder, uid = self.damage_one(m, snap, keep_mtime=True)
        r = self.run_verify(m)
        self.assertEqual(r.returncode, 1, r)
        self.assert_reads(m, folder, snap[folder], [uid])

    def test_changed_body_is_checked_when_opened(self):
        """A body file written over since it was stored (a new mtime) is
        hashed at its first open: refused, fetched again."""
        m, snap = self.synced()
        folder, uid = self.damage_one(m, snap, keep_mtime=False)
        self.mount(m)
        self.assert_reads(m, folder, snap[folder], [uid])

    def test_verify_without_a_cache(self):
        m = self.new_mailfs()
        r = self.run_verify(m)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no cache", r.stderr)


def _read_errno(path):
    try:
        read_file(path)
        return None, None
    except OSError as e:
        return e.errno, e


if __name__ == "__main__":
    unittest.main()
