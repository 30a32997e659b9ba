#!/usr/bin/env bash
# Where the what-if request's time goes: `perf record -g` on a release `volscale serve` while
# wrk posts the load test's 10-position account (scripts/whatif.lua), then each frame's share
# of the server's samples, children included, for the service's own frames and the role check.
#   scripts/profile-whatif.sh [seconds=15]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RECORD="${1:-15}"
command -v perf >/dev/null || { apt-get update >/dev/null && apt-get install -y linux-perf >/dev/null; }
command -v wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
swift build -c release --static-swift-stdlib --product volscale >&2
DATA="$(mktemp -d)"
PORT="$(scripts/free-port.sh)"
.build/release/volscale serve --data "$DATA/store" --port "$PORT" --live-rate 0.001 --rate-limit 10000000 \
  > "$DATA/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do grep -q "(read)" "$DATA/serve.log" && curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done
export VOLSCALE_READ_KEY="$(grep '(read)' "$DATA/serve.log" | awk '{print $NF}')"
wrk -t2 -c32 -d"$((SECONDS_TO_RECORD + 10))s" -s scripts/whatif.lua "http://127.0.0.1:$PORT/v1/margin/what-if" \
  > "$DATA/wrk.txt" &
WRK=$!
sleep 5
perf record -F 499 -g -p "$SERVER" -o "$DATA/perf.data" -- sleep "$SECONDS_TO_RECORD" 2>/dev/null
wait $WRK
grep RESULT "$DATA/wrk.txt"
perf report -i "$DATA/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep '%' | awk '{c=$1; $1=$2=$3=""; print c, substr($0, 4)}' | swift demangle --simplified \
  | grep -E 'whatIfFast|Account.init|AccountDocument.init|JSONReader.parse|MarginCalculator\.(evaluate|resolve|figures)|ServiceAPI.json|RoleMiddleware|Authenticator.authorize|Logger.subscript' \
  | cut -c1-120 | head -20
