"""The read-only views of mail under .mailfs/view/ over a real Dovecot:
folder summaries (TSV and JSON Lines) from header fields only, decoded
text per message, attachments by name, against what the server and
Python's email package say, and raw folders left exactly as they are."""

import base64
import email
import errno
import email.header
import email.policy
import email.utils
import json
import os
import re
import subprocess
import time
import unittest

import corpus_views
import harness
from harness import Mailfs, ServerView, Watchdog

FOLDER = corpus_views.FOLDER


def setUpModule():
    harness.require_mailfs()


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


class ViewsTest(unittest.TestCase):
    """One Dovecot seeded with the hard cases; one mount for the class,
    traced (--debug) so that what was fetched can be counted."""

    @classmethod
    def setUpClass(cls):
        cls.work = harness.make_workdir()
        cls.addClassCleanup(harness.remove_workdir, cls.work)
        cls.dovecot = harness.Dovecot(cls.work).start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.view = ServerView(cls.dovecot)
        cls.uids = corpus_views.seed(cls.dovecot, cls.view)
        cls.server = cls.view.messages(FOLDER)
        cls.mfs = Mailfs(cls.work, "views")
        cls.mfs.configure(cls.dovecot.url("imaps"), ca_file=cls.dovecot.cert,
                          refresh_interval=30)
        cls.trace = os.path.join(cls.mfs.dir, "trace")
        out = open(cls.trace, "wb")
        cls.addClassCleanup(out.close)
        cls.proc = subprocess.Popen(
            [harness.mailfs_bin(), "mount", "-f", "--debug", "--config",
             cls.mfs.config, "--account", cls.mfs.account,
             cls.mfs.mountpoint],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        cls.addClassCleanup(cls._stop)
        if not harness.wait_until(
                lambda: harness.is_mounted(cls.mfs.mountpoint), 20):
            raise RuntimeError("no mount: %s" % read(cls.trace)[-2000:])
        cls.vdir = cls.mfs.path(".mailfs", "view", FOLDER)
        cls.names = harness.message_names(cls.mfs.path(FOLDER))

    @classmethod
    def _stop(cls):
        cls.mfs.cleanup()
        if cls.proc.poll() is None:
            cls.proc.kill()
        cls.proc.wait(10)

    def setUp(self):
        self.dog = Watchdog(self.mfs, 60)
        self.dog.__enter__()
        self.addCleanup(self.dog.__exit__, None, None, None)

    def name(self, key):
        return self.names[self.uids[key]]

    def text(self, key):
        return read(os.path.join(self.vdir, self.name(key) + ".txt")
                    ).decode("utf-8")

    def trace_text(self):
        return read(self.trace).decode("utf-8", "replace")

    def body_fetches(self):
        """The UID sets of the body fetches the trace shows."""
        return re.findall(r"UID FETCH (\S+) \(UID BODY\.PEEK\[\]\)",
                          self.trace_text())

    # ------------------------------------------------------------------

    def test_a_summary_fetches_no_body(self):
        """Reading the summaries (first thing in the class, by name)
        asks for header fields in bulk and for no body at all."""
        tsv = read(os.path.join(self.vdir, "summary.tsv")).decode()
        jsonl = read(os.path.join(self.vdir, "summary.jsonl")).decode()
        self.assertTrue(tsv.startswith("name\tdate\tfrom\tsubject\tflags\t"
                                       "size\tattachments\n"), tsv[:200])
        self.assertEqual(len(tsv.splitlines()), len(self.uids) + 1)
        self.assertEqual(len(jsonl.splitlines()), len(self.uids))
        self.assertIn("HEADER.FIELDS (FROM SUBJECT", self.trace_text())
        self.assertEqual(self.body_fetches(), [])
        # Listing the view directory reads no body either.
        names = os.listdir(self.vdir)
        self.assertIn(self.name("base64") + ".txt", names)
        self.assertIn(self.name("base64") + ".parts", names)
        self.assertEqual(self.body_fetches(), [])

    def server_headers(self):
        """uid -> (From, Subject) decoded, as imaplib and email say."""
        c = self.dovecot.client()
        try:
            c.select(FOLDER, readonly=True)
            typ, data = c.uid("FETCH", "1:*",
                              "(UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")
        finally:
            c.logout()
        out = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            h = email.message_from_bytes(item[1], policy=email.policy.default)
            out[uid] = (str(h["From"] or ""), str(h["Subject"] or ""))
        return out

    def test_summary_matches_the_server(self):
        rows = [json.loads(l) for l in
                read(os.path.join(self.vdir, "summary.jsonl")).splitlines()]
        tsv = read(os.path.join(self.vdir, "summary.tsv")).decode()
        lines = tsv.splitlines()[1:]
        heads = self.server_headers()
        self.assertEqual(len(rows), len(self.server))
        for row, line in zip(rows, lines):
            uid = harness.message_uid(row["name"])
            srv = self.server[uid]
            frm, subj = heads[uid]
            self.assertEqual(row["subject"], subj)
            name, addr = email.utils.parseaddr(frm)
            self.assertIn(addr, row["from"])
            self.assertIn(name, row["from"])
            self.assertEqual(row["size"], srv.size)
            self.assertEqual(set(row["flags"]), set(srv.flags))
            self.assertEqual(
                row["date"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                           time.gmtime(srv.internaldate)))
            fields = line.split("\t")
            self.assertEqual(fields, [row["name"], row["date"], row["from"],
                                      row["subject"], " ".join(row["flags"]),
                                      str(row["size"]),
                                      "yes" if row["attachments"] else "no"])
        by_key = {k: rows[[harness.message_uid(r["name"]) for r in rows]
                          .index(u)] for k, u in self.uids.items()}
        self.assertEqual(by_key["subject"]["subject"],
                         "Über the marmosetsubject")
        self.assertEqual(by_key["subject"]["from"],
                         "Jörg Schön <s5@example.org>")
        self.assertTrue(by_key["attachments"]["attachments"])
        self.assertFalse(by_key["base64"]["attachments"])
        self.assertEqual(by_key["qp"]["flags"], ["\\Seen"])

    def test_decoded_text(self):
        t = self.text("base64")
        self.assertIn("From: Sender 1 <s1@example.org>\n", t)
        self.assertIn("To: Alice <alice@example.com>\n", t)
        self.assertIn("Cc: Bob <bob@example.com>\n", t)
        self.assertIn("Subject: base64 body\n", t)
        self.assertIn("Grüße! The secret bird is zebrafinch.", t)
        self.assertIn("Café au lait with quetzalcoatl, said the waiter.",
                      self.text("qp"))
        self.assertIn("Grüße aus Köln: der Kölnerdom steht.",
                      self.text("latin1"))
        self.assertIn("これは日本語テキストです。", self.text("sjis"))
        self.assertIn("Subject: Über the marmosetsubject\n",
                      self.text("subject"))
        self.assertIn("From: Jörg Schön <s5@example.org>\n",
                      self.text("subject"))
        html = self.text("html")
        self.assertIn("Hello heronword & friends", html)
        self.assertIn("- one\n- two", html)
        self.assertNotIn("scriptword", html)
        self.assertNotIn("color", html)
        self.assertNotIn("<", html.split("\n\n", 1)[1])
        alt = self.text("alternative")
        self.assertIn("altplainword in plain", alt)
        self.assertNotIn("althtmlword", alt)
        self.assertNotIn("\r", alt)
        # A broken MIME tree still reads as text, with what could be read.
        self.assertIn("never closed", self.text("malformed"))

    def test_b_reading_a_view_fetches_that_body_only(self):
        """(Second in the class: no test before reads this message.)"""
        uid = self.uids["latin1"]
        before = self.body_fetches()
        self.text("latin1")
        self.assertEqual(self.body_fetches()[len(before):], [str(uid)])
        self.text("latin1")
        self.assertEqual(self.body_fetches()[len(before):], [str(uid)])

    def grep(self, *args):
        r = subprocess.run(["grep"] + list(args), capture_output=True,
                           text=True, timeout=60)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return sorted(r.stdout.splitlines())

    def test_grep_finds_encoded_words_once_in_views_never_in_raw(self):
        raw = self.mfs.path(FOLDER)
        for key, word in corpus_views.WORDS.items():
            self.assertEqual(self.grep("-rl", word, raw), [],
                             "%s: %s in raw mail" % (key, word))
            found = self.grep("-rl", "--include=*.txt", word, self.vdir)
            want = os.path.join(self.vdir, self.name(key) + ".txt")
            if key == "forwarded":  # in the forwarded message's own text
                want = os.path.join(self.vdir, self.name(key) + ".parts",
                                    "inner subject.txt")
            self.assertEqual(found, [want], key)
        # The body word is in no summary.
        self.assertEqual(self.grep("-rl", "zebrafinch", self.vdir),
                         [os.path.join(self.vdir,
                                       self.name("base64") + ".txt")])

    def test_raw_folder_unchanged(self):
        """The folder holds the .eml files only, byte for byte the
        server's, and a grep -r of it sees each message once."""
        raw = self.mfs.path(FOLDER)
        self.assertEqual(sorted(os.listdir(raw)), sorted(self.names.values()))
        for uid, name in self.names.items():
            self.assertEqual(read(os.path.join(raw, name)),
                             self.server[uid].body)
        hits = self.grep("-rl", "Message-ID: <views-", raw)
        self.assertEqual(len(hits), len(self.uids))
        # Nor does the mount root list the views: grep -r MOUNT walks mail.
        self.assertNotIn(".mailfs", os.listdir(self.mfs.mountpoint))

    def test_attachments_equal_python_email(self):
        key = "attachments"
        raw = self.server[self.uids[key]].body
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        want = [(p.get_filename(), p.get_payload(decode=True))
                for p in msg.walk() if p.get_filename()]
        self.assertEqual([w[0] for w in want],
                         ["résumé.pdf", "same.txt", "same.txt",
                          "a/b\x01c.bin"])
        parts = os.path.join(self.vdir, self.name(key) + ".parts")
        names = ["résumé.pdf", "same.txt", "same-2.txt", "a_b_c.bin"]
        self.assertEqual(sorted(os.listdir(parts)), sorted(names))
        for name, (_, data) in zip(names, want):
            path = os.path.join(parts, name)
            self.assertEqual(read(path), data, name)
            self.assertEqual(os.stat(path).st_size, len(data), name)
        self.assertIn("[attachment: résumé.pdf (application/pdf, %d bytes)]"
                      % len(want[0][1]), self.text(key))
        # A message without attachments has an empty parts directory.
        self.assertEqual(os.listdir(os.path.join(
            self.vdir, self.name("base64") + ".parts")), [])

    def test_forwarded_message_is_its_own_view(self):
        parts = os.path.join(self.vdir, self.name("forwarded") + ".parts")
        self.assertEqual(sorted(os.listdir(parts)),
                         ["inner subject.eml", "inner subject.txt"])
        inner = read(os.path.join(parts, "inner subject.txt")).decode()
        self.assertIn("Subject: inner subject\n", inner)
        self.assertIn("the innerword is here", inner)
        eml = email.message_from_bytes(
            read(os.path.join(parts, "inner subject.eml")),
            policy=email.policy.default)
        self.assertEqual(eml["Subject"], "inner subject")

    def test_views_are_read_only(self):
        path = os.path.join(self.vdir, self.name("base64") + ".txt")
        for fn in (lambda: open(path, "wb"),
                   lambda: os.unlink(path),
                   lambda: open(os.path.join(self.vdir, "new.txt"), "wb")):
            with self.assertRaises(OSError):
                fn()

    def test_read_only_mount(self):
        """On a read-only mount (no OPEN: reads come by inode) the views
        read the same."""
        ro = Mailfs(self.work, "views-ro")
        ro.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert)
        self.addCleanup(ro.cleanup)
        self.assertEqual(ro.mount("--read-only").returncode, 0)
        rodir = ro.path(".mailfs", "view", FOLDER)
        parts = self.name("attachments") + ".parts"
        for rel in ("summary.tsv", "summary.jsonl",
                    self.name("sjis") + ".txt",
                    os.path.join(parts, "résumé.pdf")):
            for _ in range(2):
                self.assertEqual(read(os.path.join(rodir, rel)),
                                 read(os.path.join(self.vdir, rel)), rel)
        self.assertEqual(ro.umount().returncode, 0)

    def test_unknown_names(self):
        for name in ("nope.txt", "999999.1.eml.txt", "summary.csv",
                     self.name("base64")):
            self.assertFalse(os.path.exists(os.path.join(self.vdir, name)),
                             name)
        self.assertFalse(os.path.exists(os.path.join(
            self.vdir, self.name("base64") + ".parts", "x")))


class SearchTest(unittest.TestCase):
    """.mailfs/search/: what a query finds is what the server's own UID
    SEARCH finds; offline, the local index finds the cached messages."""

    QUERIES = [
        ("in:Views from:s3", "FROM s3"),
        ("in:Views subject:base64", "SUBJECT base64"),
        ("in:Views zebrafinch", "TEXT zebrafinch"),
        ("in:Views unseen", "UNSEEN"),
        ("in:Views since:2020-01-01 unseen", "SINCE 1-Jan-2020 UNSEEN"),
        ("in:Views before:2020-01-01", "BEFORE 1-Jan-2020"),
        ('in:Views subject:"shift_jis body"', 'SUBJECT "shift_jis body"'),
        ("in:Views to:alice from:example.org",
         "TO alice FROM example.org"),
    ]

    @classmethod
    def setUpClass(cls):
        cls.work = harness.make_workdir()
        cls.addClassCleanup(harness.remove_workdir, cls.work)
        cls.dovecot = harness.Dovecot(cls.work).start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.view = ServerView(cls.dovecot)
        cls.uids = corpus_views.seed(cls.dovecot, cls.view)
        c = cls.dovecot.client()
        try:
            c.select(FOLDER)
            c.uid("STORE", str(cls.uids["html"]), "+FLAGS", "(\\Flagged)")
        finally:
            c.logout()

    def mounted(self, name):
        m = Mailfs(self.work, name)
        m.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert)
        self.addCleanup(m.cleanup)
        self.assertEqual(m.mount().returncode, 0)
        dog = Watchdog(m, 60)
        dog.__enter__()
        self.addCleanup(dog.__exit__, None, None, None)
        return m

    def server_search(self, criteria):
        c = self.dovecot.client()
        try:
            c.select(FOLDER, readonly=True)
            typ, data = c.uid("SEARCH", criteria)
        finally:
            c.logout()
        self.assertEqual(typ, "OK")
        return sorted(int(u) for u in data[0].split())

    def found(self, m, query, read_through=True):
        """The UIDs of the messages QUERY finds, checking its links (and
        reading through them, when READ_THROUGH)."""
        d = m.path(".mailfs", "search", query)
        self.assertTrue(os.path.isdir(d), query)
        uids = []
        for name in os.listdir(d):
            link = os.path.join(d, name)
            target = os.readlink(link)
            self.assertTrue(target.startswith("../../../%s/" % FOLDER),
                            target)
            self.assertEqual(os.path.realpath(link),
                             os.path.realpath(m.path(FOLDER, name)))
            if read_through:  # through the link: the .eml
                with open(link, "rb") as f:
                    self.assertTrue(f.read(200).startswith(b"From: "))
            uids.append(harness.message_uid(name))
        return sorted(uids)

    def test_results_equal_the_servers(self):
        m = self.mounted("online")
        for query, criteria in self.QUERIES:
            self.assertEqual(self.found(m, query),
                             self.server_search(criteria), query)
        self.assertEqual(self.found(m, "in:Views flagged"),
                         [self.uids["html"]])
        self.assertEqual(self.found(m, "in:Views zebrafinch"),
                         [self.uids["base64"]])
        # A value that is not ASCII goes with CHARSET UTF-8.
        c = self.dovecot.client()
        try:
            c.select(FOLDER, readonly=True)
            c.literal = "Kölnerdom".encode()
            typ, data = c.uid("SEARCH", "CHARSET", "UTF-8", "TEXT")
        finally:
            c.logout()
        self.assertEqual(typ, "OK")
        want = sorted(int(u) for u in data[0].split())
        self.assertEqual(want, [self.uids["latin1"]])
        self.assertEqual(self.found(m, "in:Views Kölnerdom"), want)
        # Without in:, every folder is searched.
        self.assertEqual(self.found(m, "zebrafinch"), [self.uids["base64"]])
        recent = os.listdir(m.path(".mailfs", "search"))
        for query, _ in self.QUERIES:
            self.assertIn(query, recent)
        # A query in error is EINVAL; an unknown folder ENOENT.
        for bad, code in (("colour:red", errno.EINVAL),
                          ('"unterminated', errno.EINVAL),
                          ("since:2024-13-01", errno.EINVAL),
                          ("in:NoSuchFolder x", errno.ENOENT),
                          (".hidden", errno.ENOENT)):
            with self.assertRaises(OSError) as cm:
                os.stat(m.path(".mailfs", "search", bad))
            self.assertEqual(cm.exception.errno, code, bad)

    def test_offline_finds_cached_messages(self):
        m = self.mounted("offline")
        names = harness.message_names(m.path(FOLDER))
        cached = ["base64", "subject", "latin1"]
        for key in cached:
            read(m.path(FOLDER, names[self.uids[key]]))
        with open(m.path(".mailfs", "ctl"), "w") as f:
            f.write("offline\n")
        self.assertTrue(harness.wait_until(lambda: "state: offline" in read(
            m.path(".mailfs", "status"), "r"), 10))
        self.assertEqual(self.found(m, "in:Views zebrafinch"),
                         [self.uids["base64"]])
        self.assertEqual(self.found(m, "in:Views subject:marmosetsubject"),
                         [self.uids["subject"]])
        self.assertEqual(self.found(m, "in:Views Kölnerdom"),
                         [self.uids["latin1"]])
        self.assertEqual(self.found(m, "in:Views from:jörg"),
                         [self.uids["subject"]])
        # Not cached: not found offline (the server finds it).
        self.assertEqual(self.found(m, "in:Views quetzalcoatl"), [])
        # Flags and days come from the listing, cached or not (those not
        # cached cannot be read while offline).
        self.assertEqual(self.found(m, "in:Views flagged", False),
                         [self.uids["html"]])
        self.assertEqual(self.found(m, "in:Views unseen", False),
                         self.server_search("UNSEEN"))


class Pop3ViewsTest(unittest.TestCase):
    """Over POP3 (every message is stored at once, the backend has no
    header fetch nor search): summaries come from the stored messages,
    searches from the local index."""

    def test_pop3_summary_text_and_search(self):
        work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, work)
        dovecot = harness.Dovecot(work).start()
        self.addCleanup(dovecot.stop)
        view = ServerView(dovecot)
        msgs = dict(corpus_views.build())
        for key in ("base64", "subject", "html"):
            view.append("INBOX", msgs[key])
        m = Mailfs(work, "pop")
        self.addCleanup(m.cleanup)
        fd = os.open(m.pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("secret\n")
        harness.write_config(m.config, {m.account: {
            "pop3": dovecot.url("pop3s"), "user": "alice",
            "password_command": "cat " + m.pwfile,
            "ca_file": dovecot.cert, "cache_dir": m.cache_dir,
            "timeout": 5}})
        self.assertEqual(m.mount(timeout=60).returncode, 0)
        with Watchdog(m, 60):
            names = sorted(os.listdir(m.path("INBOX")))
            self.assertEqual(len(names), 3)
            vdir = m.path(".mailfs", "view", "INBOX")
            rows = [json.loads(l) for l in
                    read(os.path.join(vdir, "summary.jsonl")).splitlines()]
            self.assertEqual(sorted(r["name"] for r in rows), names)
            self.assertIn("Über the marmosetsubject",
                          [r["subject"] for r in rows])
            hits = os.listdir(m.path(".mailfs", "search", "zebrafinch"))
            self.assertEqual(len(hits), 1)
            self.assertIn("zebrafinch", read(os.path.join(
                vdir, hits[0] + ".txt")).decode())
            self.assertEqual(os.listdir(m.path(
                ".mailfs", "search", "subject:marmosetsubject")),
                [r["name"] for r in rows
                 if r["subject"] == "Über the marmosetsubject"])


class BigFolderTest(unittest.TestCase):
    """The summary of a folder of 10,000 messages: its first build asks
    the server for header fields in bulk; after it, the summary is served
    well under a second, also when rebuilt after a refresh (from the
    store)."""

    COUNT = 10000

    def setUp(self):
        self.work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, self.work)
        self.dovecot = harness.Dovecot(self.work).start()
        self.addCleanup(self.dovecot.stop)

    def deliver(self):
        """Writes the messages straight into alice's Maildir/cur."""
        c = self.dovecot.client()  # Dovecot makes the Maildir
        c.select("INBOX")
        c.logout()
        mail = os.path.join(self.dovecot.dir, "mail")
        owner = os.stat(mail)
        cur = os.path.join(mail, "alice", "Maildir", "cur")
        base = int(time.time()) - 3600
        for i in range(self.COUNT):
            raw = ("From: =?UTF-8?Q?M=C3=BCller_%d?= <m%d@example.org>\r\n"
                   "Subject: =?UTF-8?B?%s?=\r\n"
                   "Message-ID: <big-%d@example.org>\r\n\r\nbody %d\r\n"
                   % (i, i, base64.b64encode(("Grüße %d" % i).encode())
                      .decode(), i, i)).encode()
            name = "%d.M%dP%d.views,S=%d,W=%d:2,S" % (base, i, os.getpid(),
                                                      len(raw), len(raw))
            path = os.path.join(cur, name)
            with open(path, "wb") as f:
                f.write(raw)
            os.chown(path, owner.st_uid, owner.st_gid)

    def timed_read(self, path):
        t = time.monotonic()
        data = read(path)
        return data, time.monotonic() - t

    def test_ten_thousand_messages(self):
        self.deliver()
        m = Mailfs(self.work, "big")
        m.configure(self.dovecot.url("imaps"), ca_file=self.dovecot.cert,
                    timeout=30, refresh_interval=1)
        self.addCleanup(m.cleanup)
        self.assertEqual(m.mount().returncode, 0)
        path = m.path(".mailfs", "view", "INBOX", "summary.tsv")
        with Watchdog(m, 120):
            first, t_first = self.timed_read(path)
            lines = first.decode().splitlines()
            self.assertEqual(len(lines), self.COUNT + 1)
            self.assertIn("\tMüller 17 <m17@example.org>\tGrüße 17\t\\Seen\t",
                          first.decode())
            again, t_again = self.timed_read(path)
            self.assertEqual(again, first)
            self.assertLess(t_again, 1.0, "summary served slowly")
            # A new listing (a refresh): rebuilt from the store.
            with open(m.path(".mailfs", "ctl"), "w") as f:
                f.write("refresh\n")
            time.sleep(1.5)
            rebuilt, t_rebuilt = self.timed_read(path)
            self.assertEqual(rebuilt, first)
            self.assertLess(t_rebuilt, 1.0, "summary rebuilt slowly")
            jsonl, t_json = self.timed_read(
                m.path(".mailfs", "view", "INBOX", "summary.jsonl"))
            self.assertEqual(len(jsonl.splitlines()), self.COUNT)
            self.assertLess(t_json, 1.0)
        print("summary of %d messages: first %.2f s, again %.3f s, after a "
              "refresh %.3f s" % (self.COUNT, t_first, t_again, t_rebuilt))


if __name__ == "__main__":
    unittest.main()
