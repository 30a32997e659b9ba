#!/usr/bin/env bash
# The project's test command (README quick start, and what CI runs).
# Builds and runs every test target; prints a plain "N passed, N failed" closing line.
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
# PostgreSQL for the shared-store tests: installed if missing, started on loopback,
# stopped on exit. VOLSCALE_REQUIRE_PG makes a missing server a failure, not a skip.
# a port and folder of its own, so concurrent runs (two clones) cannot stop each other's server
export VOLSCALE_PG_PORT="${VOLSCALE_PG_PORT:-$(scripts/free-port.sh)}"
export VOLSCALE_PG_DIR="${VOLSCALE_PG_DIR:-/tmp/volscale-pg-$$}"
eval "$(scripts/postgres.sh start)"
# zlib's header for the gzip reader (the library itself is on every Debian system).
if [[ ! -f /usr/include/zlib.h ]]; then
  echo "installing zlib1g-dev from the system packages" >&2
  apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y zlib1g-dev >&2
fi
# A headless browser for the dashboard test.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium from the system packages" >&2
  apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
fi
export VOLSCALE_REQUIRE_BROWSER=1
trap 'scripts/postgres.sh stop; rm -f "$log"' EXIT
# The formatter's lint (swift format ships with the toolchain; configuration: .swift-format,
# line length 120): a file it would change, or a rule it flags, fails the run.
lint_passed=0; lint_failed=0
if swift format lint --strict --recursive --parallel Sources Tests Benchmarks Fuzz Package.swift; then
  lint_passed=1; echo "swift format lint --strict: clean"
else
  lint_failed=1; echo "swift format lint --strict: FAILED (run: swift format --in-place --recursive Sources Tests Benchmarks Fuzz Package.swift)"
fi
swift test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary="$(grep -E 'Test run with [0-9]+ tests? .* (passed|failed)' "$log" | tail -n 1)"
total="$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")"
failed="$(grep -c '^✘ Test .* failed' "$log" || true)"
if [[ $status -ne 0 && ${failed:-0} -eq 0 ]]; then failed=1; fi
# The main job on defaults keeps serving past the end of its feed and stops cleanly (issue 9);
# a short run with a fast feed, on the debug build the tests just made.
extra_passed=$lint_passed; extra_failed=$lint_failed
[[ $lint_failed -eq 0 ]] || status=1
if [[ -n "$total" ]]; then
  if scripts/soak.sh "${VOLSCALE_SOAK_SECONDS:-20}" 1000 .build/debug/volscale; then extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); status=1; fi
  # API conformance: schemathesis (PyPI) with --checks all against the live server's document,
  # on a release build (a debug server times out on the larger backtests schemathesis asks for)
  if swift build -c release --static-swift-stdlib --product volscale >&2 && scripts/schemathesis.sh 25 .build/release/volscale; then extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); status=1; fi
  # Several processes on one PostgreSQL (issue 15): split, failover after kill -9, fencing
  # after SIGSTOP/SIGCONT, no gap or duplicate per asset, audit chain intact
  if scripts/cluster.sh .build/release/volscale; then extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); status=1; fi
fi
if [[ -z "$total" ]]; then
  echo "0 passed, 1 failed"
  echo "no test summary found (build or runner failure)" >&2
  exit 1
fi
echo "$((total - ${failed:-0} + extra_passed)) passed, $((${failed:-0} + extra_failed)) failed"
exit "$status"
