"""Shared harness for the mailfs integration tests and the demo.

It provides: free loopback ports, throwaway TLS certificates made with the
openssl CLI, a private Dovecot (IMAP, IMAPS, POP3, POP3S on 127.0.0.1) in a
temporary directory, a seeded mail corpus with known tokens, an independent
IMAP client (imaplib) to read what the server really holds, a writer for
mailfs config files, a mount helper that never leaves a mount behind, and
scripted bad servers (see fakeservers.py).

Stdlib only; run with Debian's /usr/bin/python3.
"""

import atexit
import base64
import datetime
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Passwords of the test users of every private Dovecot.
USERS = {"alice": "secret", "bob": "hunter2-bob"}


def mailfs_bin():
    """The mailfs binary under test: $MAILFS_BIN or build/mailfs."""
    return os.environ.get("MAILFS_BIN") or os.path.join(REPO, "build", "mailfs")


def project_version():
    """The version declared in the top-level meson.build."""
    with open(os.path.join(REPO, "meson.build"), encoding="utf-8") as f:
        m = re.search(r"version\s*:\s*'([^']+)'", f.read())
    return m.group(1)


def make_workdir(prefix="mailfs-itest-"):
    """A fresh temp dir, world-traversable so Dovecot's mail user reaches
    its Maildir below it."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def remove_workdir(path):
    """Removes PATH unless MAILFS_KEEP_TMP is set (for post-mortems)."""
    if os.environ.get("MAILFS_KEEP_TMP"):
        print("harness: keeping", path)
        return
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------
# Ports

def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=5.0, host="127.0.0.1"):
    """Waits until HOST:PORT accepts a connection; raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("port %d did not open" % port)
            time.sleep(0.02)


# The outbox's first retry of a send that failed for now, in ms, through
# the hidden test knob test_outbox_retry_ms (a user's mount waits 5 s, then
# 10, 20, ...): put OUTBOX_KNOBS into a mount's config and a test waits for
# a retry that long.
OUTBOX_RETRY_MS = 300
OUTBOX_KNOBS = {"test_outbox_retry_ms": OUTBOX_RETRY_MS}
# The same for an account gone offline: its first reconnect after 200 ms
# (then 400, 800, ...; a user's waits 2 s, then 4, 8, ...), through the
# hidden key test_reconnect_ms.
RECONNECT_KNOBS = {"test_reconnect_ms": 200}


def wait_until(pred, timeout, interval=0.1):
    """Calls PRED every INTERVAL seconds until it returns a true value or
    TIMEOUT passes; returns its last value (an OSError counts as None)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = pred()
        except OSError:
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def port_refuses(port, host="127.0.0.1"):
    """TRUE if nothing accepts connections on HOST:PORT."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return False
    except OSError:
        return True


# --------------------------------------------------------------------------
# TCP relays

class TcpRelay:
    """A TCP relay from 127.0.0.1:port to 127.0.0.1:TARGET, one thread per
    direction of each connection: "up" (client to server) and "down"
    (server to client).  stop() closes the listener and every relayed
    connection; start() again reuses the port.

    Subclasses change what goes through with the hooks hold_client(),
    chunk_size(), pump_state(), forward() and close_pair()."""

    def __init__(self, target):
        self.target = target
        self.port = None
        self.listener = None
        self.socks = []
        self.lock = threading.Lock()

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port or 0))
        s.listen(64)
        self.port = s.getsockname()[1]
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()
        return self

    def url(self, scheme="imaps"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    # -- hooks ----------------------------------------------------------

    def hold_client(self, client):
        """TRUE to keep the new connection CLIENT open without relaying
        it (it is closed by stop())."""
        return False

    def chunk_size(self, direction):
        """How many bytes one recv() of DIRECTION may take."""
        return 65536

    def pump_state(self, direction):
        """What forward() gets as STATE, one per direction of a
        connection."""
        return None

    def forward(self, data, src, dst, direction, state):
        """Passes on DATA, just received from SRC, to DST; FALSE ends the
        connection after it."""
        dst.sendall(data)
        return True

    def close_pair(self, pair):
        """Ends the connection PAIR (client, server) once a pump stops."""
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- threads --------------------------------------------------------

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.hold_client(client):
                with self.lock:
                    self.socks.append(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    server.close()
                    return
                self.socks += [client, server]
            pair = (client, server)
            for src, dst, direction in ((client, server, "up"),
                                        (server, client, "down")):
                threading.Thread(target=self._pump, daemon=True,
                                 args=(src, dst, direction, pair)).start()

    def _pump(self, src, dst, direction, pair):
        state = self.pump_state(direction)
        try:
            while True:
                data = src.recv(self.chunk_size(direction))
                if not data:
                    break
                if not self.forward(data, src, dst, direction, state):
                    break
        except OSError:
            pass
        self.close_pair(pair)

    def stop(self):
        with self.lock:
            listener, self.listener = self.listener, None
            socks, self.socks = self.socks, []
        if listener is not None:
            listener.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# --------------------------------------------------------------------------
# Certificates

_CA_CNF = """\
[ca]
default_ca = d
[d]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[x]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = {san}
"""


def _gentime(dt):
    return dt.strftime("%Y%m%d%H%M%SZ")


def make_cert(directory, name="server", cn="localhost",
              sans=("DNS:localhost", "IP:127.0.0.1"),
              not_before=None, not_after=None):
    """Makes a self-signed P-256 certificate NAME.pem and key NAME.key in
    DIRECTORY, valid from NOT_BEFORE to NOT_AFTER (UTC datetimes; default
    yesterday to 30 days ahead).  Returns (cert_path, key_path)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = not_before or now - datetime.timedelta(days=1)
    not_after = not_after or now + datetime.timedelta(days=30)
    work = os.path.join(directory, name + ".ca")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "index.txt"), "w"):
        pass
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("%016x\n" % (int(time.time() * 1000) | 1))
    cnf = os.path.join(work, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(_CA_CNF.format(dir=work, san=",".join(sans)))
    key = os.path.join(directory, name + ".key")
    cert = os.path.join(directory, name + ".pem")
    csr = os.path.join(work, "req.csr")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=" + cn],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "ca", "-batch", "-config", cnf, "-selfsign",
                    "-keyfile", key, "-in", csr, "-out", cert, "-notext",
                    "-extensions", "x",
                    "-startdate", _gentime(not_before),
                    "-enddate", _gentime(not_after)],
                   check=True, capture_output=True)
    shutil.rmtree(work)
    os.chmod(key, 0o600)
    return cert, key


def make_expired_cert(directory, name="expired"):
    """A self-signed cert for localhost/127.0.0.1 that expired a year ago."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return make_cert(directory, name,
                     not_before=now - datetime.timedelta(days=730),
                     not_after=now - datetime.timedelta(days=365))


def make_wrong_host_cert(directory, name="wronghost"):
    """A valid self-signed cert for a name that is not the server's."""
    return make_cert(directory, name, cn="mail.wrong-host.invalid",
                     sans=("DNS:mail.wrong-host.invalid",))


# --------------------------------------------------------------------------
# Modified UTF-7 (RFC 3501 5.1.3), written independently of mailfs' own.

def mutf7_encode(text):
    out, run = [], []

    def flush():
        if run:
            raw = "".join(run).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode().rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            run.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.index("-", i)
        chunk = name[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


def pop3_uidl(uid, uidvalidity):
    """The POP3 UIDL of the message with IMAP UID and UIDVALIDITY on a
    harness Dovecot (pop3_uidl_format)."""
    return "%08x%08x" % (uid, uidvalidity)


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# Private Dovecot

_DOVECOT_CONF = """\
# Private Dovecot for mailfs tests; nothing here touches the system one.
protocols = imap pop3
listen = 127.0.0.1
base_dir = {w}/run
state_dir = {w}/state
log_path = {w}/dovecot.log
info_log_path = {w}/dovecot-info.log
auth_verbose = yes
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login{mechanisms}
# Dovecot's default, written out: a message's POP3 UIDL is its IMAP UID and
# UIDVALIDITY, so a test can name it without a POP3 session.
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
default_internal_user = {internal_user}
default_login_user = {login_user}
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
{passdb_oauth2}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {w}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {w}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Archive {{
    special_use = \\Archive
    auto = subscribe
  }}
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
{chroot}  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
{extra}
"""


# With Dovecot(oauth2=URL): tokens are checked by introspection (RFC 7662)
# at URL, the small OAuth2 server of the tests (oauth2server.py); the
# password users log in as before with PLAIN and LOGIN.  No failure delay:
# a refused token is a step the tests take on purpose.
_DOVECOT_OAUTH2_MECHANISMS = " xoauth2 oauthbearer\nauth_failure_delay = 0"
_DOVECOT_OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {w}/dovecot-oauth2.conf.ext
}}
"""
# Nor a penalty that grows with each failure from one IP (auth_penalty):
# the auth process cannot reach anvil's penalty socket.
_DOVECOT_NO_PENALTY = """\
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""
_DOVECOT_OAUTH2_EXT = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


class Dovecot:
    """A private Dovecot in WORKDIR/dovecot, listening on free loopback
    ports.  Use as a context manager or call start()/stop().  The Maildirs
    of the users in FS_LAYOUT use LAYOUT=fs, where a folder name may hold
    '.' (the default Maildir++ layout refuses it).  With OAUTH2 (the
    introspection URL of an oauth2server.OAuth2Server), XOAUTH2 and
    OAUTHBEARER are offered too, and their tokens checked there."""

    def __init__(self, workdir, cert=None, users=None, fs_layout=(),
                 oauth2=None):
        self.fs_layout = frozenset(fs_layout)
        self.oauth2 = oauth2
        self.dir = os.path.join(workdir, "dovecot")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        if cert is None:
            cert = make_cert(self.dir, "server")
        self.cert, self.key = cert
        self.users = dict(users or USERS)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.imap_port = self.imaps_port = None
        self.pop3_port = self.pop3s_port = None
        self.proc = None

    # Running as root, mail belongs to the 'mail' system user and Dovecot's
    # own users from the Debian package run the login and internal
    # processes.  Not as root, everything runs as the current user.
    def _identity(self):
        if os.geteuid() == 0:
            for name in ("mail", "nobody"):
                try:
                    pw = pwd.getpwnam(name)
                    return pw.pw_uid, pw.pw_gid, "dovecot", "dovenull", ""
                except KeyError:
                    continue
        me = pwd.getpwuid(os.geteuid()).pw_name
        return os.geteuid(), os.getegid(), me, me, "  chroot =\n"

    def _write_config(self):
        uid, gid, internal, login, chroot = self._identity()
        mail = os.path.join(self.dir, "mail")
        os.makedirs(mail, exist_ok=True)
        os.chown(mail, uid, gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, pw in self.users.items():
                fields = ("userdb_mail=maildir:~/Maildir:LAYOUT=fs"
                          if user in self.fs_layout else "")
                f.write("%s:{PLAIN}%s:%d:%d::%s/%s::%s\n"
                        % (user, pw, uid, gid, mail, user, fields))
        extra = ""
        if chroot:
            # Not root: the internal sockets' group (default "dovecot",
            # which we cannot chown to) is ours too.
            extra = ("default_internal_group = %s\n"
                     "service auth {\n  user = $default_internal_user\n}\n"
                     "service anvil {\n  chroot =\n}\n"
                     % grp.getgrgid(gid).gr_name)
        mechanisms = passdb_oauth2 = ""
        if self.oauth2:
            extra += _DOVECOT_NO_PENALTY
            mechanisms = _DOVECOT_OAUTH2_MECHANISMS
            passdb_oauth2 = _DOVECOT_OAUTH2_PASSDB.format(w=self.dir)
            with open(os.path.join(self.dir, "dovecot-oauth2.conf.ext"),
                      "w") as f:
                f.write(_DOVECOT_OAUTH2_EXT.format(url=self.oauth2))
        with open(self.conf, "w") as f:
            f.write(_DOVECOT_CONF.format(
                mechanisms=mechanisms, passdb_oauth2=passdb_oauth2,
                w=self.dir, cert=self.cert, key=self.key, uid=uid, gid=gid,
                internal_user=internal, login_user=login, chroot=chroot,
                imap=self.imap_port, imaps=self.imaps_port,
                pop3=self.pop3_port, pop3s=self.pop3s_port, extra=extra))

    def start(self, timeout=10.0, persistent=False):
        """Starts Dovecot; unless PERSISTENT, it is stopped at exit even if
        the caller forgets."""
        ports = set()
        while len(ports) < 4:
            ports.add(free_port())
        (self.imap_port, self.imaps_port,
         self.pop3_port, self.pop3s_port) = sorted(ports)
        self._write_config()
        return self._launch("wb", timeout, persistent)

    def restart(self, timeout=10.0, persistent=False):
        """Starts Dovecot again after stop(), with the same config file and
        so the same ports and mail (start() would pick new ports)."""
        assert self.proc is None, "dovecot is still running"
        return self._launch("ab", timeout, persistent)

    def _launch(self, out_mode, timeout, persistent):
        out = open(os.path.join(self.dir, "dovecot.out"), out_mode)
        self.proc = subprocess.Popen(
            ["/usr/sbin/dovecot", "-F", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        try:
            for port in (self.imap_port, self.imaps_port,
                         self.pop3_port, self.pop3s_port):
                if self.proc.poll() is not None:
                    raise RuntimeError("dovecot exited: " + self.output())
                wait_port(port, max(0.1, deadline - time.monotonic()))
        except Exception:
            self.stop()
            raise
        if not persistent:
            atexit.register(self.stop)
        return self

    def stop(self):
        """Stops Dovecot and its whole process group, so that nothing
        serves the connections already open any more."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # The whole process group: imap and login children would
            # otherwise keep serving connections that are already open.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None
        atexit.unregister(self.stop)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def output(self):
        try:
            with open(os.path.join(self.dir, "dovecot.out"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log(self):
        """Everything Dovecot logged so far (errors and info)."""
        text = []
        for name in ("dovecot.log", "dovecot-info.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text.append(f.read())
            except FileNotFoundError:
                pass
        return "".join(text)

    def login_lines(self, user):
        """The '*-login: Login: user=<USER>' lines of the log."""
        return [l for l in self.log().splitlines()
                if "-login: " in l and "Login: user=<%s>" % user in l]

    def url(self, kind="imaps"):
        port = {"imap": self.imap_port, "imaps": self.imaps_port,
                "pop3": self.pop3_port, "pop3s": self.pop3s_port}[kind]
        return "%s://127.0.0.1:%d" % (kind, port)

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        return ctx

    def client(self, user="alice"):
        """An imaplib client over implicit TLS, logged in as USER."""
        c = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port,
                              ssl_context=self.ssl_context(), timeout=30)
        c.login(user, self.users[user])
        return c


# --------------------------------------------------------------------------
# Independent view of what the server holds

def module_dovecot(prefix, users=None, fs_layout=()):
    """For setUpModule: a workdir named PREFIX..., a certificate and a
    Dovecot using it (with USERS, default USERS, and FS_LAYOUT as for
    Dovecot), all removed when the module's tests are done.  Returns
    (workdir, cert, dovecot)."""
    work = make_workdir(prefix)
    unittest.addModuleCleanup(remove_workdir, work)
    cert = make_cert(work, "server")
    dovecot = Dovecot(work, cert=cert, users=users,
                      fs_layout=fs_layout).start()
    unittest.addModuleCleanup(dovecot.stop)
    return work, cert, dovecot


class ServerMessage:
    """One message as the server reports it."""

    def __init__(self, folder, uid, flags, size, internaldate, body):
        self.folder = folder          # decoded (UTF-8) name
        self.uid = uid
        self.flags = flags            # frozenset, without \\Recent
        self.size = size              # RFC822.SIZE
        self.internaldate = internaldate  # epoch seconds
        self.body = body              # BODY[] bytes

    def __repr__(self):
        return "<%s/%d.eml %d bytes>" % (self.folder, self.uid, self.size)


class ServerFolder:
    def __init__(self, name, raw, delim, flags):
        self.name = name              # decoded, full path with delim
        self.raw = raw                # as on the wire (modified UTF-7)
        self.delim = delim
        self.flags = flags            # frozenset of lowercase flags

    @property
    def selectable(self):
        return not ({"\\noselect", "\\nonexistent"} & self.flags)

    @property
    def parts(self):
        return self.name.split(self.delim) if self.delim else [self.name]

    def __repr__(self):
        return "<folder %s %s>" % (self.name, sorted(self.flags))


_LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')
_DATE_RE = re.compile(rb'INTERNALDATE "([^"]+)"')
_SIZE_RE = re.compile(rb'RFC822\.SIZE (\d+)')
_UID_RE = re.compile(rb'UID (\d+)')
_FLAGS_RE = re.compile(rb'FLAGS \(([^)]*)\)')


def _unquote(b):
    if b.startswith(b'"') and b.endswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', b[1:-1])
    return b


def parse_internaldate(text):
    """'14-Nov-2023 22:13:20 +0100' -> epoch seconds."""
    dt = datetime.datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")
    return int(dt.timestamp())


def _check(typ, data, what):
    if typ != "OK":
        raise RuntimeError("%s failed: %s %r" % (what, typ, data))
    return data


class ServerView:
    """Reads the account with imaplib over TLS, independently of mailfs."""

    def __init__(self, dovecot, user="alice"):
        self.dovecot = dovecot
        self.user = user

    def folders(self):
        c = self.dovecot.client(self.user)
        try:
            data = _check(*c.list('""', "*"), what="LIST")
        finally:
            c.logout()
        result, i = [], 0
        while i < len(data):
            item = data[i]
            i += 1
            if item is None:
                continue
            literal = None
            if isinstance(item, tuple):
                item, literal = item
            m = _LIST_RE.match(item)
            if not m:
                raise RuntimeError("cannot parse LIST line %r" % item)
            raw = literal if literal is not None else _unquote(m.group("name"))
            raw = raw.decode("ascii")
            delim = m.group("delim")
            delim = None if delim == b"NIL" else _unquote(delim).decode()
            flags = frozenset(f.lower() for f in
                              m.group("flags").decode().split())
            result.append(ServerFolder(mutf7_decode(raw), raw, delim, flags))
        return result

    def messages(self, folder_raw, client=None):
        """uid -> ServerMessage for the mailbox FOLDER_RAW (wire name)."""
        own = client is None
        c = client or self.dovecot.client(self.user)
        try:
            typ, data = c.select(imap_quote(folder_raw), readonly=True)
            _check(typ, data, "EXAMINE " + folder_raw)
            if int(data[0]) == 0:
                return {}
            data = _check(*c.uid("FETCH", "1:*",
                                 "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"),
                          what="FETCH")
            out = {}
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head, body = item
                uid = int(_UID_RE.search(head).group(1))
                flags = frozenset(_FLAGS_RE.search(head).group(1).decode().split())
                out[uid] = ServerMessage(
                    mutf7_decode(folder_raw), uid, flags - {"\\Recent"},
                    int(_SIZE_RE.search(head).group(1)),
                    parse_internaldate(_DATE_RE.search(head).group(1).decode()),
                    body)
            c.close()
            return out
        finally:
            if own:
                c.logout()

    def snapshot(self):
        """(folders, {decoded folder name: {uid: ServerMessage}}) for every
        selectable folder."""
        folders = self.folders()
        c = self.dovecot.client(self.user)
        try:
            msgs = {f.name: self.messages(f.raw, c)
                    for f in folders if f.selectable}
        finally:
            c.logout()
        return folders, msgs

    def append(self, folder, raw, flags="", date=None):
        """Appends RAW to FOLDER (decoded name); returns the new UID."""
        c = self.dovecot.client(self.user)
        try:
            when = imaplib.Time2Internaldate(date if date is not None else time.time())
            typ, data = c.append(imap_quote(mutf7_encode(folder)),
                                 "(%s)" % flags if flags else None, when, raw)
            _check(typ, data, "APPEND " + folder)
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            return int(m.group(1))
        finally:
            c.logout()


# --------------------------------------------------------------------------
# mailfs config, runs and mounts

def write_config(path, accounts, mode=0o600):
    """Writes a mailfs key file: ACCOUNTS maps account name -> {key: value}."""
    lines = []
    for name, keys in accounts.items():
        lines.append("[account %s]" % name)
        for k, v in keys.items():
            if v is not None:
                lines.append("%s = %s" % (k, v))
        lines.append("")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines))
    os.chmod(path, mode)


def _unescape_mountinfo(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounted_paths():
    """Mount points listed in /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as f:
        return [_unescape_mountinfo(l.split()[4]) for l in f]


def is_mounted(path):
    return os.path.realpath(path) in mounted_paths()


def fstype_of(path):
    """The filesystem type of the mount at PATH, or None."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if _unescape_mountinfo(fields[4]) == real:
                return fields[fields.index("-") + 1]
    return None


class RunResult:
    def __init__(self, argv, returncode, stdout, stderr, elapsed,
                 timed_out=False, max_rss_kb=0):
        self.argv = argv
        self.returncode = returncode  # negative: killed by that signal
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.timed_out = timed_out
        self.max_rss_kb = max_rss_kb  # over the process and its descendants

    def __repr__(self):
        return ("<run %s rc=%s %.2fs rss=%dkB timed_out=%s\nstdout=%r\nstderr=%r>"
                % (" ".join(self.argv), self.returncode, self.elapsed,
                   self.max_rss_kb, self.timed_out, self.stdout, self.stderr))


def _pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _vmhwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes_with_arg(arg):
    """PIDs of live processes that have ARG as one of their arguments."""
    needle = os.fsencode(arg)
    return [pid for pid in _pids() if needle in _cmdline(pid)]


def run(argv, timeout=20.0, watch_arg=None, env=None, cwd=None):
    """Runs ARGV with stdio in files (a daemon keeping them open cannot
    block us), kills it after TIMEOUT seconds, and tracks the peak RSS of it
    and of any process that has WATCH_ARG among its arguments (a daemonized
    child).  Returns a RunResult."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, start_new_session=True, env=env,
                             cwd=cwd)
        status, rusage, timed_out, peak, rounds = None, None, False, 0, 0
        while True:
            rounds += 1
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                status, rusage = st, ru
                break
            peak = max(peak, _vmhwm_kb(p.pid))
            if watch_arg and rounds % 5 == 1:
                for other in processes_with_arg(watch_arg):
                    peak = max(peak, _vmhwm_kb(other))
            if time.monotonic() - start > timeout:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, rusage = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak, rusage.ru_maxrss)
        out.seek(0)
        err.seek(0)
        return RunResult(list(argv), p.returncode,
                         out.read().decode(errors="replace"),
                         err.read().decode(errors="replace"),
                         elapsed, timed_out, peak)


def force_unmount(path):
    """Unmounts PATH by any means; used in cleanup only."""
    if not is_mounted(path):
        return
    for argv in (["fusermount3", "-u", "-z", path], ["umount", "-l", path]):
        subprocess.run(argv, capture_output=True, timeout=10)
        if not is_mounted(path):
            return


class Mailfs:
    """One mailfs account configuration and mount point in WORKDIR/NAME."""

    def __init__(self, workdir, name="mfs", account="test"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.account = account
        self.mountpoint = os.path.join(self.dir, "mnt")
        os.makedirs(self.mountpoint, exist_ok=True)
        self.config = os.path.join(self.dir, "mailfs.conf")
        self.cache_dir = os.path.join(self.dir, "cache")  # mailfs creates it
        self.pwfile = os.path.join(self.dir, "password")

    def configure(self, url, user="alice", password="secret", ca_file=None,
                  timeout=3, refresh_interval=1, password_in_file=False,
                  extra=None):
        """Writes the config; the password comes through password_command
        (a 0600 file read by cat) unless PASSWORD_IN_FILE."""
        keys = {"imap": url, "user": user}
        if password_in_file:
            keys["password"] = password
        else:
            fd = os.open(self.pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
            keys["password_command"] = "cat " + self.pwfile
        keys.update({"ca_file": ca_file, "cache_dir": self.cache_dir,
                     "timeout": timeout, "refresh_interval": refresh_interval})
        keys.update(extra or {})
        write_config(self.config, {self.account: keys})
        return self

    def mount(self, *extra, timeout=20.0):
        argv = [mailfs_bin(), "mount", "--config", self.config,
                "--account", self.account] + list(extra) + [self.mountpoint]
        return run(argv, timeout=timeout, watch_arg=self.mountpoint)

    def umount(self, timeout=20.0):
        return run([mailfs_bin(), "umount", self.mountpoint], timeout=timeout)

    def daemons(self):
        """PIDs of mailfs processes serving this mount point."""
        return processes_with_arg(self.mountpoint)

    def wait_daemons_gone(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while self.daemons() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.daemons()

    def cleanup(self):
        """Leaves nothing mounted and no daemon running, whatever happened."""
        if is_mounted(self.mountpoint):
            try:
                self.umount(timeout=10)
            except Exception:
                pass
            force_unmount(self.mountpoint)
        if not self.wait_daemons_gone(5):
            for pid in self.daemons():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def path(self, *parts):
        return os.path.join(self.mountpoint, *parts)

    def status(self):
        """MOUNT/.mailfs/status as key -> [values] (outbox_file comes once
        per file): the daemon's own account of itself, taken afresh at
        each open of the file."""
        out = {}
        with open(self.path(".mailfs", "status"), errors="replace") as f:
            for line in f.read().splitlines():
                key, _, value = line.partition(": ")
                out.setdefault(key, []).append(value)
        return out

    def outbox_idle(self, sent=0, failed=0, copy_pending=0):
        """The status when the daemon says its outbox has nothing left to
        do: nothing queued or on its way (a retry still to come is queued),
        COPY_PENDING copies for Sent pending, at least SENT messages sent
        and FAILED in failed/ since it was mounted; else None.  Use it
        with wait_until instead of "nothing more came after N s"."""
        st = self.status()
        num = lambda key: int(st.get(key, ["-1"])[0])
        if (num("outbox_queued") == 0 and
                num("outbox_copy_pending") == copy_pending and
                num("outbox_sent") >= sent and num("outbox_failed") >= failed):
            return st
        return None

    def message(self, folder, uid):
        """The path of the message with server UID in FOLDER ('A/B')."""
        return message_file(self.path(*folder.split("/")), uid)


# A message's file name as mailfs gives it: "<UID>.<N>.eml", N telling
# folders (and UIDVALIDITYs) apart so that names are unique in the account;
# "<UID>.eml" in older versions.
_MSG_NAME_RE = re.compile(r"^(\d+)(?:\.\d+)?\.eml$")


def message_uid(name):
    """The server UID in a mailfs message file NAME, or None."""
    m = _MSG_NAME_RE.match(name)
    return int(m.group(1)) if m else None


def message_file(directory, uid):
    """The path of the file for server UID in DIRECTORY (a folder of a
    mount), found by listing it; raises FileNotFoundError if none."""
    for name in os.listdir(directory):
        if message_uid(name) == uid:
            return os.path.join(directory, name)
    raise FileNotFoundError("no file for UID %d in %s" % (uid, directory))


def message_names(directory):
    """uid -> file name of every server-named message file in DIRECTORY."""
    return {message_uid(n): n for n in os.listdir(directory)
            if message_uid(n) is not None}


def message_uids(directory):
    """The sorted server UIDs of the message files in DIRECTORY (a name
    listed twice counts twice, so duplicates show)."""
    return sorted(message_uid(n) for n in os.listdir(directory)
                  if message_uid(n) is not None)


def message_key(relpath):
    """(folder, uid) of the message file RELPATH ('A/B/NAME', relative to
    the mount point); uid is None if NAME is not a server message name."""
    folder, _, name = relpath.rpartition("/")
    return folder, message_uid(name)


_MSGID_RE = re.compile(rb"(?im)^message-id:")
_MSGID_LINE_RE = re.compile(rb"(?i)^message-id: *<[^<>\r\n]+> *$")


def crlf(data):
    """DATA with every bare LF made CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def as_appended(data, body):
    """TRUE if BODY (as a server has it) is DATA written into a folder:
    its line ends made CRLF, and, if DATA has no Message-ID, maybe one
    header line "Message-ID: <...>" more (mailfs finds its appends by
    it)."""
    want = crlf(data)
    if body == want:
        return True
    if _MSGID_RE.search(data.split(b"\n\n", 1)[0]):
        return False
    head, sep, rest = body.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    ids = [i for i, l in enumerate(lines) if _MSGID_RE.match(l)]
    if len(ids) != 1 or not _MSGID_LINE_RE.match(lines[ids[0]]):
        return False
    del lines[ids[0]]
    return b"\r\n".join(lines) + sep + rest == want


def error_lines(result):
    """Non-empty stderr lines of a RunResult."""
    return [l for l in result.stderr.splitlines() if l.strip()]


def skip_unless_root(test, why):
    """Skips the TestCase TEST unless it runs as root; WHY says what needs
    root.  Such tests are listed in tests/meson.build
    (root_integration_tests), which runs them as root while the rest of
    their module runs as the unprivileged test user."""
    if os.geteuid() != 0:
        test.skipTest("needs root to %s (integration-as-root runs it)" % why)


def have_fuse():
    return os.path.exists("/dev/fuse")


def require_mailfs(fuse=True):
    """For setUpModule: fails the module at once, saying why, when the
    mailfs binary (or, with FUSE, /dev/fuse) is missing."""
    if fuse and not have_fuse():
        raise RuntimeError("/dev/fuse is missing: load the fuse module")
    if not os.access(mailfs_bin(), os.X_OK):
        raise RuntimeError("no mailfs binary at %s" % mailfs_bin())



class CleanFailureAssertions:
    """For a unittest.TestCase that mounts against scripted bad servers
    (fakeservers.py): `mailfs mount` must fail soon, within MAX_ELAPSED
    seconds and MAX_RSS_KB of memory, with one clear line naming the
    account and the server, never killed by a signal."""

    MAX_ELAPSED = None   # seconds; set by the test class
    MAX_RSS_KB = None

    def mount_succeeded(self, res, mfs):
        """Called when the mount did not fail, before the test fails on
        it; may fail first with a better message."""

    def assert_clean_failure(self, res, fake, mfs, *words):
        """Checks the RunResult RES of mounting MFS against FAKE; one of
        WORDS, if any, must be in the error line (lowercase).  Returns the
        line."""
        self.assertFalse(res.timed_out, "mailfs mount hung: %r" % res)
        self.assertGreaterEqual(res.returncode, 0, "killed by a signal: %r" % res)
        if res.returncode == 0:
            self.mount_succeeded(res, mfs)
        self.assertGreater(res.returncode, 0, res)
        self.assertLess(res.elapsed, self.MAX_ELAPSED, res)
        self.assertLess(res.max_rss_kb, self.MAX_RSS_KB, res)
        self.assertFalse(is_mounted(mfs.mountpoint), res)
        self.assertTrue(mfs.wait_daemons_gone(5), "a mailfs process is left")
        lines = error_lines(res)
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % res)
        line = lines[0]
        self.assertLess(len(line), 400, "error line too long: %r" % res)
        self.assertIn("'%s'" % mfs.account, line, res)
        self.assertIn("127.0.0.1:%d" % fake.port, line, res)
        low = line.lower()
        if words:
            self.assertTrue(any(w in low for w in words),
                            "none of %r in %r" % (words, line))
        self.assertGreaterEqual(fake.connections, 1, "never connected")
        return line


class Watchdog:
    """Kills MAILFS's daemon (a process we started) if the body of the
    `with` takes longer than SECONDS, so a hung FUSE request fails with
    ENOTCONN instead of hanging the test run.  .fired tells if it did."""

    def __init__(self, mailfs, seconds=60.0):
        self.mailfs = mailfs
        self.seconds = seconds
        self.fired = False
        self.timer = None

    def _fire(self):
        self.fired = True
        for pid in self.mailfs.daemons():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self):
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        if self.fired:
            raise AssertionError("mailfs did not answer within %.0f s; its "
                                 "daemon was killed" % self.seconds)


def mount_watched(test, mfs, seconds):
    """`mailfs mount` of MFS; fails the TestCase TEST unless it mounted,
    then a Watchdog of SECONDS guards the rest of the test (its cleanup
    cancels it).  Returns the RunResult."""
    res = mfs.mount()
    test.assertEqual(res.returncode, 0, res)
    test.assertTrue(is_mounted(mfs.mountpoint), res)
    wd = Watchdog(mfs, seconds)
    wd.__enter__()
    test.addCleanup(wd.timer.cancel)
    return res


# --------------------------------------------------------------------------
# A Dovecot that announces less, and records every session (test_resync)

# What Dovecot 2.3 announces after login, less CONDSTORE and QRESYNC and
# the extensions built on them; ESEARCH too, for the plain UID SEARCH.
DOVECOT_CAPS_PLAIN = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND "
    "URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED I18NLEVEL=1 LIST-STATUS BINARY MOVE LITERAL+ "
    "SPECIAL-USE")
DOVECOT_CAPS_CONDSTORE = DOVECOT_CAPS_PLAIN + " CONDSTORE ESEARCH"
DOVECOT_CAPS_QRESYNC = DOVECOT_CAPS_CONDSTORE + " QRESYNC"


class RecordingDovecot(Dovecot):
    """A Dovecot that announces CAPS after login (imap_capability; None:
    its own list) and writes what each IMAP session sends and receives to
    WORKDIR/dovecot/rawlog (rawlog_dir).  mark() and sent_since() /
    bytes_out_since() tell what passed after a point."""

    def __init__(self, workdir, caps=None, **kw):
        super().__init__(workdir, **kw)
        self.caps = caps
        self.rawlog = os.path.join(self.dir, "rawlog")
        os.makedirs(self.rawlog, exist_ok=True)
        os.chmod(self.rawlog, 0o1777)  # as root, Dovecot writes as 'mail'

    def _write_config(self):
        super()._write_config()
        with open(self.conf, "a") as f:
            f.write("protocol imap {\n  rawlog_dir = %s\n" % self.rawlog)
            if self.caps:
                f.write("  imap_capability = %s\n" % self.caps)
            f.write("}\n")

    def _files(self, suffix):
        names = sorted(n for n in os.listdir(self.rawlog)
                       if n.endswith(suffix))
        return [os.path.join(self.rawlog, n) for n in names]

    def mark(self):
        """The sizes of the session logs now."""
        return {p: os.path.getsize(p)
                for p in self._files(".in") + self._files(".out")}

    def _since(self, mark, suffix):
        out = b""
        for p in self._files(suffix):
            with open(p, "rb") as f:
                f.seek(mark.get(p, 0))
                out += f.read()
        return out

    def sent_since(self, mark):
        """What the clients sent after MARK, all sessions, as text."""
        return self._since(mark, ".in").decode("latin-1")

    def bytes_out_since(self, mark):
        """How many bytes the server sent after MARK."""
        return len(self._since(mark, ".out"))
