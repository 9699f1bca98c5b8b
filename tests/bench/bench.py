#!/usr/bin/python3
"""mailfs performance benchmark, run on demand (not part of `meson test`).

For each corpus size N it fills a private Dovecot (tests/integration/harness)
with a deterministic corpus (mkcorpus.py) and measures mailfs against an
anchor measured in the same run on the same server:

  1. cold `mailfs sync` (empty cache)      vs  cold `mbsync` pull to a Maildir
  2. cold `ls -l` of the biggest folder     vs  one raw UID FETCH 1:* of its
     through a fresh mount, empty cache         (FLAGS RFC822.SIZE INTERNALDATE)
  3. warm `grep -r` through the mount       vs  `grep -r` over the mbsync Maildir
  4. read latency of one message: uncached, disk-cached, page-cache warm
  5. peak RSS (VmHWM) of the daemon after listing and reading everything
  6. APPEND of a new message -> visible in `ls` of the folder
  7. the summary of the biggest folder (.mailfs/view/): first read, again,
     after a refresh; `ls -l` of the raw folder before and after

Figures 2 and 3 are measured a second time through a `--read-only` mount
(the kernel sends no OPEN nor FLUSH, xattrs are off), each with its own
anchor measured alongside.

Each timed figure is the median of --reps runs.  Results go to a JSON file
and a Markdown table on stdout.  Needs root (FUSE, drop_caches, Dovecot's
mail user) and Debian's /usr/bin/python3; nothing outside the stdlib.

    /usr/bin/python3 tests/bench/bench.py --sizes 3000,20000 --out results.json
    /usr/bin/python3 tests/bench/bench.py --quick
"""

import argparse
import datetime
import errno
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import mkcorpus  # noqa: E402
import scale  # noqa: E402

TARGETS = {
    "cold_sync": ("cold sync, mailfs / mbsync", "<=", 0.5),
    "warm_grep": ("warm grep -r, mount / local Maildir", "<=", 1.2),
    "cold_ls": ("cold ls -l, mount / raw UID FETCH", "<=", 2.0),
    "warm_grep_ro": ("warm grep -r, read-only mount / local Maildir", "<=", 1.2),
    "cold_ls_ro": ("cold ls -l, read-only mount / raw UID FETCH", "<=", 2.0),
    "rss_3000": ("daemon peak RSS, MB (target set at 3,000 msgs)", "<=", 32.0),
    "new_mail": ("new mail visible in ls (s, worst trial)", "<", 1.0),
}

LATENCY_SAMPLES = 7


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------
# Process and system accounting

def drop_caches():
    """Writes back and drops the page cache, dentries and inodes; False if
    not allowed (then cold runs are only cold for mailfs' own cache)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def _stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def proc_cpu(pid, children=False):
    """CPU seconds (user + system) of PID; with CHILDREN, plus its reaped
    children.  0 if the process is gone."""
    try:
        f = _stat_fields(pid)
    except OSError:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    # After the ")" field 3 is the state, so utime is f[11], stime f[12],
    # cutime f[13], cstime f[14].
    t = int(f[11]) + int(f[12])
    if children:
        t += int(f[13]) + int(f[14])
    return t / tick


def dovecot_cpu(dovecot):
    """CPU seconds of the Dovecot master, its reaped children and the live
    processes of its group (imap, login, auth...)."""
    pgid = dovecot.proc.pid
    total = proc_cpu(pgid, children=True)
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == pgid:
            continue
        try:
            f = _stat_fields(int(d))
        except OSError:
            continue
        if int(f[2]) == pgid:
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return total


def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def system_busy():
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed(argv, timeout=900, cwd=None, stdout_keep=False):
    """Runs ARGV; returns wall, user and system CPU of it and its children,
    exit status, and its output (stdout only if STDOUT_KEEP, else a line
    count)."""
    with open(os.devnull, "rb") as null:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=null, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=cwd)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise RuntimeError("%s: timed out after %d s" % (argv[0], timeout))
        wall = time.monotonic() - t0
    return {"wall": wall, "rc": p.returncode,
            "out": out if stdout_keep else out.count(b"\n"),
            "err": err.decode(errors="replace")}


def timed_rusage(argv, timeout=900):
    """Like timed() but with the child's own CPU (wait4 rusage)."""
    with open(os.devnull, "rb") as null, \
            open(os.devnull, "wb") as nout:
        err_path = "/tmp/bench-stderr.%d" % os.getpid()
        with open(err_path, "wb") as errf:
            busy0 = system_busy()
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdin=null, stdout=nout, stderr=errf)
            deadline = t0 + timeout
            while True:
                pid, st, ru = os.wait4(p.pid, os.WNOHANG)
                if pid == p.pid:
                    break
                if time.monotonic() > deadline:
                    p.kill()
                    os.wait4(p.pid, 0)
                    raise RuntimeError("%s timed out" % argv[0])
                time.sleep(0.005)
            wall = time.monotonic() - t0
            busy = system_busy() - busy0
        with open(err_path, errors="replace") as f:
            err = f.read()
        os.unlink(err_path)
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "machine_busy": busy, "max_rss_kb": ru.ru_maxrss,
            "rc": os.waitstatus_to_exitcode(st), "err": err}


def count_files(top, pattern=None):
    n = 0
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames:
            if pattern is None or pattern.search(name):
                n += 1
    return n


# --------------------------------------------------------------------------
# The server side

def maildir_root(dovecot):
    return os.path.join(dovecot.dir, "mail", "alice", "Maildir")


def fill_server(workdir, n, seed):
    """A Dovecot whose alice holds the N-message corpus; its index is built
    (one listing of every folder) so later figures see a warm server."""
    dov = harness.Dovecot(workdir)
    root = maildir_root(dov)
    t0 = time.monotonic()
    corpus = mkcorpus.fill(root, n, seed)
    uid, gid = dov._identity()[:2]
    subprocess.run(["chown", "-R", "%d:%d" % (uid, gid),
                    os.path.join(dov.dir, "mail")], check=True)
    corpus["fill_s"] = time.monotonic() - t0
    dov.start()
    t0 = time.monotonic()
    c = dov.client()
    try:
        counts = {}
        for folder, _ in mkcorpus.FOLDERS:
            typ, data = c.select(harness.imap_quote(folder), readonly=True)
            if typ != "OK":
                raise RuntimeError("EXAMINE %s: %r" % (folder, data))
            counts[folder] = int(data[0])
            c.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE INTERNALDATE)")
        c.close()
    finally:
        c.logout()
    corpus["server_index_s"] = time.monotonic() - t0
    if counts != corpus["folders"]:
        raise RuntimeError("server holds %r, wrote %r" % (counts, corpus["folders"]))
    return dov, corpus


def raw_fetch_seconds(dov, folder):
    """Times one UID FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE) on an
    already logged-in, EXAMINEd TLS session: from sending the command to
    reading its tagged OK, no parsing.  Returns (seconds, bytes)."""
    c = dov.client()
    try:
        typ, data = c.select(harness.imap_quote(folder), readonly=True)
        if typ != "OK":
            raise RuntimeError("EXAMINE failed")
        sock = c.socket()
        tag = b"BNCH1"
        end = b"\r\n" + tag + b" "
        buf = bytearray()
        t0 = time.monotonic()
        sock.sendall(tag + b" UID FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE)\r\n")
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("server closed")
            buf += chunk
            i = buf.rfind(end, max(0, len(buf) - len(chunk) - len(end)))
            if i >= 0 and buf.endswith(b"\r\n"):
                break
        dt = time.monotonic() - t0
        if not buf[i + len(end):].startswith(b"OK"):
            raise RuntimeError("FETCH failed: %r" % bytes(buf[i:i + 100]))
        return dt, len(buf)
    finally:
        try:
            c.logout()
        except Exception:
            pass


# --------------------------------------------------------------------------
# mbsync

_MBSYNCRC = """\
IMAPAccount bench
Host localhost
Port {port}
User alice
Pass secret
SSLType IMAPS
CertificateFile {cert}

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path {dir}/
Inbox {dir}/INBOX
SubFolders Verbatim

Channel bench
Far :bench-remote:
Near :bench-local:
Patterns *
Sync Pull
Create Near
SyncState *
"""


def write_mbsyncrc(workdir, dov, fsync=True, run=""):
    """An mbsyncrc pulling every folder to WORKDIR/mbsync/Maildir (with
    RUN: Maildir-RUN, a directory of that run's own); with FSYNC false it
    adds the global `FSync no` (default is yes)."""
    suffix = "-" + run if run else ""
    mdir = os.path.join(workdir, "mbsync", "Maildir" + suffix)
    rc = os.path.join(workdir, "mbsync",
                      ("mbsyncrc" if fsync else "mbsyncrc-nofsync") + suffix)
    os.makedirs(os.path.dirname(rc), exist_ok=True)
    with open(rc, "w") as f:
        if not fsync:
            f.write("FSync no\n\n")
        f.write(_MBSYNCRC.format(port=dov.imaps_port, cert=dov.cert, dir=mdir))
    os.chmod(rc, 0o600)
    return rc, mdir


# --------------------------------------------------------------------------
# mailfs

def new_mailfs(workdir, name, dov):
    m = harness.Mailfs(workdir, name=name)
    # Defaults for everything but what the account needs: timeout 30 s,
    # refresh_interval 5 s, max_connections 4.
    m.configure(dov.url("imaps"), ca_file=dov.cert, timeout=None,
                refresh_interval=None)
    return m


def mount(m, *extra):
    """Mounts M with the extra mount arguments EXTRA; returns the seconds it
    took and the daemon's PID."""
    t0 = time.monotonic()
    r = m.mount(*extra, timeout=120)
    dt = time.monotonic() - t0
    if r.returncode != 0 or not harness.is_mounted(m.mountpoint):
        raise RuntimeError("mount failed: %r" % r)
    pids = m.daemons()
    if len(pids) != 1:
        raise RuntimeError("expected one daemon, found %r" % pids)
    return dt, pids[0]


def check_read_only(m):
    """Raises unless M's mount is read-only: such a mount has no xattrs.
    Its GETXATTR (answered ENOSYS, which the kernel then remembers for the
    mount) would change what follows, so call it last."""
    try:
        os.getxattr(m.mountpoint, "user.mailfs.flags")
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            return
    raise RuntimeError("mount --read-only of %s still answers xattrs"
                       % m.mountpoint)


def have_read_only():
    """Whether the mailfs binary under test knows `mount --read-only`."""
    p = subprocess.run([harness.mailfs_bin(), "mount", "--help"],
                       capture_output=True, text=True, timeout=30)
    return "--read-only" in p.stdout + p.stderr


def umount(m):
    r = m.umount(timeout=60)
    if r.returncode != 0:
        log("umount failed:", r)
    m.cleanup()


def read_file_seconds(path):
    t0 = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, 1 << 17):
            pass
    finally:
        os.close(fd)
    return time.monotonic() - t0


def near_median_files(folder_path, k):
    """K message files of FOLDER_PATH whose sizes are nearest the folder's
    median size (stat goes through the mount; the kernel caches it)."""
    entries = [(e.stat().st_size, e.path) for e in os.scandir(folder_path)]
    entries.sort()
    mid = len(entries) // 2
    lo = max(0, mid - k // 2)
    return [p for _, p in entries[lo:lo + k]], entries[mid][0]


def grep_argv(top):
    # .mailfs/ holds mailfs' control files, not mail; the local copies have
    # nothing like it.
    return ["grep", "-r", "--exclude-dir=.mailfs", mkcorpus.MARKER, top]


# --------------------------------------------------------------------------
# Where the time goes: FUSE requests (kernel tracepoints) and system calls

_SEND_RE = re.compile(r"fuse_request_send: connection (\d+) req (\d+) "
                      r"opcode \d+ \((\w+)\)")
_END_RE = re.compile(r"fuse_request_end: connection (\d+) req (\d+) .*error (-?\d+)")
_TS_RE = re.compile(r"\s(\d+\.\d+):\s")


def have_fuse_tracepoints():
    try:
        p = subprocess.run(["perf", "list", "fuse:*"], capture_output=True,
                           text=True, timeout=30)
        return "fuse_request_send" in p.stdout
    except OSError:
        return False


def fuse_trace(argv, mountpoint):
    """Runs ARGV under `perf record` of the fuse request tracepoints and
    returns {opcode: {"n": requests, "ms": total time in the daemon,
    "errors": requests answered with an error}} for MOUNTPOINT's
    connection only."""
    conn = str(os.minor(os.stat(mountpoint).st_dev))
    data = "/tmp/bench-perf.%d" % os.getpid()
    p = subprocess.run(["perf", "record", "-q", "-e", "fuse:fuse_request_send",
                        "-e", "fuse:fuse_request_end", "-a", "-o", data, "--"]
                       + argv, capture_output=True)
    if p.returncode not in (0, 1):      # grep: 1 is "no match"
        log("traced %s exited %d: %s" % (argv[0], p.returncode,
                                          p.stderr.decode(errors="replace")[-500:]))
    text = subprocess.run(["perf", "script", "-i", data], capture_output=True,
                          text=True).stdout
    os.unlink(data)
    sent, out = {}, {}
    for line in text.splitlines():
        ts = _TS_RE.search(line)
        m = _SEND_RE.search(line)
        if m and m.group(1) == conn and ts:
            sent[m.group(2)] = (m.group(3), float(ts.group(1)))
            continue
        m = _END_RE.search(line)
        if m and m.group(1) == conn and ts and m.group(2) in sent:
            op, t0 = sent.pop(m.group(2))
            e = out.setdefault(op, {"n": 0, "ms": 0.0, "errors": 0})
            e["n"] += 1
            e["ms"] += (float(ts.group(1)) - t0) * 1e3
            e["errors"] += m.group(3) != "0"
    for op, _ in sent.values():     # FORGET and friends get no answer
        out.setdefault(op, {"n": 0, "ms": 0.0, "errors": 0})["n"] += 1
    for e in out.values():
        e["ms"] = round(e["ms"], 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["n"]))


def fmt_trace(t):
    return ", ".join("%s %d (%.0f ms%s)" % (op[5:], e["n"], e["ms"],
                                            ", %d err" % e["errors"]
                                            if e["errors"] else "")
                     for op, e in t.items())


def strace_summary(argv):
    """Top system calls by wall time (strace -f -c -w) of one run of ARGV."""
    out = "/tmp/bench-strace.%d" % os.getpid()
    subprocess.run(["strace", "-f", "-c", "-w", "-o", out] + argv,
                   capture_output=True)
    with open(out) as f:
        lines = f.read().splitlines()
    os.unlink(out)
    rows = []
    for line in lines:
        f = line.split()
        # futex is threads waiting for each other, not work: left out.
        if len(f) >= 5 and re.match(r"^\d+\.\d+$", f[0]) and \
                f[-1] not in ("total", "futex"):
            rows.append({"syscall": f[-1], "pct": float(f[0]),
                         "s": float(f[1]), "calls": int(f[3])})
    return rows[:10]


# --------------------------------------------------------------------------
# The phases

class SizeRun:
    def __init__(self, n, args):
        self.n = n
        self.args = args
        self.reps = args.reps
        self.r = {"n": n}
        self.workdir = harness.make_workdir("mailfs-bench-")
        self.dov = None

    def loadavg(self, phase):
        with open("/proc/loadavg") as f:
            self.r.setdefault("loadavg", {})[phase] = f.read().split()[:3]

    def run(self):
        log("N=%d: writing corpus" % self.n)
        self.dov, corpus = fill_server(self.workdir, self.n, self.args.seed)
        self.r["corpus"] = corpus
        self.r["fsync_ms"] = fsync_latency_ms(self.workdir)
        log("N=%d: create+write+fsync of a 4 KB file: %.2f ms (median of 50)"
            % (self.n, self.r["fsync_ms"]))
        log("N=%d: %.1f MB (RFC822), median %d B, %d attachments, fill %.1fs, "
            "server index %.1fs" % (self.n, corpus["rfc822_bytes"] / 1e6,
                                    corpus["median_size"], corpus["attachments"],
                                    corpus["fill_s"], corpus["server_index_s"]))
        self.biggest = max(corpus["folders"], key=corpus["folders"].get)
        try:
            for phase, fn in (("sync", self.phase_cold_sync),
                              ("warm", self.phase_warm),
                              ("ls", self.phase_cold_ls),
                              ("views", self.phase_views)):
                if phase in self.args.phases:
                    self.loadavg(phase)
                    fn()
        finally:
            self.dov.stop()
            if not self.args.keep:
                harness.remove_workdir(self.workdir)
            else:
                log("kept", self.workdir)
        return self.r

    # 7 ------------------------------------------------------------------
    def phase_views(self):
        """The summary of the biggest folder (.mailfs/view/): its first
        read (header fields of every message in one FETCH), then again
        (from memory) and after a refresh (from the cache index); and
        `ls -l` of the raw folder before and after, which views must not
        slow."""
        m = new_mailfs(self.workdir, "mfs-views", self.dov)
        mount(m)
        try:
            folder = m.path(*self.biggest.split("/"))
            summary = m.path(".mailfs", "view", *self.biggest.split("/"),
                             "summary.tsv")
            out = {}
            timed(["ls", "-l", folder])  # the listing, once
            out["ls_before_s"] = median([timed(["ls", "-l", folder])["wall"]
                                         for _ in range(self.reps)])
            out["summary_first_s"] = read_file_seconds(summary)
            out["summary_again_s"] = median([read_file_seconds(summary)
                                             for _ in range(self.reps)])
            with open(m.path(".mailfs", "ctl"), "w") as f:
                f.write("refresh\n")
            time.sleep(1.5)
            out["summary_refreshed_s"] = read_file_seconds(summary)
            out["ls_after_s"] = median([timed(["ls", "-l", folder])["wall"]
                                        for _ in range(self.reps)])
            self.r["views"] = out
            log("N=%d: summary first %.2fs, again %.1f ms, after refresh "
                "%.1f ms; ls -l %.1f ms before, %.1f ms after" % (
                    self.n, out["summary_first_s"],
                    out["summary_again_s"] * 1e3,
                    out["summary_refreshed_s"] * 1e3,
                    out["ls_before_s"] * 1e3, out["ls_after_s"] * 1e3))
        finally:
            umount(m)

    # 1 ------------------------------------------------------------------
    def _fresh_target(self, tool, i):
        """The argv of run I of TOOL, which writes into a directory made
        for it alone, and the directory.  Emptying one directory for every
        run would free thousands of inodes just before the next run, and
        ext4 passes over inodes freed in the last minute when it allocates:
        the next tool would pay for the last one's files."""
        if tool.startswith("mbsync"):
            rc, mdir = write_mbsyncrc(self.workdir, self.dov,
                                      fsync=tool == "mbsync",
                                      run="%s-%d" % (tool, i))
            os.makedirs(mdir)
            self.mbsync_dir = mdir
            return ["mbsync", "-c", rc, "-a", "-q"], mdir
        self.sync_mfs = new_mailfs(self.workdir, "mfs-sync-%d" % i, self.dov)
        return [harness.mailfs_bin(), "sync", "--config", self.sync_mfs.config,
                "--quiet"], os.path.join(self.sync_mfs.cache_dir, "bodies")

    def _remove_runs(self, targets):
        """Deletes what the sync runs wrote, but for the last mailfs cache
        and the last mbsync Maildir, which the warm phase reads."""
        keep = {self.mbsync_dir, os.path.join(self.sync_mfs.cache_dir, "bodies")}
        for t in targets:
            if t not in keep:
                shutil.rmtree(os.path.dirname(t) if os.path.basename(t) == "bodies"
                              else t, ignore_errors=True)

    def phase_cold_sync(self):
        tools = ["mbsync", "mbsync_nofsync", "mailfs"]
        used = []
        runs = {t: [] for t in tools}
        dropped = True
        # mbsync with its default FSync (one fsync per message) takes minutes
        # at 20,000 messages on this disk: above 5,000 it runs --fsync-reps
        # times (default 1) unless asked otherwise.
        fsync_reps = self.reps if self.n <= 5000 or self.args.fsync_reps is None \
            else min(self.reps, self.args.fsync_reps)
        for i in range(self.reps):
            # Rotate the order so no tool always runs first.
            for tool in tools[i % 3:] + tools[:i % 3]:
                if tool == "mbsync" and len(runs[tool]) >= fsync_reps:
                    continue
                argv, target = self._fresh_target(tool, i)
                used.append(target)
                dropped = drop_caches() and dropped
                time.sleep(0.3)
                dcpu0 = dovecot_cpu(self.dov)
                res = timed_rusage(argv)
                time.sleep(0.5)   # let the imap processes exit and be reaped
                res["dovecot_cpu"] = dovecot_cpu(self.dov) - dcpu0
                if res["rc"] != 0:
                    raise RuntimeError("%s failed: %s" % (tool, res["err"]))
                if tool.startswith("mbsync"):
                    got = count_files(target, re.compile(r"^\d+\..*,U=\d+"))
                else:
                    got = count_files(target)
                res["files"] = got
                if got != self.n:
                    raise RuntimeError("%s left %d message files, expected %d"
                                       % (tool, got, self.n))
                del res["err"]
                runs[tool].append(res)
                log("N=%d cold sync %-14s %6.2fs  (cpu user %.2f sys %.2f, "
                    "dovecot %.2f)" % (self.n, tool, res["wall"], res["user"],
                                       res["sys"], res["dovecot_cpu"]))
        self._remove_runs(used)
        out = {"drop_caches": dropped, "runs": runs, "fresh_dir_per_run": True}
        for tool in runs:
            out[tool + "_s"] = median([x["wall"] for x in runs[tool]])
            out[tool + "_cpu_s"] = median([x["user"] + x["sys"]
                                           for x in runs[tool]])
            out[tool + "_dovecot_cpu_s"] = median([x["dovecot_cpu"]
                                                   for x in runs[tool]])
        out["ratio"] = out["mailfs_s"] / out["mbsync_s"]
        out["ratio_vs_nofsync"] = out["mailfs_s"] / out["mbsync_nofsync_s"]
        self.r["cold_sync"] = out
        log("N=%d cold sync: mailfs %.2fs, mbsync %.2fs (FSync no %.2fs), "
            "ratio %.2f (%.2f)" % (self.n, out["mailfs_s"], out["mbsync_s"],
                                   out["mbsync_nofsync_s"], out["ratio"],
                                   out["ratio_vs_nofsync"]))
        # The warm phase greps the mbsync Maildir: make sure the last pull
        # into it was complete (every run above checked its count).

    # 3, 4 (cached), 5 ---------------------------------------------------
    def _warm_prerequisites(self):
        """When the sync phase was skipped: one mbsync pull (FSync no) and
        one mailfs sync, untimed."""
        rc, mdir = write_mbsyncrc(self.workdir, self.dov, fsync=False)
        self.mbsync_dir = mdir
        self.sync_mfs = new_mailfs(self.workdir, "mfs-sync", self.dov)
        os.makedirs(mdir, exist_ok=True)
        res = timed_rusage(["mbsync", "-c", rc, "-a", "-q"])
        if res["rc"] != 0:
            raise RuntimeError("mbsync failed: " + res["err"])

    def phase_warm(self):
        if not hasattr(self, "sync_mfs"):
            self._warm_prerequisites()
        m = self.sync_mfs      # its cache holds every body from the sync
        if not os.path.isdir(os.path.join(m.cache_dir, "bodies")) or \
                count_files(os.path.join(m.cache_dir, "bodies")) != self.n:
            res = timed_rusage([harness.mailfs_bin(), "sync", "--config",
                                m.config, "--quiet"])
            if res["rc"] != 0:
                raise RuntimeError("sync failed: " + res["err"])
        out = {}
        drop_caches()
        mount_s, pid = mount(m)
        out["mount_s"] = mount_s
        try:
            with harness.Watchdog(m, 600):
                self._warm_body(m, pid, out)
        finally:
            umount(m)
        self.r["warm"] = out
        if self.args.read_only:
            self._warm_read_only(m, out)

    def _warm_body(self, m, pid, out):
        folder = m.path(self.biggest)
        t0 = time.monotonic()
        n = sum(1 for f in self.r["corpus"]["folders"]
                for name in os.listdir(m.path(f)) if name.endswith(".eml"))
        out["list_all_cached_store_s"] = time.monotonic() - t0
        if n != self.n:
            raise RuntimeError("mount lists %d messages, expected %d" % (n, self.n))
        files, med = near_median_files(folder, LATENCY_SAMPLES)
        first = [read_file_seconds(p) for p in files]
        again = [read_file_seconds(p) for p in files]
        local = sorted(os.path.join(dp, f) for dp, _, fs in
                       os.walk(os.path.join(self.mbsync_dir, "INBOX"))
                       for f in fs if ":2," in f)[:LATENCY_SAMPLES]
        for p in local:     # into the page cache, like `again` above
            read_file_seconds(p)
        local = [read_file_seconds(p) for p in local]
        out["cat"] = {"size": med,
                      "disk_cached_first_open_s": median(first),
                      "page_cache_warm_s": median(again),
                      "local_file_s": median(local),
                      "samples_first": first, "samples_again": again}
        log("N=%d cat (%d B): disk-cached first open %.2f ms, again %.3f ms, "
            "local %.3f ms" % (self.n, med, median(first) * 1e3,
                               median(again) * 1e3, median(local) * 1e3))
        out["grep_first_pass_s"], out["grep_first_pass_daemon_cpu_s"] = \
            self._grep_warm_up(m, pid)
        out["grep"] = g = self._grep_passes(m, pid)
        log("N=%d warm grep: mount %.3fs, mbsync Maildir %.3fs, cache bodies "
            "%.3fs, ratio %.2f (first pass %.2fs); daemon cpu/pass %.3fs"
            % (self.n, g["mount_s"], g["mbsync_maildir_s"], g["cache_bodies_s"],
               g["ratio"], out["grep_first_pass_s"], g["daemon_cpu_s_per_pass"]))
        out["rss"] = {"vmhwm_kb": status_kb(pid, "VmHWM"),
                      "vmrss_kb": status_kb(pid, "VmRSS"),
                      "threads": status_kb(pid, "Threads")}
        log("N=%d daemon after listing and reading everything: VmHWM %d kB, "
            "VmRSS %d kB" % (self.n, out["rss"]["vmhwm_kb"], out["rss"]["vmrss_kb"]))
        if self.args.trace:
            self._trace_warm(m, out)

    def _grep_warm_up(self, m, pid):
        """One untimed grep -r over the mount, the mbsync Maildir and the
        cache dir.  Through the mount it reads every body from the disk
        cache (and checks its SHA-256).  Returns its wall and daemon CPU
        seconds."""
        cpu0 = proc_cpu(pid)
        g0 = timed(grep_argv(m.mountpoint))
        cpu = proc_cpu(pid) - cpu0
        timed(grep_argv(self.mbsync_dir))
        timed(grep_argv(os.path.join(m.cache_dir, "bodies")))
        return g0["wall"], cpu

    def _grep_passes(self, m, pid):
        """The timed warm grep -r passes, the mount interleaved with its
        anchor (the mbsync Maildir) and mailfs' cache dir, max(reps, 5)
        times; checks that all three find the corpus' matches.  Returns the
        medians, the runs and the ratios."""
        cache_bodies = os.path.join(m.cache_dir, "bodies")
        runs = {"mount": [], "mbsync_maildir": [], "cache_bodies": []}
        errors = []
        cpu0 = proc_cpu(pid)
        for _ in range(max(self.reps, 5)):   # cheap, and noisy: 5 at least
            for name, top in (("mount", m.mountpoint),
                              ("mbsync_maildir", self.mbsync_dir),
                              ("cache_bodies", cache_bodies)):
                g = timed(grep_argv(top))
                if g["rc"] != 0:
                    errors.append("%s: grep exit %d: %s" % (name, g["rc"],
                                                            g["err"][-300:]))
                    log(errors[-1])
                runs[name].append((g["wall"], g["out"]))
        daemon_cpu = proc_cpu(pid) - cpu0
        hits = {k: v[0][1] for k, v in runs.items()}
        if len(set(hits.values())) != 1 or hits["mount"] != self.r["corpus"]["marker"]:
            raise RuntimeError("grep found different matches: %r (corpus %d)"
                               % (hits, self.r["corpus"]["marker"]))
        g = {k + "_s": median([w for w, _ in v]) for k, v in runs.items()}
        g["runs"] = {k: [w for w, _ in v] for k, v in runs.items()}
        g["matches"] = hits["mount"]
        g["errors"] = errors
        g["daemon_cpu_s_per_pass"] = daemon_cpu / max(self.reps, 5)
        g["ratio"] = g["mount_s"] / g["mbsync_maildir_s"]
        g["ratio_vs_cache_bodies"] = g["mount_s"] / g["cache_bodies_s"]
        return g

    def _warm_read_only(self, m, out):
        """The warm grep again, through a --read-only mount of the same
        config and cache dir (which holds every body): after dropping the
        caches, the same warm-up pass, then the same timed passes beside
        the same anchor.  Goes to OUT["grep_ro"]."""
        drop_caches()
        mount_s, pid = mount(m, "--read-only")
        try:
            with harness.Watchdog(m, 600):
                first, first_cpu = self._grep_warm_up(m, pid)
                g = self._grep_passes(m, pid)
                # mount_s is the grep through the mount: the mount's own
                # time goes to mount_time_s.
                g.update(mount_time_s=mount_s, first_pass_s=first,
                         first_pass_daemon_cpu_s=first_cpu)
                out["grep_ro"] = g
                log("N=%d warm grep, read-only mount: mount %.3fs, mbsync "
                    "Maildir %.3fs, cache bodies %.3fs, ratio %.2f (first "
                    "pass %.2fs); daemon cpu/pass %.3fs"
                    % (self.n, g["mount_s"], g["mbsync_maildir_s"],
                       g["cache_bodies_s"], g["ratio"], first,
                       g["daemon_cpu_s_per_pass"]))
                if self.args.trace:
                    self._trace_warm(m, out, "_ro", ", read-only mount")
                check_read_only(m)
        finally:
            umount(m)

    def _trace_warm(self, m, out, suffix="", what=""):
        """Untimed: which FUSE requests a warm grep -r and a warm ls -l of
        the biggest folder make; to OUT["grep{SUFFIX}_fuse_requests"] and
        OUT["ls_warm{SUFFIX}_fuse_requests"]."""
        t = fuse_trace(grep_argv(m.mountpoint), m.mountpoint)
        out["grep%s_fuse_requests" % suffix] = t
        log("N=%d warm grep FUSE requests%s: %s" % (self.n, what, fmt_trace(t)))
        t = fuse_trace(["ls", "-l", m.path(self.biggest)], m.mountpoint)
        out["ls_warm%s_fuse_requests" % suffix] = t
        log("N=%d warm ls -l FUSE requests%s: %s" % (self.n, what, fmt_trace(t)))

    # 2, 4 (uncached), 6 --------------------------------------------------
    def phase_cold_ls(self):
        out = {"folder": self.biggest,
               "messages": self.r["corpus"]["folders"][self.biggest]}
        ls_runs, ls_warm, mounts, raw = [], [], [], []
        ro = {"runs": [], "again": [], "mounts": [], "raw": []}
        # Untimed: the warm phase dropped the caches, and the server is meant
        # to be warm for whichever mode lists first.
        raw_fetch_seconds(self.dov, self.biggest)
        for i in range(self.reps):
            # Before the default mount, whose last rep appends new mail.
            if self.args.read_only:
                self._cold_ls_read_only(i, out["messages"], ro)
            m = new_mailfs(self.workdir, "mfs-ls%d" % i, self.dov)
            mount_s, pid = mount(m)
            mounts.append(mount_s)
            try:
                with harness.Watchdog(m, 600):
                    ls = self._timed_cold_ls(m, pid, out["messages"], "")
                    ls_runs.append(ls)
                    ls_warm.append(timed(["ls", "-l", m.path(self.biggest)])["wall"])
                    raw.append(raw_fetch_seconds(self.dov, self.biggest))
                    log("N=%d cold ls -l %s (%d): %.3fs (daemon cpu %.3f), "
                        "again %.3fs, raw fetch %.4fs, mount %.2fs"
                        % (self.n, self.biggest, out["messages"], ls["wall"],
                           ls["daemon_cpu"], ls_warm[-1], raw[-1][0], mount_s))
                    if i == self.reps - 1:
                        out["rss_after_listing_kb"] = status_kb(pid, "VmHWM")
                        self._uncached_cat(m, out)
                        self._new_mail(m, out)
            finally:
                umount(m)
        if hasattr(self, "mbsync_dir"):
            # Not a target, a scale: the same listing of a local directory.
            local = os.path.join(self.mbsync_dir, self.biggest, "cur")
            timed(["ls", "-l", local])
            out["ls_local_s"] = median([timed(["ls", "-l", local])["wall"]
                                        for _ in range(self.reps)])
        if self.args.trace:
            self._trace_cold(out)
            if self.args.read_only:
                self._trace_cold_read_only(out)
        out["mailfs_s"] = median([x["wall"] for x in ls_runs])
        out["raw_fetch_s"] = median([x[0] for x in raw])
        out["raw_fetch_bytes"] = raw[0][1]
        out["ratio"] = out["mailfs_s"] / out["raw_fetch_s"]
        out["ls_again_s"] = median(ls_warm)
        out["mount_s"] = median(mounts)
        out["runs"] = ls_runs
        out["raw_runs"] = [x[0] for x in raw]
        self.r["cold_ls"] = out
        log("N=%d cold ls -l: mailfs %.3fs, raw fetch %.4fs, ratio %.1f"
            % (self.n, out["mailfs_s"], out["raw_fetch_s"], out["ratio"]))
        if ro["runs"]:
            o = out.setdefault("ro", {})     # may hold the trace already
            o.update(mailfs_s=median([x["wall"] for x in ro["runs"]]),
                     raw_fetch_s=median(ro["raw"]),
                     ls_again_s=median(ro["again"]),
                     mount_s=median(ro["mounts"]),
                     runs=ro["runs"], raw_runs=ro["raw"])
            o["ratio"] = o["mailfs_s"] / o["raw_fetch_s"]
            log("N=%d cold ls -l, read-only mount: mailfs %.3fs, raw fetch "
                "%.4fs, ratio %.1f" % (self.n, o["mailfs_s"], o["raw_fetch_s"],
                                       o["ratio"]))

    def _timed_cold_ls(self, m, pid, messages, what):
        """One timed `ls -l` of the biggest folder through M (daemon PID),
        with the CPU the daemon and Dovecot spent; checks it listed
        MESSAGES files.  WHAT names the mode in an error."""
        cpu0 = proc_cpu(pid)
        dcpu0 = dovecot_cpu(self.dov)
        ls = timed(["ls", "-l", m.path(self.biggest)])
        ls["daemon_cpu"] = proc_cpu(pid) - cpu0
        ls["dovecot_cpu"] = dovecot_cpu(self.dov) - dcpu0
        if ls["rc"] != 0 or ls["out"] != messages + 1:
            raise RuntimeError("ls -l%s: rc %d, %d lines: %s"
                               % (what, ls["rc"], ls["out"], ls["err"]))
        del ls["err"]
        return ls

    def _cold_ls_read_only(self, i, messages, ro):
        """Rep I of the cold ls -l through a fresh --read-only mount with an
        empty cache, and its own raw fetch right after; appended to the
        lists of RO."""
        m = new_mailfs(self.workdir, "mfs-ls-ro%d" % i, self.dov)
        mount_s, pid = mount(m, "--read-only")
        ro["mounts"].append(mount_s)
        try:
            with harness.Watchdog(m, 600):
                ls = self._timed_cold_ls(m, pid, messages, " (read-only)")
                ro["runs"].append(ls)
                ro["again"].append(timed(["ls", "-l", m.path(self.biggest)])["wall"])
                ro["raw"].append(raw_fetch_seconds(self.dov, self.biggest)[0])
                check_read_only(m)
                log("N=%d cold ls -l %s, read-only mount: %.3fs (daemon cpu "
                    "%.3f), again %.3fs, raw fetch %.4fs, mount %.2fs"
                    % (self.n, self.biggest, ls["wall"], ls["daemon_cpu"],
                       ro["again"][-1], ro["raw"][-1], mount_s))
        finally:
            umount(m)

    def _trace_cold(self, out):
        """Untimed: which FUSE requests a cold ls -l and a cold read make,
        and where a cold `mailfs sync` spends its wall time."""
        m = new_mailfs(self.workdir, "mfs-trace", self.dov)
        mount(m)
        try:
            with harness.Watchdog(m, 600):
                folder = m.path(self.biggest)
                t = fuse_trace(["ls", "-l", folder], m.mountpoint)
                out["ls_cold_fuse_requests"] = t
                log("N=%d cold ls -l FUSE requests: %s" % (self.n, fmt_trace(t)))
                files, _ = near_median_files(folder, 1)
                t = fuse_trace(["cat", files[0]], m.mountpoint)
                out["cat_cold_fuse_requests"] = t
                log("N=%d cold cat FUSE requests: %s" % (self.n, fmt_trace(t)))
        finally:
            umount(m)
        shutil.rmtree(m.cache_dir, ignore_errors=True)
        drop_caches()
        rows = strace_summary([harness.mailfs_bin(), "sync", "--config",
                               m.config, "--quiet"])
        self.r.setdefault("cold_sync", {})["strace_mailfs"] = rows
        log("N=%d cold mailfs sync under strace -f -c -w: %s" % (
            self.n, ", ".join("%s %.2fs/%d" % (r["syscall"], r["s"], r["calls"])
                              for r in rows[:6])))

    def _trace_cold_read_only(self, out):
        """Untimed: which FUSE requests a cold ls -l makes through a fresh
        --read-only mount with an empty cache."""
        m = new_mailfs(self.workdir, "mfs-trace-ro", self.dov)
        mount(m, "--read-only")
        try:
            with harness.Watchdog(m, 600):
                t = fuse_trace(["ls", "-l", m.path(self.biggest)], m.mountpoint)
                out.setdefault("ro", {})["ls_cold_fuse_requests"] = t
                log("N=%d cold ls -l FUSE requests, read-only mount: %s"
                    % (self.n, fmt_trace(t)))
                check_read_only(m)
        finally:
            umount(m)

    def _uncached_cat(self, m, out):
        files, med = near_median_files(m.path(self.biggest), LATENCY_SAMPLES)
        times = [read_file_seconds(p) for p in files]
        out["cat_uncached"] = {"size": med, "median_s": median(times),
                               "samples": times}
        log("N=%d cat uncached (%d B): %.2f ms" % (self.n, med,
                                                   median(times) * 1e3))

    def _new_mail(self, m, out):
        rng = random.Random(self.args.seed + self.n)
        c = self.dov.client()
        folder = m.path(self.biggest)
        trials = []
        try:
            for k in range(self.args.new_mail_trials):
                time.sleep(rng.uniform(0.0, 3.0))
                raw = ("From: Bench <bench@example.org>\r\nTo: alice@example.com"
                       "\r\nSubject: new mail %d\r\nMessage-ID: <new%d.%d@bench>"
                       "\r\n\r\nhello %d\r\n" % (k, k, self.n, k)).encode()
                typ, data = c.append(harness.imap_quote(self.biggest), None,
                                     None, raw)
                t0 = time.monotonic()
                if typ != "OK":
                    raise RuntimeError("APPEND: %r" % data)
                uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
                seen = None
                while time.monotonic() - t0 < self.args.new_mail_timeout:
                    if uid in harness.message_names(folder):
                        seen = time.monotonic() - t0
                        break
                    time.sleep(0.02)
                trials.append(seen)
                log("N=%d new mail %d: %s" % (
                    self.n, k, "%.3fs" % seen if seen is not None else
                    "not seen within %ds" % self.args.new_mail_timeout))
        finally:
            c.logout()
        ok = [t for t in trials if t is not None]
        out["new_mail"] = {"trials": trials, "median_s": median(ok),
                           "max_s": max(ok) if len(ok) == len(trials) else None,
                           "timeout_s": self.args.new_mail_timeout}


# --------------------------------------------------------------------------
# Report

def _version(argv, pattern=r"(\d+\.\d+[\w.]*)"):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        m = re.search(pattern, p.stdout + p.stderr)
        return m.group(1) if m else None
    except OSError:
        return None


def fsync_latency_ms(directory, count=50):
    """Median time to create, write 4 KB to and fsync one file in
    DIRECTORY: what mbsync's default FSync pays per message."""
    times = []
    for i in range(count):
        path = os.path.join(directory, "fsync-probe.%d" % i)
        t0 = time.monotonic()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
        os.close(fd)
        times.append(time.monotonic() - t0)
        os.unlink(path)
    return round(median(times) * 1e3, 2)


def machine():
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_total": free.splitlines()[1].split()[1],
        "kernel": platform.release(),
        "dovecot": _version(["dovecot", "--version"]),
        "mbsync": _version(["mbsync", "--version"]),
        "libfuse": _version(["pkg-config", "--modversion", "fuse3"]),
        "fusermount3": _version(["fusermount3", "--version"]),
        "grep": _version(["grep", "--version"]),
        "mailfs": _version([harness.mailfs_bin(), "--version"]),
        "mailfs_commit": _version(["git", "-C", REPO, "rev-parse", "--short",
                                   "HEAD"], r"(\w+)"),
        "mailfs_binary": harness.mailfs_bin(),
        "mailfs_built": datetime.datetime.fromtimestamp(
            os.stat(harness.mailfs_bin()).st_mtime).isoformat(timespec="seconds"),
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
        "hostname": socket.gethostname(),
    }


def verdicts(results):
    rows = []
    by_n = results["sizes"]
    for key, (label, op, limit) in TARGETS.items():
        for n, r in sorted(by_n.items(), key=lambda kv: int(kv[0])):
            try:
                v = _target_value(key, n, r, by_n)
            except KeyError:
                continue
            if v is False:
                continue
            if v is None:
                met = False
            else:
                met = v <= limit if op == "<=" else v < limit
            rows.append({"target": key, "label": label, "n": int(n),
                         "value": v, "limit": "%s %g" % (op, limit),
                         "met": met})
    return rows


def _target_value(key, n, r, by_n):
    """The figure TARGETS[KEY] is about for size N; False: not judged."""
    if key == "cold_sync":
        return r["cold_sync"]["ratio"]
    if key == "warm_grep":
        return r["warm"]["grep"]["ratio"]
    if key == "cold_ls":
        return r["cold_ls"]["ratio"]
    if key == "warm_grep_ro":
        return r["warm"]["grep_ro"]["ratio"]
    if key == "cold_ls_ro":
        return r["cold_ls"]["ro"]["ratio"]
    if key == "rss_3000":
        if int(n) != min(int(k) for k in by_n):
            return False
        return r["warm"]["rss"]["vmhwm_kb"] / 1024
    return r["cold_ls"]["new_mail"]["max_s"]


def markdown(results):
    L = []
    sizes = sorted(results["sizes"].items(), key=lambda kv: int(kv[0]))
    head = "| figure | " + " | ".join("N = %s" % format(int(n), ",")
                                      for n, _ in sizes) + " |"
    L += [head, "|---|" + "---|" * len(sizes)]

    def row(label, fn):
        cells = []
        for _, r in sizes:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError):
                cells.append("—")
        L.append("| %s | %s |" % (label, " | ".join(cells)))

    ms = lambda s: "%.1f ms" % (s * 1e3)  # noqa: E731
    row("corpus (RFC822 MB; median B)", lambda r: "%.0f MB; %d B" % (
        r["corpus"]["rfc822_bytes"] / 1e6, r["corpus"]["median_size"]))
    row("cold `mailfs sync`", lambda r: "%.2f s" % r["cold_sync"]["mailfs_s"])
    row("cold `mbsync` (anchor, default `FSync yes`)", lambda r: "%.2f s%s" % (
        r["cold_sync"]["mbsync_s"], " (1 run)"
        if len(r["cold_sync"]["runs"]["mbsync"]) == 1 else ""))
    row("**ratio sync** (target ≤ 0.5)", lambda r: "**%.2f**" % r["cold_sync"]["ratio"])
    row("cold `mbsync`, `FSync no`", lambda r: "%.2f s" % r["cold_sync"]["mbsync_nofsync_s"])
    row("ratio sync vs `FSync no`", lambda r: "%.2f" % r["cold_sync"]["ratio_vs_nofsync"])
    row("disk: create + fsync of a 4 KB file", lambda r: "%.2f ms" % r["fsync_ms"])
    row("CPU s: mailfs / mbsync / Dovecot (in mailfs run)", lambda r: "%.2f / %.2f / %.2f" % (
        r["cold_sync"]["mailfs_cpu_s"], r["cold_sync"]["mbsync_cpu_s"],
        r["cold_sync"]["mailfs_dovecot_cpu_s"]))
    def mode_rows(get, labels, fmts):
        """One row per (label, key, format) of the dict GET picks: the
        same figures for the default and the read-only mount."""
        for label, key, fmt in zip(labels, *zip(*fmts)):
            row(label, lambda r, k=key, f=fmt: f(get(r)[k]))

    ratio1 = lambda x: "**%.1f**" % x  # noqa: E731
    ls_fmts = [("mailfs_s", ms), ("raw_fetch_s", ms), ("ratio", ratio1),
               ("ls_again_s", ms)]
    row("cold `ls -l` biggest folder", lambda r: "%s (%d msgs)" % (
        ms(r["cold_ls"]["mailfs_s"]), r["cold_ls"]["messages"]))
    mode_rows(lambda r: r["cold_ls"], [
        "raw `UID FETCH 1:*` (anchor)", "**ratio ls** (target ≤ 2)",
        "`ls -l` again, same mount"], ls_fmts[1:])
    row("`ls -l` of the mbsync copy (local)", lambda r: ms(r["cold_ls"]["ls_local_s"]))
    mode_rows(lambda r: r["cold_ls"]["ro"], [
        "cold `ls -l` biggest folder, read-only mount",
        "raw `UID FETCH 1:*` (anchor, read-only run)",
        "**ratio ls, read-only** (target ≤ 2)",
        "`ls -l` again, same read-only mount"], ls_fmts)
    ratio2 = lambda x: "**%.2f**" % x  # noqa: E731
    mode_rows(lambda r: r["warm"]["grep"], [
        "warm `grep -r` via mount", "`grep -r` mbsync Maildir (anchor)",
        "**ratio grep** (target ≤ 1.2)", "`grep -r` mailfs cache dir"],
        [("mount_s", ms), ("mbsync_maildir_s", ms), ("ratio", ratio2),
         ("cache_bodies_s", ms)])
    row("first grep via mount (disk cache)",
        lambda r: ms(r["warm"]["grep_first_pass_s"]))
    mode_rows(lambda r: r["warm"]["grep_ro"], [
        "warm `grep -r` via read-only mount",
        "`grep -r` mbsync Maildir (anchor, read-only run)",
        "**ratio grep, read-only** (target ≤ 1.2)",
        "first grep via read-only mount (disk cache)"],
        [("mount_s", ms), ("mbsync_maildir_s", ms), ("ratio", ratio2),
         ("first_pass_s", ms)])
    row("read uncached message", lambda r: ms(r["cold_ls"]["cat_uncached"]["median_s"]))
    row("read disk-cached, first open",
        lambda r: ms(r["warm"]["cat"]["disk_cached_first_open_s"]))
    row("read again (page cache)",
        lambda r: "%.3f ms" % (r["warm"]["cat"]["page_cache_warm_s"] * 1e3))
    row("read local file (anchor)",
        lambda r: "%.3f ms" % (r["warm"]["cat"]["local_file_s"] * 1e3))
    row("daemon peak RSS (VmHWM)", lambda r: "%.1f MB" % (
        r["warm"]["rss"]["vmhwm_kb"] / 1024))
    row("new mail → visible (median / worst)", lambda r: "%.2f / %s" % (
        r["cold_ls"]["new_mail"]["median_s"],
        "%.2f s" % r["cold_ls"]["new_mail"]["max_s"]
        if r["cold_ls"]["new_mail"]["max_s"] is not None else "timeout"))
    row("mount (login + LIST)", lambda r: ms(r["cold_ls"]["mount_s"]))
    row("summary.tsv of biggest folder: first / again / after refresh",
        lambda r: "%s / %s / %s" % (ms(r["views"]["summary_first_s"]),
                                    ms(r["views"]["summary_again_s"]),
                                    ms(r["views"]["summary_refreshed_s"])))
    row("`ls -l` biggest folder before / after views",
        lambda r: "%s / %s" % (ms(r["views"]["ls_before_s"]),
                               ms(r["views"]["ls_after_s"])))
    if "bytes_per_message" in results:
        L.append("")
        L.append("Daemon memory per message (VmHWM difference): %.0f bytes"
                 % results["bytes_per_message"])
    L.append("")
    L.append("| target | N | value | limit | met |")
    L.append("|---|---|---|---|---|")
    for v in results["verdicts"]:
        L.append("| %s | %s | %s | %s | %s |" % (
            v["label"], format(v["n"], ","),
            "%.2f" % v["value"] if v["value"] is not None else "—",
            v["limit"], "yes" if v["met"] else "**no**"))
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="3000,20000",
                    help="comma-separated corpus sizes (default 3000,20000)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: N=1000, 2 repetitions")
    ap.add_argument("--reps", type=int, default=3,
                    help="repetitions of each timed figure (median reported)")
    ap.add_argument("--fsync-reps", type=int, default=1,
                    help="runs of mbsync with its default FSync when N > 5000 "
                    "(each takes minutes here; default 1)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--new-mail-trials", type=int, default=5)
    ap.add_argument("--new-mail-timeout", type=int, default=30)
    ap.add_argument("--out", default="bench-results.json")
    ap.add_argument("--markdown", help="also write the tables to this file")
    ap.add_argument("--no-trace", dest="trace", action="store_false",
                    help="skip the untimed perf/strace passes that show "
                    "which FUSE requests and system calls the time goes to")
    ap.add_argument("--render", metavar="JSON",
                    help="only print the tables of an earlier results file")
    ap.add_argument("--phases", default="sync,warm,ls,views",
                    help="which phases to run (sync: cold sync; warm: grep, "
                    "cached reads, RSS; ls: cold ls -l, uncached reads, new "
                    "mail; views: folder summaries); default all")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dirs (Dovecot, caches, Maildirs)")
    ap.add_argument("--scale-sizes", default="50000,200000",
                    help="sizes of the one-folder figures of scale.py "
                    "(default 50000,200000; empty: none)")
    ap.add_argument("--scale-phases",
                    default="anchors,ls,grep,cold_grep,traffic",
                    help="which of scale.py's phases to run")
    ap.add_argument("--use-rounds", type=int, default=10,
                    help="scale.py: rounds of use before the memory figure")
    ap.add_argument("--refresh-wait", type=int, default=7,
                    help="scale.py: seconds before the refresh measured")
    ap.add_argument("--idle-seconds", type=int, default=120,
                    help="scale.py: seconds of each idle traffic figure")
    args = ap.parse_args()
    if args.render:
        with open(args.render) as f:
            res = json.load(f)
        print(markdown(res) if res.get("sizes") else "")
        if res.get("scale"):
            print(scale.markdown(res["scale"]))
        return
    if args.quick:
        args.sizes = "1000"
        args.scale_sizes = "2000"
        args.idle_seconds = 20
        args.reps = 2
        args.new_mail_trials = 3
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (FUSE mounts, drop_caches, Dovecot's mail user)")
    if not os.access(harness.mailfs_bin(), os.X_OK):
        sys.exit("bench.py: no mailfs binary at %s; set MAILFS_BIN"
                 % harness.mailfs_bin())
    if args.trace and not (have_fuse_tracepoints() and shutil.which("strace")):
        log("no perf fuse tracepoints or no strace: tracing passes skipped")
        args.trace = False
    args.read_only = have_read_only()
    if not args.read_only:
        log("%s has no `mount --read-only`: read-only passes skipped"
            % harness.mailfs_bin())
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
               "machine": machine(), "reps": args.reps, "sizes": {}}
    log("machine:", results["machine"])
    t0 = time.monotonic()
    for n in sizes:
        results["sizes"][str(n)] = SizeRun(n, args).run()
    results["scale"] = [scale.ScaleRun(int(n), args).run()
                        for n in args.scale_sizes.split(",") if n]
    results["elapsed_s"] = time.monotonic() - t0
    if len(sizes) >= 2:
        lo, hi = str(min(sizes)), str(max(sizes))
        a = results["sizes"][lo]["warm"]["rss"]["vmhwm_kb"]
        b = results["sizes"][hi]["warm"]["rss"]["vmhwm_kb"]
        results["bytes_per_message"] = (b - a) * 1024 / (int(hi) - int(lo))
    results["verdicts"] = verdicts(results) if sizes else {}
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    md = markdown(results) if sizes else ""
    if results["scale"]:
        md += "\n" + scale.markdown(results["scale"])
    print()
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n")
    log("done in %.0f s; results in %s" % (results["elapsed_s"], args.out))


if __name__ == "__main__":
    main()
