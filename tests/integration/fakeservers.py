"""Scripted bad IMAP servers on loopback, for robustness tests.

Each FakeServer runs one behaviour per accepted connection in a thread,
optionally behind TLS (implicit, as imaps), records every byte and line it
received, bounds what it sends, and stops cleanly.

Behaviours:
  garbage        greets with binary junk and a non-IMAP banner
  huge_literal   normal greeting, then answers the first command with
                 `* LIST () "/" {107374182400}` and streams at most
                 MAX_SEND bytes of it, then closes
  large_literal  the same with a 512 MiB literal, streaming 160 MiB of it
  endless_line   sends "* OK " then bytes without a newline, up to MAX_SEND,
                 then closes
  silent         accepts and says nothing (no TLS handshake either)
  no_starttls    plain IMAP that does not offer STARTTLS and would accept
                 any LOGIN (the client must not send one)
"""

import socket
import ssl
import threading
import time

MAX_SEND = 64 * 1024 * 1024
HUGE_LITERAL = 107374182400
# Plausible-looking but still absurd for a LIST answer; we send more of it
# than the memory bound the tests allow, so buffering it shows.
LARGE_LITERAL = 512 * 1024 * 1024
LARGE_SEND = 160 * 1024 * 1024


class Conn:
    """One accepted connection, with recording."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def stopped(self):
        return self.server.stop_event.is_set()

    def readline(self, limit=65536):
        """One line (without CRLF), or None on EOF/stop."""
        while b"\n" not in self.buf:
            if self.stopped() or len(self.buf) > limit:
                return None
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                return None
            if not chunk:
                return None
            self.server.record(chunk)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.rstrip(b"\r")
        self.server.record_line(line)
        return line

    def drain(self):
        """Reads and records until the peer closes or we stop."""
        while self.readline() is not None:
            pass

    def stream(self, head, limit=MAX_SEND, chunk=b"A" * 65536, delay=0.0):
        """Sends HEAD then CHUNKs until LIMIT bytes or the peer goes away."""
        sent = 0
        self.sock.settimeout(5)
        try:
            self.send(head)
            sent = len(head)
            while sent < limit and not self.stopped():
                self.send(chunk)
                sent += len(chunk)
                if delay:
                    time.sleep(delay)
        except (OSError, ssl.SSLError):
            pass
        self.sock.settimeout(0.2)
        self.server.bytes_sent += sent


def garbage(conn):
    conn.send(b"\x00\xff\xfe\x16\x03garbage\x07\r\n"
              b"SSH-2.0-OpenSSH_9.2p1 this is not IMAP\r\n")
    conn.drain()


def _literal_answer(conn, size, limit):
    conn.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n")
    if conn.readline() is None:
        return
    conn.stream(b'* LIST () "/" {%d}\r\n' % size, limit=limit)


def huge_literal(conn):
    _literal_answer(conn, HUGE_LITERAL, MAX_SEND)


def large_literal(conn):
    _literal_answer(conn, LARGE_LITERAL, LARGE_SEND)


def endless_line(conn):
    conn.stream(b"* OK ")


def silent(conn):
    conn.drain()


def no_starttls(conn):
    conn.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] fake ready\r\n")
    while True:
        line = conn.readline()
        if line is None:
            return
        parts = line.split(b" ", 2)
        tag = parts[0]
        cmd = parts[1].upper() if len(parts) > 1 else b""
        if cmd == b"CAPABILITY":
            conn.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n"
                      + tag + b" OK done\r\n")
        elif cmd == b"STARTTLS":
            conn.send(tag + b" BAD unknown command\r\n")
        elif cmd == b"AUTHENTICATE":
            conn.send(b"+ \r\n")
            if conn.readline() is None:
                return
            conn.send(tag + b" OK logged in\r\n")
        elif cmd == b"LOGOUT":
            conn.send(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            return
        else:
            conn.send(tag + b" OK done\r\n")


BEHAVIOURS = {
    "garbage": garbage,
    "huge_literal": huge_literal,
    "large_literal": large_literal,
    "endless_line": endless_line,
    "silent": silent,
    "no_starttls": no_starttls,
}


class FakeServer:
    """A listening fake on 127.0.0.1.  CERT is (cert, key) for implicit TLS
    or None for plain TCP."""

    def __init__(self, behaviour, cert=None):
        self.name = behaviour
        self.behaviour = BEHAVIOURS[behaviour]
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
        self.lock = threading.Lock()
        self.received = b""
        self.lines = []
        self.connections = 0
        self.bytes_sent = 0
        self.errors = []
        self.stop_event = threading.Event()
        self.threads = []
        self.socks = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]

    def url(self, scheme=None):
        scheme = scheme or ("imaps" if self.ctx else "imap")
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def record(self, chunk):
        with self.lock:
            if len(self.received) < 1024 * 1024:
                self.received += chunk

    def record_line(self, line):
        with self.lock:
            self.lines.append(line)

    def commands(self):
        """Upper-cased command names the client sent (second word)."""
        with self.lock:
            return [l.split(b" ")[1].upper().decode(errors="replace")
                    for l in self.lines if len(l.split(b" ")) > 1]

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def _accept_loop(self):
        while not self.stop_event.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.socks.append(sock)
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, sock):
        try:
            sock.settimeout(0.2)
            if self.ctx:
                sock.settimeout(10)
                sock = self.ctx.wrap_socket(sock, server_side=True)
                with self.lock:
                    self.socks.append(sock)
                sock.settimeout(0.2)
            self.behaviour(Conn(self, sock))
        except (OSError, ssl.SSLError) as e:
            self.errors.append(repr(e))
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self):
        self.stop_event.set()
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------
# Scripted bad POP3 servers (RFC 1939, CAPA from RFC 2449).
#
# Behaviours (Pop3FakeServer):
#   pop3_garbage           greets with binary junk instead of "+OK"
#   pop3_endless_greeting  sends "+OK " then bytes without a newline
#   pop3_capa_unterminated answers CAPA with a few lines but no ".", then
#                          waits silently
#   pop3_capa_endless      answers CAPA with an endless stream of distinct
#                          capability lines
#   pop3_uidl_unterminated a normal server (USER/PASS, UIDL in CAPA) whose
#                          UIDL answer has a few lines but no "."
#   pop3_uidl_endless      the same, but UIDL streams distinct lines
#                          "N <70-digit id>" without end (up to MAX_SEND)
#   pop3_uidl_long_line    the same, but the first UIDL line never ends
#   pop3_no_uidl           lists CAPA without UIDL, logs in anyone, and
#                          answers UIDL with -ERR
#   pop3_no_capa_no_uidl   answers both CAPA and UIDL with -ERR
#   pop3_no_stls           plain POP3 whose CAPA lacks STLS and that would
#                          accept any USER/PASS (the client must not send)
#   pop3_odd_uidls         a good server whose messages have odd unique-ids
#                          (POP3_ODD_MESSAGES), for file-name tests
# Every scripted session records what the client sent; commands() gives
# the command names (first word, upper-cased).

POP3_CAPA = (b"USER", b"UIDL", b"TOP", b"PIPELINING")
POP3_MSG = b"Subject: fake\r\nFrom: a@example.org\r\n\r\nhello\r\n"


def _pop3_stream_lines(conn, head, make_line, limit=MAX_SEND):
    """Sends HEAD then lines make_line(i), i = 1, 2, ..., in 64 KiB
    chunks, until LIMIT bytes, stop, or the peer goes away."""
    sent = 0
    i = 1
    conn.sock.settimeout(5)
    try:
        conn.send(head)
        sent = len(head)
        while sent < limit and not conn.stopped():
            parts, n = [], 0
            while n < 65536:
                line = make_line(i)
                parts.append(line)
                n += len(line)
                i += 1
            conn.send(b"".join(parts))
            sent += n
    except (OSError, ssl.SSLError):
        pass
    conn.sock.settimeout(0.2)
    conn.server.bytes_sent += sent


def _pop3_stuff(raw):
    """RAW (CRLF lines) as RETR sends it: dot-stuffed, then ".\r\n"."""
    lines = raw.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"


def _pop3_session(conn, capa=POP3_CAPA, uidl=None, messages=None):
    """A small POP3 server for one connection.  CAPA: the capability lines,
    or None to answer CAPA with -ERR.  UIDL: a function(conn) answering the
    UIDL command and returning False to end the session, or None for a
    plain -ERR.  MESSAGES: [(uidl, CRLF bytes)] served by LIST, RETR and
    (if UIDL is None) UIDL; default one message without a UIDL."""
    if messages is not None and uidl is None:
        def uidl(c):
            c.send(b"+OK\r\n" + b"".join(b"%d %s\r\n" % (i + 1, u)
                   for i, (u, _) in enumerate(messages)) + b".\r\n")
    msgs = [raw for _, raw in messages] if messages else [POP3_MSG]
    conn.send(b"+OK fake POP3 ready\r\n")
    while True:
        line = conn.readline()
        if line is None:
            return
        cmd = line.split(b" ", 1)[0].upper()
        if cmd == b"CAPA":
            if capa is None:
                conn.send(b"-ERR unknown command\r\n")
            else:
                conn.send(b"+OK capabilities follow\r\n"
                          + b"".join(c + b"\r\n" for c in capa) + b".\r\n")
        elif cmd in (b"USER", b"PASS", b"NOOP", b"RSET"):
            conn.send(b"+OK\r\n")
        elif cmd == b"STAT":
            conn.send(b"+OK %d %d\r\n" % (len(msgs), sum(map(len, msgs))))
        elif cmd == b"LIST":
            conn.send(b"+OK\r\n" + b"".join(b"%d %d\r\n" % (i + 1, len(m))
                      for i, m in enumerate(msgs)) + b".\r\n")
        elif cmd == b"RETR":
            arg = line.split(b" ", 1)[1:] or [b"0"]
            n = int(arg[0]) if arg[0].isdigit() else 0
            if 1 <= n <= len(msgs):
                conn.send(b"+OK\r\n" + _pop3_stuff(msgs[n - 1]))
            else:
                conn.send(b"-ERR no such message\r\n")
        elif cmd == b"UIDL":
            if uidl is None:
                conn.send(b"-ERR command not implemented\r\n")
            elif uidl(conn) is False:
                conn.drain()
                return
        elif cmd == b"QUIT":
            conn.send(b"+OK bye\r\n")
            return
        else:
            conn.send(b"-ERR unknown command\r\n")


def pop3_garbage(conn):
    conn.send(b"\x00\xff\xfe\x16\x03garbage\x07\r\n"
              b"* OK [CAPABILITY IMAP4rev1] this is not POP3\r\n")
    conn.drain()


def pop3_endless_greeting(conn):
    conn.stream(b"+OK ")
    conn.drain()


def pop3_capa_unterminated(conn):
    conn.send(b"+OK fake POP3 ready\r\n")
    if conn.readline() is None:
        return
    conn.send(b"+OK capabilities follow\r\nUSER\r\nUIDL\r\nSTLS\r\n")
    conn.drain()


def pop3_capa_endless(conn):
    conn.send(b"+OK fake POP3 ready\r\n")
    if conn.readline() is None:
        return
    _pop3_stream_lines(conn, b"+OK capabilities follow\r\n",
                       lambda i: b"X-CAP-%d\r\n" % i)
    conn.drain()


def _uidl_unterminated(conn):
    conn.send(b"+OK\r\n1 uid-one\r\n")
    return False


def _uidl_endless(conn):
    # Distinct unique-ids of the longest legal length, 70 characters.
    # 96 MiB: more than the 1,000,000 lines a client might allow.
    _pop3_stream_lines(conn, b"+OK\r\n",
                       lambda i: b"%d %070d\r\n" % (i, i),
                       limit=96 * 1024 * 1024)
    return False


def _uidl_long_line(conn):
    conn.stream(b"+OK\r\n1 ")
    return False


def pop3_uidl_unterminated(conn):
    _pop3_session(conn, uidl=_uidl_unterminated)


def pop3_uidl_endless(conn):
    _pop3_session(conn, uidl=_uidl_endless)


def pop3_uidl_long_line(conn):
    _pop3_session(conn, uidl=_uidl_long_line)


def pop3_no_uidl(conn):
    _pop3_session(conn, capa=(b"USER", b"TOP"), uidl=None)


def pop3_no_capa_no_uidl(conn):
    _pop3_session(conn, capa=None, uidl=None)


def pop3_no_stls(conn):
    _pop3_session(conn, capa=(b"USER", b"UIDL", b"TOP"),
                  uidl=lambda c: c.send(b"+OK\r\n1 uid-one\r\n.\r\n"))


# Odd but legal unique-ids (RFC 1939: 1 to 70 characters 0x21-0x7E); two
# of them become the same file name once sanitised.
POP3_ODD_UIDLS = [
    b"a/b+c=d",
    b"a_b_c_d",
    b"~!@#$%^&*()<>?",
    b"L" * 40 + b"." + b"x" * 29,
    b"dots..and-dashes_ok.1",
]


def pop3_odd_message(i, uidl):
    return (b"From: odd@example.org\r\nSubject: odd %d\r\n"
            b"Date: Wed, 07 Feb 2024 12:00:%02d +0000\r\n\r\n"
            b"message %d for uidl %s\r\n.\r\n..two dots\r\n.x\r\n"
            % (i, i, i, uidl))


POP3_ODD_MESSAGES = [(u, pop3_odd_message(i + 1, u))
                     for i, u in enumerate(POP3_ODD_UIDLS)]


def pop3_odd_uidls(conn):
    """A well-behaved server whose messages have POP3_ODD_UIDLS."""
    _pop3_session(conn, messages=POP3_ODD_MESSAGES)


POP3_BEHAVIOURS = {
    "pop3_odd_uidls": pop3_odd_uidls,
    "pop3_garbage": pop3_garbage,
    "pop3_endless_greeting": pop3_endless_greeting,
    "pop3_capa_unterminated": pop3_capa_unterminated,
    "pop3_capa_endless": pop3_capa_endless,
    "pop3_uidl_unterminated": pop3_uidl_unterminated,
    "pop3_uidl_endless": pop3_uidl_endless,
    "pop3_uidl_long_line": pop3_uidl_long_line,
    "pop3_no_uidl": pop3_no_uidl,
    "pop3_no_capa_no_uidl": pop3_no_capa_no_uidl,
    "pop3_no_stls": pop3_no_stls,
}


class Pop3FakeServer(FakeServer):
    """A FakeServer running one of POP3_BEHAVIOURS; CERT as for
    FakeServer (implicit TLS: pop3s)."""

    def __init__(self, behaviour, cert=None):
        super().__init__("silent", cert)
        self.name = behaviour
        self.behaviour = POP3_BEHAVIOURS[behaviour]

    def url(self, scheme=None):
        scheme = scheme or ("pop3s" if self.ctx else "pop3")
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def commands(self):
        """Upper-cased POP3 command names the client sent (first word)."""
        with self.lock:
            return [l.split(b" ")[0].upper().decode(errors="replace")
                    for l in self.lines if l]
