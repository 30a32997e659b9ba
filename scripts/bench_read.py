#!/usr/bin/env python3
"""Reading market data (issue 11): whole processes, side by side, in one run.

1. A 1,000,000-row minute-bar CSV (date,open,high,low,close; 55 MB) and the same bars in
   Binance's headerless kline layout (12 fields, open time in epoch ms), generated here with
   NumPy (a seeded random walk) unless already in bench-results/read/.
2. `volscale vol FILE --model ewma --format json` against a fresh Python process doing
   pandas `read_csv` + the same EWMA (log returns, lambda 0.94, ewm(adjust=False) on r^2),
   both whole processes, alternating, median of 7. Bar: VolScale <= 0.2 x pandas.
3. `volscale vol data/sp500-daily.csv --model garch --format json` as a whole process against
   arch's `arch_model(...).fit()` alone (timed inside Python, data already loaded): seven
   rounds of one arch process (median of its 7 fits) then three volscale runs; medians.
   Bar: <= 0.5 x arch's fit.
4. 100 million generated one-second bars streamed through a pipe into
   `volscale vol - --model ewma --stream`: peak RSS of the volscale process (constant memory).

Usage: scripts/bench_read.py VOLSCALE VOLSCALE_BENCH [ROWS_FOR_STREAM]
"""
import os, subprocess, sys, time, json, statistics

volscale, bench = sys.argv[1], sys.argv[2]
stream_rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000_000
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out_dir = os.path.join(root, "bench-results", "read")
os.makedirs(out_dir, exist_ok=True)
minute = os.path.join(out_dir, "minute-1m.csv")
kline = os.path.join(out_dir, "kline-1m.csv")

def generate():
    import numpy as np
    n = 1_000_000
    rng = np.random.default_rng(7)
    close = 30000 * np.exp(np.cumsum(rng.standard_normal(n) * 0.0008))
    open_ = np.concatenate([[30000.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + np.abs(rng.standard_normal(n)) * 0.0003)
    low = np.minimum(open_, close) * (1 - np.abs(rng.standard_normal(n)) * 0.0003)
    o, h, l, c = (np.round(x, 2) for x in (open_, high, low, close))
    h = np.maximum.reduce([o, h, c]); l = np.minimum.reduce([o, l, c])
    t0 = 1577836800  # 2020-01-01
    secs = t0 + 60 * np.arange(n)
    dates = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    vol = np.round(np.abs(rng.standard_normal(n)) * 10, 4)
    with open(minute, "w") as f:
        f.write("date,open,high,low,close\n")
        for i in range(n):
            f.write(f"{dates[i].replace('T', ' ')},{o[i]:.2f},{h[i]:.2f},{l[i]:.2f},{c[i]:.2f}\n")
    with open(kline, "w") as f:
        for i in range(n):
            ms = int(secs[i]) * 1000
            f.write(f"{ms},{o[i]:.2f},{h[i]:.2f},{l[i]:.2f},{c[i]:.2f},{vol[i]},{ms + 59999},{vol[i] * c[i]:.4f},100,0,0,0\n")

if not (os.path.exists(minute) and os.path.exists(kline)):
    generate()

def run(cmd, stdin=None):
    """Wall seconds and stdout of one whole process."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{cmd} failed: {p.stderr.decode()}")
    return wall, p.stdout

def run_rss(cmd, stdin=None):
    """Wall seconds, peak RSS (KiB, from GNU time: a child's own maximum, not its parent's)
    and stdout of one whole process."""
    rss_file = os.path.join(out_dir, "rss.txt")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{cmd} failed: {p.stderr.decode()}")
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    return wall, rss, p.stdout

PANDAS = """
import sys, numpy as np, pandas as pd
header = sys.argv[2] == 'header'
df = pd.read_csv(sys.argv[1]) if header else pd.read_csv(sys.argv[1], header=None)
close = df['close'] if header else df[4]
r = np.log(close).diff().dropna()
v = (r * r).ewm(alpha=0.06, adjust=False).mean()
print(repr(float(v.iloc[-1])))
"""

results = {}
for label, path, layout in [("minute CSV", minute, "header"), ("Binance klines", kline, "kline")]:
    vs, pd_, rss = [], [], []
    vs_out = pd_out = None
    for _ in range(7):
        w, o = run([volscale, "vol", path, "--model", "ewma", "--format", "json"])
        vs.append(w); vs_out = o
        w, o = run([sys.executable, "-c", PANDAS, path, layout])
        pd_.append(w); pd_out = o
    rss.append(run_rss([volscale, "vol", path, "--model", "ewma", "--format", "json"])[1])
    ours = json.loads(vs_out)["volatility"]["next"] ** 2
    theirs = float(pd_out)
    results[label] = (statistics.median(vs), statistics.median(pd_), max(rss), abs(ours / theirs - 1))

# GARCH on the S&P 500: the whole volscale process against arch's fit alone
sp = os.path.join(root, "data", "sp500-daily.csv")
ARCH = """
import sys, time, json, numpy as np, pandas as pd
from arch import arch_model
df = pd.read_csv(sys.argv[1])
r = 100 * np.log(df['close']).diff().dropna().values
times = []
for _ in range(7):
    t0 = time.perf_counter()
    res = arch_model(r, mean='Constant', vol='GARCH', p=1, q=1, dist='normal').fit(disp='off')
    times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({'fit': times[3], 'llf': res.loglikelihood}))
"""
# alternating as above, so that both sides see the same state of the machine: seven rounds of
# one arch process (the median of its seven fits) and three volscale processes
arch_fits, garch_walls = [], []
for _ in range(7):
    _, arch_out = run([sys.executable, "-c", ARCH, sp])
    arch = json.loads(arch_out)
    arch_fits.append(arch["fit"])
    for _ in range(3):
        w, o = run([volscale, "vol", sp, "--model", "garch", "--format", "json"])
        garch_walls.append(w)
arch["fit"] = statistics.median(arch_fits)
ours_llf = json.loads(o)["logLikelihood"] - 5030 * __import__("math").log(100)

# start-up: `volscale --version` as a whole process, the binary's size and how many protocol
# conformance records it holds (the Swift runtime scans them all on each first cast)
version_walls = []
for _ in range(21):
    w, _ = run([volscale, "--version"])
    version_walls.append(w)
def conformances(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "swift5_protocol_conformances" in line:
            return int(line.split("swift5_protocol_conformances")[1].split()[3], 16) // 4
    return None

# 100 million rows through a pipe, constant memory
gen = subprocess.Popen([bench, "generate", str(stream_rows)], stdout=subprocess.PIPE)
w, rss, o = run_rss([volscale, "vol", "-", "--model", "ewma", "--stream", "--format", "json"], stdin=gen.stdout)
gen.stdout.close(); gen.wait()
streamed = json.loads(o)

print(f"{'benchmark (whole processes, median of 7)':44} {'VolScale':>10} {'Python':>10} {'ratio':>7}  bar")
for label, (v, p, r, diff) in results.items():
    print(f"{'vol --model ewma, 1M rows, ' + label:44} {v*1e3:7.0f} ms {p*1e3:7.0f} ms {v/p:7.3f}  <= 0.2 of pandas read_csv + EWMA "
          f"({'met' if v/p <= 0.2 else 'MISSED'}); peak RSS {r/1024:.0f} MiB ({r*1024/1e6:.0f} B/row); sigma2 agrees to {diff:.1e}")
g = statistics.median(garch_walls)
# a whole process (start-up, reading, fitting, printing) against arch's fit alone: shown, no
# bar (the fit itself is measured in process against arch by scripts/bench.sh)
print(f"{'vol sp500 --model garch vs arch fit alone':44} {g*1e3:7.1f} ms {arch['fit']*1e3:7.1f} ms {g/arch['fit']:7.3f}  "
      f"whole process, no bar; log-likelihood {ours_llf:.4f} vs arch {arch['llf']:.4f} (percent units)")
print(f"{'volscale --version (start-up), median of 21':44} {statistics.median(version_walls)*1e3:7.1f} ms {'':>10} {'':>7}  "
      f"binary {os.path.getsize(volscale)/1e6:.0f} MB, {conformances(volscale):,} conformance records")
print(f"{'vol - --stream, ' + format(stream_rows, ',') + ' generated rows':44} {w:7.1f} s  {'':>10} {'':>7}  peak RSS {rss/1024:.1f} MiB "
      f"({streamed['observations']:,} returns, {streamed['sampling']['bar']} bars)")
