"""The big-folder figures of the benchmark (issue 14): one folder of N small
messages (50,000 and 200,000 by default), each figure beside its anchor in
the same run:

  raw `UID FETCH 1:*` and `ls -l` of the folder's own Maildir cur/ (a local
  directory of N files) -> cold and warm `ls -l` through a fresh mount;
  daemon VmHWM before and after listing and a few minutes' worth of use ->
  bytes per listed message;
  `grep -r` of the Maildir cur/ -> the first grep after mounting over a
  synced cache, warm grep (default and read-only mount);
  cold `mailfs sync` + `grep -r` of its cache -> a cold grep through a mount
  with an empty cache (bodies fetched as read);
  bytes the server sent (a counting TCP relay) for a refresh of the
  unchanged folder, and while the mount sits idle (with and without a shell
  running `ls` every 10 s).

Used by bench.py (`--scale-sizes`); stdlib only.
"""

import os
import shutil
import subprocess
import threading
import time

import bench
import harness
import mkcorpus


class CountingRelay(harness.TcpRelay):
    """A TCP relay that counts the bytes each way (TLS records included)."""

    def __init__(self, target):
        super().__init__(target)
        self.counts = {"up": 0, "down": 0}
        self.count_lock = threading.Lock()

    def forward(self, data, src, dst, direction, state):
        with self.count_lock:
            self.counts[direction] += len(data)
        dst.sendall(data)
        return True

    def down(self):
        with self.count_lock:
            return self.counts["down"]


def _grep(top):
    return ["grep", "-r", "--exclude-dir=.mailfs", mkcorpus.MARKER, top]


class ScaleRun:
    def __init__(self, n, args):
        self.n = n
        self.args = args
        self.reps = args.reps
        self.r = {"n": n}
        self.workdir = harness.make_workdir("mailfs-scale-")

    def log(self, fmt, *a):
        bench.log(("N=%d " % self.n) + (fmt % a if a else fmt))

    def run(self):
        self.dov = harness.Dovecot(self.workdir)
        root = bench.maildir_root(self.dov)
        t0 = time.monotonic()
        self.r["corpus"] = c = mkcorpus.fill_folder(root, self.n,
                                                   self.args.seed)
        uid, gid = self.dov._identity()[:2]
        subprocess.run(["chown", "-R", "%d:%d" % (uid, gid),
                        os.path.join(self.dov.dir, "mail")], check=True)
        self.local = os.path.join(root, "cur")
        self.log("one folder, %.1f MB (RFC822), median %d B, written in "
                 "%.1fs", c["rfc822_bytes"] / 1e6, c["median_size"],
                 time.monotonic() - t0)
        self.dov.start()
        try:
            bench.raw_fetch_seconds(self.dov, "INBOX")   # Dovecot's index
            for phase in ("anchors", "ls", "grep", "cold_grep", "traffic"):
                if phase in self.args.scale_phases:
                    getattr(self, "phase_" + phase)()
        finally:
            self.dov.stop()
            if not self.args.keep:
                harness.remove_workdir(self.workdir)
            else:
                self.log("kept %s", self.workdir)
        return self.r

    def _median_timed(self, argv, reps=None):
        bench.timed(argv)     # into the page cache
        return bench.median([bench.timed(argv)["wall"]
                             for _ in range(reps or self.reps)])

    def phase_anchors(self):
        raw = [bench.raw_fetch_seconds(self.dov, "INBOX")
               for _ in range(self.reps)]
        self.r["raw_fetch_s"] = bench.median([x[0] for x in raw])
        self.r["raw_fetch_bytes"] = raw[0][1]
        self.r["ls_local_s"] = self._median_timed(["ls", "-l", self.local])
        self.r["grep_local_s"] = self._median_timed(_grep(self.local),
                                                    max(self.reps, 5))
        self.log("raw UID FETCH %.3fs (%.1f MB), local ls -l %.3fs, local "
                 "grep %.3fs", self.r["raw_fetch_s"],
                 self.r["raw_fetch_bytes"] / 1e6, self.r["ls_local_s"],
                 self.r["grep_local_s"])

    def _mailfs(self, name, url=None, extra=None):
        m = harness.Mailfs(self.workdir, name=name)
        m.configure(url or self.dov.url("imaps"), ca_file=self.dov.cert,
                    timeout=None, refresh_interval=None, extra=extra)
        return m

    def _ls(self, m):
        ls = bench.timed(["ls", "-l", m.path("INBOX")])
        if ls["rc"] != 0 or ls["out"] != self.n + 1:
            raise RuntimeError("ls -l: rc %d, %d lines: %s"
                               % (ls["rc"], ls["out"], ls["err"][-300:]))
        return ls["wall"]

    # cold and warm ls -l, memory -----------------------------------------
    def phase_ls(self):
        cold, warm = [], []
        for i in range(self.reps):
            m = self._mailfs("ls%d" % i)
            _, pid = bench.mount(m)
            try:
                with harness.Watchdog(m, 1800):
                    hwm0 = bench.status_kb(pid, "VmHWM")
                    cold.append(self._ls(m))
                    warm += [self._ls(m) for _ in range(self.reps)]
                    hwm1 = bench.status_kb(pid, "VmHWM")
                    self.log("cold ls -l %.3fs, warm %s", cold[-1],
                             " ".join("%.3f" % w for w in warm[-self.reps:]))
                    if i == self.reps - 1:
                        self._memory(m, pid, hwm0, hwm1)
            finally:
                bench.umount(m)
            shutil.rmtree(m.dir, ignore_errors=True)
        r = self.r
        r["ls_cold_s"], r["ls_warm_s"] = bench.median(cold), bench.median(warm)
        r["ls_cold_runs"], r["ls_warm_runs"] = cold, warm
        if "ls_local_s" in r:
            r["ratio_ls_warm"] = r["ls_warm_s"] / r["ls_local_s"]
            r["ratio_ls_cold"] = r["ls_cold_s"] / (r["raw_fetch_s"] +
                                                   r["ls_local_s"])
            self.log("ls -l: warm %.3fs = %.2fx local; cold %.3fs = %.2fx "
                     "(raw fetch + local ls -l)", r["ls_warm_s"],
                     r["ratio_ls_warm"], r["ls_cold_s"], r["ratio_ls_cold"])

    def _memory(self, m, pid, hwm0, hwm1):
        """A few minutes' worth of use: directories held open while others
        list, refreshes that list the folder again, cat of messages; then
        the daemon's peak and current RSS against the one before the first
        listing."""
        folder = m.path("INBOX")
        for k in range(self.args.use_rounds):
            fds = [os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
                   for _ in range(4)]
            self._ls(m)
            with open(m.path(".mailfs", "ctl"), "w") as f:
                f.write("refresh\n")
            os.listdir(folder)
            for fd in fds:
                os.close(fd)
        hwm2 = bench.status_kb(pid, "VmHWM")
        rss = bench.status_kb(pid, "VmRSS")
        self.r["memory"] = {
            "vmhwm_before_kb": hwm0, "vmhwm_after_listing_kb": hwm1,
            "vmhwm_after_use_kb": hwm2, "vmrss_after_use_kb": rss,
            "use_rounds": self.args.use_rounds,
            "bytes_per_msg_listing": (hwm1 - hwm0) * 1024 / self.n,
            "bytes_per_msg_use": (hwm2 - hwm0) * 1024 / self.n}
        self.log("daemon VmHWM %d kB before listing, %d after (%.0f B/msg), "
                 "%d after %d rounds of use (%.0f B/msg); VmRSS %d kB", hwm0,
                 hwm1, self.r["memory"]["bytes_per_msg_listing"], hwm2,
                 self.args.use_rounds, self.r["memory"]["bytes_per_msg_use"],
                 rss)

    # grep over a synced cache ------------------------------------------
    def phase_grep(self):
        m = self._mailfs("grep")
        res = bench.timed_rusage([harness.mailfs_bin(), "sync", "--config",
                                  m.config, "--quiet"])
        if res["rc"] != 0:
            raise RuntimeError("mailfs sync: " + res["err"])
        self.r["sync_s"] = res["wall"]
        bodies = os.path.join(m.cache_dir, "bodies")
        # Both sides from the page cache: what is left is mailfs' own cost.
        bench.timed(_grep(bodies))
        g = {}
        _, pid = bench.mount(m)
        try:
            with harness.Watchdog(m, 1800):
                g["first_s"] = bench.timed(_grep(m.mountpoint))["wall"]
                g["first_local_s"] = bench.timed(_grep(self.local))["wall"]
                g["warm_s"], g["warm_local_s"] = self._grep_pairs(m)
        finally:
            bench.umount(m)
        if bench.have_read_only():
            _, pid = bench.mount(m, "--read-only")
            try:
                with harness.Watchdog(m, 1800):
                    bench.timed(_grep(m.mountpoint))
                    g["warm_ro_s"], g["warm_ro_local_s"] = self._grep_pairs(m)
            finally:
                bench.umount(m)
            g["ratio_warm_ro"] = g["warm_ro_s"] / g["warm_ro_local_s"]
        floor = self._grep_floor()
        if floor:
            g["warm_floor_s"], g["warm_floor_local_s"] = floor
            g["ratio_warm_floor"] = floor[0] / floor[1]
        g["ratio_first"] = g["first_s"] / g["first_local_s"]
        g["ratio_warm"] = g["warm_s"] / g["warm_local_s"]
        self.r["grep"] = g
        self.log("grep: first after mount %.3fs = %.2fx local, warm %.3fs = "
                 "%.2fx, read-only %s, floor (floorfs) %s", g["first_s"],
                 g["ratio_first"], g["warm_s"], g["ratio_warm"],
                 "%.2fx" % g["ratio_warm_ro"] if "ratio_warm_ro" in g else "-",
                 "%.2fx" % g["ratio_warm_floor"] if floor else "-")
        self.sync_mfs = m

    def _grep_floor(self):
        """The warm grep through floorfs.c (the least a FUSE daemon that
        answers OPEN and RELEASE can do) over the same local directory,
        beside the local grep: (floorfs, local) seconds, or None when it
        cannot be built (cc, libfuse3-dev)."""
        exe = os.path.join(self.workdir, "floorfs")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "floorfs.c")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"],
                               capture_output=True, text=True)
        if flags.returncode != 0 or subprocess.run(
                ["cc", "-O2", src, "-o", exe] + flags.stdout.split(),
                capture_output=True).returncode != 0:
            self.log("floorfs not built: no floor measured")
            return None
        mnt = os.path.join(self.workdir, "floor-mnt")
        os.makedirs(mnt, exist_ok=True)
        p = subprocess.Popen([exe, self.local, mnt])
        try:
            if not harness.wait_until(lambda: harness.is_mounted(mnt), 10):
                raise RuntimeError("floorfs did not mount")
            bench.timed(_grep(mnt))
            return self._grep_pairs(None, mnt)
        finally:
            subprocess.run(["fusermount3", "-u", mnt])
            p.wait(10)

    def _grep_pairs(self, m, top=None):
        mount, local = [], []
        top = top or m.mountpoint
        for _ in range(max(self.reps, 5)):
            a = bench.timed(_grep(top))
            b = bench.timed(_grep(self.local))
            if a["out"] != b["out"]:
                raise RuntimeError("grep found %d lines via mailfs, %d "
                                   "locally" % (a["out"], b["out"]))
            mount.append(a["wall"])
            local.append(b["wall"])
        return bench.median(mount), bench.median(local)

    # grep through a mount with an empty cache -----------------------------
    def phase_cold_grep(self):
        m = self._mailfs("coldgrep")
        _, pid = bench.mount(m)
        try:
            with harness.Watchdog(m, 3600):
                g = bench.timed(_grep(m.mountpoint))
        finally:
            bench.umount(m)
        shutil.rmtree(m.dir, ignore_errors=True)
        s = self._mailfs("coldsync")
        res = bench.timed_rusage([harness.mailfs_bin(), "sync", "--config",
                                  s.config, "--quiet"])
        if res["rc"] != 0:
            raise RuntimeError("mailfs sync: " + res["err"])
        bodies = os.path.join(s.cache_dir, "bodies")
        local = bench.timed(_grep(bodies))["wall"]
        shutil.rmtree(s.dir, ignore_errors=True)
        r = {"mount_s": g["wall"], "sync_s": res["wall"],
             "grep_synced_s": local}
        r["ratio"] = r["mount_s"] / (r["sync_s"] + r["grep_synced_s"])
        self.r["cold_grep"] = r
        self.log("cold grep through a mount %.2fs; mailfs sync %.2fs + grep "
                 "%.3fs; ratio %.2f", r["mount_s"], r["sync_s"],
                 r["grep_synced_s"], r["ratio"])

    # bytes on the wire ----------------------------------------------------
    def phase_traffic(self):
        relay = CountingRelay(self.dov.imaps_port).start()
        url = "imaps://localhost:%d" % relay.port
        m = self._mailfs("traffic", url=url)
        t = {}
        try:
            _, pid = bench.mount(m)
            with harness.Watchdog(m, 3600):
                b0 = relay.down()
                self._ls(m)
                t["first_listing_bytes"] = relay.down() - b0
                time.sleep(self.args.refresh_wait)
                b0 = relay.down()
                self._ls(m)
                t["refresh_bytes"] = relay.down() - b0
                b0 = relay.down()
                end = time.monotonic() + self.args.idle_seconds
                while time.monotonic() < end:
                    os.listdir(m.mountpoint)
                    time.sleep(10)
                t["idle_ls_bytes"] = relay.down() - b0
                b0 = relay.down()
                time.sleep(self.args.idle_seconds)
                t["idle_alone_bytes"] = relay.down() - b0
                t["idle_seconds"] = self.args.idle_seconds
            bench.umount(m)
        finally:
            relay.stop()
        self.r["traffic"] = t
        self.log("bytes received: first listing %d, refresh after %ds %d, "
                 "%ds idle with `ls` every 10 s %d, %ds alone %d",
                 t["first_listing_bytes"], self.args.refresh_wait,
                 t["refresh_bytes"], t["idle_seconds"], t["idle_ls_bytes"],
                 t["idle_seconds"], t["idle_alone_bytes"])


def markdown(runs):
    """The big-folder table, one column per N."""
    ns = [r["n"] for r in runs]
    rows = [
        ("raw `UID FETCH 1:*` (anchor)", lambda r: "%.3f s, %.1f MB" % (
            r["raw_fetch_s"], r["raw_fetch_bytes"] / 1e6)),
        ("`ls -l` of the local Maildir cur/ (anchor)",
         lambda r: "%.3f s" % r["ls_local_s"]),
        ("cold `ls -l INBOX` (empty cache)", lambda r: "%.3f s" % r["ls_cold_s"]),
        ("**ratio cold** vs raw + local (target ≤ 2)",
         lambda r: "**%.2f**" % r["ratio_ls_cold"]),
        ("warm `ls -l` (same mount)", lambda r: "%.3f s" % r["ls_warm_s"]),
        ("**ratio warm** vs local (target ≤ 1.5)",
         lambda r: "**%.2f**" % r["ratio_ls_warm"]),
        ("daemon VmHWM before / after listing / after use",
         lambda r: "%.1f / %.1f / %.1f MB" % (
             r["memory"]["vmhwm_before_kb"] / 1024,
             r["memory"]["vmhwm_after_listing_kb"] / 1024,
             r["memory"]["vmhwm_after_use_kb"] / 1024)),
        ("**bytes per message** after listing / after use (target ≤ 100)",
         lambda r: "**%.0f / %.0f**" % (r["memory"]["bytes_per_msg_listing"],
                                        r["memory"]["bytes_per_msg_use"])),
        ("`grep -r` local (anchor)", lambda r: "%.3f s" % r["grep"]["first_local_s"]),
        ("first `grep -r` after mounting, cached", lambda r: "%.3f s" %
         r["grep"]["first_s"]),
        ("**ratio first grep** (target ≤ 2)",
         lambda r: "**%.2f**" % r["grep"]["ratio_first"]),
        ("warm `grep -r` / local", lambda r: "%.3f / %.3f s" % (
            r["grep"]["warm_s"], r["grep"]["warm_local_s"])),
        ("**ratio warm grep** (target ≤ 2)",
         lambda r: "**%.2f**" % r["grep"]["ratio_warm"]),
        ("**ratio warm grep, read-only** (target ≤ 1.2)",
         lambda r: "**%.2f**" % r["grep"]["ratio_warm_ro"]),
        ("floor: warm `grep -r` via floorfs.c / local (OPEN + RELEASE only)",
         lambda r: "%.3f / %.3f s = %.2f" % (
             r["grep"]["warm_floor_s"], r["grep"]["warm_floor_local_s"],
             r["grep"]["ratio_warm_floor"])),
        ("cold `grep -r` via mount / (`mailfs sync` + grep)",
         lambda r: "%.2f / (%.2f + %.3f) s" % (
             r["cold_grep"]["mount_s"], r["cold_grep"]["sync_s"],
             r["cold_grep"]["grep_synced_s"])),
        ("**ratio cold grep** (target ≤ 1.5)",
         lambda r: "**%.2f**" % r["cold_grep"]["ratio"]),
        ("bytes received: first listing / refresh of the unchanged folder",
         lambda r: "%d / %d" % (r["traffic"]["first_listing_bytes"],
                                r["traffic"]["refresh_bytes"])),
        ("bytes received idle: with `ls` every 10 s / alone",
         lambda r: "%d / %d (%d s each)" % (r["traffic"]["idle_ls_bytes"],
                                            r["traffic"]["idle_alone_bytes"],
                                            r["traffic"]["idle_seconds"])),
    ]
    out = ["| figure | " + " | ".join("N = {:,}".format(n) for n in ns) + " |",
           "|---|" + "---|" * len(ns)]
    for label, fn in rows:
        cells = []
        for r in runs:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("—")
        out.append("| %s | %s |" % (label, " | ".join(cells)))
    return "\n".join(out) + "\n"
