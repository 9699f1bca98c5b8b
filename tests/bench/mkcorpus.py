"""Deterministic benchmark corpus written straight into a Dovecot Maildir.

Writing Maildir++ files directly (before Dovecot first sees the mailbox) is
about a hundred times faster than APPENDing 20,000 messages over IMAP.  The
content is pseudo-random but fixed by the seed: plain-text mail whose sizes
follow a log-normal law with a median near 4 KB, 5% of messages carrying a
base64 attachment (the long tail, up to a few hundred KB), headers like real
delivered mail, and a marker word in about 1% of messages for grep.

Files are stored the way Dovecot stores them (LF line endings); the names
carry S= (file size) and W= (size with CRLF, i.e. RFC822.SIZE) so Dovecot
needs no stat or read to build its index.

Stdlib only; run with Debian's /usr/bin/python3.
"""

import base64
import math
import os
import random

# The word `grep` looks for; the generator never produces it by chance.
MARKER = "quokkafizzle"

# Folder (IMAP name, "/" separator) -> share of the messages.  "Lists" is
# never created, so it shows as a parent without mail of its own.
FOLDERS = [
    ("INBOX", 0.60),
    ("Archive", 0.10),
    ("Archive/2024", 0.15),
    ("Lists/dev", 0.10),
    ("Sent", 0.05),
]

TEXT_MEDIAN = 3800          # bytes, whole plain-text message
TEXT_SIGMA = 0.85
TEXT_MIN, TEXT_MAX = 700, 256 * 1024
ATTACH_SHARE = 0.05
ATTACH_MEDIAN = 110 * 1024  # raw attachment bytes, before base64
ATTACH_SIGMA = 0.8
ATTACH_MAX = 480 * 1024
MARKER_SHARE = 0.01

_SYLLABLES = ("ka to ri mo na se lu pe vi da go ne ba sh ti re ma co lo "
              "fa qu el an or in us ex pr st tr ch gr bl wa ve zu").split()
_COMMON = ("the of and to in is that for it as with was on be at by this "
           "have from or had not but what all were when we there can an "
           "your which their said if do will each about how up out them "
           "then she many some so these would other into has more her two "
           "like him see time could no make than first been its who now "
           "people my made over did down only way find use may water long "
           "little very after words called just where most know get through "
           "back much before go good new write our used me man too any day "
           "same right look think also around another came come work three "
           "must because does part even place well such here take why help "
           "put different away again off went old number great tell men say "
           "small every found still between name should home big give air "
           "line set own under read last never us left end along while "
           "might next sound below saw something thought both few those "
           "always show large often together asked house world going want "
           "build patch review release merge branch commit kernel driver "
           "meeting agenda budget invoice report schedule deadline customer "
           "Grüße café naïve résumé déjà").split()


def _vocabulary(rng):
    words = list(_COMMON)
    while len(words) < 2500:
        w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        words.append(w)
    return [w for w in words if MARKER not in w]


class Pools:
    """Shared text and base64 material that messages slice from."""

    def __init__(self, rng):
        words = _vocabulary(rng)
        lines, size = [], 0
        while size < 2 * 1024 * 1024:
            n = rng.randint(6, 13)
            line = " ".join(rng.choice(words) for _ in range(n))
            if rng.random() < 0.15:
                line = "> " + line
            elif rng.random() < 0.08:
                line = ""
            lines.append(line)
            size += len(line.encode()) + 1
        self.text = ("\n".join(lines) + "\n").encode("utf-8")
        assert MARKER.encode() not in self.text
        raw = rng.randbytes(640 * 1024)
        self.b64 = base64.encodebytes(raw)      # 76 chars + LF a line
        self.words = words

    def text_slice(self, rng, size):
        """About SIZE bytes of whole lines from the text pool."""
        size = max(1, min(size, len(self.text) // 2))
        start = self.text.find(b"\n", rng.randrange(len(self.text) - size)) + 1
        end = self.text.rfind(b"\n", start, start + size) + 1
        if end <= start:
            end = self.text.find(b"\n", start) + 1
        return self.text[start:end]

    def b64_slice(self, rng, raw_size):
        """Base64 lines standing for RAW_SIZE bytes of attachment."""
        nlines = max(1, raw_size // 57)
        total = len(self.b64) // 77
        nlines = min(nlines, total)
        first = rng.randrange(total - nlines + 1)
        return self.b64[first * 77:(first + nlines) * 77]


def _lognormal(rng, median, sigma, lo, hi):
    return int(min(hi, max(lo, median * math.exp(rng.gauss(0.0, sigma)))))


def _headers(rng, pools, folder, i, when, subject_words, extra):
    who = rng.randrange(400)
    day = _rfc2822_date(when)
    frm = ("Alice <alice@example.com>" if folder == "Sent"
           else "%s %s <user%d@example.org>" % (
               rng.choice(pools.words).capitalize(),
               rng.choice(pools.words).capitalize(), who))
    to = ("Person %d <user%d@example.org>" % (who, who) if folder == "Sent"
          else "Alice <alice@example.com>")
    h = [
        "Return-Path: <user%d@example.org>" % who,
        "Delivered-To: alice@example.com",
        "Received: from mx%d.example.org (mx%d.example.org [192.0.2.%d])"
        % (who % 7, who % 7, 1 + who % 250),
        "\tby mail.example.com (Postfix) with ESMTPS id %08X"
        % rng.getrandbits(32),
        "\tfor <alice@example.com>; %s" % day,
        "Date: %s" % day,
        "From: %s" % frm,
        "To: %s" % to,
        "Subject: %s" % subject_words,
        "Message-ID: <bench.%d.%08x@example.org>" % (i, rng.getrandbits(32)),
        "MIME-Version: 1.0",
    ]
    if folder.startswith("Lists/"):
        h.append("List-Id: <dev.lists.example.org>")
        h.append("Precedence: list")
    return h + list(extra)


_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def _rfc2822_date(epoch):
    import time as _t
    t = _t.gmtime(epoch)
    return "%s, %02d %s %d %02d:%02d:%02d +0000" % (
        _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year,
        t.tm_hour, t.tm_min, t.tm_sec)


def make_message(rng, pools, folder, i, when):
    """One message (bytes, LF line endings) and whether it has the marker."""
    subject = " ".join(rng.choice(pools.words) for _ in range(rng.randint(3, 8)))
    marker = rng.random() < MARKER_SHARE
    attach = rng.random() < ATTACH_SHARE
    text_size = _lognormal(rng, TEXT_MEDIAN, TEXT_SIGMA, TEXT_MIN, TEXT_MAX)
    body = pools.text_slice(rng, max(200, text_size - 900))
    if marker:
        cut = body.find(b"\n", len(body) // 2) + 1
        body = (body[:cut] + ("the %s is in this one\n" % MARKER).encode()
                + body[cut:])
    if not attach:
        h = _headers(rng, pools, folder, i, when, subject,
                     ["Content-Type: text/plain; charset=utf-8",
                      "Content-Transfer-Encoding: 8bit"])
        return ("\n".join(h) + "\n\n").encode("utf-8") + body, marker
    boundary = "----=_Part_%d_%08x" % (i, rng.getrandbits(32))
    raw = _lognormal(rng, ATTACH_MEDIAN, ATTACH_SIGMA, 8 * 1024, ATTACH_MAX)
    name = "%s.pdf" % rng.choice(pools.words)
    h = _headers(rng, pools, folder, i, when, subject,
                 ['Content-Type: multipart/mixed; boundary="%s"' % boundary])
    parts = ("\n".join(h) + "\n\nThis is a multi-part message in MIME format.\n"
             "\n--%s\nContent-Type: text/plain; charset=utf-8\n"
             "Content-Transfer-Encoding: 8bit\n\n" % boundary).encode("utf-8")
    parts += body
    parts += ("\n--%s\nContent-Type: application/pdf; name=\"%s\"\n"
              "Content-Transfer-Encoding: base64\n"
              "Content-Disposition: attachment; filename=\"%s\"\n\n"
              % (boundary, name, name)).encode()
    parts += pools.b64_slice(rng, raw)
    parts += ("\n--%s--\n" % boundary).encode()
    return parts, marker


def _maildir_for(root, folder):
    """Maildir++ on disk: INBOX is the root, A/B is .A.B beside it."""
    if folder == "INBOX":
        return root
    return os.path.join(root, "." + folder.replace("/", "."))


def _counts(n):
    counts = [int(n * share) for _, share in FOLDERS]
    counts[0] += n - sum(counts)
    return counts


def fill(maildir_root, n, seed=20240601):
    """Writes N messages into the Maildir++ tree at MAILDIR_ROOT (which must
    not hold mail yet).  Returns a summary dict."""
    rng = random.Random(seed)
    pools = Pools(rng)
    summary = {"messages": n, "bytes": 0, "rfc822_bytes": 0, "marker": 0,
               "attachments": 0, "folders": {}, "sizes": []}
    start = 1_700_000_000
    i = 0
    for (folder, _), count in zip(FOLDERS, _counts(n)):
        d = _maildir_for(maildir_root, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        if folder != "INBOX":
            open(os.path.join(d, "maildirfolder"), "w").close()
        for k in range(count):
            i += 1
            when = start + i * 1800 + rng.randrange(1800)
            raw, marker = make_message(rng, pools, folder, i, when)
            vsize = len(raw) + raw.count(b"\n")
            flags = "S" if rng.random() < 0.85 else ""
            if rng.random() < 0.04:
                flags = "F" + flags
            name = "%d.M%dP1.bench,S=%d,W=%d:2,%s" % (when, i, len(raw),
                                                      vsize, flags)
            path = os.path.join(d, "cur", name)
            with open(path, "wb") as f:
                f.write(raw)
            os.utime(path, (when, when))
            summary["bytes"] += len(raw)
            summary["rfc822_bytes"] += vsize
            summary["marker"] += marker
            summary["attachments"] += b"Content-Transfer-Encoding: base64" in raw
            summary["sizes"].append(vsize)
        summary["folders"][folder] = count
    sizes = sorted(summary.pop("sizes"))
    summary["median_size"] = sizes[len(sizes) // 2]
    summary["p99_size"] = sizes[int(len(sizes) * 0.99)]
    summary["max_size"] = sizes[-1]
    return summary


def fill_folder(maildir_root, n, seed=20240601, folder="INBOX"):
    """Writes N small plain-text messages (the text part of the corpus
    above, median near 1.5 KB, no attachments) into one FOLDER of the
    Maildir++ tree at MAILDIR_ROOT, with the Dovecot-style names of
    delivered mail (S= and W=), as the big-folder figures use.  About
    1% hold MARKER.  Returns a summary dict like fill()."""
    rng = random.Random(seed)
    pools = Pools(rng)
    d = _maildir_for(maildir_root, folder)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if folder != "INBOX":
        open(os.path.join(d, "maildirfolder"), "w").close()
    summary = {"messages": n, "bytes": 0, "rfc822_bytes": 0, "marker": 0,
               "attachments": 0, "folders": {folder: n}}
    start = 1_600_000_000
    sizes = []
    for i in range(1, n + 1):
        when = start + i * 600 + rng.randrange(600)
        subject = " ".join(rng.choice(pools.words) for _ in range(4))
        marker = rng.random() < MARKER_SHARE
        body = pools.text_slice(rng, _lognormal(rng, 600, 0.6, 100, 8192))
        if marker:
            body += ("the %s is in this one\n" % MARKER).encode()
        h = _headers(rng, pools, folder, i, when, subject,
                     ["Content-Type: text/plain; charset=utf-8",
                      "Content-Transfer-Encoding: 8bit"])
        raw = ("\n".join(h) + "\n\n").encode("utf-8") + body
        vsize = len(raw) + raw.count(b"\n")
        name = "%d.M%dP1.big,S=%d,W=%d:2,%s" % (
            when, i, len(raw), vsize, "S" if rng.random() < 0.85 else "")
        path = os.path.join(d, "cur", name)
        with open(path, "wb") as f:
            f.write(raw)
        os.utime(path, (when, when))
        summary["bytes"] += len(raw)
        summary["rfc822_bytes"] += vsize
        summary["marker"] += marker
        sizes.append(vsize)
    sizes.sort()
    summary["median_size"] = sizes[len(sizes) // 2]
    summary["p99_size"] = sizes[int(len(sizes) * 0.99)]
    summary["max_size"] = sizes[-1]
    return summary


if __name__ == "__main__":
    import sys
    import tempfile
    d = tempfile.mkdtemp(prefix="mkcorpus-")
    print(d, fill(d, int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
