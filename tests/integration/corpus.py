"""The test mail corpus: realistic RFC 5322 messages with grep-able tokens,
appended through IMAP into nested folders of a private Dovecot.

Every message body holds `token-<slug>-<nn>` (unique per message); the word
SPECIAL_WORD appears in exactly three messages in three different folders.
One message has a base64 attachment, one is 8-bit UTF-8, one is ~300 KB.
"""

import base64
import random

import harness
from harness import ServerView, imap_quote, mutf7_encode

SPECIAL_WORD = "quokkaflux"

# folder -> number of messages.  "Projects" itself is never created, so the
# server lists it as a \Noselect parent of Projects/Alpha.
FOLDERS = {
    "INBOX": 10,
    "Archive": 3,
    "Archive/2024": 3,
    "Archive/2024/Q1": 3,
    "Entwürfe": 2,
    "Projects/Alpha": 2,
    "Sent": 2,
}

# (folder, index) of the messages that carry SPECIAL_WORD.
SPECIAL_AT = {("INBOX", 3), ("Archive/2024/Q1", 1), ("Entwürfe", 2)}
ATTACHMENT_AT = ("Archive/2024", 2)
UTF8_AT = ("Entwürfe", 1)
LARGE_AT = ("Archive/2024/Q1", 3)
LARGE_SIZE = 300 * 1024


def slug(folder):
    s = folder.lower().replace("/", "-").replace("ü", "ue")
    return s


def token(folder, n):
    return "token-%s-%02d" % (slug(folder), n)


class SeedMessage:
    """A message we appended: where, what, and what the server answered."""

    def __init__(self, folder, n, raw, flags, internaldate):
        self.folder = folder
        self.n = n
        self.token = token(folder, n)
        self.raw = raw
        self.flags = flags              # IMAP flag list text, e.g. "\\Seen"
        self.internaldate = internaldate  # '"DD-Mon-YYYY HH:MM:SS +ZZZZ"'
        self.uid = None

    @property
    def key(self):
        """(folder, uid): what names this message, whatever its file name
        (compare with harness.message_key)."""
        return self.folder, self.uid

    def path_in(self, mailfs):
        """Its file in the mount of the harness.Mailfs MAILFS (found by
        listing its folder)."""
        return mailfs.message(self.folder, self.uid)


def _headers(folder, n, subject, extra=()):
    h = [
        "Return-Path: <sender%d@example.org>" % n,
        "From: Sender %d <sender%d@example.org>" % (n, n),
        "To: Alice <alice@example.com>",
        "Subject: %s" % subject,
        "Date: Mon, %02d Jan 2024 09:%02d:00 +0100" % (n + 1, n),
        "Message-ID: <%s@example.org>" % token(folder, n),
        "MIME-Version: 1.0",
    ]
    return h + list(extra)


def _plain(folder, n):
    body = [
        "Hello Alice,",
        "",
        "this is message %d in %s." % (n, slug(folder)),
        "Reference: %s" % token(folder, n),
    ]
    if (folder, n) in SPECIAL_AT:
        body.append("The secret word is %s, remember it." % SPECIAL_WORD)
    body += ["", "Regards,", "Sender %d" % n]
    h = _headers(folder, n, "Note %d from %s" % (n, slug(folder)),
                 ["Content-Type: text/plain; charset=us-ascii",
                  "Content-Transfer-Encoding: 7bit"])
    return "\r\n".join(h + [""] + body).encode("ascii") + b"\r\n"


def _utf8(folder, n):
    body = [
        "Grüße aus Köln! Übermorgen schicke ich die Entwürfe — versprochen ✓",
        "Reference: %s" % token(folder, n),
        "",
    ]
    h = _headers(folder, n, "=?UTF-8?Q?Entw=C3=BCrfe_f=C3=BCr_morgen?=",
                 ["Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: 8bit"])
    return "\r\n".join(h + [""] + body).encode("utf-8")


def _attachment(folder, n):
    rng = random.Random(4242)
    blob = bytes(rng.getrandbits(8) for _ in range(6000))
    b64 = base64.encodebytes(blob).decode().replace("\n", "\r\n")
    boundary = "=-=boundary-%s=-=" % token(folder, n)
    h = _headers(folder, n, "Report with attachment",
                 ['Content-Type: multipart/mixed; boundary="%s"' % boundary])
    parts = [
        "This is a multi-part message in MIME format.",
        "--" + boundary,
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "See the attached report. Reference: %s" % token(folder, n),
        "--" + boundary,
        'Content-Type: application/octet-stream; name="report.bin"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="report.bin"',
        "",
        b64.rstrip("\r\n"),
        "--" + boundary + "--",
        "",
    ]
    return "\r\n".join(h + [""] + parts).encode("ascii")


def _large(folder, n):
    h = _headers(folder, n, "Large log excerpt",
                 ["Content-Type: text/plain; charset=us-ascii"])
    lines = ["Reference: %s" % token(folder, n)]
    if (folder, n) in SPECIAL_AT:
        lines.append(SPECIAL_WORD)
    i = 0
    text = "\r\n".join(h + [""] + lines)
    chunks = [text]
    size = len(text)
    while size < LARGE_SIZE:
        line = "\r\n%06d log line: the quick brown fox jumps over the lazy dog" % i
        chunks.append(line)
        size += len(line)
        i += 1
    chunks.append("\r\nend of log\r\n")
    return "".join(chunks).encode("ascii")


def build():
    """All seed messages, in append order."""
    msgs = []
    day = 0
    for folder, count in FOLDERS.items():
        for n in range(1, count + 1):
            key = (folder, n)
            if key == ATTACHMENT_AT:
                raw = _attachment(folder, n)
            elif key == UTF8_AT:
                raw = _utf8(folder, n)
            elif key == LARGE_AT:
                raw = _large(folder, n)
            else:
                raw = _plain(folder, n)
            flags = ["", "\\Seen", "\\Seen \\Flagged", "\\Answered"][n % 4]
            # Varied offsets: mailfs must convert them to the right epoch.
            offset = ["+0100", "-0500", "+0000", "+0530"][day % 4]
            date = '"%02d-%s-2024 %02d:%02d:%02d %s"' % (
                1 + day % 28, ["Jan", "Feb", "Mar", "Apr"][day % 4],
                (7 + day) % 24, (13 * day) % 60, day % 60, offset)
            msgs.append(SeedMessage(folder, n, raw, flags, date))
            day += 1
    return msgs


class Seeded:
    """What seed() put on the server."""

    def __init__(self, messages):
        self.messages = messages
        self.by_token = {m.token: m for m in messages}

    def special_keys(self):
        """(folder, uid) of the messages holding SPECIAL_WORD."""
        return {m.key for m in self.messages
                if SPECIAL_WORD.encode() in m.raw}


def seeded_class(cls):
    """For setUpClass: a workdir and a Dovecot seeded with the corpus, as
    cls.work, cls.dovecot, cls.seeded and cls.view, removed after."""
    cls.work = harness.make_workdir()
    cls.addClassCleanup(harness.remove_workdir, cls.work)
    cls.dovecot = harness.Dovecot(cls.work).start()
    cls.addClassCleanup(cls.dovecot.stop)
    cls.seeded = seed(cls.dovecot)
    cls.view = ServerView(cls.dovecot)


def seed(dovecot, user="alice"):
    """Creates the folders and appends the corpus; returns a Seeded."""
    msgs = build()
    view = ServerView(dovecot, user)
    c = dovecot.client(user)
    try:
        for folder in FOLDERS:
            if folder not in ("INBOX", "Sent", "Archive"):
                typ, data = c.create(imap_quote(mutf7_encode(folder)))
                if typ != "OK":
                    raise RuntimeError("CREATE %s: %r" % (folder, data))
    finally:
        c.logout()
    for m in msgs:
        m.uid = view.append(m.folder, m.raw, m.flags, m.internaldate)
    return Seeded(msgs)
