#!/usr/bin/env bash
# Several `volscale serve` processes on one PostgreSQL (issue 15), operated as an operator
# would: two processes split the venue's assets; an account written through one is
# margined identically through the other; `kill -9` of one moves all its assets to the
# other within the lease period, and every asset's publications continue with no gap and
# no duplicate; `volscale audit verify --store postgres://…` finds the chain intact; a
# process paused (SIGSTOP) until its leases were taken over cannot publish when it wakes
# (SIGCONT).
#   scripts/cluster.sh [binary=.build/release/volscale]
# Needs VOLSCALE_PG_URL (scripts/postgres.sh start); makes a database of its own there.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.build/release/volscale}"
[[ -x "$BIN" ]] || swift build -c release --static-swift-stdlib --product volscale >&2
[[ -n "${VOLSCALE_PG_URL:-}" ]] || { echo "cluster: FAIL: VOLSCALE_PG_URL is not set (scripts/postgres.sh start)"; exit 1; }
LEASE="${VOLSCALE_LEASE_SECONDS:-5}"
RATE="${VOLSCALE_CLUSTER_RATE:-2}"
WORK="$(mktemp -d)"
PIDS=()
BASE="${VOLSCALE_PG_URL%/*}"
DB="volscale_cluster_$$"
psql "$BASE/postgres" -q -c "CREATE DATABASE $DB" >/dev/null
URL="$BASE/$DB"
sql() { psql "$URL" -At -c "$1"; }
cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  [[ -n "${VOLSCALE_KEEP:-}" ]] || psql "$BASE/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [[ -n "${VOLSCALE_KEEP:-}" ]] && echo "cluster: logs kept in $WORK, database $URL" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  { echo "cluster: FAIL: $*"; for f in "$WORK"/*.log; do echo "--- $f"; tail -n 15 "$f"; done; } >&2
  exit 1
}
READ=read-$RANDOM$RANDOM; INGEST=ingest-$RANDOM$RANDOM; ADMIN=admin-$RANDOM$RANDOM
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
printf '[{"name":"r","role":"read","sha256":"%s"},{"name":"i","role":"ingest","sha256":"%s"},{"name":"a","role":"admin","sha256":"%s"}]' \
  "$(sha "$READ")" "$(sha "$INGEST")" "$(sha "$ADMIN")" > "$WORK/keys.json"
PORT0=$(scripts/free-port.sh 3)  # three free ports below the ephemeral range
start() { # name port
  "$BIN" serve --store "$URL" --name "$1" --port "$2" --keys "$WORK/keys.json" --live-rate "$RATE" --lease-seconds "$LEASE" > "$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$1=$!"
  local pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$2/ready" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "$1 exited before it became ready"
    sleep 0.2
  done
  fail "$1 did not become ready"
}
get() { curl -sf -H "Authorization: Bearer $READ" "http://127.0.0.1:$1$2"; }
# owners PORT: "asset=owner ..." as the process on PORT reports them
owners() { get "$1" /v1/assets | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(a["asset"] + "=" + a.get("owner", "-") for a in (d if isinstance(d, list) else d["assets"])))'; }
count_owned() { owners "$1" | tr ' ' '\n' | grep -c "=$2\$" || true; }
owned_is() { [[ "$(count_owned "$1" "$2")" -eq "$3" ]]; } # PORT process n
export READ
export -f get owners count_owned owned_is
wait_for() { # seconds description command...
  local limit=$1 what=$2; shift 2
  local t0; t0=$(date +%s%3N)
  while ! "$@" >/dev/null 2>&1; do
    if (( $(date +%s%3N) - t0 > limit * 1000 )); then echo "cluster: $what: not within ${limit} s" >&2; return 1; fi
    sleep 0.1
  done
  echo $(( $(date +%s%3N) - t0 ))
}

# 1. Two processes split the assets.
PA=$PORT0; PB=$((PORT0 + 1)); PC=$((PORT0 + 2))
start A $PA
wait_for 120 "A owns the four assets" owned_is $PA A 4 >/dev/null || fail "see above"
start B $PB
wait_for 30 "the assets split two and two" bash -c "owned_is $PB A 2 && owned_is $PB B 2" >/dev/null || fail "see above"
echo "cluster: A and B split the assets: $(owners $PB)"

# 2. An account written through A is margined identically through B.
ACCOUNT='{"id":"cl-1","collateral":{"USD":50000},"positions":[{"instrument":"BTC-PERP","quantity":0.5,"entryPrice":60000},{"instrument":"ETH-PERP","quantity":-4,"entryPrice":3000}]}'
curl -sf -X PUT -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/json' "http://127.0.0.1:$PA/v1/accounts/cl-1" -d "$ACCOUNT" >/dev/null || fail "PUT through A"
same=0
cat > "$WORK/same.py" <<'EOF'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if a.get("sequence") != b.get("sequence"): sys.exit(1)
if a != b:
    print("cluster: same sequence, different margins:", a, b, file=sys.stderr); sys.exit(2)
EOF
for _ in $(seq 1 100); do
  a="$(get $PA /v1/accounts/cl-1/margin || true)"; b="$(get $PB /v1/accounts/cl-1/margin || true)"
  if [[ -n "$a" && -n "$b" ]]; then
    rc=0; python3 "$WORK/same.py" "$a" "$b" || rc=$?
    [[ $rc -eq 0 ]] && { same=1; break; }
    [[ $rc -eq 2 ]] && fail "A and B margin cl-1 differently at one sequence"
  fi
  sleep 0.1
done
[[ $same -eq 1 ]] || fail "A and B never answered cl-1 at the same sequence"
echo "cluster: cl-1 written through A, margined identically through B (sequence $(get $PB /v1/accounts/cl-1/margin | python3 -c 'import json,sys; print(json.load(sys.stdin)["sequence"])'))"

# 2b. A quote for B's asset posted to A is stored for B, and B's engine takes it exactly once.
X=$(owners $PB | tr ' ' '\n' | grep "=B\$" | head -n 1 | cut -d= -f1)
# 6 days past the latest stored bar: a quote before the asset's current bar is refused (issue 28),
# and B's feed (2 bars a second) moves on while the quote travels through the inbox; the feed's
# bars before this one are then refused, those after it published as before
TS=$(( $(sql "SELECT MAX(ts) FROM quotes WHERE asset = '$X'") + 6 * 86400000 ))
PRICE=$(get $PB /v1/assets | python3 -c "import json,sys; print(next(a['price'] for a in json.load(sys.stdin) if a['asset'] == '$X'))")
answer=$(curl -sf -X POST -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/json' "http://127.0.0.1:$PA/v1/prices" \
  -d "{\"asset\":\"$X\",\"source\":\"desk\",\"ts\":$TS,\"price\":$PRICE}") || fail "POST of a quote for $X through A"
grep -q '"forwarded":1' <<<"$answer" || fail "A did not forward the quote for $X: $answer"
stored() { [[ "$(sql "SELECT COUNT(*) FROM quotes WHERE asset = '$X' AND source = 'desk'")" == 1 && "$(sql "SELECT COUNT(*) FROM inbox")" == 0 ]]; }
wait_for 10 "B takes the forwarded quote" stored >/dev/null || fail "see above"
echo "cluster: a quote for $X (B's) posted to A was forwarded and stored once by B"

# 2c. A policy change made through B holds on A (the venue's controls are one).
curl -sf -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "http://127.0.0.1:$PB/v1/policy" -d '{"buffer":0.3}' >/dev/null || fail "PUT /v1/policy through B"
policy_on_a() { get $PA /v1/policy | grep -q '"buffer":0.3'; }
export -f policy_on_a; export PA
wait_for 10 "A takes the policy changed through B" policy_on_a >/dev/null || fail "see above"
# ...and is a record of its own in the chain (policy_changes), not a row of publications
[[ $(sql "SELECT COUNT(*) FROM policy_changes WHERE owner = 'engine' AND changes LIKE 'buffer:%-> 0.3'") -eq 1 ]] || fail "the policy change is not in policy_changes"
[[ $(sql "SELECT COUNT(*) FROM publications WHERE owner = 'engine' AND asset = 'policy'") -eq 0 ]] || fail "a policy change was stored as a publication"
echo "cluster: a policy change through B holds on A, stored in policy_changes"

# 3. kill -9 A: its assets move to B within the lease period; publications go on.
sleep 2
BEFORE=$(sql "SELECT COALESCE(MAX(seq),0) FROM publications WHERE owner = 'engine'")
kill -9 "$PID_A"
ms=$(wait_for $((LEASE * 3)) "B owns all four assets after kill -9 A" owned_is $PB B 4) || fail "see above"
(( ms <= LEASE * 1000 )) || fail "the takeover took $ms ms: more than the lease period ($LEASE s)"
echo "cluster: kill -9 A: B owned all four assets $ms ms later (lease ${LEASE} s)"
sleep 4
for asset in $(sql "SELECT asset FROM asset_leases ORDER BY asset"); do
  n=$(sql "SELECT COUNT(*) FROM publications WHERE owner = 'engine' AND asset = '$asset' AND seq > $BEFORE AND process = 'B'")
  [[ $n -gt 0 ]] || fail "no publication for $asset by B after the takeover"
done

# 4. A paused process whose leases were taken over cannot publish when it wakes.
start C $PC
wait_for 30 "B hands two assets to C" owned_is $PB C 2 >/dev/null || fail "see above"
sleep 1
kill -STOP "$PID_C"
wait_for $((LEASE * 3)) "B takes C's assets while C is stopped" owned_is $PB B 4 >/dev/null || fail "see above"
TAKEN=$(sql "SELECT COALESCE(MAX(seq),0) FROM publications WHERE owner = 'engine'")
declare -A FENCE
for asset in $(sql "SELECT asset FROM asset_leases ORDER BY asset"); do FENCE[$asset]=$(sql "SELECT fence FROM asset_leases WHERE asset = '$asset'"); done
kill -CONT "$PID_C"
sleep $((LEASE + 2))
grep -q "was taken over by another process" "$WORK/C.log" || fail "C did not notice it lost its leases"
kill -0 "$PID_C" 2>/dev/null || fail "C stopped after waking"
# C may own assets again once the venue rebalances, under new leases; never under the old ones
for asset in "${!FENCE[@]}"; do
  late=$(sql "SELECT COUNT(*) FROM publications WHERE owner = 'engine' AND asset = '$asset' AND seq > $TAKEN AND fence < ${FENCE[$asset]}")
  [[ $late -eq 0 ]] || fail "$late publications of $asset were written after sequence $TAKEN under a lease taken over before it"
done
echo "cluster: C stopped until B took its assets, then woken: nothing written under its old leases after sequence $TAKEN"

# 5. No gap, no duplicate: each publication of an asset and side takes over from the one
#    before it (its old value is that one's new value), across every change of owner, and
#    no bar of an asset is published twice. (Publication times follow the quotes: the
#    forwarded quote above, from a source that lags, is published at its own time.)
stale=$(sql "SELECT COUNT(*) FROM (SELECT fence, LAG(fence) OVER (PARTITION BY asset ORDER BY seq) AS p FROM publications WHERE owner = 'engine') x WHERE fence < p")
[[ $stale -eq 0 ]] || fail "$stale publications were written under a lease older than an earlier publication's"
bad=$(sql "SELECT COUNT(*) FROM (SELECT old_value, LAG(new_value) OVER w AS prev, LAG(seq) OVER w AS prev_seq
  FROM publications WHERE owner = 'engine' WINDOW w AS (PARTITION BY asset, side ORDER BY seq)) x
  WHERE prev_seq IS NOT NULL AND old_value IS DISTINCT FROM prev")
[[ $bad -eq 0 ]] || fail "$bad publications do not continue the one before them"
# the same bar published twice (by two owners) would share its asset, side and time
twice=$(sql "SELECT COUNT(*) FROM (SELECT 1 FROM publications WHERE owner = 'engine' GROUP BY asset, side, ts HAVING COUNT(*) > 1) x")
[[ $twice -eq 0 ]] || fail "$twice bars were published twice"
handovers=$(sql "SELECT COUNT(*) FROM (SELECT process, LAG(process) OVER (PARTITION BY asset ORDER BY seq) AS p FROM publications WHERE owner = 'engine') x WHERE p IS NOT NULL AND p <> process")
total=$(sql "SELECT COUNT(*) FROM audit_chain WHERE owner = 'engine'")
[[ $handovers -ge 4 ]] || fail "only $handovers changes of owner seen"
"$BIN" audit verify --store "$URL" | grep -q intact || fail "audit verify --store postgres://…"
echo "cluster: $total publications, $handovers changes of owner within assets, every one continuing its predecessor; audit chain intact"

# 6. Graceful stop hands the assets over at once.
kill -TERM "$PID_B"
ms=$(wait_for $((LEASE * 2)) "C owns all four assets after B stops" owned_is $PC C 4) || fail "see above"
echo "cluster: SIGTERM B: C owned all four assets $ms ms later"
echo "cluster: PASS"
