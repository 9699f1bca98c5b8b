"""Shell completion of data/completion/ for bash, zsh and fish: commands,
each command's options, account names from the config file (the default
one, or the one --config names), and the user's own mailfs mount points
for umount and status.  bash through `complete -p` and the completion
function, fish through `complete -C`, zsh typed on a pseudo-terminal.  A
shell that is not installed is skipped (scripts/install-deps.sh installs
them)."""

import os
import pty
import select
import shutil
import subprocess
import time
import unittest

import harness
from harness import Mailfs

DATA = os.path.join(harness.REPO, "data", "completion")
_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-compl-")
    mfs = Mailfs(work, "mfs", account="work")
    mfs.mountpoint = os.path.join(mfs.dir, "my mail")  # a space in it
    os.makedirs(mfs.mountpoint)
    mfs.configure(dovecot.url("imaps"), ca_file=cert[0])
    res = mfs.mount()
    if res.returncode != 0:
        raise RuntimeError("mount failed: %r" % res)
    unittest.addModuleCleanup(mfs.cleanup)
    # The user's default config file, with two accounts.
    xdg = os.path.join(work, "xdg")
    os.makedirs(os.path.join(xdg, "mailfs"))
    harness.write_config(os.path.join(xdg, "mailfs", "config"), {
        "home": {"user": "a"}, "work": {"user": "b"}})
    other = os.path.join(work, "other.conf")
    harness.write_config(other, {"lab": {"user": "c"}})
    _module.update(mfs=mfs, xdg=xdg, other=other)


def env():
    return dict(os.environ, XDG_CONFIG_HOME=_module["xdg"])


def bash_complete(*words):
    """COMPREPLY for the command line WORDS (the last is being typed)."""
    script = ('source %s\n'
              'complete -p mailfs\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))\n'
              '_mailfs\n'
              'printf "%%s\\n" "${COMPREPLY[@]}"\n'
              % os.path.join(DATA, "mailfs.bash"))
    p = subprocess.run(["bash", "-c", script, "bash"] + list(words),
                       capture_output=True, text=True, env=env(), timeout=20)
    assert p.returncode == 0, p
    lines = p.stdout.splitlines()
    assert lines[0] == "complete -F _mailfs mailfs", lines
    return [l for l in lines[1:] if l]


def fish_complete(line):
    p = subprocess.run(["fish", "--no-config", "-c",
                        "source %s; complete -C %s"
                        % (os.path.join(DATA, "mailfs.fish"),
                           shell_quote(line))],
                       capture_output=True, text=True, env=env(), timeout=20)
    assert p.returncode == 0, p
    return [l.split("\t")[0] for l in p.stdout.splitlines()]


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


class BashTest(unittest.TestCase):

    def setUp(self):
        if not shutil.which("bash"):
            self.skipTest("no bash")

    def test_commands_and_options(self):
        self.assertEqual(set(bash_complete("mailfs", "")),
                         {"mount", "umount", "status", "sync", "verify", "login",
                          "help", "-h", "--help", "-V", "--version"})
        self.assertEqual(bash_complete("mailfs", "u"), ["umount"])
        self.assertEqual(set(bash_complete("mailfs", "sync", "--")),
                         {"--config", "--account", "--all", "--no-recurse",
                          "--quiet", "--help"})
        self.assertIn("--read-only", bash_complete("mailfs", "mount", "--r"))
        self.assertIn("allow_other", bash_complete("mailfs", "mount", "-o",
                                                   "a"))

    def test_accounts(self):
        self.assertEqual(bash_complete("mailfs", "mount", "--account", ""),
                         ["home", "work"])
        self.assertEqual(bash_complete("mailfs", "sync", "-a", "w"),
                         ["work"])
        self.assertEqual(bash_complete("mailfs", "sync", "--config",
                                       _module["other"], "--account", ""),
                         ["lab"])

    def test_mount_points(self):
        mp = _module["mfs"].mountpoint
        for cmd in ("umount", "status"):
            got = bash_complete("mailfs", cmd, "")
            self.assertIn(mp.replace(" ", "\\ "), got)
        self.assertEqual(bash_complete("mailfs", "umount", "/nonexistent"),
                         [])


class FishTest(unittest.TestCase):

    def setUp(self):
        if not shutil.which("fish"):
            self.skipTest("no fish")

    def test_completions(self):
        self.assertTrue({"mount", "umount", "status", "sync"} <=
                        set(fish_complete("mailfs ")))
        self.assertEqual(set(fish_complete("mailfs sync --a")),
                         {"--account", "--all"})
        self.assertEqual(fish_complete("mailfs mount --account "),
                         ["home", "work"])
        self.assertEqual(fish_complete("mailfs sync --config %s --account "
                                       % _module["other"]), ["lab"])
        self.assertIn(_module["mfs"].mountpoint,
                      fish_complete("mailfs status "))


class ZshTest(unittest.TestCase):

    def setUp(self):
        if not shutil.which("zsh"):
            self.skipTest("no zsh")

    def test_completions(self):
        got = zsh_complete("mailfs sync --account ")
        self.assertEqual(got & {"home", "work", "lab"}, {"home", "work"},
                         got)
        # Other mounts of the test user may be there: type the start of
        # ours, and it is completed whole, its space quoted.
        mp = _module["mfs"].mountpoint
        text = zsh_complete("mailfs umount " + mp[:-5], words=False)
        self.assertIn(mp.replace(" ", "\\ "), text)
        self.assertTrue({"mount", "umount", "status", "sync"} <=
                        zsh_complete("mailfs "))


def zsh_complete(line, timeout=10, words=True):
    """The words zsh lists for LINE + TAB on a pseudo-terminal (with its
    completion system and data/completion/ in fpath); without WORDS, all
    it wrote."""
    init = ("fpath=(%s $fpath); autoload -Uz compinit; compinit -u -D; "
            "zstyle ':completion:*' list-prompt ''; "
            "zstyle ':completion:*' menu no; PS1='> '; "
            "print READY$((6 * 7))\n" % DATA)
    master, slave = pty.openpty()
    p = subprocess.Popen(["zsh", "-f", "-i"], stdin=slave, stdout=slave,
                         stderr=slave, env=dict(env(), TERM="dumb"),
                         start_new_session=True)
    os.close(slave)
    out = b""
    try:
        os.write(master, init.encode())
        # Not in the echo of the line: only once the line has run.
        out = read_until(master, b"READY42", timeout)
        out = b""
        os.write(master, line.encode() + b"\t")
        out = read_until(master, None, 5)
    finally:
        os.close(master)
        p.kill()
        p.wait(10)
    text = out.decode("utf-8", "replace").replace("\r", "")
    if not words:
        return text
    # What zsh listed below the line, without its prompt and escapes.
    return set(w for w in text.split() if w not in line.split() and
               w.isprintable() and not w.startswith(("\x1b", ">")))


def read_until(fd, needle, timeout):
    """What FD gives until NEEDLE came, or (NEEDLE None) until it has been
    quiet for half a second after giving something, or TIMEOUT."""
    out = b""
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            if needle is None and out and \
                    time.monotonic() - quiet_since > 0.5:
                break
            continue
        quiet_since = time.monotonic()
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        out += chunk
        if needle and needle in out:
            break
    return out


if __name__ == "__main__":
    unittest.main()
