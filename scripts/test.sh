#!/usr/bin/env bash
# Installs dependencies, builds with -Werror, runs every meson test (unit and
# integration) and prints "N passed, N failed[, N skipped]".  Exits non-zero
# if a test failed or none ran.  BUILDDIR (default: build) may be overridden.
set -euo pipefail

cd "$(dirname "$0")/.."
builddir=${BUILDDIR:-build}

scripts/install-deps.sh

# Integration tests mount through /dev/fuse.
if [[ ! -e /dev/fuse ]]; then
	modprobe fuse 2>/dev/null || true
fi

if [[ -d "$builddir/meson-private" ]]; then
	meson setup --reconfigure -Dwerror=true "$builddir"
else
	meson setup -Dwerror=true "$builddir"
fi
meson compile -C "$builddir"

status=0
meson test -C "$builddir" --print-errorlogs || status=$?

summary=$(/usr/bin/python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
try:
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            result = json.loads(line).get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif result == "SKIP":
                counts["skipped"] += 1
            else:
                counts["failed"] += 1
except FileNotFoundError:
    pass
text = "%d passed, %d failed" % (counts["passed"], counts["failed"])
if counts["skipped"]:
    text += ", %d skipped" % counts["skipped"]
print(text)
print(counts["passed"] + counts["failed"], counts["failed"])
PY
)
echo "${summary%%$'\n'*}"
read -r ran failed <<<"${summary##*$'\n'}"

if ((failed > 0 || status != 0)); then
	exit 1
fi
if ((ran == 0)); then
	echo "test.sh: no tests ran" >&2
	exit 1
fi
