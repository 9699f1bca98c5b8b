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
