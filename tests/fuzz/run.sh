#!/bin/sh
# run.sh - runs one libFuzzer target for a while: over its committed seed
# corpus (read only) plus a work corpus where new inputs go, with crash
# artifacts kept next to it.  Exits non-zero on a crash, leak, UB report,
# timeout or out-of-memory input (libFuzzer's exit status).
#   run.sh BINARY SEEDDIR WORKDIR [SECONDS]
# SECONDS defaults to $FUZZ_SECONDS, else 8.
set -eu

bin=$1
seeds=$2
work=$3
seconds=${4:-${FUZZ_SECONDS:-8}}

mkdir -p "$work/corpus" "$work/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
	-max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds"
