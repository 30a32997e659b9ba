#!/usr/bin/env bash
# Load test on loopback, bounded in time: wrk against the what-if margin endpoint of a
# running `volscale serve` (a 10-position account) and against a bare Hummingbird
# hello-world route in the same run; prints throughput, latency, errors, the ratio, and
# the server's memory over the run.
#   scripts/loadtest.sh [seconds=60] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60}"
CONNS="${2:-32}"
command -v wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
swift build -c release --static-swift-stdlib --product volscale >&2
swift build -c release --static-swift-stdlib --product volscale-bench >&2
DATA="$(mktemp -d)"
OUT="$(mktemp)"
# the default per-key limit (1,000 requests/s) would cap the test: lift it for this run
.build/release/volscale serve --data "$DATA" --port 18080 --live-rate 0.001 --rate-limit 10000000 > "$OUT" 2>&1 &
SERVER=$!
.build/release/volscale-bench hello 18081 > /dev/null 2>&1 &
HELLO=$!
trap 'kill $SERVER $HELLO 2>/dev/null; rm -rf "$DATA" "$OUT"' EXIT
for _ in $(seq 1 100); do grep -q "(read)" "$OUT" && curl -sf http://127.0.0.1:18080/ready >/dev/null && break; sleep 0.2; done
export VOLSCALE_READ_KEY="$(grep '(read)' "$OUT" | awk '{print $NF}')"
rss() { ps -o rss= -p "$SERVER" | tr -d ' '; }
HELLO_RESULT="$(wrk -t2 -c"$CONNS" -d15s --latency -s scripts/hello.lua http://127.0.0.1:18081/hello | grep RESULT)"
RSS0="$(rss)"
( for i in $(seq 1 $((DURATION / 5))); do sleep 5; echo "$(rss)"; done ) > "$OUT.rss" &
SAMPLER=$!
WHATIF_RESULT="$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s scripts/whatif.lua http://127.0.0.1:18080/v1/margin/what-if | grep RESULT)"
wait $SAMPLER || true
RSS1="$(rss)"
echo "hello-world (bare Hummingbird): $HELLO_RESULT"
echo "what-if margin (10 positions):  $WHATIF_RESULT"
python3 - "$HELLO_RESULT" "$WHATIF_RESULT" "$RSS0" "$RSS1" "$OUT.rss" <<'PY'
import sys
def parse(s): return {k: float(v) for k, v in (x.split("=") for x in s.split()[1:])}
h, w = parse(sys.argv[1]), parse(sys.argv[2])
samples = [int(x) for x in open(sys.argv[5]).read().split()] or [0]
print(f"what-if: {w['rps']:.0f} requests/s, p99 {w['p99_ms']:.2f} ms, errors {int(w['non2xx'] + w['socket_errors'])}")
print(f"ratio to hello-world: {w['rps'] / h['rps']:.2f} (hello {h['rps']:.0f} requests/s, p99 {h['p99_ms']:.2f} ms)")
print(f"server memory (RSS): {int(sys.argv[3]) // 1024} MiB before, {int(sys.argv[4]) // 1024} MiB after; samples every 5 s (MiB): {[s // 1024 for s in samples]}")
PY
