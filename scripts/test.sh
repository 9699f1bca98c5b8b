#!/usr/bin/env bash
# Installs dependencies, then runs everything and prints one summary line
# "N passed, N failed[, N skipped]" for all of it:
#   1. BUILDDIR (default build): build with -Werror, every meson test (unit
#      and integration; run by root, integration modules run as the user
#      mailfs-test, see scripts/as-test-user.sh);
#   2. ASAN_BUILDDIR (default build-asan): the same build with
#      -Db_sanitize=address,undefined and the same tests, with leak checks
#      and undefined behaviour fatal (SANITIZE=0 skips it);
#   3. FUZZ_BUILDDIR (default build-fuzz): the libFuzzer targets of
#      tests/fuzz, FUZZ_SECONDS (default 6) each, a test each (FUZZ=0 skips).
# In 1 and 2, TEST_JOBS (default 5) tests run at once: the integration
# modules (long ones in parts) mostly wait on servers and timers, each with
# its own ports, temp dirs and Dovecot; the whole run takes about 8 minutes
# on 2 cores.
# A build that fails counts as one failed test.  Exits non-zero if anything
# failed or no test ran.
set -euo pipefail

cd "$(dirname "$0")/.."
builddir=${BUILDDIR:-build}
jobs=${TEST_JOBS:-5}
asandir=${ASAN_BUILDDIR:-build-asan}
fuzzdir=${FUZZ_BUILDDIR:-build-fuzz}

scripts/install-deps.sh

# Integration tests mount through /dev/fuse.
if [[ ! -e /dev/fuse ]]; then
	modprobe fuse 2>/dev/null || true
fi
# Run by root (as in CI), they run as the unprivileged user mailfs-test
# (scripts/as-test-user.sh, which checks this again before each module):
# make it, /dev/fuse and the tree ready once, up front.
if ((EUID == 0)) && [[ "${MAILFS_TEST_USER:-mailfs-test}" != root ]]; then
	scripts/test-user-setup.sh "${MAILFS_TEST_USER:-mailfs-test}" \
		"$PWD/tests/integration" "$PWD/meson.build"
fi

logs=()
build_failures=0
status=0
# Every test run a second time, and how both runs ended: listed again
# next to the summary, so that a flaky test is seen, not hidden.
retried=$(mktemp)
sanitizer_logs=
trap 'rm -rf "$retried" ${sanitizer_logs:+"$sanitizer_logs"}' EXIT

# setup DIR [meson options...]: configures DIR, or reconfigures it.
setup() {
	local dir=$1
	shift
	if [[ -d "$dir/meson-private" ]]; then
		meson setup --reconfigure "$@" "$dir" >/dev/null
	else
		meson setup "$@" "$dir" >/dev/null
	fi
}

# run_phase NAME DIR TARGETS MESON-TEST-ARGS...: builds TARGETS (all when
# empty) in DIR, then runs meson test there; its log joins the summary.
run_phase() {
	local name=$1 dir=$2 targets=$3
	shift 3
	echo "=== $name ($dir)"
	rm -f "$dir/meson-logs/testlog.json"
	# shellcheck disable=SC2086
	if ! meson compile -C "$dir" $targets; then
		echo "test.sh: $name build failed" >&2
		build_failures=$((build_failures + 1))
		return
	fi
	local rc=0
	meson test -C "$dir" --no-rebuild --print-errorlogs "$@" || rc=$?
	local log="$dir/meson-logs/testlog.json"
	# Integration tests run real servers and mounts side by side on a
	# shared 2-core machine: one that fails is run once more, alone (one
	# test at a time), and both results are printed.  A test that fails
	# twice fails the run.
	local failed
	failed=$(/usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.strip():
        t = json.loads(l)
        if t.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") \
                and t.get("name", "").split(" / ")[-1].startswith("integration-"):
            print(t["name"].split(" / ")[-1])' "$log" 2>/dev/null || true)
	if ((rc != 0)) && [[ -n "$failed" ]]; then
		cp "$log" "$dir/meson-logs/testlog-first.json"
		echo "=== retrying once, alone: $(echo "$failed" | tr '\n' ' ')"
		# shellcheck disable=SC2086
		meson test -C "$dir" --no-rebuild --print-errorlogs "$@" \
			--num-processes 1 $failed && rc=0 || rc=$?
		/usr/bin/python3 - "$dir/meson-logs/testlog-first.json" "$log" \
			"$retried" <<'PY'
import json, sys
first = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
again = {t["name"]: t for t in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
with open(sys.argv[2], "w") as out, open(sys.argv[3], "a") as seen:
    for t in first:
        if t["name"] in again:
            line = "retried: %s: %s then %s" % (
                t["name"], t["result"], again[t["name"]]["result"])
            print(line)
            seen.write(line + "\n")
            t = again[t["name"]]
        out.write(json.dumps(t) + "\n")
PY
	fi
	((rc == 0)) || status=$rc
	logs+=("$log")
}

setup "$builddir" -Dwerror=true
run_phase "tests" "$builddir" "" --num-processes "$jobs"

if [[ "${SANITIZE:-1}" != 0 ]]; then
	setup "$asandir" -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false
	# Leaks fail the unit tests; undefined behaviour stops the program
	# (also the mailfs daemon, so an integration test notices).  Check's
	# own per-test timeouts get the same slack as meson's.
	# MAILFS_SANITIZED tells tests that memory figures are ASan's (larger).
	# The daemon's own reports would go to its stderr, which nobody
	# reads once it runs in the background: they go to files, printed
	# at the end.
	sanitizer_logs=$(mktemp -d)
	chmod 1777 "$sanitizer_logs"
	MAILFS_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$sanitizer_logs/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$sanitizer_logs/ubsan \
	CK_TIMEOUT_MULTIPLIER=3 \
		run_phase "tests under ASan/UBSan" "$asandir" "" \
		--timeout-multiplier 3 --num-processes "$jobs"
fi

if [[ "${FUZZ:-1}" != 0 ]]; then
	fuzz_targets=$(sed -n "s/^  '\([a-z0-9_]*\)' : \[.*/fuzz_\1/p" \
		tests/fuzz/meson.build | tr '\n' ' ')
	CC=clang setup "$fuzzdir" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false
	FUZZ_SECONDS=${FUZZ_SECONDS:-6} \
		run_phase "fuzzing" "$fuzzdir" "$fuzz_targets" --suite fuzz
fi

summary=$(/usr/bin/python3 - "$build_failures" "${logs[@]}" <<'PY'
import json, sys
counts = {"passed": 0, "failed": int(sys.argv[1]), "skipped": 0}
for path in sys.argv[2:]:
    try:
        with open(path) as f:
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
        counts["failed"] += 1
text = "%d passed, %d failed" % (counts["passed"], counts["failed"])
if counts["skipped"]:
    text += ", %d skipped" % counts["skipped"]
print(text)
print(counts["passed"] + counts["failed"], counts["failed"])
PY
)
if [[ -n "${sanitizer_logs:-}" ]] &&
	compgen -G "$sanitizer_logs/*" >/dev/null; then
	echo "=== sanitizer reports of the ASan/UBSan phase:"
	for f in "$sanitizer_logs"/*; do
		echo "--- $(basename "$f")"
		cat "$f"
	done
fi
if [[ -s "$retried" ]]; then
	echo "=== tests that failed once and were run again:"
	cat "$retried"
	echo "$(wc -l <"$retried") retried ($(grep -c ' then OK$' "$retried" \
		|| true) passed the second time)"
fi
echo "${summary%%$'\n'*}"
read -r ran failed <<<"${summary##*$'\n'}"

if ((failed > 0 || status != 0)); then
	exit 1
fi
if ((ran == 0)); then
	echo "test.sh: no tests ran" >&2
	exit 1
fi
