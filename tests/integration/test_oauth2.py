"""OAuth 2.0 sign-in: XOAUTH2 and OAUTHBEARER against a real Dovecot whose
passdb oauth2 checks tokens at a small OAuth 2.0 server of the tests
(oauth2server.py: device code, token and introspection endpoints on
loopback, tokens of a few seconds where a test needs them), and against
the test SMTP server, which checks the same tokens.

Mounts of IMAP and POP3 accounts and sending through the outbox, with each
mechanism and each token source (the refresh token in its file, kept by a
command, or an access token from oauth2_token_command); the access token
expiring while mounted; a token the server refuses while mailfs still
trusts it; a revoked refresh token; the token endpoint down; `mailfs
login` driven end to end, the test playing the user who approves the
code.  What happened is checked with the servers' own records (Dovecot's
log, the OAuth server's counts, the SMTP server's records) and an
independent imaplib client."""

import os
import re
import select
import subprocess
import time
import unittest

import harness
import oauth2server
from harness import Dovecot, Mailfs, ServerView
from oauth2server import OAuth2Server
from smtpserver import SmtpServer

RUN = "%d-%d" % (os.getpid(), int(time.time()))
N_MESSAGES = 8
# One pooled session: after the server restarts, the one request that
# finds it dead replaces it and goes on (with more, a background refresh
# meeting another dead one would put the account offline for a moment).
ONE_SESSION = {"max_connections": 1}
_module = {}


def message(i):
    return ("From: Bob <bob@example.com>\r\nTo: alice@example.com\r\n"
            "Subject: oauth %d %s\r\n\r\nbody %d of %s\r\n"
            % (i, RUN, i, RUN)).encode()


def setUpModule():
    harness.require_mailfs()
    work = harness.make_workdir("mailfs-oauth2-")
    unittest.addModuleCleanup(harness.remove_workdir, work)
    cert = harness.make_cert(work, "server")
    oauth = OAuth2Server(cert).start()
    unittest.addModuleCleanup(oauth.stop)
    dovecot = Dovecot(work, cert=cert, oauth2=oauth.introspect_url).start()
    unittest.addModuleCleanup(dovecot.stop)
    view = ServerView(dovecot)
    for i in range(N_MESSAGES):
        view.append("INBOX", message(i))
    # where the built-in client keeps refresh tokens
    data = os.path.join(work, "data")
    os.environ["XDG_DATA_HOME"] = data
    _module.update(work=work, cert=cert, oauth=oauth, dovecot=dovecot,
                   view=view, data=data)


def mailfs(*args, timeout=60):
    return harness.run([harness.mailfs_bin()] + list(args), timeout=timeout)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class OAuthTestBase(unittest.TestCase):

    def setUp(self):
        self.work = _module["work"]
        self.cert = _module["cert"]
        self.oauth = _module["oauth"]
        self.dovecot = _module["dovecot"]
        self.view = _module["view"]
        self.oauth.lifetime = 3600
        self.oauth.up()
        self.addCleanup(self.oauth.up)
        self.account = re.sub(r"[^A-Za-z0-9]", "", self._testMethodName)
        self.secrets = []  # every token handed to this test's mailfs

    # -- config and mounts ----------------------------------------------------

    def refresh_file(self, account=None):
        return os.path.join(_module["data"], "mailfs",
                            (account or self.account) + ".refresh-token")

    def write_private(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        return path

    def store_refresh(self):
        """A new refresh token for alice in this test's token file."""
        rt = self.oauth.issue_refresh("alice")
        self.secrets.append(rt)
        self.write_private(self.refresh_file(), rt)
        return rt

    def source_keys(self, mfs, source):
        """The config keys of token SOURCE: "file" (the built-in client,
        the refresh token in its file), "issuer" (the same, endpoints
        found from the issuer), "store" (the refresh token kept by
        oauth2_refresh_token_command), "command" (oauth2_token_command)."""
        client = {"oauth2_client_id": oauth2server.CLIENT_ID}
        if source in ("file", "store"):
            client.update(oauth2_token_url=self.oauth.token_url,
                          oauth2_device_url=self.oauth.device_url)
        if source == "issuer":
            client["oauth2_issuer"] = self.oauth.issuer
        if source in ("file", "issuer"):
            self.store_refresh()
        if source == "store":
            rt = self.oauth.issue_refresh("alice")
            self.secrets.append(rt)
            kept = self.write_private(os.path.join(mfs.dir, "kept"), rt)
            client["oauth2_refresh_token_command"] = (
                'case "$1" in store) cat > %s ;; *) cat %s ;; esac'
                % (kept, kept))
        if source != "command":
            return client
        at = self.oauth.issue_access("alice")
        self.secrets.append(at)
        tok = self.write_private(os.path.join(mfs.dir, "token"), at)
        return {"oauth2_token_command": "cat " + tok}

    def new_mount(self, source="file", auth=None, pop3=False, smtp=None,
                  mount=True, extra=None, name=None):
        mfs = Mailfs(self.work, name or "mfs-" + self._testMethodName,
                     account=self.account)
        self.addCleanup(mfs.cleanup)
        keys = {"user": "alice", "ca_file": self.cert[0],
                "cache_dir": mfs.cache_dir, "timeout": 5,
                "refresh_interval": 1, "auth": auth}
        if pop3:
            keys["pop3"] = self.dovecot.url("pop3s")
        else:
            keys["imap"] = self.dovecot.url("imaps")
        if smtp:
            keys.update(smtp=smtp.url, **{"from": "alice@example.com"})
        keys.update(self.source_keys(mfs, source))
        keys.update(extra or {})
        harness.write_config(mfs.config, {self.account: keys})
        if mount:
            harness.mount_watched(self, mfs, 120)
        return mfs

    def new_smtp(self):
        s = SmtpServer(self.work, self.cert, "starttls",
                       name="smtp-" + self._testMethodName,
                       oauth2=self.oauth.introspect_url)
        self.addCleanup(s.stop)
        return s.start()

    # -- what mailfs shows ------------------------------------------------------

    def status(self, mfs):
        text = read(mfs.path(".mailfs", "status")).decode()
        return dict(l.partition(": ")[::2] for l in text.splitlines())

    def log(self, mfs):
        return read(mfs.path(".mailfs", "log")).decode("utf-8", "replace")

    def ctl(self, mfs, command):
        with open(mfs.path(".mailfs", "ctl"), "w") as f:
            f.write(command + "\n")

    def wait_state(self, mfs, state, timeout=20):
        st = harness.wait_until(
            lambda: (lambda s: s if s["state"] == state else None)(
                self.status(mfs)), timeout)
        self.assertTrue(st, "not %s within %d s: %r"
                        % (state, timeout, self.status(mfs)))
        return st

    def names(self, mfs):
        return harness.message_names(mfs.path("INBOX"))

    def assert_inbox_as_server(self, mfs, then=None):
        """Every message of INBOX reads back as the server has it; THEN is
        called after the reads, before the server is asked."""
        names = self.names(mfs)
        got = {uid: read(mfs.path("INBOX", n)) for uid, n in names.items()}
        if then:
            then()
        server = self.view.messages("INBOX")
        self.assertEqual(sorted(got), sorted(server), names)
        for uid, msg in server.items():
            self.assertEqual(got[uid], msg.body)

    def read_some(self, mfs, count=1):
        """Reads COUNT messages of INBOX not read before through MFS."""
        done = getattr(mfs, "read_uids", set())
        todo = [u for u in sorted(self.view.messages("INBOX"))
                if u not in done][:count]
        self.assertTrue(todo, "no message left unread")
        for uid in todo:
            self.assertIn(b"body", read(mfs.message("INBOX", uid)))
        mfs.read_uids = done | set(todo)

    # -- the servers ---------------------------------------------------------

    def mark(self):
        """What Dovecot has logged so far (for new_lines)."""
        return frozenset(self.dovecot.log().splitlines())

    def new_lines(self, since=frozenset(), service="imap"):
        """The lines of SERVICE's login process logged after SINCE."""
        return [l for l in self.dovecot.log().splitlines()
                if l not in since and "%s-login:" % service in l]

    def logins(self, method, since=frozenset(), service="imap"):
        """Dovecot's successful logins of alice with METHOD."""
        return [l for l in self.new_lines(since, service)
                if "Login: user=<alice>" in l and "method=%s," % method in l]

    def failed_logins(self, since=frozenset()):
        return [l for l in self.new_lines(since)
                if "auth failed" in l and "user=<alice>" in l]

    def kick(self):
        """Dovecot stops and starts again: every session of the mount is
        gone, so the next request logs in anew (a mount made with
        ONE_SESSION: the request that finds its one pooled session dead
        replaces it).  Returns a mark()."""
        since = self.mark()
        self.dovecot.stop()
        self.dovecot.restart()
        return since

    def assert_no_secrets(self, mfs, *also):
        """No token handed out in this test is in the cache or in the
        daemon's argv."""
        tokens = [t.encode() for t in self.secrets + list(also)]
        for root, _, files in os.walk(mfs.cache_dir):
            for name in files:
                try:
                    data = read(os.path.join(root, name))
                except OSError:
                    continue
                for t in tokens:
                    self.assertNotIn(t, data, os.path.join(root, name))
        for pid in mfs.daemons():
            argv = b"\0".join(harness._cmdline(pid))
            for t in tokens:
                self.assertNotIn(t, argv)


class ImapLoginTest(OAuthTestBase):
    """An IMAP mount with each mechanism and each token source; Dovecot
    logs which mechanism took the token."""

    def check_mount(self, source, auth, method):
        since = self.mark()
        mfs = self.new_mount(source, auth=auth)
        # mailfs's logins, before the independent client logs in
        self.assert_inbox_as_server(mfs, lambda: self.check_logins(since,
                                                                   method))
        self.assertEqual(self.status(mfs)["state"], "online")
        self.assert_no_secrets(mfs)
        return mfs

    def check_logins(self, since, method):
        self.assertTrue(self.logins(method, since), self.new_lines(since))
        for other in ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"):
            if other != method:
                self.assertFalse(self.logins(other, since), other)
        self.assertFalse(self.failed_logins(since))

    def test_xoauth2_refresh_token_file(self):
        before = self.oauth.count("refresh")
        self.check_mount("file", "xoauth2", "XOAUTH2")
        self.assertGreaterEqual(self.oauth.count("refresh"), before + 1)

    def test_oauthbearer_by_default_endpoints_from_issuer(self):
        self.check_mount("issuer", None, "OAUTHBEARER")
        paths = [p for p, _ in self.oauth.requests]
        self.assertIn("/.well-known/openid-configuration", paths)

    def test_refresh_token_kept_by_command(self):
        self.check_mount("store", "xoauth2", "XOAUTH2")

    def test_xoauth2_token_command(self):
        before = self.oauth.count("refresh")
        self.check_mount("command", "xoauth2", "XOAUTH2")
        self.assertEqual(self.oauth.count("refresh"), before)

    def test_oauthbearer_token_command(self):
        self.check_mount("command", "oauthbearer", "OAUTHBEARER")

    def test_sync_with_tokens(self):
        """mailfs sync signs in the same way, from its own process."""
        mfs = self.new_mount("file", mount=False)
        since = self.mark()
        res = mailfs("sync", "--config", mfs.config, "--account",
                     self.account)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("%d messages fetched" % N_MESSAGES, res.stdout)
        self.assertTrue(self.logins("OAUTHBEARER", since))
        self.assert_no_secrets(mfs)

    def test_secrets_only_in_post_bodies(self):
        """The token endpoint gets the refresh token in the body of a
        POST, never in its URL; the --debug trace redacts the login and
        holds no token."""
        mfs = self.new_mount("file", auth="xoauth2", mount=False)
        trace = os.path.join(mfs.dir, "trace")
        with open(trace, "wb") as out:
            p = subprocess.Popen(
                [harness.mailfs_bin(), "mount", "-f", "--debug", "--config",
                 mfs.config, "--account", self.account, mfs.mountpoint],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.assertTrue(harness.wait_until(
            lambda: harness.is_mounted(mfs.mountpoint), 20))
        self.read_some(mfs)
        self.assertEqual(mfs.umount().returncode, 0)
        p.wait(20)
        for path, form in self.oauth.requests:
            self.assertNotIn("?", path)
        text = read(trace).decode("utf-8", "replace")
        self.assertIn("A1 OK", text)  # the login is traced...
        self.assertIn(" C: [redacted]", text)  # ...but what it sent is not
        for t in self.secrets + self.oauth.live_access_tokens():
            self.assertNotIn(t, text)


class RefusedTokenTest(OAuthTestBase):
    """What a server says when it refuses a token is one clear line."""

    def check_refused(self, auth, pop3=False):
        mfs = self.new_mount("command", auth=auth, pop3=pop3, mount=False)
        self.oauth.revoke_access()
        res = mfs.mount()
        self.assertNotEqual(res.returncode, 0, res)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, res)
        self.assertIn("'%s'" % self.account, lines[0])
        self.assertIn("OAuth error: invalid or expired token", lines[0])
        for t in self.secrets:
            self.assertNotIn(t, res.stderr)
        return lines[0]

    def test_imap_xoauth2_refused(self):
        line = self.check_refused("xoauth2")
        self.assertIn("(status 401, scope mail)", line)

    def test_pop3_oauthbearer_refused(self):
        line = self.check_refused("oauthbearer", pop3=True)
        self.assertIn("(status invalid_token)", line)


class Pop3LoginTest(OAuthTestBase):

    def check_mount(self, source, auth, method):
        since = self.mark()
        mfs = self.new_mount(source, auth=auth, pop3=True)
        def names():  # POP3 names: N-UIDL.eml
            return [n for n in os.listdir(mfs.path("INBOX"))
                    if n.endswith(".eml")]
        harness.wait_until(lambda: len(names()) >= N_MESSAGES, 20)
        self.assertEqual(len(names()), N_MESSAGES, names())
        bodies = sorted(read(mfs.path("INBOX", n)) for n in names())
        server = sorted(m.body for m in self.view.messages("INBOX").values())
        self.assertEqual(bodies, server)
        lines = [l for l in self.new_lines(since, "pop3")
                 if "Login: user=<alice>" in l]
        self.assertTrue(lines)
        self.assertEqual(lines, self.logins(method, since, "pop3"))
        self.assert_no_secrets(mfs)

    def test_pop3_xoauth2_refresh_token_file(self):
        self.check_mount("file", "xoauth2", "XOAUTH2")

    def test_pop3_oauthbearer_token_command(self):
        self.check_mount("command", None, "OAUTHBEARER")

    def test_pop3_xoauth2_refresh_token_kept_by_command(self):
        self.check_mount("store", "xoauth2", "XOAUTH2")


class OutboxTest(OAuthTestBase):
    """Sending through the outbox logs in to SMTP with the same tokens."""

    def check_send(self, source, auth, method):
        smtp = self.new_smtp()
        mfs = self.new_mount(source, auth=auth, smtp=smtp)
        subject = "sent %s %s" % (self._testMethodName, RUN)
        with open(mfs.path("outbox", "msg.eml"), "wb") as f:
            f.write(("From: alice@example.com\nTo: bob@example.com\n"
                     "Subject: %s\n\nhello\n" % subject).encode())
        got = harness.wait_until(lambda: [e for e in smtp.envelopes()
                                          if subject.encode() in e["data"]],
                                 30)
        self.assertTrue(got, smtp.records())
        auths = [r for r in smtp.records() if r["kind"] == "auth"]
        self.assertTrue(auths)
        self.assertTrue(all(a["mechanism"] == method and a["ok"] and
                            a["user"] == "alice" for a in auths), auths)
        self.assertEqual(got[0]["user"], "alice")
        self.assert_no_secrets(mfs)

    def test_send_oauthbearer_refresh_token_file(self):
        self.check_send("file", None, "OAUTHBEARER")

    def test_send_xoauth2_token_command(self):
        self.check_send("command", "xoauth2", "XOAUTH2")

    def test_send_xoauth2_refresh_token_kept_by_command(self):
        self.check_send("store", "xoauth2", "XOAUTH2")


class RenewalTest(OAuthTestBase):
    """The access token is renewed before it expires, and once more when
    the server refuses it; nobody reading the mount notices."""

    def test_access_token_expires_while_mounted(self):
        self.oauth.lifetime = 3
        mfs = self.new_mount("file", auth="xoauth2", extra=ONE_SESSION)
        issued = self.oauth.count("issued")
        self.read_some(mfs)
        # the token of the mount is gone by now, and so are its sessions
        harness.wait_until(lambda: self.oauth.live_access_tokens() == [], 10)
        since = self.kick()
        self.read_some(mfs, 2)
        self.assertGreater(self.oauth.count("issued"), issued)
        self.assertTrue(self.logins("XOAUTH2", since))
        # mailfs never offered a token that had expired
        self.assertFalse(self.failed_logins(since), self.new_lines(since))
        st = self.status(mfs)
        self.assertEqual(st["state"], "online")
        self.assertEqual(st["last_error"], "none")

    def test_token_refused_by_server_is_renewed_once(self):
        mfs = self.new_mount("file", auth="oauthbearer", extra=ONE_SESSION)
        self.read_some(mfs)
        refreshes = self.oauth.count("refresh")
        self.oauth.revoke_access()  # mailfs still thinks it good
        since = self.kick()
        self.read_some(mfs, 2)
        self.assertTrue(self.failed_logins(since))
        self.assertTrue(self.logins("OAUTHBEARER", since))
        self.assertGreaterEqual(self.oauth.count("refresh"), refreshes + 1)
        self.assertEqual(self.status(mfs)["state"], "online")


class RevokedRefreshTokenTest(OAuthTestBase):

    def test_revoked_refresh_token_offline_then_login_again(self):
        mfs = self.new_mount("file", auth="xoauth2", extra=ONE_SESSION)
        self.read_some(mfs)
        self.oauth.revoke_refresh()
        self.oauth.revoke_access()
        self.kick()
        with self.assertRaises(OSError):
            self.read_some(mfs)
        hint = "run `mailfs login %s`" % self.account
        st = self.wait_state(mfs, "offline")
        self.assertIn(hint, st["last_error"])
        self.assertIn("invalid_grant", st["last_error"])
        self.assertIn(hint, self.log(mfs))
        # a refused refresh token is not sent again and again
        refused = self.oauth.count("refresh_refused")
        self.ctl(mfs, "refresh")
        time.sleep(0.5)
        self.ctl(mfs, "refresh")
        time.sleep(0.5)
        self.assertEqual(self.oauth.count("refresh_refused"), refused)
        self.assertEqual(self.status(mfs)["state"], "offline")
        # the mount's error line says it too
        self.assertEqual(mfs.umount().returncode, 0)
        self.assertTrue(mfs.wait_daemons_gone(10))
        res = mfs.mount()
        self.assertEqual(res.returncode, 77, res)  # EX_NOPERM
        self.assertIn(hint, res.stderr)
        self.assertEqual(len(harness.error_lines(res)), 1, res)
        # signed in again (as `mailfs login` would store it): mounts
        self.store_refresh()
        harness.mount_watched(self, mfs, 120)
        self.read_some(mfs)
        self.assertEqual(self.status(mfs)["state"], "online")

    def test_login_again_while_mounted(self):
        mfs = self.new_mount("file", auth="xoauth2", extra=ONE_SESSION)
        self.read_some(mfs)
        self.oauth.revoke_refresh()
        self.oauth.revoke_access()
        self.kick()
        with self.assertRaises(OSError):
            self.read_some(mfs)
        self.wait_state(mfs, "offline")
        self.store_refresh()
        self.ctl(mfs, "refresh")
        self.wait_state(mfs, "online")
        self.read_some(mfs)


class EndpointDownTest(OAuthTestBase):

    def test_token_endpoint_down(self):
        """The access token in hand is used while it lasts, then the
        account goes offline saying why, and comes back with the
        endpoint."""
        self.oauth.lifetime = 5
        mfs = self.new_mount("file", auth="xoauth2", extra=ONE_SESSION)
        self.read_some(mfs)
        issued_at = self.oauth.last_issued()
        self.oauth.down()
        # within half its life of its end: renewal is due, and fails
        harness.wait_until(lambda: time.time() > issued_at + 2.6, 5, 0.05)
        since = self.kick()
        self.read_some(mfs)
        self.assertLess(time.time(), issued_at + 5,
                        "too slow to test the token in hand")
        self.assertTrue(self.logins("XOAUTH2", since))
        self.assertIn("used while it lasts", self.log(mfs))
        # once it has expired, the account is offline with the reason
        harness.wait_until(lambda: time.time() > issued_at + 5.1, 5, 0.05)
        self.kick()
        with self.assertRaises(OSError):
            self.read_some(mfs)
        st = self.wait_state(mfs, "offline")
        self.assertIn("cannot renew the access token", st["last_error"])
        self.assertIn(self.oauth.token_url, st["last_error"])
        self.assertIn("cannot renew the access token", self.log(mfs))
        self.oauth.up()
        self.ctl(mfs, "refresh")
        self.wait_state(mfs, "online")
        self.read_some(mfs)


class LoginCommandTest(OAuthTestBase):
    """`mailfs login`: the test plays the user who opens the URL and
    enters the code."""

    def login(self, mfs, decide):
        """Runs `mailfs login`, waits for the code it shows and hands it
        to DECIDE (the user); returns (exit status, stdout, stderr)."""
        p = subprocess.Popen(
            [harness.mailfs_bin(), "login", "--config", mfs.config,
             "--account", self.account], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        out = b""
        deadline = time.monotonic() + 20
        code = None
        while code is None and time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
            m = re.search(rb"enter the code\s+(\S+)", out)
            code = m.group(1).decode() if m else None
        self.assertIsNotNone(code, out)
        decide(code)
        rest, err = p.communicate(timeout=30)
        return p.returncode, (out + rest).decode(), err.decode()

    def test_login_then_mount(self):
        mfs = self.new_mount("issuer", mount=False)
        os.unlink(self.refresh_file())
        res = mfs.mount()
        self.assertEqual(res.returncode, 77, res)
        self.assertIn("run `mailfs login %s`" % self.account, res.stderr)
        rc, out, err = self.login(
            mfs, lambda code: self.assertTrue(self.oauth.approve(code,
                                                                 "alice")))
        self.assertEqual(rc, 0, (out, err))
        self.assertIn(self.oauth.issuer + "/activate", out)
        self.assertIn("Signed in", out)
        self.assertIn("can be mounted", out)
        st = os.stat(self.refresh_file())
        self.assertEqual(st.st_mode & 0o777, 0o600)
        kept = read(self.refresh_file()).decode().strip()
        self.assertIn(kept, self.oauth.live_refresh_tokens())
        for t in [kept] + self.oauth.live_access_tokens():
            self.assertNotIn(t, out + err)
        harness.mount_watched(self, mfs, 120)
        self.assert_inbox_as_server(mfs)
        self.assert_no_secrets(mfs, kept)

    def test_login_denied(self):
        mfs = self.new_mount("file", mount=False)
        os.unlink(self.refresh_file())
        rc, out, err = self.login(mfs, self.oauth.deny)
        self.assertEqual(rc, 77, (out, err))  # EX_NOPERM
        self.assertIn("access_denied", err)
        self.assertFalse(os.path.exists(self.refresh_file()))

    def test_login_with_token_command_refused(self):
        mfs = self.new_mount("command", mount=False)
        res = mailfs("login", "--config", mfs.config, "--account",
                     self.account)
        self.assertEqual(res.returncode, 78, res)  # EX_CONFIG
        self.assertIn("oauth2_token_command", res.stderr)


if __name__ == "__main__":
    unittest.main()
