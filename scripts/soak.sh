#!/usr/bin/env bash
# Soak: the main job on its defaults (bundled sample replayed, then fed live) must still be
# serving after SECONDS, answering reads, what-if and ingestion, and must stop cleanly on
# SIGTERM with everything stored and the audit chain intact. It is started as an operator
# would, from an empty directory with nothing but --port (and the feed rate): it must find
# the example venue, say where its data lives, and start without a warning.
#   scripts/soak.sh [seconds=300] [live-rate=2] [binary=.build/release/volscale]
# CI runs it with a fast feed (live-rate 1000: the 300 held-back bars end within a second)
# so that the end of the feed is crossed within the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-300}"
RATE="${2:-2}"
BIN="${3:-.build/release/volscale}"
[[ -x "$BIN" ]] || swift build -c release --static-swift-stdlib --product volscale >&2
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
PORT=$(scripts/free-port.sh)
DATA="$(mktemp -d)"
LOG="$DATA/serve.log"
mkdir "$DATA/empty"
(cd "$DATA/empty" && exec "$BIN" serve --port "$PORT" --live-rate "$RATE") > "$LOG" 2>&1 &
SERVER=$!
trap 'kill -9 $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
fail() { echo "soak: FAIL: $*"; tail -n 20 "$LOG"; exit 1; }
for _ in $(seq 1 600); do
  grep -q "(read)" "$LOG" && curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
  kill -0 $SERVER 2>/dev/null || fail "the server exited during start-up"
  sleep 0.2
done
grep -q "venue 'example'" "$LOG" || fail "the example venue was not found from an empty directory"
grep -q "data: $DATA/empty/volscale-data/volscale.sqlite" "$LOG" || fail "the banner does not say where the data lives"
if grep -q -i "warning" "$LOG"; then fail "a warning at a clean start: $(grep -i warning "$LOG" | head -n 3)"; fi
READ="$(grep '(read)' "$LOG" | awk '{print $NF}')"
INGEST="$(grep '(ingest)' "$LOG" | awk '{print $NF}')"
[[ -n "$READ" && -n "$INGEST" ]] || fail "no key lines printed"
start=$(date +%s)
n=0
while (( $(date +%s) - start < SECONDS_TO_RUN )); do
  kill -0 $SERVER 2>/dev/null || fail "the server stopped by itself after $(( $(date +%s) - start )) s"
  curl -sf -H "Authorization: Bearer $READ" "http://127.0.0.1:$PORT/v1/rates" >/dev/null || fail "rates did not answer"
  curl -sf -H "Authorization: Bearer $READ" -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/v1/margin/what-if" \
    -d '{"collateral":{"USD":10000},"positions":[{"instrument":"BTC-PERP","quantity":0.1,"entryPrice":60000}]}' >/dev/null || fail "what-if did not answer"
  n=$((n + 1))
  curl -sf -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/v1/prices" \
    -d "{\"asset\":\"BTC\",\"source\":\"desk\",\"ts\":$(date +%s%3N),\"price\":60000}" >/dev/null || fail "ingestion did not answer 200"
  sleep 2
done
RSS=$(ps -o rss= -p $SERVER | tr -d ' ')
kill -TERM $SERVER
for _ in $(seq 1 150); do kill -0 $SERVER 2>/dev/null || break; sleep 0.2; done
kill -0 $SERVER 2>/dev/null && fail "no exit within 30 s of SIGTERM"
wait $SERVER && status=0 || status=$?
[[ $status -eq 0 ]] || fail "exit status $status after SIGTERM"
grep -q "store flushed on shutdown: everything acknowledged is stored" "$LOG" || fail "no truthful flush message"
grep -q "no bars left" "$LOG" || echo "soak: note: the sample feed did not end within the run (rate $RATE)"
(( $(wc -c < "$LOG") < 20000 )) || fail "the log grew to $(wc -c < "$LOG") bytes"
"$BIN" audit verify --store "$DATA/empty/volscale-data/volscale.sqlite" | grep -q intact || fail "audit verify"
echo "soak: served ${SECONDS_TO_RUN} s (feed rate $RATE, $n rounds of reads, what-if and ingest), RSS $((RSS / 1024)) MiB at the end, clean stop, audit intact"
