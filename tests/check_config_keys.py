#!/usr/bin/python3
"""Checks that docs/mailfs.conf.5 describes exactly the keys of the table
in fs/config_keys.c, so that the two cannot drift: a key added to the code
without its page, or a page left for a key that is gone, fails here.

Usage: check_config_keys.py SOURCE_ROOT"""

import os
import re
import sys


def code_keys(path):
    """The names of the rows of config_keys[] in fs/config_keys.c."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"static const ConfigKey config_keys\[\] = \{(.*?)\n\};",
                  text, re.S)
    if not m:
        sys.exit("%s: no table config_keys[] found" % path)
    return re.findall(r'^\s*\{ "([a-z0-9_]+)",', m.group(1), re.M)


def page_keys(path):
    """The keys the KEYS section of the man page describes: each a .TP
    paragraph whose tag is .B KEY."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^\.SH KEYS\n(.*?)^\.SH ", text, re.S | re.M)
    if not m:
        sys.exit("%s: no KEYS section found" % path)
    return re.findall(r"^\.TP\n\.B ([a-z0-9_]+)\n", m.group(1), re.M)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    code = code_keys(os.path.join(root, "fs", "config_keys.c"))
    page = page_keys(os.path.join(root, "docs", "mailfs.conf.5"))
    problems = []
    for name in sorted(set(code) - set(page)):
        problems.append("%s: in fs/config_keys.c, not described in "
                        "docs/mailfs.conf.5 (KEYS)" % name)
    for name in sorted(set(page) - set(code)):
        problems.append("%s: described in docs/mailfs.conf.5, not a key of "
                        "fs/config_keys.c" % name)
    for name in sorted({k for k in page if page.count(k) > 1}):
        problems.append("%s: described twice in docs/mailfs.conf.5" % name)
    if len(code) < 10:
        problems.append("only %d keys found in fs/config_keys.c: is the "
                        "table's layout what this script expects?"
                        % len(code))
    for p in problems:
        print(p)
    if problems:
        return 1
    print("%d keys, each described once" % len(code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
