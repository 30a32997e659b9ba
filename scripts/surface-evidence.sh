#!/usr/bin/env bash
# The README's evidence for the options surface on the bundled Deribit chain: the per-expiry
# fit (quotes inside bid-ask, rmse, surface minus mark), Deribit's own marks against the same
# bid-ask bands, and the time of the whole `volscale surface` process.
#   scripts/surface-evidence.sh [binary=.build/release/volscale]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.build/release/volscale}"
[[ -x "$BIN" ]] || swift build -c release --static-swift-stdlib --product volscale >&2
CHAIN=data/deribit-btc-options-20200521.csv
"$BIN" surface "$CHAIN" --format json > "${TMPDIR:-/tmp}/volscale-surface.json"
python3 - "${TMPDIR:-/tmp}/volscale-surface.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("expiry      days  two-sided  inside  rmse   mark err median / p90 (BTC)")
for e in d["expiries"]:
    m = e["markError"]
    print(f"{e['expiry'][:10]} {e['years']*365:6.2f} {e['twoSided']:9d} {e['withinBidAsk']*100:6.1f}% {e['rmse']:5.2f}   {m['medianAbs']:.5f} / {m['p90Abs']:.5f}")
m, v = d["markError"], d["markIVError"]
print(f"inside bid-ask overall {d['withinBidAsk']*100:.1f}%, arbitrage-free {d['arbitrageFree']}")
print(f"surface - mark over {m['count']} options: median {m['medianAbs']:.5f}, p90 {m['p90Abs']:.5f}, max {m['maxAbs']:.4f} BTC, mean {m['mean']:.5f}")
print(f"in volatility over {v['count']} marks with a tick of time value: median {v['medianAbs']:.2f}, p90 {v['p90Abs']:.2f}, max {v['maxAbs']:.1f} points")
PY
python3 - "$CHAIN" <<'PY'
import csv, sys
from collections import defaultdict
n = defaultdict(lambda: [0, 0])
for r in csv.DictReader(open(sys.argv[1])):
    if not (r["bid"] and r["ask"] and r["bid_iv"] and r["ask_iv"]): continue
    b, a = float(r["bid_iv"]), float(r["ask_iv"])
    if b <= 0 or a >= 500: continue  # Deribit's placeholders
    n[r["expiry"][:10]][0] += 1
    n[r["expiry"][:10]][1] += b <= float(r["mark_iv"]) <= a
print("Deribit's mark IV inside bid-ask:", ", ".join(f"{e} {k}/{t}" for e, (t, k) in sorted(n.items())))
PY
/usr/bin/time -f "whole volscale surface process: %e s, %M KB" "$BIN" surface "$CHAIN" --format json > /dev/null
