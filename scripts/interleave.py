#!/usr/bin/env python3
"""Times executables side by side on the same arguments, interleaved (15 rounds of 5 runs of
each, so that a noisy spell on the machine falls on all of them alike), and prints each one's
median and 10th percentile wall time. How the README's start-up figures for `volscale` were
measured: variants of the release binary relinked with and without a link option (the link
command is in .build/release.yaml), e.g.
  python3 scripts/interleave.py /tmp/a/volscale,/tmp/b/volscale vol data/sp500-daily.csv --model garch --format json
"""
import subprocess, sys, time, statistics, os
bins = sys.argv[1].split(',')
args = sys.argv[2:]
rounds = 15; per = 5
res = {b: [] for b in bins}
dn = open(os.devnull, 'w')
for r in range(rounds):
    for b in bins:
        for _ in range(per):
            t = time.perf_counter(); subprocess.run([b] + args, stdout=dn, check=True); res[b].append(time.perf_counter() - t)
for b in bins:
    v = sorted(res[b]); print(f"{b}: median {statistics.median(v)*1000:.2f} ms  p10 {v[len(v)//10]*1000:.2f}")
