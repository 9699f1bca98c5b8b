"""What `mailfs mount` says when TLS and the port do not agree, and when a
certificate does not verify: a hint at the other URL scheme, the
certificate's SHA-256 fingerprint (the same as openssl's) and the two ways
to trust it, each of which then works.  Exit statuses: 69 for TLS, 75 for
a server that does not answer."""

import re
import subprocess
import unittest

import harness
from harness import Mailfs

_module = {}


def setUpModule():
    harness.require_mailfs()
    work, cert, dovecot = harness.module_dovecot("mailfs-tls-")
    _module.update(work=work, cert=cert, dovecot=dovecot)


def openssl_fingerprint(cert):
    """sha256:HEX of the PEM certificate CERT, as openssl computes it."""
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint",
                          "-sha256", "-in", cert], check=True,
                         capture_output=True, text=True).stdout
    return "sha256:" + out.split("=", 1)[1].strip().replace(":", "").lower()


class TlsHintTest(unittest.TestCase):

    def setUp(self):
        self.dovecot = _module["dovecot"]
        self.mfs = Mailfs(_module["work"], "mfs-" + self._testMethodName)
        self.addCleanup(self.mfs.cleanup)

    def failed_line(self, res, status):
        self.assertFalse(res.timed_out, res)
        self.assertEqual(res.returncode, status, res)
        self.assertFalse(harness.is_mounted(self.mfs.mountpoint), res)
        lines = harness.error_lines(res)
        self.assertEqual(len(lines), 1, res)
        return lines[0]

    def test_implicit_tls_on_a_plain_port(self):
        # imaps:// to the port that greets in plain text (STARTTLS).
        port = self.dovecot.imap_port
        self.mfs.configure("imaps://127.0.0.1:%d" % port,
                           ca_file=self.dovecot.cert)
        line = self.failed_line(self.mfs.mount(), 69)
        self.assertIn("plain text", line)
        self.assertIn("is this a STARTTLS port? try imap://127.0.0.1:%d"
                      % port, line)
        # The hint is right: that URL mounts.
        self.mfs.configure("imap://127.0.0.1:%d" % port,
                           ca_file=self.dovecot.cert)
        res = self.mfs.mount()
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.mfs.umount().returncode, 0)

    def test_starttls_on_an_implicit_tls_port(self):
        # imap:// to the port that waits for a TLS hello: nothing comes.
        port = self.dovecot.imaps_port
        self.mfs.configure("imap://127.0.0.1:%d" % port,
                           ca_file=self.dovecot.cert, timeout=1)
        line = self.failed_line(self.mfs.mount(), 75)
        self.assertIn("it sent nothing", line)
        self.assertIn("try imaps://127.0.0.1:%d" % port, line)

    def test_untrusted_certificate_shows_its_fingerprint(self):
        self.mfs.configure(self.dovecot.url("imaps"))  # no ca_file
        line = self.failed_line(self.mfs.mount(), 69)
        want = openssl_fingerprint(self.dovecot.cert)
        self.assertIn("self-signed certificate", line)
        found = re.findall(r"sha256:[0-9a-f]{64}", line)
        self.assertEqual(found, [want], line)
        self.assertIn("tls_fingerprint", line)
        self.assertIn("ca_file", line)
        self.assertLess(len(line), 400, line)
        # Either way of trusting it works.
        for extra in ({"tls_fingerprint": found[0]},
                      {"ca_file": self.dovecot.cert}):
            self.mfs.configure(self.dovecot.url("imaps"), extra=extra)
            res = self.mfs.mount()
            self.assertEqual(res.returncode, 0, res)
            self.assertEqual(self.mfs.umount().returncode, 0)
            self.assertTrue(self.mfs.wait_daemons_gone(10))

    def test_wrong_host_also_shows_the_fingerprint(self):
        work = harness.make_workdir()
        self.addCleanup(harness.remove_workdir, work)
        cert = harness.make_wrong_host_cert(work)
        with harness.Dovecot(work, cert=cert) as other:
            self.mfs.configure(other.url("imaps"), ca_file=cert[0])
            line = self.failed_line(self.mfs.mount(), 69)
            self.assertIn("address mismatch", line)
            self.assertIn(openssl_fingerprint(cert[0]), line)
            # A CA file cannot make it good: only the pin is offered.
            self.assertIn("tls_fingerprint", line)
            self.assertNotIn("ca_file", line)


if __name__ == "__main__":
    unittest.main()
