"""A small OAuth 2.0 authorization server on loopback, for the tests.

It runs in the test's own process (threads), so that a test plays both the
provider and the user who approves a sign-in.  Two listeners:

  HTTPS (the harness certificate), what mailfs talks to:
    GET  /.well-known/openid-configuration   issuer metadata (discovery)
    POST /device        device authorization (RFC 8628 3.1)
    POST /token         grant_type device_code (RFC 8628 3.4) and
                        refresh_token (RFC 6749 6)
  HTTP, what the mail servers talk to (Dovecot's passdb oauth2 and the
  test SMTP server):
    POST /introspect    token introspection (RFC 7662): active, username

Tokens are random strings; access tokens live LIFETIME seconds (short in
the tests), refresh tokens until revoked.  With ROTATE, every refresh
hands out a new refresh token and revokes the old one (as Microsoft
does).  Registered clients: CLIENT_ID (public) and CONFIDENTIAL_ID (its
secret CLIENT_SECRET is required).

What a test does while it runs: approve(user_code, user) or
deny(user_code) as the user; issue_refresh(user) / issue_access(user) to
hand out tokens without a sign-in; revoke_refresh(), revoke_access();
down() / up() (the HTTPS listener closes and comes back on the same
port); count(kind) and requests (every request's path and form, with
secrets replaced by "<secret>") to check what mailfs did.
"""

import http.server
import json
import secrets
import socket
import ssl
import threading
import time
import urllib.parse

CLIENT_ID = "mailfs-test-client"
CONFIDENTIAL_ID = "mailfs-test-confidential"
CLIENT_SECRET = "s3cret-of-the-client"
SCOPE = "mail"

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_SECRET_FIELDS = ("refresh_token", "client_secret", "device_code", "token",
                  "access_token")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        return {k: v[-1] for k, v in urllib.parse.parse_qs(
            raw, keep_blank_values=True).items()}

    def do_GET(self):
        srv = self.server.oauth
        srv._note(self.path, {}, self.headers)
        if self.path == "/.well-known/openid-configuration":
            return self._reply(200, srv.metadata())
        return self._reply(404, {"error": "not_found"})

    def do_POST(self):
        srv = self.server.oauth
        form = self._form()
        srv._note(self.path, form, self.headers)
        route = {"/device": srv._device, "/token": srv._token,
                 "/introspect": srv._introspect}.get(self.path)
        if route is None or (self.path == "/introspect") != self.server.plain:
            return self._reply(404, {"error": "not_found"})
        status, obj = route(form, self.headers)
        return self._reply(status, obj)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class OAuth2Server:
    def __init__(self, cert, lifetime=3600, rotate=False, interval=1,
                 user_codes=None):
        self.cert, self.key = cert
        self.lifetime = lifetime
        self.rotate = rotate
        self.interval = interval
        self.lock = threading.Lock()
        self.refresh = {}   # token -> {"user", "client"}
        self.access = {}    # token -> {"user", "exp"}
        self.devices = {}   # device_code -> dict
        self.requests = []  # (path, form with secrets hidden)
        self.counts = {}
        self.issued_at = None
        self.https = self.http = None
        self.https_port = self.http_port = None
        self._threads = []

    # ---- running --------------------------------------------------------

    def start(self):
        self.http = self._listen(0, plain=True)
        self.http_port = self.http.server_address[1]
        self.https = self._listen(0, plain=False)
        self.https_port = self.https.server_address[1]
        return self

    def _listen(self, port, plain):
        srv = _Server(("127.0.0.1", port), _Handler)
        srv.oauth = self
        srv.plain = plain
        if not plain:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        t = threading.Thread(target=srv.serve_forever, kwargs={
            "poll_interval": 0.05}, daemon=True)
        t.start()
        self._threads.append(t)
        return srv

    def down(self):
        """Closes the HTTPS listener: connections to it are refused."""
        if self.https:
            self.https.shutdown()
            self.https.server_close()
            self.https = None

    def up(self):
        """Listens again on the same HTTPS port."""
        if not self.https:
            self.https = self._listen(self.https_port, plain=False)

    def stop(self):
        self.down()
        if self.http:
            self.http.shutdown()
            self.http.server_close()
            self.http = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- what a config names -------------------------------------------

    @property
    def issuer(self):
        return "https://127.0.0.1:%d" % self.https_port

    @property
    def token_url(self):
        return self.issuer + "/token"

    @property
    def device_url(self):
        return self.issuer + "/device"

    @property
    def introspect_url(self):
        return "http://127.0.0.1:%d/introspect" % self.http_port

    def metadata(self):
        return {"issuer": self.issuer, "token_endpoint": self.token_url,
                "device_authorization_endpoint": self.device_url,
                "introspection_endpoint": self.introspect_url}

    # ---- what a test does ----------------------------------------------

    def issue_refresh(self, user, client=CLIENT_ID):
        rt = "rt-" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh[rt] = {"user": user, "client": client}
        return rt

    def issue_access(self, user, lifetime=None):
        at = "at-" + secrets.token_urlsafe(24)
        life = self.lifetime if lifetime is None else lifetime
        with self.lock:
            self.access[at] = {"user": user, "exp": time.time() + life}
        return at

    def revoke_refresh(self, token=None):
        with self.lock:
            if token is None:
                self.refresh.clear()
            else:
                self.refresh.pop(token, None)

    def revoke_access(self, token=None):
        with self.lock:
            if token is None:
                self.access.clear()
            else:
                self.access.pop(token, None)

    def pending_codes(self):
        """The user codes of device sign-ins waiting for the user."""
        with self.lock:
            return [d["user_code"] for d in self.devices.values()
                    if not d["user"] and not d["denied"]]

    def approve(self, user_code, user):
        return self._decide(user_code, user=user)

    def deny(self, user_code):
        return self._decide(user_code, denied=True)

    def _decide(self, user_code, user=None, denied=False):
        with self.lock:
            for d in self.devices.values():
                if d["user_code"] == user_code:
                    d["user"] = user
                    d["denied"] = denied
                    return True
        return False

    def count(self, kind):
        """How many times KIND happened: "device", "poll", "refresh",
        "refresh_refused", "introspect", "introspect_active", "issued"."""
        with self.lock:
            return self.counts.get(kind, 0)

    def live_refresh_tokens(self):
        with self.lock:
            return list(self.refresh)

    def live_access_tokens(self):
        """The access tokens that have not expired nor been revoked."""
        now = time.time()
        with self.lock:
            return [t for t, a in self.access.items() if a["exp"] > now]

    def last_issued(self):
        """When (epoch seconds) the token endpoint last handed out an
        access token, or None."""
        with self.lock:
            return self.issued_at

    # ---- endpoints -----------------------------------------------------

    def _note(self, path, form, headers):
        hidden = {k: ("<secret>" if k in _SECRET_FIELDS else v)
                  for k, v in form.items()}
        with self.lock:
            self.requests.append((path, hidden))

    def _bump(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _client_ok(self, form, headers):
        client = form.get("client_id")
        if client == CLIENT_ID:
            return True
        return client == CONFIDENTIAL_ID and \
            form.get("client_secret") == CLIENT_SECRET

    def _device(self, form, headers):
        if not self._client_ok(form, headers):
            return 401, {"error": "invalid_client"}
        code = "dc-" + secrets.token_urlsafe(16)
        user_code = "%04d-%04d" % (secrets.randbelow(10000),
                                   secrets.randbelow(10000))
        with self.lock:
            self._bump("device")
            self.devices[code] = {"user_code": user_code, "user": None,
                                  "denied": False, "client":
                                  form.get("client_id"),
                                  "scope": form.get("scope"),
                                  "exp": time.time() + 600}
        return 200, {"device_code": code, "user_code": user_code,
                     "verification_uri": self.issuer + "/activate",
                     "verification_uri_complete":
                         self.issuer + "/activate?user_code=" + user_code,
                     "expires_in": 600, "interval": self.interval}

    def _tokens_for(self, user, client):
        """A new access token (and refresh token); under the lock."""
        at = "at-" + secrets.token_urlsafe(24)
        self.issued_at = time.time()
        self.access[at] = {"user": user, "exp": self.issued_at + self.lifetime}
        self._bump("issued")
        return {"access_token": at, "token_type": "Bearer",
                "expires_in": self.lifetime, "scope": SCOPE}

    def _token(self, form, headers):
        if not self._client_ok(form, headers):
            return 401, {"error": "invalid_client",
                         "error_description": "unknown client"}
        grant = form.get("grant_type")
        with self.lock:
            if grant == DEVICE_GRANT:
                return self._device_poll(form)
            if grant == "refresh_token":
                return self._refresh(form)
        return 400, {"error": "unsupported_grant_type"}

    def _device_poll(self, form):
        self._bump("poll")
        d = self.devices.get(form.get("device_code"))
        if d is None or d["client"] != form.get("client_id"):
            return 400, {"error": "invalid_grant"}
        if d["denied"]:
            return 400, {"error": "access_denied",
                         "error_description": "the user said no"}
        if time.time() > d["exp"]:
            return 400, {"error": "expired_token"}
        if not d["user"]:
            return 400, {"error": "authorization_pending"}
        del self.devices[form["device_code"]]
        out = self._tokens_for(d["user"], d["client"])
        rt = "rt-" + secrets.token_urlsafe(24)
        self.refresh[rt] = {"user": d["user"], "client": d["client"]}
        out["refresh_token"] = rt
        return 200, out

    def _refresh(self, form):
        self._bump("refresh")
        rt = form.get("refresh_token")
        grant = self.refresh.get(rt)
        if grant is None or grant["client"] != form.get("client_id"):
            self._bump("refresh_refused")
            return 400, {"error": "invalid_grant",
                         "error_description": "Token has been expired or "
                                              "revoked."}
        out = self._tokens_for(grant["user"], grant["client"])
        if self.rotate:
            del self.refresh[rt]
            new = "rt-" + secrets.token_urlsafe(24)
            self.refresh[new] = grant
            out["refresh_token"] = new
        return 200, out

    def _introspect(self, form, headers):
        with self.lock:
            self._bump("introspect")
            a = self.access.get(form.get("token"))
            if a is None or time.time() >= a["exp"]:
                return 200, {"active": False}
            self._bump("introspect_active")
            return 200, {"active": True, "username": a["user"],
                         "scope": SCOPE, "exp": int(a["exp"])}

    def introspect(self, token):
        """What the mail servers are told about TOKEN (the SMTP server
        asks over HTTP; this is the same answer in-process)."""
        return self._introspect({"token": token}, {})[1]
