"""Fault injection on the outbox (issue 13 items 1, 2, 9 and 17; issue 12's
outbox part): a full disk under the cache, kill -9 while the SMTP server
holds its reply to the final ".", fstat() of a file that was sent while
open, the two files of outbox/failed/, and attributes that tools set.

The full disk is a small tmpfs made in a user and mount namespace of our
own (`unshare -rm`, no root needed) and reached through /proc/PID/root of
the process holding it, so the daemon writes its cache to a real file
system that really runs out of space.  Each outcome is checked at the SMTP
server (smtpserver.py records every envelope it accepted)."""

import errno
import os
import shutil
import signal
import subprocess
import time
import unittest

import harness
from harness import Mailfs
from smtpserver import SmtpServer

STATUS = "user.mailfs.status"
FROM = "Alice <alice@example.com>"
RUN = "%d-%d" % (os.getpid(), int(time.time()))
MIB = 1024 * 1024

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-faults-outbox-")
    _module.update(work=work, cert=cert, dovecot=dovecot)


def message(subject, body="Hello,\nthis is a test.\n"):
    return ("From: %s\nTo: Bob <bob@example.com>\nSubject: %s\n\n%s"
            % (FROM, subject, body)).encode()


def big_message(subject, size):
    """A message of about SIZE bytes, whole lines."""
    line = "%s line of a long message, padded to look like text.\n" % subject
    return message(subject, line * (size // len(line) + 1))


class SmallDisk:
    """A tmpfs of SIZE bytes at WORKDIR/smalldisk-N, mounted in a user and
    mount namespace of our own (no root needed) that a sleeping process
    holds.  mailfs runs inside that namespace (NsMailfs), so its whole
    cache_dir is on the small disk; the test reaches the disk and the mount
    through /proc/PID/root.  Skips the test when namespaces are not
    allowed here."""

    def __init__(self, test, workdir, size):
        self.dir = os.path.join(workdir, "smalldisk-%s" % test._testMethodName)
        os.makedirs(self.dir, exist_ok=True)
        for tool in ("unshare", "nsenter"):
            if not shutil.which(tool):
                test.skipTest("no %s(1): cannot make a small disk" % tool)
        script = ('mount -t tmpfs -o size=%d mailfs-small "$0" && '
                  'echo ready && exec sleep 100000' % size)
        self.proc = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
             script, self.dir], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        test.addCleanup(self.close)
        ready = self.proc.stdout.readline()
        if ready.strip() != b"ready":
            err = self.proc.stderr.read().decode(errors="replace")
            test.skipTest("cannot mount a tmpfs in a user namespace "
                          "(unshare -rm): %s" % err.strip())
        self.root = "/proc/%d/root" % self.proc.pid
        self.filler = self.outside(self.dir, "filler")

    def outside(self, *parts):
        """PARTS (an absolute path in the namespace) as we reach it."""
        return self.root + os.path.join(*parts)

    def enter(self, argv):
        """ARGV run inside the namespace, as the same user."""
        return ["nsenter", "-t", str(self.proc.pid), "-U", "-m",
                "--preserve-credentials"] + list(argv)

    def mounted(self, path):
        with open("/proc/%d/mountinfo" % self.proc.pid) as f:
            return any(line.split()[4] == path for line in f)

    def free(self):
        st = os.statvfs(self.outside(self.dir))
        return st.f_bavail * st.f_frsize

    def fill(self, leave=0):
        """Takes all the space but about LEAVE bytes."""
        with open(self.filler, "ab") as f:
            while self.free() > leave:
                try:
                    f.write(b"\0" * max(4096, min(64 * 1024,
                                                  self.free() - leave)))
                    f.flush()
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break

    def unfill(self):
        try:
            os.unlink(self.filler)
        except FileNotFoundError:
            pass

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class NsMailfs(Mailfs):
    """A Mailfs whose cache is on DISK (a SmallDisk) and whose mount lives
    in DISK's namespace; path() reaches it from outside."""

    def __init__(self, workdir, name, disk):
        super().__init__(workdir, name)
        self.disk = disk
        self.cache_dir = os.path.join(disk.dir, "cache-" + name)

    def mount(self, *extra, timeout=20.0):
        argv = [harness.mailfs_bin(), "mount", "--config", self.config,
                "--account", self.account] + list(extra) + [self.mountpoint]
        return harness.run(self.disk.enter(argv), timeout=timeout,
                           watch_arg=self.mountpoint)

    def umount(self, timeout=20.0):
        return harness.run(self.disk.enter(
            [harness.mailfs_bin(), "umount", self.mountpoint]),
            timeout=timeout)

    def is_mounted(self):
        return self.disk.mounted(self.mountpoint)

    def force_unmount(self):
        for argv in (["fusermount3", "-u", "-z", self.mountpoint],
                     ["umount", "-l", self.mountpoint]):
            if not self.is_mounted():
                return
            subprocess.run(self.disk.enter(argv), capture_output=True,
                           timeout=10)

    def cleanup(self):
        if self.disk.proc.poll() is None and self.is_mounted():
            try:
                self.umount(timeout=10)
            except Exception:
                pass
            self.force_unmount()
        super().cleanup()

    def path(self, *parts):
        return self.disk.outside(self.mountpoint, *parts)


class OutboxFaultBase(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.cert = _module["cert"]
        self.dovecot = _module["dovecot"]
        self.tag = "%s-%s" % (self._testMethodName, RUN)

    def new_smtp(self):
        s = SmtpServer(self.work, self.cert, "smtps",
                       name="smtp-%s" % self._testMethodName)
        self.addCleanup(s.stop)
        return s.start()

    def new_mount(self, smtp, disk=None, mount=True):
        name = "mfs-" + self._testMethodName
        mfs = (NsMailfs(self.work, name, disk) if disk
               else Mailfs(self.work, name))
        self.addCleanup(mfs.cleanup)
        extra = dict(harness.OUTBOX_KNOBS, smtp=smtp.url, save_sent="no",
                     **{"from": FROM})
        mfs.configure(self.dovecot.url("imaps"), ca_file=self.cert[0],
                      timeout=5, extra=extra)
        if mount:
            self.mount(mfs)
        return mfs

    def is_mounted(self, mfs):
        if isinstance(mfs, NsMailfs):
            return mfs.is_mounted()
        return harness.is_mounted(mfs.mountpoint)

    def mount(self, mfs):
        res = mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(self.is_mounted(mfs), res)
        wd = harness.Watchdog(mfs, 150)
        wd.__enter__()
        self.addCleanup(wd.timer.cancel)
        pids = mfs.daemons()
        self.assertEqual(len(pids), 1, pids)
        return pids[0]

    def umount(self, mfs):
        res = mfs.umount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(mfs.wait_daemons_gone(30), "daemon still running")

    def kill9(self, mfs):
        pids = mfs.daemons()
        self.assertTrue(pids, "no daemon serves the mount")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(mfs.wait_daemons_gone(10))
        if isinstance(mfs, NsMailfs):
            mfs.force_unmount()
        else:
            harness.force_unmount(mfs.mountpoint)
        self.assertFalse(self.is_mounted(mfs))

    def outbox(self, mfs, *rest):
        return mfs.path("outbox", *rest)

    def put(self, mfs, name, data):
        path = self.outbox(mfs, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def status(self, path):
        try:
            return os.getxattr(path, STATUS).decode("utf-8", "replace")
        except OSError as e:
            return e

    def wait_until(self, what, cond, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("%s: not within %.0f s" % (what, timeout))
            time.sleep(0.05)

    def wait_status(self, path, prefix, timeout=15):
        return self.wait_until(
            "status %r of %s" % (prefix, path),
            lambda: str(self.status(path)).startswith(prefix), timeout)

    def assert_alive(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        self.assertNotIn(state, ("Z", "X"), "the daemon died")

    def assert_never_sent(self, smtp, subject,
                          wait=0.5 + 3 * harness.OUTBOX_RETRY_MS / 1000):
        """Past the queue's grace (0.5 s) and the first retries (the test
        knob's): nothing with SUBJECT reached the server."""
        time.sleep(wait)
        self.assertEqual(smtp.envelopes(subject), [],
                         "%r was sent" % subject)

    def assert_sent_once(self, smtp, subject, mfs, timeout=20):
        envs = smtp.wait_envelopes(subject, 1, timeout)
        self.assertTrue(envs, "%r not delivered; records %r"
                        % (subject, smtp.records()))
        # The daemon's own word that nothing is left to send (again).
        self.assertTrue(harness.wait_until(lambda: mfs.outbox_idle(sent=1),
                                           30), "the outbox never idle")
        self.assertEqual(len(smtp.envelopes(subject)), 1,
                         "%r sent more than once" % subject)


class DiskFullTest(OutboxFaultBase):
    """Issue 13 items 1 and 17: a write that fails is never queued, and the
    writer is told ENOSPC."""

    def small_disk_mount(self, smtp):
        disk = SmallDisk(self, self.work, 8 * MIB)
        return disk, self.new_mount(smtp, disk=disk)

    def write_until_full(self, path, data):
        """Writes DATA to PATH as one program would, write() after write()
        until one fails; returns (the open fd, that OSError)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        off = 0
        try:
            while off < len(data):
                off += os.write(fd, data[off:off + 256 * 1024])
        except OSError as e:
            return fd, e
        os.close(fd)
        self.fail("%d bytes written to a full disk" % off)

    def test_cp_on_full_disk_fails_with_enospc_and_is_never_sent(self):
        smtp = self.new_smtp()
        disk, mfs = self.small_disk_mount(smtp)
        subject = "cp full " + self.tag
        src = os.path.join(self.work, self.tag + ".eml")
        with open(src, "wb") as f:
            f.write(big_message(subject, 2800 * 1000))
        disk.fill(leave=MIB)
        dst = self.outbox(mfs, "big.eml")
        res = subprocess.run(["cp", src, dst], capture_output=True,
                             timeout=60)
        self.assertNotEqual(res.returncode, 0, res)
        self.assertIn(b"No space left on device", res.stderr)

        # The same, write() by write(), then a close() that succeeds.
        subject2 = "write full " + self.tag
        path2 = self.outbox(mfs, "w.eml")
        fd, e = self.write_until_full(path2, big_message(subject2, 3 * MIB))
        self.assertEqual(e.errno, errno.ENOSPC, e)
        os.close(fd)

        for path in (dst, path2):
            self.assertTrue(str(self.status(path)).startswith(
                "editing: not sent: a write failed: No space left"),
                self.status(path))
            self.assertEqual(os.stat(path).st_size, 0, "data kept")
        self.assert_never_sent(smtp, subject)
        self.assertEqual(smtp.envelopes(subject2), [])

        # Space again, and a new mount (the queue recovered from disk):
        # still never sent, still saying why.
        disk.unfill()
        self.umount(mfs)
        self.mount(mfs)
        self.assertEqual(sorted(os.listdir(self.outbox(mfs))),
                         ["big.eml", "failed", "w.eml"])
        self.assertTrue(str(self.status(dst)).startswith(
            "editing: not sent"), self.status(dst))
        self.assert_never_sent(smtp, subject)
        self.assertEqual(smtp.envelopes(subject2), [])

        # cp again over it (O_TRUNC): now it is a message, sent once.
        subprocess.run(["cp", src, dst], check=True, timeout=60)
        self.assert_sent_once(smtp, subject, mfs)
        os.unlink(path2)
        self.assertEqual(smtp.envelopes(subject2), [])

    def test_failed_write_then_kill_9_is_never_sent(self):
        smtp = self.new_smtp()
        disk, mfs = self.small_disk_mount(smtp)
        subject = "kill full " + self.tag
        disk.fill(leave=MIB // 2)
        path = self.outbox(mfs, "k.eml")
        fd, e = self.write_until_full(path, big_message(subject, 2 * MIB))
        self.assertEqual(e.errno, errno.ENOSPC, e)
        self.kill9(mfs)
        try:
            os.close(fd)
        except OSError:
            pass  # the connection is gone
        disk.unfill()
        self.mount(mfs)
        self.assertIn("k.eml", os.listdir(self.outbox(mfs)))
        self.assert_never_sent(smtp, subject)
        self.assertTrue(str(self.status(path)).startswith("editing"),
                        self.status(path))

    def test_create_on_full_disk_is_enospc_not_eio(self):
        smtp = self.new_smtp()
        disk, mfs = self.small_disk_mount(smtp)
        disk.fill(leave=0)
        made = 0
        for i in range(20):
            path = self.outbox(mfs, "n%02d.eml" % i)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o644)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC, e)
                continue
            made += 1
            try:
                os.write(fd, message("n%02d %s" % (i, self.tag)) * 2000)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC, e)
            finally:
                try:
                    os.close(fd)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC, e)
        self.assertLess(made, 20, "the disk never filled up")
        disk.unfill()
        time.sleep(2)
        self.assertEqual(smtp.envelopes(self.tag), [])


class AwaitingReplyTest(OutboxFaultBase):
    """Issue 13 item 2: kill -9 while the server holds its reply to the
    final "." (it already has the message)."""

    def test_kill_9_while_reply_held_goes_to_failed_not_sent_again(self):
        smtp = self.new_smtp()
        smtp.delay_data(60, after_commit=True)
        mfs = self.new_mount(smtp)
        subject = "held reply " + self.tag
        path = self.put(mfs, "held.eml", message(subject))
        self.wait_status(path, "sending: waiting for the server's reply")
        self.assertTrue(smtp.wait_envelopes(subject, 1, 10))
        self.kill9(mfs)
        smtp.delay_data(0)
        self.mount(mfs)
        failed = self.outbox(mfs, "failed", "held.eml")
        self.assertTrue(os.path.exists(failed), os.listdir(self.outbox(mfs)))
        self.assertNotIn("held.eml", os.listdir(self.outbox(mfs)))
        with open(failed + ".error", "rb") as f:
            self.assertIn(b"may have been delivered", f.read())
        with open(failed, "rb") as f:
            self.assertEqual(f.read(), message(subject))
        # Past the first retries (the test knob's), if there were any.
        time.sleep(4 * harness.OUTBOX_RETRY_MS / 1000)
        self.assertEqual(len(smtp.envelopes(subject)), 1, "sent again")
        # The user decides: moved back, it goes again.
        os.rename(failed, path)
        self.wait_until("a second delivery",
                        lambda: len(smtp.envelopes(subject)) == 2, 20)


class SentWhileOpenTest(OutboxFaultBase):
    """Issue 13 item 9: fstat() of an open outbox file after it was sent."""

    def test_fstat_after_send_keeps_the_daemon_alive(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        pid = mfs.daemons()[0]
        subject = "fstat " + self.tag
        path = self.put(mfs, "open.eml", message(subject))
        fd = os.open(path, os.O_RDONLY)
        try:
            self.assert_sent_once(smtp, subject, mfs)
            self.wait_until("open.eml to leave outbox/", lambda:
                            "open.eml" not in os.listdir(self.outbox(mfs)))
            for _ in range(20):
                try:
                    os.fstat(fd)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOENT, e)
            self.assertEqual(os.pread(fd, 5, 0), b"From:")
        finally:
            os.close(fd)
        self.assert_alive(pid)
        self.assertIn("outbox", os.listdir(mfs.mountpoint))


class FailedFilesTest(OutboxFaultBase):
    """Issue 12: outbox/failed/NAME and NAME.error are two files."""

    BAD = "rejected@example.com"

    def refused(self, smtp, mfs, name):
        subject = "refused %s %s" % (name, self.tag)
        raw = message(subject).replace(b"bob@example.com", self.BAD.encode())
        self.put(mfs, name, raw)
        failed = self.outbox(mfs, "failed", name)
        self.wait_until("%s in failed/" % name,
                        lambda: os.path.exists(failed))
        return failed

    def failed_list(self, mfs):
        return sorted(os.listdir(self.outbox(mfs, "failed")))

    def test_error_file_then_message_each_removed(self):
        smtp = self.new_smtp()
        smtp.refuse(self.BAD)
        mfs = self.new_mount(smtp)
        failed = self.refused(smtp, mfs, "a.eml")
        os.unlink(failed + ".error")
        self.assertFalse(os.path.exists(failed + ".error"))
        self.assertEqual(self.failed_list(mfs), ["a.eml"])
        self.umount(mfs)
        self.mount(mfs)
        self.assertEqual(self.failed_list(mfs), ["a.eml"])
        with self.assertRaises(FileNotFoundError):
            os.unlink(failed + ".error")
        os.unlink(failed)
        self.assertEqual(self.failed_list(mfs), [])

    def test_message_then_error_file_each_removed(self):
        smtp = self.new_smtp()
        smtp.refuse(self.BAD)
        mfs = self.new_mount(smtp)
        failed = self.refused(smtp, mfs, "b.eml")
        os.unlink(failed)
        self.assertEqual(self.failed_list(mfs), ["b.eml.error"])
        with open(failed + ".error", "rb") as f:
            self.assertIn(b"550", f.read())
        os.unlink(failed + ".error")
        self.assertEqual(self.failed_list(mfs), [])

    def test_rm_star_removes_everything(self):
        smtp = self.new_smtp()
        smtp.refuse(self.BAD)
        mfs = self.new_mount(smtp)
        for name in ("c1.eml", "c2.eml"):
            self.refused(smtp, mfs, name)
        res = subprocess.run(["sh", "-c", "rm outbox/failed/*"],
                             cwd=mfs.mountpoint, capture_output=True,
                             timeout=30)
        self.assertEqual((res.returncode, res.stderr), (0, b""), res)
        self.assertEqual(self.failed_list(mfs), [])


class AttributesTest(OutboxFaultBase):
    """Issue 12: chmod, chown and utimes succeed; extended attributes that
    mailfs does not keep answer ENOTSUP, so cp -p, cp -a and mv exit 0."""

    def assert_attrs_ok(self, path):
        st = os.stat(path)
        os.chmod(path, 0o600)
        os.chown(path, st.st_uid, st.st_gid)
        os.utime(path, (1700000000, 1700000000))
        for name in ("user.foo", "system.posix_acl_access",
                     "security.selinux", STATUS):
            with self.assertRaises(OSError) as cm:
                os.setxattr(path, name, b"\x02\x00\x00\x00")
            self.assertEqual(cm.exception.errno, errno.ENOTSUP,
                             (path, name))
            with self.assertRaises(OSError) as cm:
                os.removexattr(path, name)
            self.assertEqual(cm.exception.errno, errno.ENOTSUP,
                             (path, name))

    def test_attributes_of_outbox_and_failed_files(self):
        smtp = self.new_smtp()
        smtp.refuse(FailedFilesTest.BAD)
        mfs = self.new_mount(smtp)
        scratch = self.put(mfs, ".draft.swp", message("scratch " + self.tag))
        self.assert_attrs_ok(scratch)
        self.assert_attrs_ok(self.outbox(mfs))
        raw = message("refused " + self.tag).replace(
            b"bob@example.com", FailedFilesTest.BAD.encode())
        self.put(mfs, "r.eml", raw)
        failed = self.outbox(mfs, "failed", "r.eml")
        self.wait_until("r.eml in failed/", lambda: os.path.exists(failed))
        self.assert_attrs_ok(failed)
        self.assert_attrs_ok(failed + ".error")

    def test_cp_p_cp_a_and_mv_exit_0_and_send_once(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        src_dir = os.path.join(self.work, "src-" + self.tag)
        os.makedirs(src_dir)
        cases = {"p": ["cp", "-p"], "a": ["cp", "-a"], "m": ["mv"]}
        for key, argv in cases.items():
            subject = "tool %s %s" % (key, self.tag)
            src = os.path.join(src_dir, key + ".eml")
            with open(src, "wb") as f:
                f.write(message(subject))
            os.chmod(src, 0o640)
            try:
                os.setxattr(src, "user.origin", b"test")
            except OSError:
                pass  # the work dir's file system keeps none
            res = subprocess.run(argv + [src, self.outbox(mfs, key + ".eml")],
                                 capture_output=True, timeout=30)
            self.assertEqual((res.returncode, res.stderr), (0, b""),
                             (argv, res))
        for key in cases:
            self.assert_sent_once(smtp, "tool %s %s" % (key, self.tag), mfs)
        shutil.rmtree(src_dir)


if __name__ == "__main__":
    unittest.main()
