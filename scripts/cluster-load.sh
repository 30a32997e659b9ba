#!/usr/bin/env bash
# Load at one and two `volscale serve` processes on one PostgreSQL, behind nginx on
# loopback (round robin), measured with wrk: reads (GET /v1/rates) and what-if margins
# (POST /v1/margin/what-if). Prints one line per case; the figures in the README come from it.
#   scripts/cluster-load.sh [seconds=10] [connections=32] [binary=.build/release/volscale]
# Needs nginx and wrk (Debian packages: installed if missing) and PostgreSQL
# (VOLSCALE_PG_URL, or one is started here with scripts/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-32}"
BIN="${3:-.build/release/volscale}"
[[ -x "$BIN" ]] || swift build -c release --static-swift-stdlib --product volscale >&2
for tool in nginx wrk; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx wrk >&2; }
done
if [[ -z "${VOLSCALE_PG_URL:-}" ]]; then
  export VOLSCALE_PG_PORT="${VOLSCALE_PG_PORT:-$(scripts/free-port.sh)}" VOLSCALE_PG_DIR="/tmp/volscale-pg-load-$$"
  eval "$(scripts/postgres.sh start)"
  STOP_PG=1
fi
WORK="$(mktemp -d)"
BASE="${VOLSCALE_PG_URL%/*}"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [[ -f "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  for db in load1 load2; do psql "$BASE/postgres" -q -c "DROP DATABASE IF EXISTS volscale_$db WITH (FORCE)" >/dev/null 2>&1 || true; done
  [[ -n "${STOP_PG:-}" ]] && scripts/postgres.sh stop
  rm -rf "$WORK"
}
trap cleanup EXIT
READ=read-$RANDOM$RANDOM
printf '[{"name":"load","role":"read","sha256":"%s"}]' "$(printf '%s' "$READ" | sha256sum | cut -d' ' -f1)" > "$WORK/keys.json"
cat > "$WORK/whatif.lua" <<EOF
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $READ"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"collateral":{"USD":50000,"BTC":0.2},"positions":[{"instrument":"BTC-PERP","quantity":0.5,"entryPrice":60000},{"instrument":"ETH-PERP","quantity":-4,"entryPrice":3000}]}'
EOF
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '/ 99%/ {print $2}' "$1"; }
PORT0=$(scripts/free-port.sh 3)  # three free ports below the ephemeral range
for n in 1 2; do
  psql "$BASE/postgres" -q -c "CREATE DATABASE volscale_load$n" >/dev/null
  upstream=""
  for i in $(seq 1 "$n"); do
    port=$((PORT0 + 10 * n + i))
    # a high per-key rate limit: the load is one key
    "$BIN" serve --store "$BASE/volscale_load$n" --name "p$i" --port "$port" --keys "$WORK/keys.json" --rate-limit 10000000 --live-rate 1 > "$WORK/p$n-$i.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done
    upstream+="    server 127.0.0.1:$port;"$'\n'
  done
  # every asset owned and every process following before the load starts
  sleep 6
  front=$((PORT0 + 10 * n))
  cat > "$WORK/nginx.conf" <<EOF
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  upstream volscale {
$upstream    keepalive 64;
  }
  server {
    listen 127.0.0.1:$front;
    location / {
      proxy_pass http://volscale;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
  nginx -c "$WORK/nginx.conf" -p "$WORK"
  sleep 0.5
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $READ" "http://127.0.0.1:$front/v1/rates" > "$WORK/reads-$n.txt"
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/whatif.lua" "http://127.0.0.1:$front/v1/margin/what-if" > "$WORK/whatif-$n.txt"
  errors="$(grep -h 'Non-2xx\|Socket errors' "$WORK/reads-$n.txt" "$WORK/whatif-$n.txt" || true)"
  echo "processes=$n  reads: $(rps "$WORK/reads-$n.txt") req/s (p99 $(p99 "$WORK/reads-$n.txt"))  what-if: $(rps "$WORK/whatif-$n.txt") req/s (p99 $(p99 "$WORK/whatif-$n.txt"))${errors:+  [$errors]}"
  kill "$(cat "$WORK/nginx.pid")"; sleep 0.5; rm -f "$WORK/nginx.pid"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
done
echo "on $(nproc) cores: wrk, nginx, PostgreSQL and the processes share them (wrk -t2 -c$CONNS, ${DURATION} s per case)"
