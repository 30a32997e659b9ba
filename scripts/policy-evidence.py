#!/usr/bin/env python3
"""The recommended policy on every real series in data/ (issue 12): both sides, MPOR 1 bar,
the five lines of the issue, and the bare FHS VaR 99% (EWMA 0.94 filter, 1,000-bar
lookback) on the same bars for the average-margin line.

Usage: scripts/policy-evidence.py [VOLSCALE] [POLICY]   (defaults: .build/release/volscale,
examples/policies/recommended.toml). Prints a table; exit status 0 either way.
"""
import json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
volscale = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build/release/volscale")
policy = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "examples/policies/recommended.toml")
SERIES = [  # file, label
    ("data/sp500-daily.csv", "S&P 500 daily 1999-2018"),
    ("data/btcusd-daily.csv", "BTC-USD daily 2014-2024"),
    ("data/ethusd-daily.csv", "ETH-USD daily 2017-2024"),
    ("data/nasdaq-daily.csv", "NASDAQ daily 1999-2018"),
    ("data/wti-daily.csv", "WTI crude daily 1986-2019"),
    ("data/eurusd-hourly.csv", "EUR/USD hourly 2017-2018"),
    ("data/btcusdt-hourly.csv", "BTC/USDT hourly 2019-2020"),
]
BARE = ["--model", "ewma", "--lambda", "0.94", "--method", "fhs", "--measure", "var", "--confidence", "0.99", "--lookback", "1000", "--mpor", "1"]
EPS = 1e-9  # the rise limit caps a rise at exactly 50%; floating point may add 2e-16

def run(args):
    out = subprocess.run([volscale, "backtest"] + args + ["--format", "json"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"volscale backtest {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)

print(f"{'series':27} {'side':5} {'bars':>5} {'exc':>4} {'rate':>6} {'Kupiec p':>8} {'Ind p':>6} {'peak/trough':>11} {'max 5-bar rise':>14} {'avg / bare FHS VaR99':>20}  lines met")
met_all = 0; total = 0; details = []
for path, label in SERIES:
    for side in ("long", "short"):
        p = run([path, "--config", policy, "--side", side])
        b = run([path, "--side", side] + BARE)
        if p["firstDate"] != b["firstDate"] or p["observations"] != b["observations"]:
            sys.exit(f"{label} {side}: the policy and the bare model are not evaluated on the same bars")
        pc = p["procyclicality"]
        ratio = pc["averageMargin"] / b["procyclicality"]["averageMargin"]
        lines = [
            p["exceedanceRate"] <= 0.01 and p["kupiec"]["pValue"] >= 0.05,
            p["christoffersen"]["independence"]["pValue"] >= 0.05,
            pc["peakToTrough"] <= 4 + EPS,
            pc["maxIncrease5"] <= 0.5 + EPS,
            ratio <= 1.3,
        ]
        marks = "".join("+" if ok else "-" for ok in lines)
        total += 1; met_all += all(lines)
        corridor_floor = p["binding"].get("corridor (floor)", 0)
        csv = subprocess.run([volscale, "backtest", path, "--config", policy, "--side", side, "--format", "csv"],
                             cwd=root, capture_output=True, text=True).stdout.splitlines()[1:]
        dates = [row.split(",")[0] for row in csv]
        hit = [row.endswith(",1") for row in csv]
        back_to_back = [dates[i] for i in range(len(hit) - 1) if hit[i] and hit[i + 1]]
        details.append(f"{label:27} {side:5} corridor floor binds {100*corridor_floor:4.1f}% of bars; "
                       f"back-to-back exceedances starting {', '.join(back_to_back) if back_to_back else 'none'}")
        print(f"{label:27} {side:5} {p['observations']:5d} {p['exceedances']:4d} {100*p['exceedanceRate']:5.2f}% {p['kupiec']['pValue']:8.3f} "
              f"{p['christoffersen']['independence']['pValue']:6.3f} {pc['peakToTrough']:11.2f} {100*pc['maxIncrease5']:13.1f}% {ratio:20.2f}  {marks}")
print(f"\nlines: coverage (rate <= 1% and Kupiec p >= 0.05), independence (p >= 0.05), peak/trough <= 4, 5-bar rise <= 50%, average <= 1.3x bare")
print(f"all five met on {met_all} of {total} series-sides\n")
print("\n".join(details))
