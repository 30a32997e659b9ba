#!/usr/bin/env bash
# The README's "Liquidity, regimes and contagion" evidence: the BTC haircut path through
# March 2020 and May 2021 (docs/btc-liquidity.png is a screenshot of the HTML) and its table.
# Usage: scripts/liquidity-evidence.sh [volscale binary, default: a release build] [out dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-}"
if [[ -z "$BIN" ]]; then
  swift build -c release --static-swift-stdlib --product volscale >&2
  BIN=.build/release/volscale
fi
OUT="${2:-$(mktemp -d)}"
mkdir -p "$OUT"
args=(haircuts data/btcusd-daily.csv --volume-unit quote --holding 5e8 --from 2019-10-01 --to 2021-08-31)
"$BIN" "${args[@]}" --format html > "$OUT/haircuts.html"
"$BIN" "${args[@]}" --format csv > "$OUT/haircuts.csv"
echo "html: $OUT/haircuts.html" >&2
python3 - "$OUT/haircuts.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    for k in r:
        if k != "date": r[k] = float(r[k]) if r[k] else float("nan")
def window(name, a, b):
    s = [r for r in rows if a <= r["date"] <= b]
    spread = sorted(r["spread"] for r in s)
    med = spread[len(spread) // 2] if len(spread) % 2 else 0.5 * (spread[len(spread) // 2 - 1] + spread[len(spread) // 2])
    print(f"| {name} | {med * 1e4:.0f} / {max(spread) * 1e4:.0f} | {max(r['amihud'] for r in s) * 1e9 * 100:.3f}% "
          f"| {sum(r['p_high'] for r in s) / len(s):.2f} | {max(r['haircut'] for r in s) * 100:.2f}% / "
          f"{max(r['haircut_calm'] for r in s) * 100:.2f}% | {max(r['volatility'] for r in s) * 100:.2f}% |")
print("| window | spread (median / max, bp) | Amihud max (per 1B traded) | regime share (mean) | haircut max: with regime / calm | daily volatility max |")
print("|---|---|---|---|---|---|")
window("Oct 2019 - Feb 2020", "2019-10-01", "2020-02-29")
window("March 2020", "2020-03-01", "2020-03-31")
window("May 2021", "2021-05-01", "2021-05-31")
diff = [r["haircut"] - r["haircut_calm"] for r in rows]
top = max(range(len(rows)), key=lambda i: diff[i])
print(f"\n{len(rows)} days: the regime adds {100 * sum(diff) / len(diff):.2f} points on average, "
      f"{100 * diff[top]:.2f} at most ({rows[top]['date']})")
rise = max(rows[i]["haircut"] / rows[i - 5]["haircut"] for i in range(5, len(rows)))
print(f"largest 5-day rise of the haircut: {rise:.1f}x")
PY
