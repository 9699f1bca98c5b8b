"""Appends whose outcome mailfs never saw: the server stored the message but
its tagged reply was lost (the link cut right after the literal), or the
daemon was killed with kill -9 while the reply was held back.  Each time
the server must end with exactly one copy, found by its Message-ID (for a
file without one, by the Message-ID mailfs added to what it sent), and the
file must show under the name it was written as.

A TCP relay between mailfs and Dovecot sees only TLS records, so it finds
the moment by byte counts: once the client has sent more than the message
since the relay was armed (the APPEND literal went through), the next bytes
from the server on that connection (the tagged OK) are dropped, and the
connection is reset or held silent."""

import os
import signal
import socket
import struct
import threading
import time
import unittest

import harness
from harness import Mailfs, ServerView

TIMEOUT = 3
BODY_LINES = 400   # about 20 KB: far more than the other traffic of a session

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-fappend-")
    _module.update(work=work, cert=cert, dovecot=dovecot)


class ReplyEater(harness.TcpRelay):
    """While armed, the first connection whose client sends more than
    THRESHOLD bytes gets none of the server's next bytes: the relay resets
    it (MODE "cut") or keeps it open and silent (MODE "hold").  One shot:
    it disarms itself then, and sets .fired."""

    def __init__(self, target):
        super().__init__(target)
        self.armed = False
        self.mode = "cut"
        self.threshold = 0
        self.sent = {}          # client socket -> bytes sent since armed
        self.victim = None
        self.fired = threading.Event()
        self.start()

    def arm(self, threshold, mode):
        with self.lock:
            self.threshold, self.mode = threshold, mode
            self.sent = {}
            self.victim = None
            self.armed = True

    def forward(self, data, src, dst, direction, state):
        client = src if direction == "up" else dst
        with self.lock:
            if direction == "up" and self.armed:
                self.sent[client] = self.sent.get(client, 0) + len(data)
                if self.sent[client] > self.threshold:
                    self.victim = client
            eat = direction == "down" and client is self.victim
            if eat and self.armed:
                self.armed = False
                self.fired.set()
            mode = self.mode
        if not eat:
            dst.sendall(data)
            return True
        if mode == "hold":
            return True  # swallowed; the connection stays open
        for s in (src, dst):
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return False


def message(tag, with_id=True):
    lines = ["From: sender@example.org", "To: alice@example.com",
             "Subject: append fault %s" % tag]
    if with_id:
        lines.append("Message-ID: <%s@faults.example>" % tag)
    body = "\n".join("line %04d of %s, padding padding padding" % (i, tag)
                     for i in range(BODY_LINES))
    return ("\n".join(lines) + "\n\n" + body + "\n").encode()


class AppendReplyLostTest(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.dovecot = _module["dovecot"]
        self.view = ServerView(self.dovecot)
        self.relay = ReplyEater(self.dovecot.imaps_port)
        self.addCleanup(self.relay.stop)

    def new_mailfs(self):
        mfs = Mailfs(self.work, "mfs-" + self._testMethodName)
        self.addCleanup(mfs.cleanup)
        mfs.configure(self.relay.url("imaps"), ca_file=_module["cert"][0],
                      timeout=TIMEOUT)
        return mfs

    def copies(self, needle):
        """INBOX messages whose bytes hold NEEDLE."""
        return [m for m in self.view.messages("INBOX").values()
                if needle in m.body]

    def mount(self, mfs):
        harness.mount_watched(self, mfs, 120)
        os.listdir(mfs.path("INBOX"))

    def wait_one_copy(self, needle, mfs, name, raw):
        """The server ends with one copy, and the mount shows NAME with
        the bytes written."""
        got = harness.wait_until(
            lambda: len(self.copies(needle)) == 1 and
            os.path.exists(mfs.path("INBOX", name)), 30, 0.3)
        copies = self.copies(needle)
        self.assertEqual(len(copies), 1, "%d copies of %r on the server"
                         % (len(copies), needle))
        self.assertTrue(got, "INBOX/%s never showed" % name)
        time.sleep(1.5)  # a second copy would come now, if at all
        self.assertEqual(len(self.copies(needle)), 1,
                         "a copy was appended again later")
        with open(mfs.path("INBOX", name), "rb") as f:
            self.assertEqual(f.read(), raw)
        return copies[0]

    def write(self, mfs, name, raw):
        with open(mfs.path("INBOX", name), "wb") as f:
            f.write(raw)

    def test_reply_lost_with_the_link(self):
        """The link is cut after the literal: close() still succeeds (the
        change is recorded), and when mailfs is back it finds the message
        by its Message-ID instead of appending it again."""
        mfs = self.new_mailfs()
        self.mount(mfs)
        raw = message("cut")
        self.relay.arm(len(raw), "cut")
        self.write(mfs, "cut.eml", raw)
        self.assertTrue(self.relay.fired.is_set(), "the reply was not cut")
        self.wait_one_copy(b"<cut@faults.example>", mfs, "cut.eml", raw)

    def test_reply_lost_without_a_message_id(self):
        """The same for a file with no Message-ID: the one mailfs added to
        what it sent finds it."""
        mfs = self.new_mailfs()
        self.mount(mfs)
        raw = message("noid", with_id=False)
        self.relay.arm(len(raw), "cut")
        self.write(mfs, "noid.eml", raw)
        self.assertTrue(self.relay.fired.is_set(), "the reply was not cut")
        copy = self.wait_one_copy(b"append fault noid", mfs, "noid.eml", raw)
        self.assertRegex(copy.body, rb"(?m)^Message-ID: <[^>]+@mailfs>\r$")

    def test_kill_while_the_reply_is_held(self):
        """kill -9 while the server's reply is held back; the next mount
        (no fault) finds the message on the server and does not append it
        again."""
        mfs = self.new_mailfs()
        self.mount(mfs)
        raw = message("kill")
        self.relay.arm(len(raw), "hold")
        writer = threading.Thread(target=self._write_quietly,
                                  args=(mfs, "kill.eml", raw), daemon=True)
        writer.start()
        self.assertTrue(self.relay.fired.wait(20), "the reply was not held")
        self.assertEqual(len(self.copies(b"<kill@faults.example>")), 1,
                         "the server should have it already")
        for pid in mfs.daemons():
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(mfs.wait_daemons_gone(5))
        writer.join(10)
        harness.force_unmount(mfs.mountpoint)
        self.mount(mfs)  # the relay fired once and is disarmed
        self.wait_one_copy(b"<kill@faults.example>", mfs, "kill.eml", raw)

    def _write_quietly(self, mfs, name, raw):
        try:
            self.write(mfs, name, raw)
        except OSError:
            pass  # the daemon was killed under it


if __name__ == "__main__":
    unittest.main()
