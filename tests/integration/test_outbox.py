"""mailfs outbox/: messages written into the mount are sent over SMTP.

A real Dovecot (harness), a real SMTP server with TLS and AUTH
(smtpserver.py, aiosmtpd) and a real mount; what happened is checked with
the SMTP server's records and an independent imaplib client."""

import email
import email.policy
import email.utils
import errno
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import time
import unittest

import harness
from harness import Dovecot, Mailfs, ServerView
from smtpserver import SmtpServer, refusal_550

STATUS = "user.mailfs.status"
FROM = "Alice <alice@example.com>"
FROM_ADDR = "alice@example.com"
RUN = "%d-%d" % (os.getpid(), int(time.time()))
RETRY_MS = harness.OUTBOX_RETRY_MS  # the first retry, not after 5 s

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-outbox-")
    view = ServerView(dovecot)
    inbox_raw = (b"From: Bob <bob@example.com>\r\nTo: alice@example.com\r\n"
                 b"Subject: already here\r\n\r\ninbox body " +
                 RUN.encode() + b"\r\n")
    uid = view.append("INBOX", inbox_raw)
    _module.update(work=work, cert=cert, dovecot=dovecot, view=view,
                   inbox_uid=uid, inbox_raw=inbox_raw)


def message(subject, to="Bob <bob@example.com>", cc=None, bcc=None,
            headers=(), body="Hello,\nthis is a test.\n", eol="\n",
            with_from=True, date=False, msgid=None):
    """A message as a user would write it (LF line ends by default)."""
    lines = []
    if with_from:
        lines.append("From: " + FROM)
    if to:
        lines.append("To: " + to)
    if cc:
        lines.append("Cc: " + cc)
    if bcc:
        lines.append("Bcc: " + bcc)
    lines.append("Subject: " + subject)
    if date:
        lines.append("Date: Mon, 01 Jan 2024 10:00:00 +0100")
    if msgid:
        lines.append("Message-ID: " + msgid)
    lines.extend(headers)
    text = eol.join(lines) + eol + eol + body.replace("\n", eol)
    return text.encode("utf-8")


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def header_block(data):
    return data.split(b"\r\n\r\n", 1)[0]


class OutboxTestBase(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.cert = _module["cert"]
        self.dovecot = _module["dovecot"]
        self.view = _module["view"]
        self.tag = "%s-%s" % (self._testMethodName, RUN)

    # -- servers and mounts -------------------------------------------------

    def new_smtp(self, mode="starttls", start=True, **kw):
        """A fresh SMTP server for this test (stopped at the end)."""
        name = "smtp-%s-%d" % (self._testMethodName, len(self._cleanups))
        s = SmtpServer(self.work, self.cert, mode, name=name, **kw)
        self.addCleanup(s.stop)
        if start:
            s.start()
        else:
            s.port = harness.free_port()
        return s

    def new_mount(self, smtp, save_sent=None, name=None, mount=True,
                  with_smtp=True, from_=FROM, timeout=5, retry_ms=RETRY_MS):
        """A mount of the module's Dovecot sending to SMTP; RETRY_MS None:
        the first retry after the real 5 s."""
        mfs = Mailfs(self.work, name or "mfs-" + self._testMethodName)
        self.addCleanup(mfs.cleanup)
        extra = {}
        if retry_ms:
            extra["test_outbox_retry_ms"] = retry_ms  # a hidden test knob
        if with_smtp:
            extra["smtp"] = smtp.url
        if from_:
            extra["from"] = from_
        if save_sent is not None:
            extra["save_sent"] = save_sent
        mfs.configure(self.dovecot.url("imaps"), ca_file=self.cert[0],
                      timeout=timeout, extra=extra)
        if mount:
            self.mount(mfs)
        return mfs

    def mount(self, mfs):
        return harness.mount_watched(self, mfs, 150)

    def kill9(self, mfs):
        """kill -9 of the daemon serving MFS (started by us), then the
        stale mount is taken away."""
        pids = mfs.daemons()
        self.assertTrue(pids, "no daemon serves the mount")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(mfs.wait_daemons_gone(10))
        harness.force_unmount(mfs.mountpoint)
        self.assertFalse(harness.is_mounted(mfs.mountpoint))

    def wait_status(self, path, prefix, timeout=15):
        """Waits until the status of PATH starts with PREFIX; returns it."""
        def check():
            st = self.status(path)
            return st if isinstance(st, str) and st.startswith(prefix) else None
        return self.wait_until("status %r of %s" % (prefix, path), check,
                               timeout)

    def umount(self, mfs):
        res = mfs.umount()
        self.assertEqual(res.returncode, 0, res)
        self.assertFalse(harness.is_mounted(mfs.mountpoint))
        self.assertTrue(mfs.wait_daemons_gone(10), "daemon still running")

    # -- files ----------------------------------------------------------------

    def outbox(self, mfs, *rest):
        return mfs.path("outbox", *rest)

    def put(self, mfs, name, data):
        """Writes DATA to outbox/NAME like cp does (create, write, close)."""
        path = self.outbox(mfs, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def status(self, path):
        try:
            return os.getxattr(path, STATUS).decode("utf-8", "replace")
        except OSError as e:
            return e

    def wait_until(self, what, cond, timeout):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("%s: not within %.0f s" % (what, timeout))
            time.sleep(0.1)

    def wait_gone(self, path, timeout=20):
        self.wait_until("%s to leave" % path,
                        lambda: not os.path.lexists(path), timeout)

    def wait_failed(self, mfs, name, timeout=20):
        failed = self.outbox(mfs, "failed", name)
        self.wait_until("%s to appear" % failed,
                        lambda: os.path.exists(failed), timeout)
        return failed

    def read_error(self, mfs, name):
        with open(self.outbox(mfs, "failed", name + ".error"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def outbox_files(self, mfs):
        return sorted(e for e in os.listdir(self.outbox(mfs)) if e != "failed")

    # -- independent views ----------------------------------------------------

    def sent_copies(self, needle):
        """[(flags, bytes)] of messages in Sent whose Subject holds NEEDLE."""
        c = self.dovecot.client()
        try:
            typ, data = c.select('"Sent"', readonly=True)
            self.assertEqual(typ, "OK", data)
            typ, data = c.uid("SEARCH", "CHARSET", "UTF-8", "HEADER",
                              "Subject", '"%s"' % needle)
            self.assertEqual(typ, "OK", data)
            uids = data[0].split()
            out = []
            for uid in uids:
                typ, data = c.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                self.assertEqual(typ, "OK", data)
                head, body = data[0]
                flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1)
                out.append((set(flags.decode().split()), body))
            return out
        finally:
            c.logout()

    def wait_idle(self, mfs, sent=None, failed=None, copy_pending=0,
                  timeout=30):
        """Waits until the daemon of MFS says its outbox has nothing left
        to do (harness.Mailfs.outbox_idle); returns the status."""
        return self.wait_until(
            "the outbox to be idle",
            lambda: mfs.outbox_idle(sent or 0, failed or 0, copy_pending),
            timeout)

    def assert_sent_once(self, smtp, subject, mfs, timeout=20, settle=0,
                         copy_pending=0):
        """Waits for SUBJECT at SMTP, then for the daemon of MFS to have
        nothing left to send (and SETTLE more seconds, for writers whose
        last close the kernel may report late); exactly one envelope.
        Returns it."""
        envs = smtp.wait_envelopes(subject.encode(), 1, timeout)
        self.assertTrue(envs, "%r was not delivered; records %r"
                        % (subject, smtp.records()))
        self.wait_idle(mfs, sent=1, copy_pending=copy_pending)
        time.sleep(settle)
        envs = smtp.envelopes(subject.encode())
        self.assertEqual(len(envs), 1, "%r sent %d times" % (subject, len(envs)))
        return envs[0]


class SendTest(OutboxTestBase):
    """Recipients, headers, TLS, AUTH, Sent copy."""

    # A group, a quoted name with a comma, folded lines; the Bcc header is
    # folded too (its continuation must go with it), and the body holds a
    # line that looks like a Bcc header (it must stay).
    TO = ('Bob <bob@example.com>, friends: eve@example.com,\n'
          '  "Frank F." <frank@example.com>;')
    CC = '"Doe, John" <john@example.com>, dave@example.org'
    BCC = "Hidden One <secret@example.net>,\n\tsecond-hidden@example.net"
    RCPTS = sorted(["bob@example.com", "eve@example.com", "frank@example.com",
                    "john@example.com", "dave@example.org",
                    "secret@example.net", "second-hidden@example.net"])
    BODY = ("Hello all,\n.a line that starts with a dot\n..two dots\n.\n"
            "Bcc: body-line@example.com\n"
            "last line \xe9t\xe9\n")

    def send_and_check(self, mode, save_sent=None):
        smtp = self.new_smtp(mode)
        mfs = self.new_mount(smtp, save_sent=save_sent)
        self.assertTrue(os.path.isdir(self.outbox(mfs)))
        subject = "recipients " + self.tag
        raw = message(subject, to=self.TO, cc=self.CC, bcc=self.BCC,
                      body=self.BODY,
                      headers=["Content-Type: text/plain; charset=utf-8",
                               "Content-Transfer-Encoding: 8bit",
                               "MIME-Version: 1.0"])
        src = os.path.join(self.work, self.tag + ".eml")
        with open(src, "wb") as f:
            f.write(raw)
        dst = self.outbox(mfs, "hello.eml")
        subprocess.run(["cp", src, dst], check=True, timeout=30)

        env = self.assert_sent_once(smtp, subject, mfs)
        self.wait_gone(dst)
        self.assertNotIn("hello.eml", os.listdir(self.outbox(mfs)))
        self.assertEqual(sorted(env["rcpt_tos"]), self.RCPTS)
        self.assertEqual(env["mail_from"], FROM_ADDR)
        self.assertTrue(env["tls"], env)
        self.assertEqual(env["user"], "alice")

        data = env["data"]
        self.assertNotRegex(data, rb"(?<!\r)\n", "bare LF transmitted")
        head = header_block(data)
        self.assertNotRegex(head, rb"(?im)^bcc:")
        self.assertNotIn(b"secret@example.net", data)
        self.assertNotIn(b"second-hidden", data)
        self.assertIn("BODY=8BITMIME", [o.upper() for o in env["mail_options"]])
        msg = parse(data)
        self.assertIsNotNone(msg["Date"], head)
        self.assertIsNotNone(email.utils.parsedate_tz(msg["Date"]), msg["Date"])
        self.assertRegex(msg["Message-ID"] or "", r"^<[^<>@\s]+@[^<>@\s]+>$")
        self.assertEqual(msg["Subject"], subject)
        self.assertIn(b'"Doe, John" <john@example.com>', head)
        self.assertIn(b"friends: eve@example.com,\r\n  \"Frank F.\"", head)
        body = data.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(body, self.BODY.replace("\n", "\r\n").encode())

        copies = self.sent_copies(subject)
        if save_sent == "no":
            # assert_sent_once waited for no copy to be pending
            self.assertEqual(self.sent_copies(subject), [])
            return
        deadline = time.monotonic() + 10
        while not copies and time.monotonic() < deadline:
            time.sleep(0.2)
            copies = self.sent_copies(subject)
        self.assertEqual(len(copies), 1, "copies in Sent: %r" % copies)
        flags, saved = copies[0]
        self.assertIn("\\Seen", flags)
        self.assertIn(msg["Message-ID"].encode(), saved)
        self.assertEqual(saved, data, "the Sent copy is not what was sent")

    def test_starttls_recipients_headers_and_sent_copy(self):
        self.send_and_check("starttls")

    def test_implicit_tls_recipients_headers_and_sent_copy(self):
        self.send_and_check("smtps")

    def test_save_sent_no_keeps_no_copy(self):
        self.send_and_check("starttls", save_sent="no")

    def test_existing_date_message_id_and_from_are_kept(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "kept " + self.tag
        mid = "<kept-%s@example.com>" % RUN
        raw = message(subject, date=True, msgid=mid, eol="\r\n")
        self.put(mfs, "kept.eml", raw)
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertEqual(env["data"], raw)

    def test_from_header_added_when_missing(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "nofrom " + self.tag
        self.put(mfs, "nofrom.eml", message(subject, with_from=False))
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertEqual(parse(env["data"])["From"], FROM)
        self.assertEqual(env["mail_from"], FROM_ADDR)

    def test_sender_from_header_without_from_key(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp, from_=None)
        subject = "carol " + self.tag
        raw = ("From: Carol <carol@example.org>\n"
               "To: bob@example.com (Bob B.), Dan <dan@example.com>\n"
               "Subject: %s\n\nno newline at the end" % subject).encode()
        self.put(mfs, "carol.eml", raw)
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertEqual(env["mail_from"], "carol@example.org")
        self.assertEqual(sorted(env["rcpt_tos"]),
                         ["bob@example.com", "dan@example.com"])
        self.assertTrue(env["data"].endswith(b"\r\n\r\nno newline at the end"
                                             b"\r\n"), env["data"])
        self.assertEqual(parse(env["data"])["From"], "Carol <carol@example.org>")

    def test_shell_redirect_is_sent_once_and_whole(self):
        # The shell opens the file, dup2()s it to stdout and closes the
        # first descriptor (a FLUSH) before printf writes anything.
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "redirect " + self.tag
        dst = self.outbox(mfs, "x.eml")
        script = ("printf 'To: bob@example.com\\nSubject: %s\\n\\nfirst part\\n'"
                  "; sleep 1; printf 'second part\\n'" % subject)
        subprocess.run(["sh", "-c", "{ %s; } > '%s'" % (script, dst)],
                       check=True, timeout=30)
        env = self.assert_sent_once(smtp, subject, mfs, settle=1.0)
        self.assertTrue(env["data"].endswith(b"\r\n\r\nfirst part\r\n"
                                             b"second part\r\n"), env["data"])
        self.wait_gone(dst)

    def test_large_message_is_sent_whole(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "large " + self.tag
        line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\n"
        body = "".join("%06d%s" % (i, line) for i in range(40000))  # ~3.3 MB
        self.put(mfs, "large.eml", message(subject, body=body))
        env = self.assert_sent_once(smtp, subject, mfs, timeout=40)
        sent_body = env["data"].split(b"\r\n\r\n", 1)[1]
        self.assertTrue(sent_body == body.replace("\n", "\r\n").encode(),
                        "body differs (%d bytes sent)" % len(sent_body))

    def test_dot_stuffing_and_mixed_line_ends_across_buffers(self):
        # Lines of every length, many starting with dots, ending in LF or
        # CRLF at random: line starts and CR/LF pairs fall on every offset
        # of whatever buffers mailfs reads and writes through.
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "stuffing " + self.tag
        rnd = random.Random(7)
        lines, size = [], 0
        while size < 1500000:
            line = "." * rnd.randrange(0, 3) + "".join(
                rnd.choice("ab.") for _ in range(rnd.randrange(0, 300)))
            lines.append(line.encode())
            size += len(line) + 2
        body = b"".join(l + rnd.choice((b"\n", b"\r\n")) for l in lines)
        raw = ("To: bob@example.com\r\nSubject: %s\n\n" % subject).encode()
        self.put(mfs, "stuffing.eml", raw + body)
        env = self.assert_sent_once(smtp, subject, mfs, timeout=30)
        sent_body = env["data"].split(b"\r\n\r\n", 1)[1]
        self.assertTrue(sent_body == b"".join(l + b"\r\n" for l in lines),
                        "the body differs")

    def test_header_forms(self):
        # Several Bcc fields in any case (not the body's look-alike), an
        # empty group, encoded words and quoted local parts.
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "forms " + self.tag
        raw = ("Bcc: b1@example.com\n"
               "TO: undisclosed-recipients:;\n"
               "cc: =?utf-8?q?Doe=2C_J?= <j@example.com>, \"john doe\"@example.com,\n"
               " \"a\\\"b, c\" <q@example.com>\n"
               "Subject: %s\n"
               "bcc: b2@example.com\n"
               "BCC: b3@example.com\n"
               "\nbody\nBcc: inbody@example.com\n" % subject).encode()
        self.put(mfs, "forms.eml", raw)
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertEqual(sorted(env["rcpt_tos"]), sorted([
            "b1@example.com", "b2@example.com", "b3@example.com",
            "j@example.com", '"john doe"@example.com', "q@example.com"]))
        head, body = env["data"].split(b"\r\n\r\n", 1)
        self.assertNotRegex(head, rb"(?im)^bcc:")
        self.assertIn(b"TO: undisclosed-recipients:;\r\n", head)
        self.assertIn(b'\r\n \"a\\\"b, c\" <q@example.com>\r\n', head)
        self.assertEqual(body, b"body\r\nBcc: inbody@example.com\r\n")

    def test_utf8_address_uses_smtputf8(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "utf8 " + self.tag
        self.put(mfs, "utf8.eml",
                 message(subject, to="J\u00f6rg <j\u00f6rg@ex\u00e4mple.com>"))
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertEqual(env["rcpt_tos"], ["j\u00f6rg@ex\u00e4mple.com"])
        self.assertIn("SMTPUTF8", [o.upper() for o in env["mail_options"]])

    @unittest.skipUnless(shutil.which("vim"), "vim is not installed")
    def test_vim_writes_a_message(self):
        # vim with a swap file and a backup: it probes with "4913", keeps
        # .NAME.swp and NAME~ beside the file; only NAME may be sent.
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "vim " + self.tag
        lines = message(subject).decode().rstrip("\n").split("\n")
        script = os.path.join(self.work, self.tag + ".vim")
        with open(script, "w") as f:
            f.write("set nocompatible swapfile directory=. backup "
                    "writebackup backupdir=. backupcopy=no\n")
            f.write("call setline(1, %r)\n" % (lines,))
            f.write("wq\n")
        p = subprocess.run(["vim", "-N", "-u", "NONE", "-i", "NONE", "-es",
                            "-S", script, "vim.eml"], cwd=self.outbox(mfs),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p)
        env = self.assert_sent_once(smtp, subject, mfs, settle=1.0)
        self.assertTrue(env["data"].endswith(b"\r\n\r\nHello,\r\n"
                                             b"this is a test.\r\n"),
                        env["data"])
        self.assertEqual(len(smtp.envelopes()), 1, smtp.envelopes())
        self.wait_gone(self.outbox(mfs, "vim.eml"))

    def test_rename_into_outbox_sends(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "renamed " + self.tag
        scratch = self.put(mfs, ".draft.swp", message(subject))
        time.sleep(1.0)
        self.assertEqual(smtp.envelopes(subject), [])
        os.rename(scratch, self.outbox(mfs, "draft.eml"))
        self.assert_sent_once(smtp, subject, mfs)
        self.wait_gone(self.outbox(mfs, "draft.eml"))


class StatusTest(OutboxTestBase):
    """What a queued file says about itself, and rm."""

    def test_status_while_editing_and_queued(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "status " + self.tag
        path = self.outbox(mfs, "st.eml")
        with open(path, "wb") as f:
            f.write(message(subject))
            self.assertEqual(self.status(path), "editing")
        # The kernel sends RELEASE after close() has returned, so "editing"
        # may linger for a moment.
        self.wait_until("queued", lambda: self.status(path) in
                        ("queued", "sending"), 3)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), message(subject))
        self.assert_sent_once(smtp, subject, mfs)

    def test_rm_cancels_sending(self):
        smtp = self.new_smtp(start=False)  # down: nothing can be sent
        mfs = self.new_mount(smtp)
        subject = "cancel " + self.tag
        path = self.put(mfs, "cancel.eml", message(subject))
        os.unlink(path)
        self.assertNotIn("cancel.eml", os.listdir(self.outbox(mfs)))
        smtp.start()
        self.wait_idle(mfs)
        time.sleep(4 * RETRY_MS / 1000)  # past two retries, if there were any
        self.assertEqual(smtp.envelopes(subject), [])
        self.assertEqual(os.listdir(self.outbox(mfs, "failed")), [])


class FailureTest(OutboxTestBase):
    """Permanent refusals go to outbox/failed/, temporary ones are retried."""

    BAD = "rejected@example.com"

    def test_refused_recipient_goes_to_failed(self):
        smtp = self.new_smtp()
        smtp.refuse(self.BAD)
        mfs = self.new_mount(smtp)
        subject = "refused " + self.tag
        raw = message(subject, to="bob@example.com, " + self.BAD)
        self.put(mfs, "refused.eml", raw)
        failed = self.wait_failed(mfs, "refused.eml")
        self.assertNotIn("refused.eml", os.listdir(self.outbox(mfs)))
        err = self.read_error(mfs, "refused.eml")
        self.assertIn(refusal_550(self.BAD), err)
        with open(failed, "rb") as f:
            self.assertEqual(f.read(), raw)
        self.wait_idle(mfs, failed=1)
        self.assertEqual(smtp.envelopes(subject), [])
        self.assertEqual(self.sent_copies(subject), [])

    def test_retry_failed_by_moving_it_back(self):
        smtp = self.new_smtp()
        smtp.refuse(self.BAD)
        mfs = self.new_mount(smtp)
        subject = "moved back " + self.tag
        self.put(mfs, "back.eml", message(subject, to=self.BAD))
        failed = self.wait_failed(mfs, "back.eml")
        self.assertEqual(smtp.envelopes(subject), [])
        smtp.accept(self.BAD)
        subprocess.run(["mv", failed, self.outbox(mfs)], check=True,
                       timeout=30)
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertEqual(env["rcpt_tos"], [self.BAD])
        self.wait_gone(self.outbox(mfs, "back.eml"))
        self.assertEqual(os.listdir(self.outbox(mfs, "failed")), [])

    def test_unsendable_files_fail_and_the_mount_keeps_serving(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        junk = bytes(range(256)) * 8 + os.urandom(4096) + b"\0\0\0"
        long_line = message("long line " + self.tag,
                            body="x" * 999 + "\nend\n")
        self.put(mfs, "norcpt.eml", message("norcpt " + self.tag, to=None))
        self.put(mfs, "junk.eml", junk)
        self.put(mfs, "long.eml", long_line)
        for name, word in (("norcpt.eml", "recipient"), ("junk.eml", ""),
                           ("long.eml", "998")):
            self.wait_failed(mfs, name)
            err = self.read_error(mfs, name)
            self.assertTrue(err.strip(), "%s.error is empty" % name)
            self.assertIn(word, err.lower())
        self.assertEqual(self.outbox_files(mfs), [])
        with open(self.outbox(mfs, "failed", "junk.eml"), "rb") as f:
            self.assertEqual(f.read(), junk)
        self.assertEqual(smtp.envelopes(), [])

        with open(mfs.message("INBOX", _module["inbox_uid"]), "rb") as f:
            self.assertEqual(f.read(), _module["inbox_raw"])
        subject = "after junk " + self.tag
        self.put(mfs, "good.eml", message(subject))
        self.assert_sent_once(smtp, subject, mfs)
        # A line of exactly 998 octets is allowed.
        subject = "998 " + self.tag
        self.put(mfs, "998.eml", message(subject, body="y" * 998 + "\n"))
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertIn(b"\r\n" + b"y" * 998 + b"\r\n", env["data"])

    def test_too_large_for_size_limit_fails(self):
        smtp = self.new_smtp(size_limit=4000)
        mfs = self.new_mount(smtp)
        subject = "big " + self.tag
        self.put(mfs, "big.eml", message(subject, body=("w" * 70 + "\n") * 100))
        self.wait_failed(mfs, "big.eml")
        err = self.read_error(mfs, "big.eml")
        self.assertIn("4000", err)
        self.assertEqual(smtp.envelopes(subject), [])
        subject = "small " + self.tag
        self.put(mfs, "small.eml", message(subject))
        env = self.assert_sent_once(smtp, subject, mfs)
        self.assertTrue(any(o.upper().startswith("SIZE=")
                            for o in env["mail_options"]), env["mail_options"])

    def test_temporary_451_is_retried(self):
        smtp = self.new_smtp()
        smtp.temp_fail("451 4.3.0 Try again later " + RUN)
        mfs = self.new_mount(smtp)
        subject = "451 " + self.tag
        path = self.put(mfs, "later.eml", message(subject))
        st = self.wait_status(path, "queued: retry at")
        self.assertRegex(st, r"^queued: retry at \d\d:\d\d:\d\d after: ")
        self.assertIn("451", st)
        self.assertEqual(smtp.envelopes(subject), [])
        self.assertFalse(os.path.exists(self.outbox(mfs, "failed",
                                                    "later.eml")))
        smtp.temp_fail(None)
        self.assert_sent_once(smtp, subject, mfs, timeout=20)
        self.wait_gone(path)

    def test_smtp_down_queued_across_remount_then_sent_once(self):
        smtp = self.new_smtp(start=False)
        mfs = self.new_mount(smtp, retry_ms=None)  # the real first retry
        subject = "down " + self.tag
        path = self.put(mfs, "down.eml", message(subject))
        st = self.wait_status(path, "queued: retry at")
        m = re.match(r"^queued: retry at (\d\d):(\d\d):(\d\d) after: .+", st)
        self.assertTrue(m, st)
        now = time.localtime()
        wait = ((int(m.group(1)) * 3600 + int(m.group(2)) * 60
                 + int(m.group(3))) - (now.tm_hour * 3600 + now.tm_min * 60
                                       + now.tm_sec)) % 86400
        self.assertTrue(2 <= wait <= 8, "first retry in %d s: %r" % (wait, st))
        self.umount(mfs)
        self.mount(mfs)
        self.assertIn("down.eml", os.listdir(self.outbox(mfs)))
        self.assertTrue(str(self.status(path)).startswith("queued"),
                        self.status(path))
        smtp.start()
        self.assert_sent_once(smtp, subject, mfs, timeout=45)
        self.wait_gone(path)
        self.assertEqual(len(self.sent_copies(subject)), 1)


class TrustTest(OutboxTestBase):
    """No TLS, no trusted certificate, no valid login: nothing is sent and
    the message is kept."""

    def assert_kept_unsent(self, smtp, mfs, path, subject):
        st = self.wait_status(path, "queued: retry at")
        self.assertEqual(smtp.envelopes(), [])
        self.assertIn(os.path.basename(path), os.listdir(self.outbox(mfs)))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), message(subject))
        return st

    def test_server_without_starttls_gets_no_login_and_no_mail(self):
        smtp = self.new_smtp("plain")
        mfs = self.new_mount(smtp)
        subject = "plain " + self.tag
        path = self.put(mfs, "plain.eml", message(subject))
        st = self.assert_kept_unsent(smtp, mfs, path, subject)
        self.assertIn("STARTTLS", st)
        self.assertEqual(smtp.records(), [])

    def test_untrusted_certificate_gets_no_login_and_no_mail(self):
        other = harness.make_cert(self.work, "untrusted-" + RUN)
        for mode in ("starttls", "smtps"):
            with self.subTest(mode=mode):
                smtp = SmtpServer(self.work, other, mode,
                                  name="smtp-untrusted-" + mode)
                self.addCleanup(smtp.stop)
                smtp.start()
                mfs = self.new_mount(smtp, name="mfs-untrusted-" + mode)
                subject = "untrusted %s %s" % (mode, self.tag)
                path = self.put(mfs, "u.eml", message(subject))
                st = self.assert_kept_unsent(smtp, mfs, path, subject)
                self.assertIn("certificate", st)
                self.assertEqual(smtp.records(), [])

    def test_refused_login_sends_nothing_and_keeps_the_message(self):
        smtp = self.new_smtp(users={"alice": "not-the-imap-password"})
        mfs = self.new_mount(smtp)
        subject = "badauth " + self.tag
        path = self.put(mfs, "auth.eml", message(subject))
        # A refused login is the account's problem, not the message's:
        # either kept in outbox/ for a retry, or in failed/ with the reply.
        failed = self.outbox(mfs, "failed", "auth.eml")
        self.wait_until("a retry status or failed/",
                        lambda: os.path.exists(failed) or str(
                            self.status(path)).startswith("queued: retry"), 15)
        where = failed if os.path.exists(failed) else path
        reason = (self.read_error(mfs, "auth.eml") if where == failed
                  else self.status(path))
        self.assertIn("535", reason)
        with open(where, "rb") as f:
            self.assertEqual(f.read(), message(subject))
        self.assertEqual(smtp.envelopes(), [])
        auths = smtp.auths()
        self.assertTrue(auths)
        self.assertTrue(all(a["tls"] and not a["ok"] for a in auths), auths)


class CrashTest(OutboxTestBase):
    """kill -9 and servers going away: nothing lost, nothing sent twice."""

    def test_kill_9_right_after_close_keeps_the_message(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        subject = "durable " + self.tag
        raw = message(subject, body="durable body\n" * 1000)
        self.put(mfs, "durable.eml", raw)
        self.kill9(mfs)
        self.assertEqual(smtp.envelopes(subject), [])
        self.mount(mfs)
        env = self.assert_sent_once(smtp, subject, mfs, timeout=30)
        self.assertTrue(env["data"].endswith(b"durable body\r\n" * 1000))
        self.wait_gone(self.outbox(mfs, "durable.eml"))

    def test_kill_9_while_sending_then_sent_once(self):
        smtp = self.new_smtp()
        smtp.delay_data(3)  # the final reply comes 3 s after the data
        mfs = self.new_mount(smtp)
        subject = "killed sending " + self.tag
        path = self.put(mfs, "k.eml", message(subject))
        self.wait_status(path, "sending")
        time.sleep(0.8)
        self.kill9(mfs)
        self.wait_until("the server to see the client go",
                        lambda: smtp.aborted(subject), 10)
        self.assertEqual(smtp.envelopes(subject), [])
        smtp.delay_data(0)
        self.mount(mfs)
        # The server never took it.  mailfs cannot know: it either sends it
        # again, once, or (never twice) puts it in failed/ saying so.
        failed = self.outbox(mfs, "failed", "k.eml")
        self.wait_until("a delivery or failed/k.eml", lambda: (
            smtp.envelopes(subject) or os.path.exists(failed)), 30)
        self.wait_idle(mfs)
        n = len(smtp.envelopes(subject))
        if os.path.exists(failed):
            self.assertEqual(n, 0)
            self.assertIn("deliver", self.read_error(mfs, "k.eml"))
        else:
            self.assertEqual(n, 1)
        self.assertNotIn("k.eml", os.listdir(self.outbox(mfs)))

    def test_umount_while_waiting_for_final_reply_not_sent_twice(self):
        # The server has taken the message and is slow to say so; the user
        # unmounts meanwhile.  After the next mount it must not go again.
        smtp = self.new_smtp()
        smtp.delay_data(4, after_commit=True)
        mfs = self.new_mount(smtp)
        subject = "umount waiting " + self.tag
        path = self.put(mfs, "uw.eml", message(subject))
        self.wait_status(path, "sending")
        self.assertTrue(smtp.wait_envelopes(subject, 1, 10))
        self.umount(mfs)
        time.sleep(4)
        smtp.delay_data(0)
        self.mount(mfs)
        self.wait_idle(mfs)  # a retry, if there is one, would be queued
        n = len(smtp.envelopes(subject))
        self.assertEqual(n, 1, "delivered %d times" % n)
        self.assertNotIn("uw.eml", os.listdir(self.outbox(mfs)))

    def test_rm_while_sending_sends_at_most_once(self):
        smtp = self.new_smtp()
        smtp.delay_data(2)
        mfs = self.new_mount(smtp)
        subject = "rm sending " + self.tag
        path = self.put(mfs, "rms.eml", message(subject))
        self.wait_status(path, "sending")
        try:
            os.unlink(path)
            removed = True
        except OSError as e:
            # Too late to cancel: the message is on its way.
            self.assertEqual(e.errno, errno.EBUSY, e)
            removed = False
        self.wait_idle(mfs)
        n = len(smtp.envelopes(subject))
        self.assertLessEqual(n, 1)
        if not removed:
            self.assertEqual(n, 1)
        self.assertFalse(os.path.lexists(path))
        self.assertEqual(os.listdir(self.outbox(mfs, "failed")), [])

    def test_slow_final_reply_is_not_sent_twice(self):
        # The server has taken the message but answers the final "." only
        # after the configured network timeout (RFC 5321 4.5.3.2.6 gives a
        # client 10 minutes there).  Resending would deliver it twice.
        smtp = self.new_smtp()
        smtp.delay_data(4, after_commit=True)
        mfs = self.new_mount(smtp, timeout=2)
        subject = "slow reply " + self.tag
        path = self.put(mfs, "slow.eml", message(subject))
        smtp.wait_envelopes(subject, 1, 10)
        self.wait_idle(mfs)  # a retry, if there is one, would be queued
        envs = smtp.envelopes(subject)
        self.assertEqual(len(envs), 1, "delivered %d times; status %r"
                         % (len(envs), self.status(path)))

    def test_imap_down_mail_sent_once_and_copy_saved_later(self):
        own = os.path.join(self.work, "imapdown")
        os.makedirs(own, mode=0o755)
        os.chmod(own, 0o755)
        dovecot = Dovecot(own, cert=self.cert).start()
        self.addCleanup(dovecot.stop)
        self.dovecot = dovecot  # for sent_copies()
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        self.assertIn("Sent", os.listdir(mfs.mountpoint))
        dovecot.stop()
        subject = "imap down " + self.tag
        path = self.put(mfs, "imapdown.eml", message(subject))
        env = self.assert_sent_once(smtp, subject, mfs, copy_pending=1)
        self.wait_gone(path)
        # Unmounted while the copy is still to be saved; IMAP comes back.
        self.umount(mfs)
        dovecot.restart()
        self.mount(mfs)
        self.wait_until("the copy in Sent", lambda: self.sent_copies(subject),
                        40)
        self.wait_idle(mfs)  # no second copy pending
        copies = self.sent_copies(subject)
        self.assertEqual(len(copies), 1, copies)
        self.assertEqual(copies[0][1], env["data"])
        self.assertIn("\\Seen", copies[0][0])
        self.assertEqual(len(smtp.envelopes(subject)), 1)


class ScratchAndBulkTest(OutboxTestBase):

    SCRATCH = (".x.swp", ".x.swx", "4913", "x~", "#x#", "x.tmp", ".hidden")

    def test_editor_scratch_files_are_never_sent(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        contents = {}
        for name in self.SCRATCH:
            data = message("scratch %s %s" % (name, self.tag))
            self.put(mfs, name, data)
            contents[name] = data
        time.sleep(2.5)
        self.assertEqual(smtp.envelopes(), [])
        self.assertEqual(smtp.refusals(), [])
        listed = set(os.listdir(self.outbox(mfs)))
        for name, data in contents.items():
            self.assertIn(name, listed)
            path = self.outbox(mfs, name)
            self.assertTrue(stat.S_ISREG(os.stat(path).st_mode), name)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data, name)
        for name in contents:
            os.unlink(self.outbox(mfs, name))
        self.assertEqual(self.outbox_files(mfs), [])
        self.assertEqual(smtp.envelopes(), [])

    def test_hundred_messages_each_sent_once(self):
        smtp = self.new_smtp()
        mfs = self.new_mount(smtp)
        src = os.path.join(self.work, "bulk-" + RUN)
        os.makedirs(src)
        subjects = []
        for i in range(100):
            subject = "bulk %03d %s" % (i, self.tag)
            subjects.append(subject)
            with open(os.path.join(src, "m%03d.eml" % i), "wb") as f:
                f.write(message(subject, body="message %d\n" % i))
        names = sorted(os.listdir(src))
        subprocess.run(["cp"] + [os.path.join(src, n) for n in names]
                       + [self.outbox(mfs)], check=True, timeout=60)
        self.wait_until("100 deliveries",
                        lambda: len(smtp.envelopes(self.tag)) >= 100, 60)
        self.wait_idle(mfs, sent=100)
        envs = smtp.envelopes(self.tag)
        got = {}
        for e in envs:
            s = parse(e["data"])["Subject"]
            got[s] = got.get(s, 0) + 1
        self.assertEqual(set(got), set(subjects))
        self.assertEqual([s for s, n in got.items() if n != 1], [],
                         "sent more than once")
        self.wait_until("an empty outbox",
                        lambda: self.outbox_files(mfs) == [], 20)
        self.assertEqual(os.listdir(self.outbox(mfs, "failed")), [])
        shutil.rmtree(src)


    def test_queue_built_while_smtp_down_is_sent_once_when_it_is_back(self):
        smtp = self.new_smtp(start=False)
        mfs = self.new_mount(smtp)
        subjects = ["backlog %02d %s" % (i, self.tag) for i in range(30)]
        for i, subject in enumerate(subjects):
            self.put(mfs, "b%02d.eml" % i, message(subject))
        self.wait_until("every file to wait for a retry", lambda: all(
            str(self.status(self.outbox(mfs, "b%02d.eml" % i))).startswith(
                "queued: retry") for i in range(30)), 20)
        smtp.start()
        self.wait_until("30 deliveries",
                        lambda: len(smtp.envelopes(self.tag)) >= 30, 40)
        self.wait_idle(mfs, sent=30)
        got = sorted(parse(e["data"])["Subject"]
                     for e in smtp.envelopes(self.tag))
        self.assertEqual(got, sorted(subjects))
        self.wait_until("an empty outbox",
                        lambda: self.outbox_files(mfs) == [], 10)


class NoSmtpTest(OutboxTestBase):

    def test_no_outbox_without_smtp(self):
        mfs = self.new_mount(None, with_smtp=False, from_=None)
        self.assertNotIn("outbox", os.listdir(mfs.mountpoint))
        with self.assertRaises(OSError) as cm:
            os.stat(mfs.path("outbox"))
        self.assertEqual(cm.exception.errno, errno.ENOENT)


if __name__ == "__main__":
    unittest.main()
