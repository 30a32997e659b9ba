#!/usr/bin/env bash
# The project's test command (README quick start, and what CI runs).
# Builds and runs every test target; prints a plain "N passed, N failed" closing line.
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
swift test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary="$(grep -E 'Test run with [0-9]+ tests? .* (passed|failed)' "$log" | tail -n 1)"
total="$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")"
issues="$(grep -Eo 'with [0-9]+ issues?' <<<"$summary" | grep -Eo '[0-9]+' || true)"
failed="$(grep -c '^✘ Test .* failed' "$log" || true)"
rm -f "$log"
if [[ -z "$total" ]]; then
  echo "0 passed, 1 failed"
  echo "no test summary found (build or runner failure)" >&2
  exit 1
fi
if [[ $status -ne 0 && ${failed:-0} -eq 0 ]]; then failed=1; fi
echo "$((total - ${failed:-0})) passed, ${failed:-0} failed"
exit "$status"
