"""A stopped or slow server never holds up what the cache can answer.

Dovecot is stopped with SIGSTOP (its connections stay open and silent), or
answers through a relay that delays every reply by more than the config's
timeout.  Once the listings are stale, `stat` of a folder, a listing and a
read of a message read before must each return at once, round after round,
from the snapshot at hand; the refresh happens in the background."""

import os
import signal
import threading
import time
import unittest

import corpus
import harness
from harness import Mailfs

TIMEOUT = 3          # the config's timeout: a blocking refresh would wait it
REFRESH = 1          # refresh_interval
QUICK = 1.0          # what "at once" means on a loaded 2-core machine

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-fstall-")
    seeded = corpus.seed(dovecot)
    _module.update(work=work, cert=cert, dovecot=dovecot, seeded=seeded)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class DelayRelay(harness.TcpRelay):
    """Delays the server's bytes by DELAY seconds while .slow is set."""

    def __init__(self, target, delay):
        super().__init__(target)
        self.delay = delay
        self.slow = threading.Event()
        self.start()

    def forward(self, data, src, dst, direction, state):
        if direction == "down" and self.slow.is_set():
            time.sleep(self.delay)
        dst.sendall(data)
        return True


class StallTest(unittest.TestCase):

    def setUp(self):
        self.dovecot = _module["dovecot"]

    def mount(self, url):
        mfs = Mailfs(_module["work"], "mfs-" + self._testMethodName)
        self.addCleanup(mfs.cleanup)
        mfs.configure(url, ca_file=_module["cert"][0], timeout=TIMEOUT,
                      refresh_interval=REFRESH)
        harness.mount_watched(self, mfs, 120)
        return mfs

    def warm(self, mfs):
        """Lists INBOX and reads one message: the cache can answer then."""
        inbox = mfs.path("INBOX")
        names = sorted(os.listdir(inbox))
        self.assertTrue(names)
        path = os.path.join(inbox, names[0])
        with open(path, "rb") as f:
            body = f.read()
        return inbox, names, path, body

    def timed(self, what, fn):
        start = time.monotonic()
        value = fn()
        took = time.monotonic() - start
        self.assertLess(took, QUICK, "%s took %.1f s: it waited on the "
                        "server" % (what, took))
        return value

    def three_rounds(self, mfs, inbox, names, path, body):
        for _ in range(3):
            time.sleep(REFRESH + 0.5)  # stale again
            self.timed("stat of INBOX", lambda: os.stat(inbox))
            self.assertEqual(self.timed("ls INBOX",
                                        lambda: sorted(os.listdir(inbox))),
                             names)
            self.assertEqual(self.timed("cat of a cached message",
                                        lambda: read(path)), body)

    def test_stopped_server(self):
        mfs = self.mount(self.dovecot.url("imaps"))
        warm = self.warm(mfs)
        os.killpg(self.dovecot.proc.pid, signal.SIGSTOP)
        self.addCleanup(os.killpg, self.dovecot.proc.pid, signal.SIGCONT)
        self.three_rounds(mfs, *warm)

    def test_slow_server(self):
        relay = DelayRelay(self.dovecot.imaps_port, TIMEOUT + 1)
        self.addCleanup(relay.stop)
        mfs = self.mount(relay.url("imaps"))
        warm = self.warm(mfs)
        relay.slow.set()
        self.three_rounds(mfs, *warm)


if __name__ == "__main__":
    unittest.main()
