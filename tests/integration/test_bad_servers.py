"""mailfs against scripted bad servers: every one must make `mailfs mount`
fail with one clear line, soon, with bounded memory and no crash."""

import base64
import os
import unittest

import harness
from fakeservers import FakeServer
from harness import Mailfs

TIMEOUT = 2            # the config's timeout, seconds
MAX_ELAPSED = TIMEOUT + 10
# ASan's shadow memory and quarantine make every figure larger.
MAX_RSS_KB = (400 if os.environ.get("MAILFS_SANITIZED") else 100) * 1024


def setUpModule():
    harness.require_mailfs(fuse=False)


class BadServerTest(harness.CleanFailureAssertions, unittest.TestCase):

    MAX_ELAPSED = MAX_ELAPSED
    MAX_RSS_KB = MAX_RSS_KB

    @classmethod
    def setUpClass(cls):
        cls.work = harness.make_workdir()
        cls.addClassCleanup(harness.remove_workdir, cls.work)
        cls.cert = harness.make_cert(cls.work, "fake")

    def mount_against(self, behaviour, tls=True, scheme=None):
        """Starts the fake, mounts against it, returns (result, fake, mfs)."""
        fake = FakeServer(behaviour, self.cert if tls else None).start()
        self.addCleanup(fake.stop)
        mfs = Mailfs(self.work, "%s-%s" % (behaviour, self.id().split(".")[-1]))
        self.addCleanup(mfs.cleanup)
        url = fake.url(scheme)
        mfs.configure(url, ca_file=self.cert[0], timeout=TIMEOUT)
        res = mfs.mount(timeout=60)
        return res, fake, mfs

    def assert_clean_failure(self, res, fake, mfs, *words):
        line = super().assert_clean_failure(res, fake, mfs, *words)
        self.assertNotIn(b"secret", fake.received)
        return line

    def test_garbage_greeting(self):
        res, fake, mfs = self.mount_against("garbage")
        self.assert_clean_failure(res, fake, mfs)

    def test_garbage_greeting_before_starttls(self):
        res, fake, mfs = self.mount_against("garbage", tls=False)
        self.assert_clean_failure(res, fake, mfs)

    def test_huge_literal(self):
        res, fake, mfs = self.mount_against("huge_literal")
        self.assert_clean_failure(res, fake, mfs)
        # The client must not try to swallow the 100 GB literal: it gives
        # up long before the fake's 64 MiB cap.
        self.assertLess(fake.bytes_sent, 64 * 1024 * 1024, res)

    def test_large_literal_is_not_buffered(self):
        res, fake, mfs = self.mount_against("large_literal")
        self.assert_clean_failure(res, fake, mfs)

    def test_endless_line(self):
        res, fake, mfs = self.mount_against("endless_line")
        self.assert_clean_failure(res, fake, mfs)
        self.assertLess(fake.bytes_sent, 64 * 1024 * 1024, res)

    def test_silent_server_times_out(self):
        res, fake, mfs = self.mount_against("silent", tls=False, scheme="imaps")
        self.assert_clean_failure(res, fake, mfs, "timed out", "timeout")
        self.assertGreater(res.elapsed, TIMEOUT * 0.8, res)

    def test_silent_after_tls_handshake_times_out(self):
        res, fake, mfs = self.mount_against("silent")
        self.assert_clean_failure(res, fake, mfs, "timed out", "timeout")
        self.assertGreater(res.elapsed, TIMEOUT * 0.8, res)

    def test_no_starttls_offered_never_logs_in(self):
        res, fake, mfs = self.mount_against("no_starttls", tls=False)
        self.assert_clean_failure(res, fake, mfs, "starttls", "tls")
        cmds = fake.commands()
        self.assertNotIn("LOGIN", cmds, fake.lines)
        self.assertNotIn("AUTHENTICATE", cmds, fake.lines)
        self.assertNotIn(b"alice", fake.received)
        self.assertNotIn(base64.b64encode(b"\0alice\0secret"), fake.received)


if __name__ == "__main__":
    unittest.main()
