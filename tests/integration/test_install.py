"""`meson install` puts every file where what reads it looks: with
--prefix ~/.local the systemd user unit in ~/.local/share/systemd/user,
the completions below ~/.local/share, the man pages; with /usr and
/usr/local the unit in PREFIX/lib/systemd/user.  The unit is Type=notify,
runs the installed binary, does not restart after usage, login and config
errors, and systemd-analyze finds nothing wrong in it.  Only the data files
are installed (--tags), so nothing is compiled: a configure of a build
directory of its own, about a second."""

import json
import os
import re
import shutil
import subprocess
import unittest

import harness

TAGS = "systemd,completion,man"


def setUpModule():
    if not shutil.which("meson"):
        raise unittest.SkipTest("no meson")


def meson(*args, cwd=None):
    p = subprocess.run(["meson"] + list(args), capture_output=True,
                       text=True, timeout=120, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("meson %s: %s%s" % (" ".join(args), p.stdout,
                                                 p.stderr))
    return p.stdout


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = harness.make_workdir("mailfs-install-")
        cls.build = os.path.join(cls.work, "build")
        # A home of its own: the prefix of a user without root.
        cls.home = os.path.join(cls.work, "home")
        cls.prefix = os.path.join(cls.home, ".local")
        meson("setup", cls.build, harness.REPO, "--prefix", cls.prefix)

    @classmethod
    def tearDownClass(cls):
        harness.remove_workdir(cls.work)

    def installed(self, prefix=None):
        """{installed path: source} of what meson would install with
        PREFIX (default the user's; another in a build directory of its
        own)."""
        build = self.build
        if prefix:
            build = os.path.join(self.work, "build-other")
            if os.path.isdir(build):
                meson("setup", "--reconfigure", build, harness.REPO,
                      "-Dprefix=" + prefix)
            else:
                meson("setup", build, harness.REPO, "--prefix", prefix)
        out = meson("introspect", build, "--installed")
        return {v: k for k, v in json.loads(out).items()}

    def test_user_prefix(self):
        dest = os.path.join(self.work, "dest")
        meson("install", "-C", self.build, "--destdir", dest, "--no-rebuild",
              "--tags", TAGS)
        share = dest + os.path.join(self.prefix, "share")
        want = ["systemd/user/mailfs@.service",
                "bash-completion/completions/mailfs",
                "zsh/site-functions/_mailfs",
                "fish/vendor_completions.d/mailfs.fish",
                "man/man1/mailfs.1", "man/man5/mailfs.conf.5"]
        for rel in want:
            self.assertTrue(os.path.isfile(os.path.join(share, rel)), rel)
        with open(os.path.join(share, "systemd/user/mailfs@.service")) as f:
            unit = f.read()
        binary = os.path.join(self.prefix, "bin", "mailfs")
        self.assertIn(binary, self.installed())
        self.check_unit(unit, binary)
        # The completion installed is the one of the source tree.
        with open(os.path.join(share, "bash-completion/completions/mailfs")) \
                as f, open(os.path.join(harness.REPO, "data", "completion",
                                        "mailfs.bash")) as g:
            self.assertEqual(f.read(), g.read())

    def test_system_prefixes(self):
        for prefix in ("/usr", "/usr/local"):
            files = self.installed(prefix)
            self.assertIn(prefix + "/lib/systemd/user/mailfs@.service", files)
            self.assertIn(prefix + "/bin/mailfs", files)
            self.assertIn(prefix + "/share/bash-completion/completions/mailfs",
                          files)
        files = self.installed("/opt/mailfs")
        self.assertIn("/opt/mailfs/share/systemd/user/mailfs@.service", files)

    def check_unit(self, unit, binary):
        keys = dict(re.findall(r"(?m)^(\w+)=(.*)$", unit))
        self.assertEqual(keys["Type"], "notify")
        self.assertEqual(keys["NotifyAccess"], "main")
        self.assertTrue(keys["ExecStart"].startswith(
            binary + " mount --foreground --account %i"), keys)
        self.assertEqual(set(keys["RestartPreventExitStatus"].split()),
                         {"2", "77", "78"})
        self.assertEqual(keys["Restart"], "on-failure")
        self.assertIn("loginctl enable-linger", unit)
        if not shutil.which("systemd-analyze"):
            return
        # systemd's own reading of it, with the binary under test.
        path = os.path.join(self.work, "mailfs@work.service")
        with open(path, "w") as f:
            f.write(unit.replace(binary, harness.mailfs_bin()))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stderr.strip(), "", p)


if __name__ == "__main__":
    unittest.main()
