#!/usr/bin/env bash
# Benchmarks: the Swift release build next to the Python anchors, same data, one run.
# Usage: scripts/bench.sh [price file]   (default data/sp500-daily.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-data/sp500-daily.csv}"
python3 -c "import arch" 2>/dev/null || pip install --quiet "arch==8.0.0"
swift build -c release --static-swift-stdlib --product volscale-bench >&2
SWIFT_JSON="$(.build/release/volscale-bench "$DATA")"
PY_JSON="$(python3 scripts/bench.py "$DATA")"
PM_JSON="$(python3 scripts/bench_portfolio.py bench-results/pm)"
python3 - "$SWIFT_JSON" "$PY_JSON" "$PM_JSON" <<'PY'
import json, sys
s, p, pm = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
fit_ratio = s["garchFitSeconds"] / p["garchFitSeconds"]
ll_diff = s["garchLogLikelihoodPercent"] - p["garchLogLikelihoodPercent"]
print(f"{'benchmark':34} {'VolScale':>16} {'Python':>16} {'ratio':>10}  bar")
print(f"{'GARCH(1,1) fit, 5000 returns':34} {s['garchFitSeconds']*1e3:13.3f} ms {p['garchFitSeconds']*1e3:13.3f} ms {fit_ratio:10.4f}  <= 0.1 of arch ({'met' if fit_ratio <= 0.1 else 'MISSED'})")
print(f"{'  log-likelihood (percent units)':34} {s['garchLogLikelihoodPercent']:16.6f} {p['garchLogLikelihoodPercent']:16.6f} {ll_diff:+10.2e}  >= arch ({'met' if ll_diff >= -1e-6 * abs(p['garchLogLikelihoodPercent']) else 'MISSED'})")
e = s["ewmaUpdatesPerSecond"]
print(f"{'EWMA updates per second, 1 core':34} {e/1e6:14.1f} M {p['ewmaUpdatesPerSecond']/1e6:14.1f} M {e/p['ewmaUpdatesPerSecond']:10.2f}  >= 50 M/s ({'met' if e >= 50e6 else 'MISSED'})")
i = s["ivInversionsPerSecond"]
print(f"{'IV inversions per second, 1 core':34} {i/1e6:14.3f} M {p['ivInversionsPerSecond']/1e6:14.3f} M {i/p['ivInversionsPerSecond']:10.1f}  >= 2 M/s ({'met' if i >= 2e6 else 'MISSED'})")
b, ba = s["fhsBacktestSeconds"], s["fhsBacktestAPCSeconds"]
print(f"{'FHS-ES backtest, ' + str(s['fhsBacktestReturns']) + ' daily returns':34} {b*1e3:13.1f} ms {'':>16} {'':>10}  < 1 s ({'met' if b < 1 else 'MISSED'})")
print(f"{'  same with buffer+stressed+floor':34} {ba*1e3:13.1f} ms {'':>16} {'':>10}  < 1 s ({'met' if ba < 1 else 'MISSED'})")
t = s["pmSeconds100k"]
print(f"{'portfolio margin, 100k accounts':34} {t*1e3:13.1f} ms {pm['numpySeconds']*1e3:13.1f} ms {t/pm['numpySeconds']:10.3f}  < 1 s and <= 0.5 of NumPy ({'met' if t < 1 and t <= 0.5*pm['numpySeconds'] else 'MISSED'})")
print(f"{'  (10 positions, 1000 scenarios, 50 instr.)':34}   results agree with NumPy to {pm['maxRelativeDifference']:.1e} relative")
print(f"{'  one thread / 25k / 50k accounts':34} {s['pmSeconds100kOneThread']*1e3:10.1f} ms / {s['pmSeconds25k']*1e3:.1f} ms / {s['pmSeconds50k']*1e3:.1f} ms ({s['pmCores']} cores; speed-up {s['pmSeconds100kOneThread']/t:.2f}x)")
print(f"{'engine ingest in memory, 1 core':34} {s['ingestMemoryPerSecond']/1e6:14.2f} M/s {'':>16} {'':>10}  >= 1 M/s ({'met' if s['ingestMemoryPerSecond'] >= 1e6 else 'MISSED'})")
print(f"{'engine ingest into SQLite, batched':34} {s['ingestDurablePerSecond']/1e3:14.0f} k/s {'':>16} {'':>10}  >= 200 k/s ({'met' if s['ingestDurablePerSecond'] >= 2e5 else 'MISSED'})")
print(f"{'recovery of a 10M-quote store':34} {s['recoverySeconds']*1e3:13.1f} ms {'':>16} {'':>10}  < 5 s ({'met' if s['recoverySeconds'] < 5 else 'MISSED'}; {s['recoveryStoredQuotes']} quotes stored)")
print(f"(arch {p['archVersion']}; Python EWMA is arch's EWMAVariance.compute_variance; Python IV is scipy brentq on Black-76)")
PY
