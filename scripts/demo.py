"""Throwaway mailfs demo: a private Dovecot filled with sample mail, an
SMTP server (tests/integration/smtpserver.py: aiosmtpd with STARTTLS and
AUTH as alice) that stores what it receives, a config, and a mount.

  demo.py start DIR MAILFS   start everything, mount at DIR/mail
  demo.py stop DIR MAILFS    unmount and stop the servers (keeps the files)

The servers keep running after `start` returns; their PIDs are in DIR/*.pid.
Uses tests/integration/harness.py; run with Debian's /usr/bin/python3.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

import corpus  # noqa: E402
import harness  # noqa: E402
import smtpserver  # noqa: E402


def pidfile(d, name):
    return os.path.join(d, name + ".pid")


def write_pid(d, name, pid):
    with open(pidfile(d, name), "w") as f:
        f.write("%d\n" % pid)


def start_smtp(d, cert):
    """The test SMTP server on loopback: STARTTLS required, AUTH as the
    Dovecot users (mailfs logs in as alice with the account password);
    each message lands in DIR/sent-mail/*.eml and DIR/smtp/records.jsonl."""
    server = smtpserver.SmtpServer(d, cert, "starttls", name="smtp",
                                   maildir=os.path.join(d, "sent-mail"))
    server.start(persistent=True)
    write_pid(d, "smtp", server.proc.pid)
    return server.port


def start(d, mailfs):
    if os.path.exists(pidfile(d, "dovecot")):
        print("demo: already running; stopping it first")
        stop(d, mailfs)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    # A fresh start: the mail, cache and received mail of an earlier demo
    # would make seeding fail (folders exist) and confuse the output.
    for old in ("dovecot", "mailfs", "smtp", "sent-mail", "smtp.log",
                "mountpoint"):
        path = os.path.join(d, old)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
    dovecot = harness.Dovecot(d).start(persistent=True)
    write_pid(d, "dovecot", dovecot.proc.pid)
    corpus.seed(dovecot)
    harness.ServerView(dovecot, "bob").append(
        "INBOX", b"From: alice@example.com\r\nTo: bob@example.com\r\n"
        b"Subject: hello bob\r\n\r\nThis is bob's mailbox.\r\n")
    smtp_port = start_smtp(d, (dovecot.cert, dovecot.key))

    mfs = harness.Mailfs(d, "mailfs", account="demo")
    mfs.mountpoint = os.path.join(d, "mail")
    os.makedirs(mfs.mountpoint, exist_ok=True)
    mfs.configure(dovecot.url("imaps"), ca_file=dovecot.cert, timeout=10,
                  refresh_interval=5,
                  extra={"smtp": "smtp://127.0.0.1:%d" % smtp_port,
                         "from": "Alice <alice@example.com>"})
    res = mfs.mount()
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        print("demo: mount failed (%d); servers left running, "
              "`scripts/demo.sh stop` stops them" % res.returncode)
        return 1
    with open(os.path.join(d, "mountpoint"), "w") as f:
        f.write(mfs.mountpoint + "\n")
    first = os.path.basename(mfs.message("INBOX", 1))

    print("""
mailfs demo is running.

  mount point   %(mnt)s
  config        %(conf)s   (account "demo")
  IMAP server   %(imaps)s and %(imap)s (STARTTLS), users alice/secret and bob/%(bobpw)s
  SMTP server   smtp://127.0.0.1:%(smtp)d (STARTTLS), received mail in %(dir)s/sent-mail
  server logs   %(dir)s/dovecot/dovecot*.log, %(dir)s/smtp/smtp.log

Try:
  ls %(mnt)s %(mnt)s/INBOX
  grep -rl %(word)s %(mnt)s
  cat %(mnt)s/INBOX/%(first)s
  printf 'To: bob@example.com\\nSubject: hi\\n\\nhello\\n' > %(mnt)s/outbox/hi.eml
  ls %(dir)s/sent-mail %(mnt)s/Sent

Unmount:            %(mailfs)s umount %(mnt)s
Stop everything:    scripts/demo.sh stop
""" % {"mnt": mfs.mountpoint, "conf": mfs.config, "imaps": dovecot.url("imaps"),
       "imap": dovecot.url("imap"), "smtp": smtp_port, "dir": d,
       "word": corpus.SPECIAL_WORD, "mailfs": mailfs,
       "bobpw": harness.USERS["bob"], "first": first})
    return 0


def kill_pid(d, name):
    path = pidfile(d, name)
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.unlink(path)
    print("demo: stopped %s (pid %d)" % (name, pid))


def stop(d, mailfs):
    mnt = os.path.join(d, "mail")
    if harness.is_mounted(mnt):
        subprocess.run([mailfs, "umount", mnt], timeout=30)
        harness.force_unmount(mnt)
        print("demo: unmounted", mnt)
    kill_pid(d, "smtp")
    kill_pid(d, "dovecot")
    return 0


def main(argv):
    if len(argv) != 4 or argv[1] not in ("start", "stop"):
        sys.stderr.write("usage: demo.py start|stop DIR MAILFS\n")
        return 2
    d, mailfs = argv[2], os.path.abspath(argv[3])
    os.environ["MAILFS_BIN"] = mailfs
    return (start if argv[1] == "start" else stop)(d, mailfs)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
