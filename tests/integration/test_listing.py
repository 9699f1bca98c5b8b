"""Big folders through the mount: an open directory lists the snapshot it
was opened on, whatever refreshes happen while it is read (no name twice,
none lost, none of the new ones), and open directories share the
folder's listing instead of each holding a copy of it; messages read one
after the other bring the next ones with them (read-ahead).

Run: MAILFS_BIN=.../mailfs /usr/bin/python3 -m unittest -v test_listing
"""

import ctypes
import os
import struct
import unittest

import harness
from test_offline import MailfsCase, bulk_append, filler_message

COUNT = 1500
SYS_GETDENTS64 = 217     # x86_64

_libc = ctypes.CDLL(None, use_errno=True)


def getdents(fd, size=2048):
    """The names one getdents64 call of SIZE bytes returns (empty at the
    end): a directory read a little at a time, as ls reads a big one."""
    buf = ctypes.create_string_buffer(size)
    n = _libc.syscall(SYS_GETDENTS64, fd, buf, size)
    if n < 0:
        raise OSError(ctypes.get_errno(), "getdents64")
    names, off = [], 0
    while off < n:
        reclen = struct.unpack_from("H", buf.raw, off + 16)[0]
        name = buf.raw[off + 19:off + reclen].split(b"\0", 1)[0]
        names.append(name.decode())
        off += reclen
    return names


def eml_names(names):
    return [n for n in names if n.endswith(".eml")]


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class ListingTest(MailfsCase):

    def setUp(self):
        if os.uname().machine != "x86_64":
            self.skipTest("getdents64 is called by its x86_64 number")
        super().setUp()
        self.uids = bulk_append(self.dovecot, "Big",
                                [filler_message("big-%04d" % i, 300)
                                 for i in range(COUNT)])
        self.m = self.new_mailfs(refresh_interval=1)
        self.mount(self.m)
        self.big = self.m.path("Big")

    def change_on_server(self):
        """Expunges the first 100 messages of Big and appends 50."""
        c = self.dovecot.client()
        try:
            c.select("Big")
            gone = "%d:%d" % (self.uids[0], self.uids[99])
            c.uid("STORE", gone, "+FLAGS.SILENT", "(\\Deleted)")
            typ, data = c.uid("EXPUNGE", gone)
            self.assertEqual(typ, "OK", data)
        finally:
            c.logout()
        bulk_append(self.dovecot, "Big", [filler_message("new-%02d" % i, 300)
                                          for i in range(50)], create=False)

    def test_open_directory_keeps_its_snapshot(self):
        before = sorted(eml_names(os.listdir(self.big)))
        self.assertEqual(len(before), COUNT)
        fd = os.open(self.big, os.O_RDONLY | os.O_DIRECTORY)
        self.addCleanup(os.close, fd)
        got = getdents(fd)
        self.assertTrue(0 < len(got) < COUNT / 4, len(got))
        self.change_on_server()
        with open(self.m.path(".mailfs", "ctl"), "w") as f:
            f.write("refresh\n")
        # A directory opened now lists the change ...
        self.assertTrue(harness.wait_until(
            lambda: len(eml_names(os.listdir(self.big))) == COUNT - 50, 15),
            "the refresh did not show")
        # ... the one opened before goes on with what it was opened on.
        while True:
            more = getdents(fd)
            if not more:
                break
            got += more
        names = eml_names(got)
        self.assertEqual(len(names), len(set(names)), "a name came twice")
        self.assertEqual(sorted(names), before)

    def test_open_directories_share_the_listing(self):
        os.listdir(self.big)
        pid = self.m.daemons()[0]
        rss0 = status_kb(pid, "VmRSS")
        fds = []
        try:
            for _ in range(40):
                fds.append(os.open(self.big, os.O_RDONLY | os.O_DIRECTORY))
                getdents(fds[-1], 4096)
            grown = status_kb(pid, "VmRSS") - rss0
        finally:
            for fd in fds:
                os.close(fd)
        # A copy of the listing per open directory would be 40 x 1500
        # entries of some 230 bytes: about 13 MB.
        self.assertLess(grown, 3 * 1024, "VmRSS grew by %d kB" % grown)


class ReadAheadTest(MailfsCase):

    def test_reading_in_order_fetches_the_next_ones(self):
        raws = [filler_message("ra-%02d" % i, 2000) for i in range(40)]
        uids = bulk_append(self.dovecot, "Seq", raws)
        m = self.new_mailfs()
        self.mount(m)
        folder = m.path("Seq")
        names = harness.message_names(folder)
        paths = [os.path.join(folder, names[u]) for u in uids]
        # Read in listing order: the 5th read brings 8 more with it.
        for i in range(5):
            with open(paths[i], "rb") as f:
                self.assertEqual(f.read(), raws[i])
        self.stop_server()
        for i in range(5, 13):
            with open(paths[i], "rb") as f:
                self.assertEqual(f.read(), raws[i], "message %d" % i)
        # Not read ahead: far from what was read.
        with self.assertRaises(OSError):
            with open(paths[30], "rb") as f:
                f.read()

    def test_reading_out_of_order_fetches_one_at_a_time(self):
        raws = [filler_message("rnd-%02d" % i, 2000) for i in range(40)]
        uids = bulk_append(self.dovecot, "Rnd", raws)
        m = self.new_mailfs()
        self.mount(m)
        folder = m.path("Rnd")
        names = harness.message_names(folder)
        paths = [os.path.join(folder, names[u]) for u in uids]
        for i in (20, 3, 31, 9, 15, 27):
            with open(paths[i], "rb") as f:
                self.assertEqual(f.read(), raws[i])
        self.stop_server()
        with self.assertRaises(OSError):
            with open(paths[28], "rb") as f:
                f.read()


if __name__ == "__main__":
    unittest.main()
