"""Whether a message was sent, as msmtp's users expect to see it: a send
that fails for now is logged once per reason and shows in .mailfs/status
(an outbox_file line, last_error) as in the file's xattr; a message sent
gets one log line (from, recipients, size, the server's reply) and counts
as outbox_sent; with no folder for its copy it is not "queued" but
outbox_copy_pending, and the log says how to set sent_folder; sent_folder
puts the copies where it says (checked on the server)."""

import os
import time
import unittest

import harness
from harness import Mailfs, ServerView
from smtpserver import SmtpServer

STATUS = "user.mailfs.status"
RUN = "%d-%d" % (os.getpid(), int(time.time()))
_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-sendst-")
    _module.update(work=work, cert=cert, dovecot=dovecot,
                   view=ServerView(dovecot))


def message(subject):
    return ("From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\n"
            "Cc: carol@example.com\r\nSubject: %s\r\n\r\nbody of %s\r\n"
            % (subject, subject)).encode()


def parse_status(text):
    """key -> [values] (outbox_file comes once per file)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        out.setdefault(key, []).append(value)
    return out


class SendStatusTest(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.tag = "%s-%s" % (self._testMethodName, RUN)
        self.smtp = SmtpServer(self.work, _module["cert"],
                               name="smtp-" + self._testMethodName)
        self.addCleanup(self.smtp.stop)

    def mount(self, **extra):
        mfs = Mailfs(self.work, "mfs-" + self._testMethodName)
        self.addCleanup(mfs.cleanup)
        extra.setdefault("smtp", self.smtp.url)
        mfs.configure(_module["dovecot"].url("imaps"),
                      ca_file=_module["cert"][0],
                      extra=dict(extra, **{"from": "alice@example.com"}))
        harness.mount_watched(self, mfs, 120)
        return mfs

    def status(self, mfs):
        with open(mfs.path(".mailfs", "status")) as f:
            return parse_status(f.read())

    def log(self, mfs):
        with open(mfs.path(".mailfs", "log")) as f:
            return f.read()

    def ctl(self, mfs, command):
        with open(mfs.path(".mailfs", "ctl"), "w") as f:
            f.write(command + "\n")

    def put(self, mfs, name, subject):
        with open(mfs.path("outbox", name), "wb") as f:
            f.write(message(subject))
        return mfs.path("outbox", name)

    def wait_status(self, mfs, key, value, timeout=20):
        st = harness.wait_until(lambda: (lambda s: s if s.get(key) == [value]
                                         else None)(self.status(mfs)),
                                timeout)
        self.assertTrue(st, "%s never %r: %r" % (key, value,
                                                 self.status(mfs)))
        return st

    def test_failing_for_now_is_visible_and_logged_once(self):
        self.smtp.port = harness.free_port()  # closed until started
        mfs = self.mount()
        path = self.put(mfs, "later.eml", self.tag)
        xattr = harness.wait_until(
            lambda: os.getxattr(path, STATUS).decode().startswith(
                "queued: retry at") and os.getxattr(path, STATUS).decode(),
            20)
        self.assertIn("refused", xattr)
        st = self.wait_status(mfs, "outbox_queued", "1")
        self.assertEqual(st["outbox_file"], ["later.eml: " + xattr], st)
        self.assertTrue(st["last_error"][0].startswith("outbox: later.eml: "),
                        st)
        self.assertIn("refused", st["last_error"][0])
        # Tried again twice for the same reason: still one line.
        for _ in range(2):
            before = os.getxattr(path, STATUS)
            self.ctl(mfs, "flush")
            self.assertTrue(harness.wait_until(
                lambda: os.getxattr(path, STATUS) != before, 20))
        lines = [l for l in self.log(mfs).splitlines()
                 if "later.eml not sent yet" in l]
        self.assertEqual(len(lines), 1, self.log(mfs))
        self.assertIn("refused", lines[0])

    def test_temporary_refusal_then_sent_with_a_log_line(self):
        self.smtp.start()
        self.smtp.temp_fail("451 4.3.0 Try again later")
        mfs = self.mount()
        path = self.put(mfs, "t.eml", self.tag)
        self.assertTrue(harness.wait_until(
            lambda: "451 4.3.0" in os.getxattr(path, STATUS).decode(), 20))
        st = self.status(mfs)
        self.assertIn("451 4.3.0 Try again later", st["outbox_file"][0], st)
        self.assertIn("451", st["last_error"][0], st)
        self.smtp.temp_fail(None)
        self.ctl(mfs, "flush")
        self.assertTrue(self.smtp.wait_envelopes(self.tag))
        st = self.wait_status(mfs, "outbox_sent", "1")
        self.assertEqual(st["outbox_queued"], ["0"], st)
        self.assertNotIn("outbox_file", st)
        sent = [l for l in self.log(mfs).splitlines()
                if "outbox: t.eml sent: " in l]
        self.assertEqual(len(sent), 1, self.log(mfs))
        env = self.smtp.envelopes(self.tag)[0]
        self.assertIn("from=<alice@example.com> recipients=<bob@example.com>,"
                      "<carol@example.com> size=%d reply=250" % len(
                          env["data"]), sent[0])
        self.assertEqual(len([l for l in self.log(mfs).splitlines()
                              if "t.eml not sent yet" in l]), 1)

    def test_no_folder_for_the_copy(self):
        self.smtp.start()
        mfs = self.mount(sent_folder="No/Such/Folder")
        self.put(mfs, "c.eml", self.tag)
        self.assertTrue(self.smtp.wait_envelopes(self.tag))
        st = self.wait_status(mfs, "outbox_copy_pending", "1")
        self.assertEqual(st["outbox_queued"], ["0"], st)
        self.assertEqual(st["outbox_sent"], ["1"], st)
        self.assertEqual(os.listdir(mfs.path("outbox")), ["failed"])
        self.assertIn("no folder 'No/Such/Folder' (set sent_folder, or "
                      "save_sent = no)", st["last_error"][0])
        self.assertIn("c.eml was sent, but its copy is not saved yet",
                      self.log(mfs))

    def test_sent_folder_chooses_where_copies_go(self):
        self.smtp.start()
        mfs = self.mount(sent_folder="Archive")
        self.put(mfs, "a.eml", self.tag)
        self.assertTrue(self.smtp.wait_envelopes(self.tag))
        view = _module["view"]
        copies = harness.wait_until(
            lambda: [m for m in view.messages("Archive").values()
                     if self.tag.encode() in m.body], 20)
        self.assertTrue(copies, "no copy in Archive")
        self.assertIn("\\Seen", copies[0].flags)
        self.assertFalse([m for m in view.messages("Sent").values()
                          if self.tag.encode() in m.body])
        self.assertIn("outbox: copies of sent mail go to Archive",
                      self.log(mfs))
        st = self.wait_status(mfs, "outbox_copy_pending", "0")
        self.assertEqual(st["last_error"], ["none"], st)


if __name__ == "__main__":
    unittest.main()
