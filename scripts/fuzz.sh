#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in build-fuzz (clang,
# -fsanitize=fuzzer,address,undefined) and runs each in turn.
#   scripts/fuzz.sh [SECONDS [TARGET...]]
# SECONDS (default 60) is the total budget, split evenly between the
# targets (all of them in tests/fuzz/meson.build unless named).  JOBS=2
# runs two targets at once.  New corpus entries and crash artifacts stay in
# build-fuzz/tests/fuzz/work-*;
# the committed seeds in tests/fuzz/corpus are only read.  Prints one line
# per target (executions, seconds, result) and exits non-zero if any
# target found a crash, a leak or undefined behaviour.
set -euo pipefail

cd "$(dirname "$0")/.."
builddir=${FUZZ_BUILDDIR:-build-fuzz}
total=${1:-60}
shift || true
mapfile -t all < <(sed -n "s/^  '\([a-z0-9_]*\)' : \[.*/\1/p" \
	tests/fuzz/meson.build)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
jobs=${JOBS:-1}

if [[ ! -d "$builddir/meson-private" ]]; then
	CC=clang meson setup "$builddir" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C "$builddir" "${targets[@]/#/fuzz_}" >/dev/null

per=$((total / ${#targets[@]}))
((per >= 1)) || per=1

# Runs one target; its log goes to work-NAME/fuzz.log.
run_one() {
	local name=$1 work="$builddir/tests/fuzz/work-$1"
	mkdir -p "$work"
	tests/fuzz/run.sh "$builddir/tests/fuzz/fuzz_$name" \
		"tests/fuzz/corpus/$name" "$work" "$per" >"$work/fuzz.log" 2>&1
}

# One line for a finished target, from its log.
report() {
	local name=$1 rc=$2 log="$builddir/tests/fuzz/work-$1/fuzz.log"
	local execs secs
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	if ((rc == 0)); then
		printf '%-12s %10s execs %5ss  ok\n' "$name" "${execs:-?}" "${secs:-?}"
	else
		printf '%-12s %10s execs %5ss  FAILED (exit %d), see %s\n' \
			"$name" "${execs:-?}" "${secs:-?}" "$rc" "$log"
		grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" || true
		ls "$builddir/tests/fuzz/work-$name/artifacts/" 2>/dev/null || true
	fi
}

failed=0
declare -A pids=()
for name in "${targets[@]}"; do
	while ((${#pids[@]} >= jobs)); do
		wait -n || true
		for n in "${!pids[@]}"; do
			if ! kill -0 "${pids[$n]}" 2>/dev/null; then
				rc=0
				wait "${pids[$n]}" || rc=$?
				report "$n" "$rc"
				((rc == 0)) || failed=$((failed + 1))
				unset "pids[$n]"
			fi
		done
	done
	run_one "$name" &
	pids[$name]=$!
done
for n in "${!pids[@]}"; do
	rc=0
	wait "${pids[$n]}" || rc=$?
	report "$n" "$rc"
	((rc == 0)) || failed=$((failed + 1))
done

echo "fuzz: ${#targets[@]} targets, ${per}s each, $failed failed"
((failed == 0))
