#!/usr/bin/env bash
# API conformance: schemathesis (from PyPI) with --checks all against a live `volscale serve`
# and the document it serves, with an admin key and a bounded number of examples.
#   scripts/schemathesis.sh [max-examples=25] [binary=.build/release/volscale]
# use_after_free is left out: a deleted account keeps its history (GET .../history) by design.
# The SSE stream is left out: an open-ended event stream that a request/response tool cannot
# read to its end (its own tests cover it). The WebSocket is described under x-websocket, not
# paths, so the tool does not see it.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-25}"
BIN="${2:-.build/release/volscale}"
[[ -x "$BIN" ]] || swift build -c release --static-swift-stdlib --product volscale >&2
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "installing schemathesis from PyPI" >&2
  python3 -m pip install -q 'schemathesis>=4,<5' >&2
fi
PORT=$(scripts/free-port.sh)
DATA="$(mktemp -d)"
SECRET="schemathesis-$RANDOM$RANDOM"
HASH="$(printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1)"
echo "[{\"name\":\"schemathesis\",\"role\":\"admin\",\"sha256\":\"$HASH\"}]" > "$DATA/keys.json"
"$BIN" serve --data "$DATA/store" --port "$PORT" --keys "$DATA/keys.json" --rate-limit 1000000 > "$DATA/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done
set +e
schemathesis run "http://127.0.0.1:$PORT/openapi.json" --checks all -H "Authorization: Bearer $SECRET" \
  --exclude-checks use_after_free --max-examples "$EXAMPLES" --exclude-path /v1/stream --seed 1 --no-color > "$DATA/st.log" 2>&1
status=$?
set -e
sed -n '/SUMMARY/,$p' "$DATA/st.log"
if [[ $status -ne 0 ]]; then
  sed -n "/FAILURES\|ERRORS/,/SUMMARY/p" "$DATA/st.log" | head -120
  kill -0 $SERVER 2>/dev/null || echo "schemathesis: the server is no longer running" 
fi
kill -0 $SERVER 2>/dev/null || { echo "schemathesis: FAIL: the server stopped"; exit 1; }
exit $status
