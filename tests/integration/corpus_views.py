"""The hard cases of the views of mail (test_views.py): messages whose
words only a decoder finds, appended raw into the folder Views of a
private Dovecot.  Each entry: (key, raw bytes).  A word in WORDS is in
exactly one message, and only in encoded form (base64, quoted-printable,
a charset, an RFC 2047 subject), so a plain grep of the raw mail never
finds it."""

import base64

FOLDER = "Views"

# key -> the one word only its decoded view holds
WORDS = {
    "base64": "zebrafinch",
    "qp": "quetzalcoatl",
    "latin1": "Kölnerdom",
    "sjis": "日本語テキスト",
    "subject": "marmosetsubject",
    "html": "heronword",
    "alternative": "altplainword",
    "forwarded": "innerword",
}


def _crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def _head(n, subject, ctype, extra=""):
    return ("From: Sender %d <s%d@example.org>\n"
            "To: Alice <alice@example.com>\n"
            "Cc: Bob <bob@example.com>\n"
            "Subject: %s\n"
            "Date: Tue, 02 Jan 2024 10:%02d:00 +0000\n"
            "Message-ID: <views-%d@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: %s\n%s" % (n, n, subject, n, n, ctype, extra))


def _b64(data):
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def build():
    msgs = []
    body = ("Grüße! The secret bird is %s.\n" % WORDS["base64"]).encode()
    msgs.append(("base64", _crlf(
        _head(1, "base64 body", 'text/plain; charset="utf-8"',
              "Content-Transfer-Encoding: base64\n") + "\n" + _b64(body)
        + "\n")))
    msgs.append(("qp", _crlf(
        _head(2, "qp body", "text/plain; charset=utf-8",
              "Content-Transfer-Encoding: quoted-printable\n") +
        "\nCaf=C3=A9 au lait with quetzal=\ncoatl, said=20the=20=\nwaiter.\n")))
    latin = ("Grüße aus Köln: der %s steht.\n" % WORDS["latin1"])
    msgs.append(("latin1", _head(3, "latin-1 body",
                                 "text/plain; charset=iso-8859-1",
                                 "Content-Transfer-Encoding: 8bit\n")
                 .replace("\n", "\r\n").encode("ascii") + b"\r\n" +
                 latin.replace("\n", "\r\n").encode("iso-8859-1")))
    sjis = ("これは%sです。\n" % WORDS["sjis"])
    msgs.append(("sjis", _head(4, "shift_jis body",
                               "text/plain; charset=Shift_JIS",
                               "Content-Transfer-Encoding: 8bit\n")
                 .replace("\n", "\r\n").encode("ascii") + b"\r\n" +
                 sjis.replace("\n", "\r\n").encode("shift_jis")))
    subj = base64.b64encode(("Über the %s" % WORDS["subject"]).encode()
                            ).decode()
    msgs.append(("subject", _crlf(
        _head(5, "=?UTF-8?B?%s?=" % subj, "text/plain; charset=us-ascii")
        .replace("From: Sender 5", "From: =?ISO-8859-1?Q?J=F6rg_Sch=F6n?=")
        + "\nplain body\n")))
    msgs.append(("html", _crlf(
        _head(6, "html only", "text/html; charset=utf-8",
              "Content-Transfer-Encoding: base64\n") + "\n" + _b64((
        "<html><head><title>t</title><style>p {color: red}</style>"
        "</head><body><p>Hello <b>%s</b> &amp; friends</p>"
        "<script>var hidden = 'scriptword';</script>"
        "<ul><li>one</li><li>two</li></ul></body></html>\n"
        % WORDS["html"]).encode()) + "\n")))
    msgs.append(("alternative", _crlf(
        _head(7, "alternative", 'multipart/alternative; boundary="ALT"') +
        "\n--ALT\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n\n" +
        _b64(("%s in plain\n" % WORDS["alternative"]).encode()) +
        "\n--ALT\nContent-Type: text/html; charset=utf-8\n\n"
        "<p>althtmlword in html</p>\n--ALT--\n")))
    msgs.append(("attachments", _crlf(
        _head(8, "attachments", 'multipart/mixed; boundary="MIX"') +
        "\n--MIX\nContent-Type: text/plain\n\nsee the files\n"
        "--MIX\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment;\n"
        " filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\n"
        "Content-Transfer-Encoding: base64\n\n" + _b64(b"%PDF-1.4 fake\x00\xff")
        + "\n--MIX\nContent-Type: text/plain\n"
        "Content-Disposition: attachment; filename=\"same.txt\"\n\n"
        "first same\n"
        "--MIX\nContent-Type: text/plain\n"
        "Content-Disposition: attachment; filename=\"same.txt\"\n"
        "Content-Transfer-Encoding: quoted-printable\n\nsecond=20same\n"
        "--MIX\nContent-Type: application/octet-stream\n"
        "Content-Disposition: attachment;\n"
        " filename*=us-ascii''a%2Fb%01c.bin\n"
        "Content-Transfer-Encoding: base64\n\n" + _b64(bytes(range(256)))
        + "\n--MIX--\n")))
    msgs.append(("forwarded", _crlf(
        _head(9, "fwd: inner", 'multipart/mixed; boundary="FWD"') +
        "\n--FWD\nContent-Type: text/plain\n\nforwarding this\n"
        "--FWD\nContent-Type: message/rfc822\n\n"
        "From: Inner <inner@example.org>\nSubject: inner subject\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n\n" +
        _b64(("the %s is here\n" % WORDS["forwarded"]).encode()) +
        "\n--FWD--\n")))
    msgs.append(("malformed", _crlf(
        _head(10, "malformed", 'multipart/mixed; boundary="BROKEN"') +
        "\n--BROKEN\nContent-Type: multipart/alternative; boundary=\"IN\"\n\n"
        "--IN\nContent-Type: text/plain\nContent-Transfer-Encoding: base64"
        "\n\n!!!not base64 at all***\n--BROKEN\nContent-Type: text/plain\n"
        "\nnever closed\n")))
    return msgs


def seed(dovecot, view):
    """Creates FOLDER and appends the corpus through ServerView VIEW:
    key -> uid."""
    c = dovecot.client()
    try:
        typ, data = c.create(FOLDER)
        if typ != "OK":
            raise RuntimeError("CREATE %s: %r" % (FOLDER, data))
    finally:
        c.logout()
    return {key: view.append(FOLDER, raw, "\\Seen" if key == "qp" else "")
            for key, raw in build()}
