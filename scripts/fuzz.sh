#!/usr/bin/env bash
# libFuzzer over request decoding (price ingestion and what-if bodies) and the price-file
# and option-chain readers: Fuzz/volscale-fuzz, built with -sanitize=fuzzer, seeded from
# Fuzz/corpus. Findings (crash-*, timeout-*) land in fuzz-findings/ and fail the run.
#   scripts/fuzz.sh [runs=10000000] [extra libFuzzer flags...]
# Replay saved inputs without the fuzzer: swift run volscale-fuzz FILE_OR_FOLDER...
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-10000000}"
shift || true
swift build -c release --product volscale-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -D -Xswiftc FUZZING >&2
BIN="$(swift build -c release --product volscale-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -D -Xswiftc FUZZING --show-bin-path)/volscale-fuzz"
WORK="$(mktemp -d)"
mkdir -p fuzz-findings
trap 'rm -rf "$WORK"' EXIT
cp Fuzz/corpus/* "$WORK/"
start=$(date +%s)
# Swift's own crash backtracer would take the signal before libFuzzer's handler, which then
# writes no crash file
export SWIFT_BACKTRACE=enable=no
set +e
"$BIN" -runs="$RUNS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix=fuzz-findings/ "$@" "$WORK" 2>&1 | tee "$WORK.log" | grep -E "^(#[0-9]+[[:space:]]+(pulse|DONE)|INFO: Seed|stat::|==|SUMMARY|.*(crash|timeout|leak)-)" 
status=${PIPESTATUS[0]}
set -e
echo "fuzz: exit $status after $(( $(date +%s) - start )) s; $(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$WORK.log" | awk '{print $2}') executions; findings: $(ls fuzz-findings | wc -l)"
rm -f "$WORK.log"
exit "$status"
