"""Real tools on a real mount, run by the user who mounted it (issue 12).

cp, cp -p, cp -a, install, mv, rsync, tar, Python's shutil, vim, nano,
printf >>, touch, rm, mkdir/rmdir, setfattr, chmod/chown/touch -d,
notmuch, and the outbox, each run as the unprivileged user the suite runs
as (scripts/as-test-user.sh), on a default_permissions mount made by that
user.  Every outcome is checked against the server with the independent
client (harness.ServerView): exactly the messages meant, in the folder
meant, exit codes 0, nothing lost, nothing extra anywhere in the account.

One Dovecot and one mount (with an SMTP server) serve the module; each
test works in folders of its own, made and seeded before the mount
(FOLDERS), so no test waits for the tree to refresh.  A test whose mount
stops answering is failed by a harness.Watchdog (the mount is made again
for the next test), and every tool runs under a timeout.

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_tools
"""

import calendar
import errno
import io
import os
import pty
import re
import select
import shutil
import stat
import subprocess
import tarfile
import threading
import time
import unittest

import harness
from harness import Mailfs, ServerView, imap_quote, mutf7_encode
from smtpserver import SmtpServer

# One tool run; a run that takes longer has hung.
TOOL_TIMEOUT = 30
# A test whose mount does not answer within this is failed, not hung.
WATCHDOG_S = 90
FROM = "Alice <alice@example.com>"
# The outbox tests' refused recipient.
BAD = "refused@example.com"
# The Dovecot user whose server folders are named like mailfs' own; its
# Maildir allows '.' in folder names.
ODD_USER = "carol"
USERS = dict(harness.USERS, **{ODD_USER: "carol-secret"})

# The folders the tests work in: name -> how many messages are seeded
# there before the mount (their UIDs start at 1 in each folder).
FOLDERS = {
    "INBOX": 1,
    "Modes": 1,
    "NamesA": 1, "NamesB": 1,
    "Cp": 0, "CpP": 0, "CpA": 0, "Install": 0, "MvIn": 0, "Shutil": 0,
    "Rsync": 0, "RsyncA": 0, "RsyncChange": 0, "Tar": 0,
    "VimNew": 0, "VimDraft": 0, "Nano": 0,
    "TwoSteps": 0, "InPlace": 3, "Overwrite": 3, "Refused": 0,
    "Scratch": 0,
    "Rm": 2, "MvFrom": 1, "MvTo": 0, "CpFrom": 1, "CpTo": 1,
    "Flags": 1, "Xattr": 1, "Attrs": 1,
    "Mtime": 1, "Notmuch": 1,
}

_module = {}


def seed_message(folder, i):
    """The I-th message seeded in FOLDER (CRLF, as a server has it)."""
    tag = "seed-%s-%d" % (folder, i)
    return ("From: Seeder <seed@example.org>\r\nTo: alice@example.com\r\n"
            "Subject: %s\r\nMessage-ID: <%s@example.org>\r\n"
            "Date: Tue, 02 Jan 2024 10:00:00 +0100\r\n\r\n"
            "old text of %s\r\n" % (tag, tag, tag)).encode()


def message(tag, body="hello\n"):
    """A message as a user writes it (LF line ends), TAG in its Subject
    and Message-ID."""
    return ("From: Writer <writer@example.org>\nTo: alice@example.com\n"
            "Subject: %s\nMessage-ID: <%s@example.org>\n\n%s"
            % (tag, tag, body)).encode()


crlf = harness.crlf
as_appended = harness.as_appended


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data, mtime=None):
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def seed_server(dovecot):
    """Creates FOLDERS on the server and appends their seeds; returns
    {folder: [uid...]}."""
    c = dovecot.client()
    uids = {}
    try:
        for folder, n in FOLDERS.items():
            name = imap_quote(mutf7_encode(folder))
            if folder != "INBOX":
                typ, data = c.create(name)
                if typ != "OK":
                    raise RuntimeError("CREATE %s: %r" % (folder, data))
            uids[folder] = []
            for i in range(n):
                typ, data = c.append(name, None, None, seed_message(folder, i))
                if typ != "OK":
                    raise RuntimeError("APPEND %s: %r" % (folder, data))
                uids[folder].append(int(re.search(
                    rb"APPENDUID \d+ (\d+)", data[0]).group(1)))
    finally:
        c.logout()
    return uids


def new_mailfs(name, url, user="alice", smtp=None, **kw):
    mfs = Mailfs(_module["work"], name)
    extra = {}
    if smtp is not None:
        extra.update(smtp=smtp.url, **{"from": FROM})
    mfs.configure(url, user=user, password=USERS[user],
                  ca_file=_module["cert"][0], timeout=5,
                  refresh_interval=1, extra=extra, **kw)
    return mfs


def mount_main():
    """(Re)mounts the module's mount; raises unless it mounted."""
    mfs = _module["mfs"]
    mfs.cleanup()
    res = mfs.mount()
    if res.returncode != 0 or not harness.is_mounted(mfs.mountpoint):
        raise RuntimeError("mount failed: %r" % res)


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot(
        "mailfs-tools-", users=USERS, fs_layout=[ODD_USER])
    smtp = SmtpServer(work, cert, "starttls", name="smtp",
                      users=USERS).start()
    unittest.addModuleCleanup(smtp.stop)
    smtp.refuse(BAD)
    _module.update(work=work, cert=cert, dovecot=dovecot, smtp=smtp,
                   view=ServerView(dovecot), uids=seed_server(dovecot))
    _module["mfs"] = new_mailfs("main", dovecot.url("imaps"), smtp=smtp)
    unittest.addModuleCleanup(_module["mfs"].cleanup)
    mount_main()


def unmount_all(path):
    """Takes every mount at PATH away (a refused mount may have stacked a
    second one on it)."""
    for _ in range(4):
        if not harness.is_mounted(path):
            return
        harness.force_unmount(path)


class ToolCase(unittest.TestCase):
    """The module's mount (self.m), a scratch directory outside it
    (self.tmp), helpers to run tools and to read the server."""

    def setUp(self):
        self.m = _module["mfs"]
        self.view = _module["view"]
        self.dovecot = _module["dovecot"]
        if not self.m.daemons() or not harness.is_mounted(self.m.mountpoint):
            mount_main()  # a watchdog took the last test's daemon
        dog = harness.Watchdog(self.m, WATCHDOG_S)
        dog.__enter__()
        self.addCleanup(dog.__exit__, None, None, None)
        self.tmp = os.path.join(_module["work"], "tmp-" + self._testMethodName)
        os.makedirs(self.tmp)
        self.tag = "%s-%d" % (self._testMethodName, int(time.time()))

    # -- tools ----------------------------------------------------------

    def run_tool(self, argv, cwd=None, env=None):
        """Runs ARGV (no stdin); returns the CompletedProcess."""
        try:
            return subprocess.run(argv, cwd=cwd, env=env, capture_output=True,
                                  stdin=subprocess.DEVNULL,
                                  timeout=TOOL_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            self.fail("%s hung (%d s): %r" % (argv, TOOL_TIMEOUT, e))

    def run_ok(self, argv, cwd=None, env=None, quiet=True):
        """run_tool; fails unless it exits 0 (and, if QUIET, says nothing
        on stderr: a warning there means a script would see a failure)."""
        p = self.run_tool(argv, cwd=cwd, env=env)
        self.assertEqual(p.returncode, 0, "%s: %r" % (argv, p))
        if quiet:
            self.assertEqual(p.stderr, b"", "%s warned: %r" % (argv, p))
        return p

    def assert_errno(self, codes, fn, *args, what=""):
        """FN(*ARGS) fails with one of the errnos CODES (an int or a
        tuple); returns the OSError."""
        codes = codes if isinstance(codes, tuple) else (codes,)
        try:
            fn(*args)
        except OSError as e:
            self.assertIn(e.errno, codes, "%s: want %s, got %s" % (
                what, [errno.errorcode[c] for c in codes], e))
            return e
        self.fail("%s: want %s, it succeeded"
                  % (what, [errno.errorcode[c] for c in codes]))

    # -- the mount ------------------------------------------------------

    def fpath(self, folder, *rest):
        return self.m.path(*folder.split("/"), *rest)

    def seeded(self, folder):
        """[(uid, path, raw)] of the messages seeded in FOLDER, as the
        mount lists them."""
        return [(uid, self.m.message(folder, uid), seed_message(folder, i))
                for i, uid in enumerate(_module["uids"][folder])]

    def names(self, folder):
        """The sorted entries of FOLDER in the mount."""
        return sorted(os.listdir(self.fpath(folder)))

    # -- the server -----------------------------------------------------

    def server(self, folder):
        """uid -> ServerMessage of FOLDER on the server."""
        return self.view.messages(mutf7_encode(folder))

    def bodies(self, folder):
        """The sorted bodies of FOLDER on the server."""
        return sorted(x.body for x in self.server(folder).values())

    def counts(self):
        """{folder: number of messages} of the whole account."""
        return {f: len(v) for f, v in self.view.snapshot()[1].items()}

    def assert_counts(self, before, **changes):
        """The account holds what it held in BEFORE (counts()) but for
        CHANGES (folder=delta; Trash counts too): nothing lost, nothing
        extra."""
        want = dict(before)
        for folder, delta in changes.items():
            want[folder] = want.get(folder, 0) + delta
        self.assertEqual(self.counts(), want, "message counts per folder")

    def with_tag(self, folder, tag):
        """The ServerMessages of FOLDER whose bytes hold TAG."""
        return [x for x in self.server(folder).values()
                if tag.encode() in x.body]

    def assert_one(self, folder, data, mtime=None):
        """FOLDER on the server holds DATA (as written: see as_appended)
        exactly once; with MTIME, its INTERNALDATE is that.  Returns the
        ServerMessage."""
        got = [x for x in self.server(folder).values()
               if as_appended(data, x.body)]
        self.assertEqual(len(got), 1, "%s holds %d copies of %r; server: %s"
                         % (folder, len(got), data[:60],
                            self.server(folder)))
        if mtime is not None:
            self.assertEqual(got[0].internaldate, int(mtime),
                             "INTERNALDATE %s, want %s" % (
                                 time.ctime(got[0].internaldate),
                                 time.ctime(mtime)))
        return got[0]

    def assert_written(self, folder, name, data, mtime=None):
        """FOLDER/NAME in the mount reads DATA byte for byte, with its size
        (and MTIME, or about now), and the server holds it once with that
        arrival date."""
        path = self.fpath(folder, name)
        self.assertTrue(os.path.exists(path), "%s/%s is gone; %s lists %s"
                        % (folder, name, folder, self.names(folder)))
        st = os.stat(path)
        self.assertEqual(read_file(path), data, "%s/%s reads other bytes"
                         % (folder, name))
        self.assertEqual(st.st_size, len(data))
        x = self.assert_one(folder, data, mtime)
        if mtime is not None:
            self.assertEqual(int(st.st_mtime), int(mtime))
            self.assertEqual(int(st.st_mtime), x.internaldate,
                             "mtime is not the arrival date")
        else:
            self.assertLess(abs(st.st_mtime - time.time()), 120,
                            "mtime %s" % time.ctime(st.st_mtime))
            self.assertLessEqual(abs(int(st.st_mtime) - x.internaldate), 2,
                                 "mtime is not the arrival date")
        return x


# --------------------------------------------------------------------------

class ModesTest(ToolCase):

    def test_folders_0755_messages_0644_owned_by_the_user(self):
        """The user who mounted owns folders (0755) and messages (0644)."""
        for path in (self.m.mountpoint, self.fpath("INBOX"),
                     self.fpath("Modes")):
            st = os.stat(path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755, path)
            self.assertEqual((st.st_uid, st.st_gid),
                             (os.getuid(), os.getgid()), path)
        (_, path, _), = self.seeded("Modes")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644, path)
        self.assertEqual((st.st_uid, st.st_gid), (os.getuid(), os.getgid()))

    def test_pop3_stays_read_only(self):
        """A POP3 mount gives nobody write permission, and refuses writes."""
        mfs = Mailfs(_module["work"], "pop3")
        self.addCleanup(mfs.cleanup)
        fd = os.open(mfs.pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(USERS["alice"] + "\n")
        harness.write_config(mfs.config, {mfs.account: {
            "pop3": self.dovecot.url("pop3s"), "user": "alice",
            "password_command": "cat " + mfs.pwfile,
            "ca_file": _module["cert"][0], "cache_dir": mfs.cache_dir,
            "timeout": 5}})
        harness.mount_watched(self, mfs, 60)
        inbox = mfs.path("INBOX")
        names = os.listdir(inbox)
        self.assertTrue(names, "the POP3 INBOX lists nothing")
        for path in (inbox, os.path.join(inbox, names[0])):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode & 0o222, 0, "%s: %o" % (path, mode))
        src = write_file(os.path.join(self.tmp, "x.eml"), message(self.tag))
        p = self.run_tool(["cp", src, inbox + "/"])
        self.assertNotEqual(p.returncode, 0, p)


class NamesTest(ToolCase):

    def test_server_names_unique_across_the_account(self):
        """UID 1 of two folders: two names "<UID>.<N>.eml", both UID 1."""
        (ua, pa, _), = self.seeded("NamesA")
        (ub, pb, _), = self.seeded("NamesB")
        self.assertEqual((ua, ub), (1, 1), "precondition: fresh folders")
        a, b = os.path.basename(pa), os.path.basename(pb)
        for name in (a, b):
            self.assertRegex(name, r"^1\.[0-9]+\.eml$")
        self.assertNotEqual(a, b, "one name in two folders")


class CopyTest(ToolCase):

    def test_cp_keeps_the_name(self):
        """cp x.eml F/: F/x.eml stays, reads as written; the server has it
        once, CRLF, arrived now."""
        data = message(self.tag)
        src = write_file(os.path.join(self.tmp, "x.eml"), data)
        before = self.counts()
        self.run_ok(["cp", src, self.fpath("Cp") + "/"])
        self.assertEqual(self.names("Cp"), ["x.eml"])
        self.assert_written("Cp", "x.eml", data)
        self.assert_counts(before, Cp=1)

    def test_cp_p_keeps_the_mtime(self):
        """cp -p: exit 0, no warning, mtime = arrival date = the source's."""
        data = message(self.tag)
        mtime = calendar.timegm((2021, 3, 4, 5, 6, 7))
        src = write_file(os.path.join(self.tmp, "p.eml"), data, mtime)
        before = self.counts()
        self.run_ok(["cp", "-p", src, self.fpath("CpP") + "/"])
        self.assert_written("CpP", "p.eml", data, mtime)
        self.assert_counts(before, CpP=1)

    def test_cp_a(self):
        """cp -a: exit 0, no warning (xattrs, ACLs, modes, times)."""
        data = message(self.tag)
        mtime = calendar.timegm((2020, 1, 2, 3, 4, 5))
        src = write_file(os.path.join(self.tmp, "a.eml"), data, mtime)
        before = self.counts()
        self.run_ok(["cp", "-a", src, self.fpath("CpA") + "/"])
        self.assert_written("CpA", "a.eml", data, mtime)
        self.assert_counts(before, CpA=1)

    def test_install_m644(self):
        """install -m 644: exit 0, mode 0644."""
        data = message(self.tag)
        src = write_file(os.path.join(self.tmp, "i.eml"), data)
        before = self.counts()
        self.run_ok(["install", "-m", "644", src,
                     self.fpath("Install", "i.eml")])
        self.assert_written("Install", "i.eml", data)
        mode = stat.S_IMODE(os.stat(self.fpath("Install", "i.eml")).st_mode)
        self.assertEqual(mode, 0o644)
        self.assert_counts(before, Install=1)

    def test_mv_from_another_file_system(self):
        """mv /tmp/x F/: exit 0, no warning, source gone, mtime kept."""
        data = message(self.tag)
        mtime = calendar.timegm((2019, 5, 6, 7, 8, 9))
        src = write_file(os.path.join(self.tmp, "m.eml"), data, mtime)
        before = self.counts()
        self.run_ok(["mv", src, self.fpath("MvIn") + "/"])
        self.assertFalse(os.path.exists(src))
        self.assert_written("MvIn", "m.eml", data, mtime)
        self.assert_counts(before, MvIn=1)

    def test_python_shutil_copy_and_copy2(self):
        """shutil.copy and shutil.copy2 into a folder do not raise."""
        d1, d2 = message(self.tag + "-copy"), message(self.tag + "-copy2")
        s1 = write_file(os.path.join(self.tmp, "s1.eml"), d1)
        s2 = write_file(os.path.join(self.tmp, "s2.eml"), d2,
                        calendar.timegm((2018, 1, 1, 0, 0, 0)))
        before = self.counts()
        dst = self.fpath("Shutil")
        self.assertEqual(shutil.copy(s1, dst), os.path.join(dst, "s1.eml"))
        self.assertEqual(shutil.copy2(s2, dst), os.path.join(dst, "s2.eml"))
        self.assertEqual(read_file(os.path.join(dst, "s1.eml")), d1)
        self.assertEqual(read_file(os.path.join(dst, "s2.eml")), d2)
        self.assert_one("Shutil", d1)
        self.assert_one("Shutil", d2)
        self.assert_counts(before, Shutil=2)


class RsyncTarTest(ToolCase):

    def source_dir(self, n=3, mtime=None):
        """A directory of N messages; returns (path, {name: bytes})."""
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        files = {"r%d.eml" % i: message("%s-%d" % (self.tag, i))
                 for i in range(n)}
        for name, data in files.items():
            write_file(os.path.join(src, name), data, mtime)
        if mtime is not None:
            os.utime(src, (mtime, mtime))
        return src, files

    def assert_landed(self, folder, files, mtime=None):
        self.assertEqual(self.names(folder), sorted(files))
        for name, data in files.items():
            self.assert_written(folder, name, data, mtime)

    def test_rsync_twice(self):
        """rsync -r src/ F/ twice: exit 0; the second run adds nothing to
        F (without -t it may copy again: what it renames onto a name
        replaces that message)."""
        src, files = self.source_dir()
        before = self.counts()
        self.run_ok(["rsync", "-r", src + "/", self.fpath("Rsync") + "/"])
        self.assert_landed("Rsync", files)
        self.assert_counts(before, Rsync=3)
        bodies = self.bodies("Rsync")
        self.run_ok(["rsync", "-r", src + "/", self.fpath("Rsync") + "/"])
        self.assertEqual(self.bodies("Rsync"), bodies)
        self.assertEqual(self.names("Rsync"), sorted(files))

    def test_rsync_a_twice(self):
        """rsync -a src/ F/ twice: exit 0 (times of F itself too); the
        second run transfers nothing and the account is unchanged."""
        mtime = calendar.timegm((2022, 2, 3, 4, 5, 6))
        src, files = self.source_dir(mtime=mtime)
        before = self.counts()
        self.run_ok(["rsync", "-a", src + "/", self.fpath("RsyncA") + "/"])
        self.assert_landed("RsyncA", files, mtime)
        self.assert_counts(before, RsyncA=3)
        before = self.counts()
        p = self.run_ok(["rsync", "-a", "--stats", src + "/",
                         self.fpath("RsyncA") + "/"])
        self.assertIn(b"Number of regular files transferred: 0", p.stdout,
                      p.stdout)
        self.assert_counts(before)

    def test_rsync_changed_content_replaces(self):
        """rsync -a of a changed file renames its temp file onto the name:
        the new content is appended, the old message goes to Trash."""
        src, files = self.source_dir(n=2)
        self.run_ok(["rsync", "-a", src + "/", self.fpath("RsyncChange") + "/"])
        old = files["r0.eml"]
        new = message(self.tag + "-changed", body="changed body\n")
        write_file(os.path.join(src, "r0.eml"), new,
                   calendar.timegm((2023, 1, 1, 0, 0, 0)))
        before = self.counts()
        self.run_ok(["rsync", "-a", src + "/", self.fpath("RsyncChange") + "/"])
        self.assertEqual(read_file(self.fpath("RsyncChange", "r0.eml")), new)
        self.assertEqual(self.bodies("RsyncChange"),
                         sorted([crlf(new), crlf(files["r1.eml"])]))
        self.assertEqual([x.body for x in self.server("Trash").values()
                          if x.body == crlf(old)], [crlf(old)])
        self.assert_counts(before, Trash=1)

    def test_tar_x_with_dot(self):
        """tar x of an archive holding ./ into F: exit 0, times kept."""
        mtime = calendar.timegm((2017, 7, 8, 9, 10, 11))
        files = {"t%d.eml" % i: message("%s-%d" % (self.tag, i))
                 for i in range(2)}
        archive = os.path.join(self.tmp, "mail.tar")
        with tarfile.open(archive, "w") as tar:
            dot = tarfile.TarInfo("./")
            dot.type, dot.mode, dot.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(dot)
            for name, data in files.items():
                info = tarfile.TarInfo("./" + name)
                info.size, info.mode, info.mtime = len(data), 0o644, mtime
                tar.addfile(info, io.BytesIO(data))
        before = self.counts()
        self.run_ok(["tar", "-x", "-f", archive, "-C", self.fpath("Tar")])
        self.assert_landed("Tar", files, mtime)
        self.assert_counts(before, Tar=2)


class EditorTest(ToolCase):

    def vim(self, *args, cwd=None):
        """vim scripted (no vimrc, no viminfo, silent Ex mode)."""
        return self.run_tool(["vim", "-u", "NONE", "-i", "NONE", "-N", "-es"]
                             + list(args), cwd=cwd)

    def test_vim_writes_a_new_file(self):
        """vim -es writes a new message: exactly it is appended (swap
        files and 4913 never)."""
        before = self.counts()
        p = self.vim("-c", "call setline(1, ['From: vim@example.org', "
                     "'Subject: %s', '', 'typed in vim'])" % self.tag,
                     "-c", "wq", "new.eml", cwd=self.fpath("VimNew"))
        self.assertEqual(p.returncode, 0, p)
        data = ("From: vim@example.org\nSubject: %s\n\ntyped in vim\n"
                % self.tag).encode()
        self.assertEqual(self.names("VimNew"), ["new.eml"])
        self.assert_written("VimNew", "new.eml", data)
        self.assert_counts(before, VimNew=1)

    def test_vim_w_on_an_existing_draft_replaces_it(self):
        """:w on a draft written through the mount: its name holds the
        edit, the server the edit once, the old draft is in Trash;
        nothing else is appended."""
        old = message(self.tag, body="old text\n")
        src = write_file(os.path.join(self.tmp, "draft.eml"), old)
        self.run_ok(["cp", src, self.fpath("VimDraft") + "/"])
        self.assert_one("VimDraft", old)
        before = self.counts()
        p = self.vim("-c", "%s/old text/new text/", "-c", "wq", "draft.eml",
                     cwd=self.fpath("VimDraft"))
        self.assertEqual(p.returncode, 0, p)
        new = old.replace(b"old text", b"new text")
        self.assertEqual(self.names("VimDraft"), ["draft.eml"])
        self.assertEqual(read_file(self.fpath("VimDraft", "draft.eml")), new)
        self.assertEqual(len(self.server("VimDraft")), 1)
        self.assert_one("VimDraft", new)
        self.assertEqual(len([x for x in self.server("Trash").values()
                              if as_appended(old, x.body)]), 1,
                         "old draft not in Trash")
        self.assert_counts(before, Trash=1)

    def test_nano_writes_a_new_file(self):
        """nano, driven through a terminal, writes a new message."""
        if not shutil.which("nano"):
            self.skipTest("nano is not installed")
        before = self.counts()
        # nano ends the last line with a newline itself.
        text = "From: nano@example.org\rSubject: %s\r\rtyped in nano" % self.tag
        self.drive(["nano", "--ignorercfiles", "n.eml"], self.fpath("Nano"),
                   [text, "\x0f", "\r", "\x18"])
        data = ("From: nano@example.org\nSubject: %s\n\ntyped in nano\n"
                % self.tag).encode()
        self.assertEqual(self.names("Nano"), ["n.eml"])
        self.assert_written("Nano", "n.eml", data)
        self.assert_counts(before, Nano=1)

    def drive(self, argv, cwd, keys):
        """Runs ARGV on a terminal, types KEYS (one string each, after the
        screen settles) and waits for it to exit 0."""
        master, slave = pty.openpty()
        env = dict(os.environ, TERM="xterm")
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave,
                             stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        screen = []

        def drain():
            while True:
                try:
                    r, _, _ = select.select([master], [], [], 0.5)
                    if r:
                        screen.append(os.read(master, 4096))
                    elif p.poll() is not None:
                        return
                except OSError:
                    return
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        try:
            harness.wait_until(lambda: b"".join(screen), 10)
            for k in keys:
                time.sleep(0.3)
                os.write(master, k.encode())
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("%s did not exit; screen: %r"
                      % (argv[0], b"".join(screen)[-800:]))
        finally:
            t.join(5)
            os.close(master)
        self.assertEqual(rc, 0, b"".join(screen)[-800:])


class WriteRulesTest(ToolCase):

    def test_printf_appended_twice_is_one_message(self):
        """printf >> f twice: one message on the server, both parts."""
        before = self.counts()
        script = ("printf 'From: a@example.org\\nSubject: two steps %s\\n\\n' "
                  ">> f; printf 'body\\n' >> f" % self.tag)
        self.run_ok(["sh", "-c", script], cwd=self.fpath("TwoSteps"))
        data = ("From: a@example.org\nSubject: two steps %s\n\nbody\n"
                % self.tag).encode()
        self.assertEqual(read_file(self.fpath("TwoSteps", "f")), data)
        everywhere = [x for msgs in self.view.snapshot()[1].values()
                      for x in msgs.values() if self.tag.encode() in x.body]
        self.assertEqual(len(everywhere), 1, "the account holds %s"
                         % everywhere)
        self.assertTrue(as_appended(data, everywhere[0].body),
                        everywhere[0].body)
        self.assert_counts(before, TwoSteps=1)

    def test_writes_over_a_server_message_replace_it(self):
        """A server message opened for writing without O_TRUNC holds its
        bytes: closed unchanged, nothing changes; written (>>, or vim 9,
        which writes over the file and then truncates it), what it holds
        at close replaces it.  The old message goes to Trash after vim's
        change; after >> it goes for good, since the new one holds every
        byte of it."""
        (_, p0, r0), (_, p1, r1), (_, p2, r2) = self.seeded("InPlace")
        before = self.counts()
        for how in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND):
            os.close(os.open(p0, how))
        self.assertEqual(read_file(p0), r0)
        self.assert_counts(before)
        self.run_ok(["sh", "-c", "echo more >> \"$1\"", "sh", p1])
        p = self.run_tool(["vim", "-u", "NONE", "-i", "NONE", "-N", "-es",
                           "-c", "%s/old text/new text/", "-c", "wq",
                           os.path.basename(p2)], cwd=os.path.dirname(p2))
        self.assertEqual(p.returncode, 0, p)
        new1 = r1 + b"more\n"
        new2 = r2.replace(b"old text", b"new text")
        self.assertEqual(read_file(p1), new1)
        self.assertEqual(read_file(p2), new2)
        self.assertEqual(self.bodies("InPlace"),
                         sorted([r0, crlf(new1), new2]))
        trash = [x.body for x in self.server("Trash").values()]
        self.assertEqual(trash.count(r2), 1, "vim's old message not in Trash")
        self.assertEqual(trash.count(r1), 0, "the message >> extended is in "
                         "Trash as well as in its new version")
        self.assert_counts(before, Trash=1)

    def test_overwriting_a_name_replaces_the_message(self):
        """cp new old, printf > old (O_TRUNC) and sed -i (rename onto):
        the name holds the new content, the server the new content once,
        the old message is in Trash."""
        seeded = self.seeded("Overwrite")
        new = [message("%s-%d" % (self.tag, i)) for i in range(3)]
        src0 = write_file(os.path.join(self.tmp, "new0.eml"), new[0])
        src1 = write_file(os.path.join(self.tmp, "new1.eml"), new[1])
        (_, p0, r0), (_, p1, r1), (_, p2, r2) = seeded
        before = self.counts()
        self.run_ok(["cp", src0, p0])
        self.run_ok(["sh", "-c", "cat \"$2\" > \"$1\"", "sh", p1, src1])
        sed_new = r2.replace(b"old text", b"sed text")
        self.run_ok(["sed", "-i", "s/old text/sed text/", p2])
        for path, data in ((p0, new[0]), (p1, new[1]), (p2, sed_new)):
            self.assertEqual(read_file(path), data, path)
        self.assertEqual(self.bodies("Overwrite"),
                         sorted([crlf(new[0]), crlf(new[1]), sed_new]))
        trash = [x.body for x in self.server("Trash").values()]
        for raw in (r0, r1, r2):
            self.assertEqual(trash.count(raw), 1, "old message not in Trash")
        self.assertEqual(sorted(self.names("Overwrite")),
                         sorted(os.path.basename(p) for p in (p0, p1, p2)))
        self.assert_counts(before, Trash=3)

    def test_empty_headerless_and_binary_files_are_refused(self):
        """close() of an empty, a header-less or a binary file in a folder
        fails with EBADMSG; cp and touch exit non-zero; nothing is
        appended."""
        before = self.counts()
        cases = {"empty.eml": b"",
                 "nohead.eml": b"just some text, no header\n",
                 "binary.eml": b"From: a@example.org\nSubject: bin\n\n"
                               b"\x00\x01\x02\x00\n"}
        for name, data in cases.items():
            fd = os.open(self.fpath("Refused", name),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            if data:
                os.write(fd, data)
            self.assert_errno(errno.EBADMSG, os.close, fd, what=name)
        src = write_file(os.path.join(self.tmp, "nohead.eml"),
                         cases["nohead.eml"])
        p = self.run_tool(["cp", src, self.fpath("Refused", "cp.eml")])
        self.assertNotEqual(p.returncode, 0, p)
        p = self.run_tool(["touch", self.fpath("Refused", "touched.eml")])
        self.assertNotEqual(p.returncode, 0, p)
        self.assertEqual(self.server("Refused"), {})
        self.assert_counts(before)

    def test_scratch_names_stay_local_until_renamed(self):
        """Editor and rsync scratch names are never appended and stay
        while they exist; a rename onto a real name appends it."""
        scratch = [".hidden.eml", "x.eml~", ".x.eml.swp", ".x.eml.swx",
                   "x.swo", "#x.eml#", "4913", "x.tmp", ".x.eml.Ab3dE9"]
        data = {n: message("%s-%d" % (self.tag, i))
                for i, n in enumerate(scratch)}
        before = self.counts()
        for name in scratch:
            write_file(self.fpath("Scratch", name), data[name])
        for name in scratch:
            self.assertEqual(read_file(self.fpath("Scratch", name)),
                             data[name], name)
        appended = [n for n in scratch
                    if any(as_appended(data[n], x.body)
                           for x in self.server("Scratch").values())]
        self.assertEqual(appended, [], "scratch names appended")
        os.rename(self.fpath("Scratch", ".x.eml.Ab3dE9"),
                  self.fpath("Scratch", "x.eml"))
        self.assert_written("Scratch", "x.eml", data[".x.eml.Ab3dE9"])
        for name in scratch[:-1]:
            os.unlink(self.fpath("Scratch", name))
        self.assertEqual(self.names("Scratch"), ["x.eml"])
        self.assert_counts(before, Scratch=1)


class FolderChangeTest(ToolCase):

    def test_rm_moves_to_trash(self):
        """rm: the message is in Trash on the server, the other stays."""
        (u0, p0, r0), (u1, _, r1) = self.seeded("Rm")
        before = self.counts()
        self.run_ok(["rm", p0])
        self.assertFalse(os.path.lexists(p0))
        self.assertEqual(self.bodies("Rm"), [r1])
        self.assertEqual(len([x for x in self.server("Trash").values()
                              if x.body == r0]), 1)
        self.assert_counts(before, Rm=-1, Trash=1)

    def test_mv_between_folders_moves(self):
        """mv A/NAME B/: B/NAME reads the same bytes; the server moved it
        (not copied, nothing in Trash)."""
        (_, path, raw), = self.seeded("MvFrom")
        name = os.path.basename(path)
        before = self.counts()
        self.run_ok(["mv", path, self.fpath("MvTo") + "/"])
        self.assertEqual(read_file(self.fpath("MvTo", name)), raw)
        self.assertNotIn(name, self.names("MvFrom"))
        self.assertEqual(self.bodies("MvTo"), [raw])
        self.assertEqual(self.server("MvFrom"), {})
        self.assert_counts(before, MvFrom=-1, MvTo=1)

    def test_cp_to_a_folder_with_the_same_uid(self):
        """cp A/NAME B/ when B has a UID 1 too: no clash, both exist."""
        (ua, pa, ra), = self.seeded("CpFrom")
        (ub, pb, rb), = self.seeded("CpTo")
        self.assertEqual((ua, ub), (1, 1), "precondition: fresh folders")
        before = self.counts()
        self.run_ok(["cp", pa, self.fpath("CpTo") + "/"])
        self.assertEqual(read_file(self.fpath("CpTo", os.path.basename(pa))),
                         ra)
        self.assertEqual(read_file(pb), rb)
        self.assertEqual(self.bodies("CpTo"), sorted([ra, rb]))
        self.assertEqual(self.bodies("CpFrom"), [ra])
        self.assert_counts(before, CpTo=1)

    def test_mkdir_mv_rmdir_of_folders(self):
        """mkdir, mkdir -p, mv and rmdir of folders change the server's."""
        top = "Dirs-%d" % os.getpid()
        self.run_ok(["mkdir", self.m.path(top)])
        self.run_ok(["mkdir", "-p", self.m.path(top, "Sub", "Leaf")])
        folders = {f.name for f in self.view.folders()}
        self.assertLessEqual({top, top + "/Sub/Leaf"}, folders)
        self.run_ok(["mv", self.m.path(top), self.m.path(top + "-moved")])
        folders = {f.name for f in self.view.folders()}
        self.assertIn(top + "-moved/Sub/Leaf", folders)
        self.assertNotIn(top, folders)
        self.run_ok(["rmdir", self.m.path(top + "-moved", "Sub", "Leaf")])
        self.run_ok(["rmdir", self.m.path(top + "-moved", "Sub")])
        self.run_ok(["rmdir", self.m.path(top + "-moved")])
        folders = {f.name for f in self.view.folders()}
        self.assertFalse({f for f in folders if f.startswith(top)}, folders)

    def test_mkdir_of_a_name_the_server_refuses(self):
        """mkdir a.b (refused by this Maildir++ server): EINVAL or EPERM,
        not ENOENT; nothing is created."""
        e = self.assert_errno((errno.EINVAL, errno.EPERM), os.mkdir,
                              self.m.path("a.b"), what="mkdir a.b")
        self.assertNotEqual(e.errno, errno.ENOENT)
        self.assertNotIn("a.b", {f.name for f in self.view.folders()})

    def test_setfattr_sets_server_flags(self):
        """setfattr -n user.mailfs.flags -v '\\Seen \\Flagged'."""
        (uid, path, _), = self.seeded("Flags")
        self.run_ok(["setfattr", "-n", "user.mailfs.flags", "-v",
                     "\\Seen \\Flagged", path])
        self.assertEqual(self.server("Flags")[uid].flags,
                         frozenset({"\\Seen", "\\Flagged"}))

    def test_other_xattrs_are_not_supported(self):
        """Any xattr but user.mailfs.flags: setxattr and removexattr fail
        with ENOTSUP, on messages and folders."""
        (_, path, raw), = self.seeded("Xattr")
        for target in (path, self.fpath("Xattr")):
            self.assert_errno(errno.ENOTSUP, os.setxattr, target,
                              "user.other", b"x", what="setxattr " + target)
            self.assert_errno(errno.ENOTSUP, os.removexattr, target,
                              "user.other", what="removexattr " + target)
        p = self.run_tool(["setfattr", "-n", "user.other", "-v", "x", path])
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn(b"Operation not supported", p.stderr, p)
        self.assertEqual(self.bodies("Xattr"), [raw])

    def test_chmod_chown_touch_succeed(self):
        """chmod, chown to the owner, touch -d and utime on a folder and a
        message succeed and change nothing on the server."""
        (uid, path, raw), = self.seeded("Attrs")
        folder = self.fpath("Attrs")
        flags = self.server("Attrs")[uid].flags
        before = self.counts()
        owner = "%d:%d" % (os.getuid(), os.getgid())
        self.run_ok(["chmod", "644", path])
        self.run_ok(["chmod", "755", folder])
        self.run_ok(["chown", owner, path, folder])
        self.run_ok(["touch", "-d", "2020-01-02 03:04:05", path, folder])
        os.utime(path, (1e9, 1e9))
        os.utime(folder)
        self.assertEqual(self.server("Attrs")[uid].body, raw)
        self.assertEqual(self.server("Attrs")[uid].flags, flags)
        self.assert_counts(before)


class FreshnessTest(ToolCase):

    def test_folder_mtime_advances_with_new_mail(self):
        """A message another client appends advances the folder's mtime."""
        folder = self.fpath("Mtime")
        os.listdir(folder)
        m0 = os.stat(folder).st_mtime
        time.sleep(1.1)  # mtimes in whole seconds
        uid = self.view.append("Mtime", seed_message("Mtime", 99))
        self.assertTrue(harness.wait_until(
            lambda: uid in harness.message_names(folder), 10),
            "UID %d not listed" % uid)
        self.assertGreater(os.stat(folder).st_mtime, m0,
                           "folder mtime did not move")

    def test_notmuch_new_finds_mail_that_arrived(self):
        """notmuch new (database outside the mount, mail_root the mount)
        finds a message that arrived while mounted."""
        if not shutil.which("notmuch"):
            self.skipTest("notmuch is not installed")
        config = os.path.join(self.tmp, "notmuch-config")
        with open(config, "w") as f:
            f.write("[database]\npath=%s\nmail_root=%s\n"
                    "[new]\nignore=.mailfs;outbox\n"
                    "[user]\nname=Alice\nprimary_email=alice@example.com\n"
                    % (os.path.join(self.tmp, "db"), self.m.mountpoint))
        env = dict(os.environ, NOTMUCH_CONFIG=config)
        os.makedirs(os.path.join(self.tmp, "db"))
        folder = self.fpath("Notmuch")
        # notmuch keeps no directory mtime of the current second, and
        # compares them in whole seconds.
        if time.time() - os.stat(folder).st_mtime < 1.5:
            time.sleep(1.5)
        self.run_ok(["notmuch", "new", "--quiet"], env=env, quiet=False)
        time.sleep(1.1)
        token = "notmuchtoken%d" % os.getpid()
        uid = self.view.append("Notmuch", crlf(message(token)))
        self.assertTrue(harness.wait_until(
            lambda: uid in harness.message_names(folder), 10))
        self.run_ok(["notmuch", "new", "--quiet"], env=env, quiet=False)
        p = self.run_ok(["notmuch", "count", token], env=env, quiet=False)
        self.assertEqual(p.stdout.strip(), b"1",
                         "notmuch did not find the new message")


class OutboxTest(ToolCase):

    def failed(self, name):
        """Writes a message to the refused recipient as outbox/NAME and
        waits until it is in outbox/failed/ with its NAME.error."""
        write_file(self.m.path("outbox", name),
                   message("%s-%s" % (self.tag, name)).replace(
                       b"To: alice@example.com", b"To: " + BAD.encode()))
        failed = self.m.path("outbox", "failed")
        self.assertTrue(harness.wait_until(
            lambda: {name, name + ".error"} <= set(os.listdir(failed)), 20),
            "not in failed/: %s" % os.listdir(failed))
        return failed

    def test_rm_failed_glob(self):
        """rm outbox/failed/* removes NAME and NAME.error, exit 0."""
        failed = self.failed("g.eml")
        self.run_ok(["sh", "-c", "rm \"$1\"/*", "sh", failed])
        self.assertEqual(os.listdir(failed), [])

    def test_rm_failed_one_by_one_in_either_order(self):
        """rm NAME.error then NAME, and NAME then NAME.error: exit 0."""
        failed = self.failed("a.eml")
        self.failed("b.eml")
        for name in ("a.eml.error", "a.eml", "b.eml", "b.eml.error"):
            self.run_ok(["rm", os.path.join(failed, name)])
            self.assertNotIn(name, os.listdir(failed))
        self.assertEqual(os.listdir(failed), [])


class ReservedNamesTest(unittest.TestCase):
    """An account whose server has folders named outbox and .mailfs."""

    @classmethod
    def setUpClass(cls):
        dovecot = _module["dovecot"]
        view = ServerView(dovecot, ODD_USER)
        c = dovecot.client(ODD_USER)
        try:
            for name in ("outbox", ".mailfs"):
                typ, data = c.create(imap_quote(name))
                if typ != "OK":
                    raise RuntimeError("CREATE %s: %r" % (name, data))
        finally:
            c.logout()
        cls.raw = {name: seed_message(name, 0) for name in ("outbox", ".mailfs")}
        cls.uids = {name: view.append(name, raw)
                    for name, raw in cls.raw.items()}
        cls.view = view
        cls.mfs = new_mailfs("reserved", dovecot.url("imaps"), user=ODD_USER,
                             smtp=_module["smtp"])
        cls.addClassCleanup(cls.mfs.cleanup)
        res = cls.mfs.mount()
        if res.returncode != 0:
            raise AssertionError("mount failed: %r" % res)

    def setUp(self):
        dog = harness.Watchdog(self.mfs, WATCHDOG_S)
        dog.__enter__()
        self.addCleanup(dog.__exit__, None, None, None)

    def test_server_folders_are_shown_escaped(self):
        """Server folders outbox and .mailfs show as outbox_ and .mailfs_;
        mailfs' own outbox/ and .mailfs/status keep working."""
        top = os.listdir(self.mfs.mountpoint)
        for name in ("outbox", "outbox_", ".mailfs_"):
            self.assertEqual(top.count(name), 1, "%s in %s" % (name, top))
        # mailfs' own .mailfs/ is found by name, not listed.
        self.assertLessEqual(top.count(".mailfs"), 1, top)
        for name, raw in self.raw.items():
            path = self.mfs.message(name + "_", self.uids[name])
            self.assertEqual(read_file(path), raw)
        with open(self.mfs.path(".mailfs", "status")) as f:
            self.assertIn("state: online", f.read())
        self.assertIn("failed", os.listdir(self.mfs.path("outbox")))

    def test_cp_into_outbox_is_sent_not_appended(self):
        """cp x.eml outbox/ sends it by SMTP; the server's outbox folder
        is unchanged."""
        tag = "reserved-outbox-%d" % os.getpid()
        src = write_file(os.path.join(_module["work"], tag + ".eml"),
                         message(tag))
        p = subprocess.run(["cp", src, self.mfs.path("outbox") + "/"],
                           capture_output=True, timeout=TOOL_TIMEOUT)
        self.assertEqual(p.returncode, 0, p)
        envs = _module["smtp"].wait_envelopes(tag, 1, 20)
        self.assertEqual(len(envs), 1, "not sent by SMTP")
        self.assertEqual(sorted(self.view.messages("outbox")),
                         [self.uids["outbox"]], "appended to the folder")


class MountPointTest(unittest.TestCase):
    """`mailfs mount` refuses a mount point it cannot use, in one line."""

    def new(self, name):
        mfs = new_mailfs(name, _module["dovecot"].url("imaps"))
        self.addCleanup(mfs.cleanup)
        self.addCleanup(unmount_all, mfs.mountpoint)
        return mfs

    def assert_refused(self, res, words):
        """RES failed soon with one line on stderr holding one of WORDS."""
        self.assertFalse(res.timed_out, res)
        self.assertGreater(res.returncode, 0, res)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % res)
        self.assertTrue(any(w in lines[0].lower() for w in words),
                        "none of %s in %r" % (words, lines[0]))

    def test_a_regular_file(self):
        mfs = self.new("mp-file")
        os.rmdir(mfs.mountpoint)
        write_file(mfs.mountpoint, b"not a directory\n")
        res = mfs.mount()
        self.assert_refused(res, ("not a directory",))
        self.assertFalse(harness.is_mounted(mfs.mountpoint))
        self.assertTrue(mfs.wait_daemons_gone(5))

    def test_a_non_empty_directory(self):
        mfs = self.new("mp-full")
        write_file(os.path.join(mfs.mountpoint, "keep.txt"), b"mine\n")
        res = mfs.mount()
        self.assert_refused(res, ("not empty", "non-empty", "nonempty"))
        self.assertFalse(harness.is_mounted(mfs.mountpoint))
        res = mfs.mount("-o", "nonempty")
        self.assertEqual(res.returncode, 0, res)
        self.assertTrue(harness.is_mounted(mfs.mountpoint))

    def test_an_already_mounted_mailfs(self):
        first = self.new("mp-first")
        harness.mount_watched(self, first, WATCHDOG_S)
        second = self.new("mp-second")
        second.mountpoint = first.mountpoint
        res = second.mount()
        self.assert_refused(res, ("already",))
        self.assertIn("INBOX", os.listdir(first.mountpoint))


if __name__ == "__main__":
    unittest.main()
