"""A real SMTP test server on loopback (aiosmtpd), with TLS and AUTH.

It runs as a subprocess (this file as a script) so that it can be stopped
and started again on the same port, and outlive its starter (the demo).
Modes:
  starttls  plain port, STARTTLS required before anything else, then AUTH
  smtps     implicit TLS on the server socket, then AUTH
  plain     no TLS at all, AUTH offered in the clear (a client must refuse)
AUTH PLAIN and LOGIN are offered; only the configured users are accepted.
With --oauth2-introspect URL, XOAUTH2 and OAUTHBEARER too: their bearer
token is checked at URL (token introspection, RFC 7662, as Dovecot's
passdb oauth2 does: the oauth2server.py of the tests), and a refused one
gets the error report of RFC 7628 before the 535.  Mail is refused before
AUTH.

Every accepted message is appended as one JSON line to the records file:
  {"kind": "envelope", "mail_from", "rcpt_tos", "data" (base64 of the
   exact bytes after un-dot-stuffing), "tls", "cipher", "user",
   "mail_options", "time"}
every refusal this server gave on purpose as
  {"kind": "refused", "stage": "MAIL"|"RCPT"|"DATA", "reply", ...},
and every AUTH attempt as {"kind": "auth", "user", "ok", "tls", "mechanism"}.

Behaviour that tests change while it runs lives in a JSON control file,
read again at each command:
  {"refuse": {"x@y": "550 5.1.1 <x@y>: Recipient address rejected"},
   "temp_fail": "451 4.3.0 Try again later", "temp_fail_at": "MAIL",
   "data_delay": 3.0, "delay_after_commit": false}
data_delay holds the reply to the end of DATA back that many seconds; a
message whose client goes away meanwhile is not delivered and is recorded
as {"kind": "aborted"}, unless delay_after_commit: then it was recorded as
delivered before the wait (a slow server that has taken the message).
The SIZE limit is fixed per run (restart to change it).

Module use (tests): SmtpServer(workdir, cert, mode).start(); .url;
.records(); .envelopes(); .refuse(addr); .temp_fail(reply); .stop();
.start() again reuses the port.  Script use: see main().
"""

import argparse
import asyncio
import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import warnings

HERE = os.path.abspath(__file__)

# Accepted logins of the test server, the same as the private Dovecot's
# alice (mailfs uses one user/password for IMAP and SMTP).
DEFAULT_USERS = {"alice": "secret", "bob": "hunter2-bob"}


def refusal_550(addr):
    """The reply the server gives for a refused recipient ADDR."""
    return "550 5.1.1 <%s>: Recipient address rejected" % addr


# --------------------------------------------------------------------------
# Server side (runs in the subprocess)

class _Recorder:
    """Writes one JSON object per line, flushed, to the records file."""

    def __init__(self, path, maildir=None):
        self.path = path
        self.maildir = maildir
        self.lock = threading.Lock()
        self.count = 0

    def write(self, obj):
        obj["time"] = time.time()
        line = json.dumps(obj, sort_keys=True) + "\n"
        with self.lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def store(self, data):
        """Keeps a copy of DATA as MAILDIR/N.eml (for humans: the demo)."""
        if not self.maildir:
            return
        with self.lock:
            self.count += 1
            os.makedirs(self.maildir, exist_ok=True)
            name = "%d-%d.eml" % (int(time.time()), self.count)
            with open(os.path.join(self.maildir, name), "wb") as f:
                f.write(data)


def _read_control(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _tls_info(server):
    """(used TLS?, cipher name) of the session SERVER is serving."""
    transport = server.transport
    sslobj = transport.get_extra_info("ssl_object") if transport else None
    if sslobj is None:
        return False, None
    cipher = sslobj.cipher()
    return True, cipher[0] if cipher else None


def _user_of(session):
    data = getattr(session, "auth_data", None)
    login = getattr(data, "login", None)
    if isinstance(login, bytes):
        return login.decode("utf-8", "replace")
    return login


class _Handler:
    """aiosmtpd handler: applies the control file, records envelopes."""

    def __init__(self, recorder, control_path, deliver=None):
        self.rec = recorder
        self.control_path = control_path
        self.deliver = deliver  # argv given each message on stdin, or None

    async def _deliver(self, data):
        """Hands DATA to the delivery command, as an MTA's mailbox command
        would (dovecot-lda); None when it took it, else a 451 reply."""
        proc = await asyncio.create_subprocess_exec(
            *self.deliver, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(data)
        if proc.returncode == 0:
            return None
        self.rec.write({"kind": "delivery_failed", "rc": proc.returncode,
                        "stderr": err.decode(errors="replace")[-500:]})
        return "451 4.3.0 Local delivery failed"

    def _refuse(self, server, session, envelope, stage, reply, **extra):
        tls, _ = _tls_info(server)
        obj = {"kind": "refused", "stage": stage, "reply": reply, "tls": tls,
               "user": _user_of(session), "mail_from": envelope.mail_from}
        obj.update(extra)
        self.rec.write(obj)
        return reply

    def _temp(self, stage):
        ctl = _read_control(self.control_path)
        if ctl.get("temp_fail") and ctl.get("temp_fail_at", "MAIL") == stage:
            return ctl["temp_fail"]
        return None

    async def handle_MAIL(self, server, session, envelope, address, options):
        reply = self._temp("MAIL")
        if reply:
            return self._refuse(server, session, envelope, "MAIL", reply,
                                address=address)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        ctl = _read_control(self.control_path)
        reply = (ctl.get("refuse") or {}).get(address.lower())
        if not reply:
            reply = self._temp("RCPT")
        if reply:
            return self._refuse(server, session, envelope, "RCPT", reply,
                                address=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        ctl = _read_control(self.control_path)
        delay = ctl.get("data_delay")
        if delay and ctl.get("delay_after_commit"):
            # A server that has taken the message (it will be delivered)
            # but is slow to say so.
            self._record_envelope(server, session, envelope)
            await asyncio.sleep(float(delay))
            return "250 2.0.0 OK queued (late)"
        if delay:
            try:
                await asyncio.sleep(float(delay))
            except asyncio.CancelledError:
                self.rec.write({"kind": "aborted",
                                "mail_from": envelope.mail_from,
                                "rcpt_tos": list(envelope.rcpt_tos),
                                "data": base64.b64encode(data).decode()})
                raise
            if server.transport is None or server.transport.is_closing():
                self.rec.write({"kind": "aborted",
                                "mail_from": envelope.mail_from,
                                "rcpt_tos": list(envelope.rcpt_tos),
                                "data": base64.b64encode(data).decode()})
                return "421 4.4.2 Gone"
        reply = self._temp("DATA")
        if reply:
            return self._refuse(server, session, envelope, "DATA", reply,
                                rcpt_tos=list(envelope.rcpt_tos),
                                data=base64.b64encode(data).decode())
        if self.deliver:
            reply = await self._deliver(data)
            if reply:
                return reply
        self._record_envelope(server, session, envelope)
        return "250 2.0.0 OK queued"

    def _record_envelope(self, server, session, envelope):
        data = envelope.original_content
        tls, cipher = _tls_info(server)
        self.rec.write({
            "kind": "envelope",
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "data": base64.b64encode(data).decode(),
            "tls": tls,
            "cipher": cipher,
            "user": _user_of(session),
        })
        self.rec.store(data)


class _Login:
    """What a session logged in as (aiosmtpd keeps it as auth_data)."""

    def __init__(self, login):
        self.login = login


def _bearer_of(mechanism, blob):
    """(user, token) of an XOAUTH2 or OAUTHBEARER message, or None."""
    text = blob.decode("utf-8", "replace")
    fields = text.split("\x01")
    user = None
    if mechanism == "XOAUTH2" and fields[0].startswith("user="):
        user = fields[0][len("user="):]
    elif mechanism == "OAUTHBEARER" and fields[0].startswith("n,a="):
        user = fields[0][len("n,a="):].rstrip(",")
        user = user.replace("=2C", ",").replace("=3D", "=")
    token = None
    for f in fields[1:]:
        if f.startswith("auth=Bearer "):
            token = f[len("auth=Bearer "):]
    return (user, token) if user and token else None


class _OAuthHandler:
    """XOAUTH2 and OAUTHBEARER for aiosmtpd: handler methods named
    auth_MECHANISM are offered as mechanisms."""

    def __init__(self, introspect_url, recorder):
        self.introspect_url = introspect_url
        self.rec = recorder

    def _active_user(self, token):
        import urllib.parse
        import urllib.request
        body = urllib.parse.urlencode({"token": token}).encode()
        with urllib.request.urlopen(self.introspect_url, body,
                                    timeout=10) as r:
            info = json.load(r)
        return info.get("username") if info.get("active") else None

    async def _bearer(self, server, args, mechanism):
        from aiosmtpd.smtp import AuthResult, MISSING
        if len(args) == 1:
            blob = await server.challenge_auth("")
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                blob = MISSING
        if blob is MISSING:
            return AuthResult(success=False, handled=False)
        got = _bearer_of(mechanism, blob)
        user = None
        if got:
            loop = asyncio.get_running_loop()
            user = await loop.run_in_executor(None, self._active_user, got[1])
        ok = got is not None and user == got[0]
        self.rec.write({"kind": "auth", "user": got[0] if got else None,
                        "ok": ok, "tls": _tls_info(server)[0],
                        "mechanism": mechanism})
        if ok:
            return AuthResult(success=True, auth_data=_Login(user.encode()))
        # RFC 7628 3.2.2: the error, which the client answers, then 535.
        report = json.dumps({"status": "invalid_token", "schemes": "bearer",
                             "scope": "mail"})
        if await server.challenge_auth(report) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Authentication credentials "
                                  "invalid")

    async def auth_XOAUTH2(self, server, args):
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server, args):
        return await self._bearer(server, args, "OAUTHBEARER")


def _authenticator(users, recorder):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            pw = auth_data.password.decode("utf-8", "replace")
            ok = users.get(user) == pw
            recorder.write({"kind": "auth", "user": user, "ok": ok,
                            "tls": _tls_info(server)[0],
                            "mechanism": mechanism})
            if ok:
                return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd then answers 535 itself.
        return AuthResult(success=False, handled=False)
    return check


def serve(args):
    """Runs the server until SIGTERM/SIGINT."""
    from aiosmtpd.controller import Controller

    # aiosmtpd's own deprecation notes and its warning about AUTH without
    # STARTTLS (we use implicit TLS) are noise in the log.
    warnings.simplefilter("ignore")
    users = {} if args.only_users else dict(DEFAULT_USERS)
    for spec in args.user or ():
        name, _, pw = spec.partition(":")
        users[name] = pw
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    recorder = _Recorder(args.records, args.maildir)
    handler_class = _Handler
    if args.oauth2_introspect:
        class handler_class(_Handler, _OAuthHandler):
            def __init__(self, rec, control, deliver):
                _Handler.__init__(self, rec, control, deliver)
                _OAuthHandler.__init__(self, args.oauth2_introspect, rec)
    handler = handler_class(recorder, args.control,
                            json.loads(args.deliver) if args.deliver else None)
    smtp_kw = dict(authenticator=_authenticator(users, recorder),
                   auth_required=True,
                   data_size_limit=args.size or None, enable_SMTPUTF8=True)
    if args.mode == "starttls":
        smtp_kw.update(tls_context=ctx, require_starttls=True,
                       auth_require_tls=True)
        controller = Controller(handler, hostname="127.0.0.1", port=args.port,
                                server_hostname="smtp.test", **smtp_kw)
    elif args.mode == "plain":
        smtp_kw.update(auth_require_tls=False)
        controller = Controller(handler, hostname="127.0.0.1", port=args.port,
                                server_hostname="smtp.test", **smtp_kw)
    else:
        # aiosmtpd only counts STARTTLS as TLS for AUTH, so with implicit
        # TLS on the socket the AUTH-needs-TLS check must be off (every
        # byte is encrypted anyway).
        smtp_kw.update(auth_require_tls=False)
        controller = Controller(handler, hostname="127.0.0.1", port=args.port,
                                ssl_context=ctx, server_hostname="smtp.test",
                                **smtp_kw)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    controller.start()
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.ready + ".tmp", args.ready)
    while not stop.wait(0.2):
        pass
    controller.stop()
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="SMTP test server (aiosmtpd)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=("starttls", "smtps", "plain"),
                   default="starttls")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--records", required=True, help="JSON-lines file")
    p.add_argument("--control", default="/nonexistent",
                   help="JSON control file, read at each command")
    p.add_argument("--size", type=int, default=0, help="SIZE limit (0: none)")
    p.add_argument("--maildir", help="also store each message as DIR/*.eml")
    p.add_argument("--ready", help="file written once the server listens")
    p.add_argument("--deliver", help="JSON argv run with each accepted "
                   "message on stdin (e.g. dovecot-lda); a failure is a 451")
    p.add_argument("--user", action="append", help="NAME:PASSWORD to accept")
    p.add_argument("--only-users", action="store_true",
                   help="accept only the --user logins, not the defaults")
    p.add_argument("--oauth2-introspect", metavar="URL",
                   help="offer XOAUTH2 and OAUTHBEARER, tokens checked at "
                   "this introspection URL")
    return serve(p.parse_args(argv))


# --------------------------------------------------------------------------
# Client side (the tests and the demo)

class SmtpServer:
    """The server above as a subprocess with its files in WORKDIR/NAME.
    CERT is (cert_path, key_path); MODE is "starttls", "smtps" or "plain".
    USERS ({name: password}) replaces the accepted logins.  OAUTH2, an
    introspection URL, offers XOAUTH2 and OAUTHBEARER."""

    def __init__(self, workdir, cert, mode="starttls", name="smtp",
                 port=None, size_limit=0, maildir=None, users=None,
                 deliver=None, oauth2=None):
        assert mode in ("starttls", "smtps", "plain")
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cert, self.key = cert
        self.mode = mode
        self.port = port
        self.size_limit = size_limit
        self.maildir = maildir
        self.users = users
        self.deliver = deliver
        self.oauth2 = oauth2  # an introspection URL: XOAUTH2, OAUTHBEARER
        self.records_path = os.path.join(self.dir, "records.jsonl")
        self.control_path = os.path.join(self.dir, "control.json")
        self.log_path = os.path.join(self.dir, "smtp.log")
        self.ready_path = os.path.join(self.dir, "ready")
        self.proc = None
        self._control = {"refuse": {}, "temp_fail": None,
                         "temp_fail_at": "MAIL"}
        self._write_control()

    @property
    def url(self):
        scheme = "smtps" if self.mode == "smtps" else "smtp"
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def start(self, timeout=15.0, persistent=False):
        """Starts the server (on the same port as before, if any)."""
        if self.proc is not None:
            return self
        if self.port is None:
            from harness import free_port
            self.port = free_port()
        try:
            os.unlink(self.ready_path)
        except FileNotFoundError:
            pass
        argv = ["/usr/bin/python3", HERE, "--port", str(self.port),
                "--mode", self.mode, "--cert", self.cert, "--key", self.key,
                "--records", self.records_path, "--control", self.control_path,
                "--ready", self.ready_path]
        if self.size_limit:
            argv += ["--size", str(self.size_limit)]
        if self.maildir:
            argv += ["--maildir", self.maildir]
        if self.deliver:
            argv += ["--deliver", json.dumps(self.deliver)]
        if self.oauth2:
            argv += ["--oauth2-introspect", self.oauth2]
        if self.users is not None:
            argv += ["--only-users"]
            for name, pw in self.users.items():
                argv += ["--user", "%s:%s" % (name, pw)]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=persistent)
        log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ready_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("SMTP server did not start:\n" + self.log())
            time.sleep(0.02)
        return self

    def stop(self):
        """Stops the server; the port stays ours for a later start()."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, size_limit=None):
        self.stop()
        if size_limit is not None:
            self.size_limit = size_limit
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- control ----------------------------------------------------------

    def _write_control(self):
        tmp = self.control_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._control, f)
        os.rename(tmp, self.control_path)

    def refuse(self, addr, reply=None):
        """Refuses RCPT TO:<ADDR> with REPLY (default the 550 above)."""
        self._control["refuse"][addr.lower()] = reply or refusal_550(addr)
        self._write_control()

    def accept(self, addr):
        self._control["refuse"].pop(addr.lower(), None)
        self._write_control()

    def delay_data(self, seconds, after_commit=False):
        """Holds the reply to the end of DATA back SECONDS (0: off).  With
        AFTER_COMMIT the message counts as delivered before the wait (a
        slow server that has taken it), else only once the reply is sent."""
        self._control["data_delay"] = seconds
        self._control["delay_after_commit"] = after_commit
        self._write_control()

    def temp_fail(self, reply="451 4.3.0 Try again later", at="MAIL"):
        """Answers REPLY at MAIL, RCPT or DATA (end of data) until
        temp_fail(None)."""
        self._control["temp_fail"] = reply
        self._control["temp_fail_at"] = at
        self._write_control()

    # -- records ----------------------------------------------------------

    def records(self):
        """Everything recorded so far (dicts; "data" decoded to bytes)."""
        out = []
        try:
            with open(self.records_path, encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # being written
                    obj = json.loads(line)
                    if "data" in obj:
                        obj["data"] = base64.b64decode(obj["data"])
                    out.append(obj)
        except FileNotFoundError:
            pass
        return out

    def envelopes(self, containing=None):
        """Accepted envelopes, optionally only those whose data holds the
        bytes CONTAINING."""
        if isinstance(containing, str):
            containing = containing.encode()
        return [r for r in self.records() if r["kind"] == "envelope"
                and (containing is None or containing in r["data"])]

    def aborted(self, containing=None):
        """Messages whose client went away before the server's reply."""
        if isinstance(containing, str):
            containing = containing.encode()
        return [r for r in self.records() if r["kind"] == "aborted"
                and (containing is None or containing in r["data"])]

    def auths(self):
        return [r for r in self.records() if r["kind"] == "auth"]

    def refusals(self):
        return [r for r in self.records() if r["kind"] == "refused"]

    def wait_envelopes(self, containing=None, count=1, timeout=15.0):
        """Waits until at least COUNT envelopes match; returns them (maybe
        fewer, on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            envs = self.envelopes(containing)
            if len(envs) >= count or time.monotonic() > deadline:
                return envs
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
