"""mailfs over a real Dovecot: a real FUSE mount compared, file by file,
with what an independent IMAP client (imaplib) reads from the server."""

import errno
import os
import stat
import subprocess
import time
import unittest

import corpus
import harness
from harness import Dovecot, Mailfs, ServerView, Watchdog, mutf7_encode


def setUpModule():
    harness.require_mailfs()


class MountImapTest(unittest.TestCase):
    """One Dovecot, seeded once, mounted once over imaps://."""

    @classmethod
    def setUpClass(cls):
        corpus.seeded_class(cls)
        _, msgs = cls.view.snapshot()
        cls.flags_before = {(f, uid): m.flags
                            for f, ms in msgs.items() for uid, m in ms.items()}
        cls.mfs = Mailfs(cls.work, "main").configure(
            cls.dovecot.url("imaps"), ca_file=cls.dovecot.cert)
        cls.addClassCleanup(cls.mfs.cleanup)
        res = cls.mfs.mount()
        if res.returncode != 0 or not harness.is_mounted(cls.mfs.mountpoint):
            raise AssertionError("mount failed: %r" % res)

    def setUp(self):
        self.watchdog = Watchdog(self.mfs, 120)
        self.watchdog.__enter__()

    def tearDown(self):
        self.watchdog.__exit__(None, None, None)

    # -- helpers ----------------------------------------------------------

    def mount_path(self, folder, *rest):
        return self.mfs.path(*folder.split("/"), *rest)

    def snapshot(self):
        folders, msgs = self.view.snapshot()
        self.assertTrue(msgs, "the server lists no folders")
        return folders, msgs

    def all_files(self):
        """Relative paths of every regular file in the mount."""
        out = set()
        for root, _, files in os.walk(self.mfs.mountpoint):
            rel = os.path.relpath(root, self.mfs.mountpoint)
            for f in files:
                out.add(f if rel == "." else os.path.join(rel, f))
        return out

    def grep(self, word):
        """(folder, uid) of every message file grep -rl finds WORD in."""
        p = subprocess.run(["grep", "-rlF", "--", word, self.mfs.mountpoint],
                           capture_output=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return {harness.message_key(os.path.relpath(os.fsdecode(l),
                                                    self.mfs.mountpoint))
                for l in p.stdout.splitlines()}

    # -- tree -------------------------------------------------------------

    def test_every_folder_is_a_directory(self):
        folders, _ = self.snapshot()
        self.assertIn("Entwürfe", {f.name for f in folders})
        self.assertIn("Archive/2024/Q1", {f.name for f in folders})
        for f in folders:
            self.assertTrue(os.path.isdir(self.mfs.path(*f.parts)),
                            "folder %r missing from the mount" % f.name)

    def test_directory_tree_matches_server(self):
        folders, _ = self.snapshot()
        expected = {(): set()}  # no outbox/: this account has no smtp
        for f in folders:
            parts = tuple(f.parts)
            for i in range(len(parts)):
                expected.setdefault(parts[:i], set()).add(parts[i])
                expected.setdefault(parts[:i + 1], set())
        for parent, children in expected.items():
            path = self.mfs.path(*parent)
            dirs = {e for e in os.listdir(path)
                    if os.path.isdir(os.path.join(path, e))}
            self.assertEqual(dirs, children, "subdirectories of %r" % (path,))

    def test_noselect_parent_is_empty_directory(self):
        folders, _ = self.snapshot()
        noselect = [f for f in folders if not f.selectable]
        self.assertTrue(noselect, "corpus should give a \\Noselect parent")
        for f in noselect:
            files = [e for e in os.listdir(self.mfs.path(*f.parts))
                     if e.endswith(".eml")]
            self.assertEqual(files, [], f.name)

    def test_no_outbox_without_smtp(self):
        self.assertNotIn("outbox", os.listdir(self.mfs.mountpoint))
        self.assertFalse(os.path.lexists(self.mfs.path("outbox")))

    def test_message_files_are_the_uids(self):
        _, msgs = self.snapshot()
        for folder, ms in msgs.items():
            path = self.mount_path(folder)
            files = [e for e in os.listdir(path)
                     if not os.path.isdir(os.path.join(path, e))]
            self.assertEqual(sorted(harness.message_uid(e) for e in files),
                             sorted(ms), "%s: %s" % (folder, files))

    # -- content ----------------------------------------------------------

    def test_every_message_is_byte_identical(self):
        _, msgs = self.snapshot()
        compared = set()
        for folder, ms in msgs.items():
            for uid, m in ms.items():
                path = harness.message_file(self.mount_path(folder), uid)
                with open(path, "rb") as f:
                    data = f.read()
                self.assertEqual(len(data), len(m.body), m)
                self.assertTrue(data == m.body, "%r differs" % m)
                compared.add((folder, uid))
        self.assertLessEqual({m.key for m in self.seeded.messages}, compared)

    def test_partial_reads_at_offsets(self):
        big = max(self.seeded.messages, key=lambda m: len(m.raw))
        self.assertGreater(len(big.raw), 200 * 1024)
        path = big.path_in(self.mfs)
        fd = os.open(path, os.O_RDONLY)
        try:
            for off, n in ((0, 100), (4095, 3), (131072, 70000),
                           (len(big.raw) - 10, 100), (len(big.raw) + 5, 10)):
                self.assertEqual(os.pread(fd, n, off), big.raw[off:off + n],
                                 "pread(%d, %d)" % (n, off))
        finally:
            os.close(fd)

    def test_sizes_dates_and_modes(self):
        _, msgs = self.snapshot()
        for folder, ms in msgs.items():
            for uid, m in ms.items():
                st = os.stat(harness.message_file(self.mount_path(folder),
                                                  uid))
                self.assertTrue(stat.S_ISREG(st.st_mode), m)
                self.assertEqual(st.st_size, m.size, m)
                self.assertEqual(m.size, len(m.body), m)
                self.assertEqual(int(st.st_mtime), m.internaldate, m)
                # Readable by all, writable by the owner at most
                # (test_tools checks the owner's 0644).
                mode = stat.S_IMODE(st.st_mode)
                self.assertEqual(mode & 0o7577, 0o444, "%r: %o" % (m, mode))

    def test_dates_match_the_appended_internaldates(self):
        for sm in self.seeded.messages:
            st = os.stat(sm.path_in(self.mfs))
            expected = harness.parse_internaldate(sm.internaldate.strip('"'))
            self.assertEqual(int(st.st_mtime), expected, sm.key)

    def test_grep_finds_the_special_word_in_nested_folders(self):
        expected = self.seeded.special_keys()
        self.assertEqual(len(expected), 3)
        self.assertEqual(self.grep(corpus.SPECIAL_WORD), expected)

    def test_grep_finds_each_token_in_its_file_only(self):
        for sm in self.seeded.messages:
            self.assertEqual(self.grep(sm.token), {sm.key}, sm.token)

    def test_utf8_and_attachment_messages(self):
        for key in (corpus.UTF8_AT, corpus.ATTACHMENT_AT):
            sm = [m for m in self.seeded.messages if (m.folder, m.n) == key][0]
            with open(sm.path_in(self.mfs), "rb") as f:
                self.assertEqual(f.read(), sm.raw, sm.key)

    # -- no side effects, no writes ---------------------------------------

    def test_reading_everything_keeps_flags(self):
        self.assertTrue(any("\\Seen" not in f for f in self.flags_before.values()),
                        "corpus should have unseen messages")
        for rel in self.all_files():
            with open(self.mfs.path(rel), "rb") as f:
                f.read()
        _, msgs = self.snapshot()
        after = {(f, uid): m.flags for f, ms in msgs.items()
                 for uid, m in ms.items()}
        for key, flags in self.flags_before.items():
            self.assertEqual(after.get(key), flags, "flags of %s/%d" % key)

    def test_messages_opened_for_writing_and_closed_unchanged_stay(self):
        # A message opened for writing holds its bytes; closed unchanged,
        # nothing changes (issue 12).  O_TRUNC writes a new message under
        # the name: closed empty, it is refused (EBADMSG) and the message
        # stays.  Refusing the open (EACCES, EROFS) is also safe.
        sm = self.seeded.messages[0]
        path = sm.path_in(self.mfs)
        folder = mutf7_encode(sm.folder)
        before = sorted(self.view.messages(folder))
        for how in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND,
                    os.O_WRONLY | os.O_TRUNC):
            try:
                fd = os.open(path, how)
            except OSError as e:
                self.assertIn(e.errno, (errno.EACCES, errno.EROFS),
                              "open flags %#o: %s" % (how, e))
                continue
            if how & os.O_TRUNC:
                with self.assertRaises(OSError) as cm:
                    os.close(fd)
                self.assertEqual(cm.exception.errno, errno.EBADMSG)
            else:
                os.close(fd)
            msgs = self.view.messages(folder)
            self.assertEqual(msgs[sm.uid].body, sm.raw,
                             "open flags %#o" % how)
            self.assertEqual(sorted(msgs), before, "open flags %#o" % how)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), sm.raw)
        self.assertFalse([x for x in self.view.messages("Trash").values()
                          if x.body == sm.raw], "the message went to Trash")

    def test_empty_file_created_in_a_folder_leaves_nothing(self):
        # Writing a file into a folder appends it as a new message (the
        # IMAP write issue); a file closed empty is no message: nothing is
        # appended and nothing stays behind.  close() may say so with
        # EBADMSG (test_tools requires it).
        before = {f: len(self.view.messages(raw))
                  for f, raw in (("INBOX", "INBOX"),
                                 ("Archive/2024/Q1", "Archive/2024/Q1"))}
        for folder in before:
            path = self.mount_path(folder, "empty-%d.eml" % os.getpid())
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.close(fd)
            except OSError as e:
                self.assertEqual(e.errno, errno.EBADMSG, e)
            # Gone at once or once the kernel's entry times out (1 s).
            self.assertTrue(harness.wait_until(
                lambda: not os.path.exists(path), 3), path)
        for folder, raw in (("INBOX", "INBOX"),
                            ("Archive/2024/Q1", "Archive/2024/Q1")):
            self.assertEqual(len(self.view.messages(raw)), before[folder])

    # -- freshness --------------------------------------------------------

    def test_appended_message_appears_without_remount(self):
        inbox = self.mount_path("INBOX")
        os.listdir(inbox)  # the listing is now cached
        tok = "token-fresh-%d" % os.getpid()
        raw = ("From: Late <late@example.org>\r\nTo: alice@example.com\r\n"
               "Subject: late arrival\r\nMessage-ID: <%s@example.org>\r\n"
               "\r\nArrived after mount: %s\r\n" % (tok, tok)).encode()
        uid = self.view.append("INBOX", raw)
        deadline = time.monotonic() + 10
        while uid not in harness.message_names(inbox):
            self.assertLess(time.monotonic(), deadline,
                            "UID %d did not appear within 10 s" % uid)
            time.sleep(0.2)
        with open(harness.message_file(inbox, uid), "rb") as f:
            self.assertEqual(f.read(), raw)
        self.assertEqual(self.grep(tok), {("INBOX", uid)})

    # -- cache ------------------------------------------------------------

    def test_cache_dir_is_private(self):
        sm = self.seeded.messages[0]
        with open(sm.path_in(self.mfs), "rb") as f:
            f.read()
        top = self.mfs.cache_dir
        self.assertTrue(os.path.isdir(top), "cache_dir was not created")
        self.assertEqual(stat.S_IMODE(os.stat(top).st_mode), 0o700, top)
        nfiles = 0
        for root, dirs, files in os.walk(top):
            for d in dirs:
                p = os.path.join(root, d)
                self.assertEqual(stat.S_IMODE(os.lstat(p).st_mode), 0o700, p)
            for f in files:
                p = os.path.join(root, f)
                self.assertEqual(stat.S_IMODE(os.lstat(p).st_mode), 0o600, p)
                nfiles += 1
        self.assertGreater(nfiles, 0, "nothing cached under %s" % top)


class MountOptionsTest(unittest.TestCase):
    """Separate mounts against one Dovecot: STARTTLS, refusals, umount."""

    @classmethod
    def setUpClass(cls):
        cls.work = harness.make_workdir()
        cls.addClassCleanup(harness.remove_workdir, cls.work)
        cls.dovecot = Dovecot(cls.work).start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.view = ServerView(cls.dovecot)
        cls.bob_view = ServerView(cls.dovecot, "bob")
        cls.raw = (b"From: a@example.org\r\nTo: bob@example.com\r\n"
                   b"Subject: over starttls\r\n\r\nstarttls body\r\n")
        cls.bob_uid = cls.bob_view.append("INBOX", cls.raw)
        cls.view.append("INBOX", b"Subject: x\r\n\r\nalice\r\n")

    def new_mailfs(self, name, url=None, **kw):
        mfs = Mailfs(self.work, name)
        self.addCleanup(mfs.cleanup)
        kw.setdefault("ca_file", self.dovecot.cert)
        return mfs.configure(url or self.dovecot.url("imaps"), **kw)

    def assert_refused(self, res, mfs, word):
        self.assertFalse(res.timed_out, res)
        self.assertGreater(res.returncode, 0, res)
        self.assertFalse(harness.is_mounted(mfs.mountpoint), res)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % res)
        self.assertIn(word, lines[0].lower(), res)
        self.assertIn("'%s'" % mfs.account, lines[0], res)
        self.assertLess(res.elapsed, 15, res)

    def test_starttls_is_used_on_imap_urls(self):
        mfs = self.new_mailfs("starttls", self.dovecot.url("imap"),
                              user="bob", password=harness.USERS["bob"])
        res = mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        with Watchdog(mfs, 60):
            with open(mfs.message("INBOX", self.bob_uid), "rb") as f:
                self.assertEqual(f.read(), self.raw)
        logins = self.dovecot.login_lines("bob")
        self.assertTrue(logins, "Dovecot logged no login for bob")
        for line in logins:
            # Dovecot marks a login over TLS with a ", TLS," element and a
            # plaintext one from loopback with ", secured,".
            fields = [f.strip() for f in line.split(",")]
            self.assertIn("TLS", fields, line)
            self.assertNotIn("secured", fields, line)

    def test_self_signed_certificate_refused_without_ca_file(self):
        mfs = self.new_mailfs("noca", ca_file=None)
        res = mfs.mount()
        self.assert_refused(res, mfs, "certificate")

    def test_wrong_password_refused(self):
        mfs = self.new_mailfs("badpw", password="not-the-password")
        res = mfs.mount()
        self.assert_refused(res, mfs, "authentication")
        self.assertNotIn("not-the-password", res.stderr + res.stdout)

    def test_password_key_in_private_file(self):
        mfs = self.new_mailfs("pwkey", password_in_file=True)
        res = mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(harness.is_mounted(mfs.mountpoint))

    def test_outbox_present_with_smtp(self):
        # Nothing listens on the SMTP port: outbox/ exists all the same.
        mfs = self.new_mailfs("smtp", extra={
            "smtp": "smtp://127.0.0.1:%d" % harness.free_port(),
            "from": "Alice <alice@example.com>"})
        res = mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        with Watchdog(mfs, 60):
            self.assertIn("outbox", os.listdir(mfs.mountpoint))
            self.assertTrue(os.path.isdir(mfs.path("outbox")))
            self.assertEqual(set(os.listdir(mfs.path("outbox"))) - {"failed"},
                             set())

    def test_umount_leaves_nothing_mounted(self):
        mfs = self.new_mailfs("um")
        res = mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(harness.is_mounted(mfs.mountpoint))
        self.assertEqual(harness.fstype_of(mfs.mountpoint).split(".")[0], "fuse")
        self.assertTrue(mfs.daemons(), "no daemon serves the mount")
        res = mfs.umount()
        self.assertEqual(res.returncode, 0, res)
        self.assertFalse(harness.is_mounted(mfs.mountpoint))
        self.assertTrue(mfs.wait_daemons_gone(10), "daemon still running")

    def test_foreground_mount(self):
        mfs = self.new_mailfs("fg")
        err = open(os.path.join(mfs.dir, "stderr"), "w+")
        self.addCleanup(err.close)
        p = subprocess.Popen([harness.mailfs_bin(), "mount", "-f", "--config",
                              mfs.config, "--account", mfs.account,
                              mfs.mountpoint],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 20
            while not harness.is_mounted(mfs.mountpoint):
                if p.poll() is not None:
                    err.seek(0)
                    self.fail("mailfs -f exited: %r" % err.read())
                self.assertLess(time.monotonic(), deadline, "no mount")
                time.sleep(0.1)
            self.assertIn("INBOX", os.listdir(mfs.mountpoint))
            res = mfs.umount()
            self.assertEqual(res.returncode, 0, res)
            self.assertEqual(p.wait(20), 0)
        finally:
            if p.poll() is None:
                mfs.cleanup()
                p.kill()
                p.wait()


if __name__ == "__main__":
    unittest.main()
