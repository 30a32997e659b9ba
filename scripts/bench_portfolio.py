#!/usr/bin/env python3
"""NumPy implementation of the portfolio-margin kernel, on the inputs the Swift benchmark
wrote (bench-results/pm): prints its time and the largest difference from Swift's results.

For each account: loss = -(Q @ rows) with Q the dense account x instrument coefficient
matrix (built from the sparse 10-position lists), ES over the worst 1% of the 1,000
scenarios (np.partition), plus liquidity add-ons, floored at (1 - max_offset) x the sum of
stand-alone requirements. Vectorised in chunks of accounts so the loss matrix fits memory.
"""
import json
import sys
import time

import numpy as np

d = sys.argv[1] if len(sys.argv) > 1 else "bench-results/pm"
rows = np.fromfile(f"{d}/rows.f64")
inst = np.fromfile(f"{d}/inst.i32", dtype=np.int32)
coef = np.fromfile(f"{d}/coef.f64")
standalone = np.fromfile(f"{d}/standalone.f64")
price = np.fromfile(f"{d}/price.f64")
half_spread = np.fromfile(f"{d}/halfspread.f64")
kappa_sigma = np.fromfile(f"{d}/kappasigma.f64")
adv = np.fromfile(f"{d}/adv.f64")
swift = np.fromfile(f"{d}/swift-result.f64")
n_inst = standalone.size
scenarios = rows.size // n_inst
S = rows.reshape(n_inst, scenarios)
width = 10
n = coef.size // width
inst = inst.reshape(n, width)
coef = coef.reshape(n, width)
confidence, max_offset = 0.99, 0.5
tail = (1 - confidence) * scenarios
k = int(np.ceil(tail - 1e-9))


def compute(inst, coef, chunk=10_000):
    out = np.empty(inst.shape[0])
    q = np.abs(coef)
    notional = q * price[inst]
    liquidity = (notional * (half_spread[inst] + kappa_sigma[inst] * np.sqrt(notional / adv[inst]))).sum(axis=1)
    floor = (q * standalone[inst]).sum(axis=1)
    for s in range(0, inst.shape[0], chunk):
        e = min(s + chunk, inst.shape[0])
        Q = np.zeros((e - s, n_inst))
        np.add.at(Q, (np.arange(e - s)[:, None], inst[s:e]), coef[s:e])
        loss = -(Q @ S)
        worst = -np.partition(-loss, k - 1, axis=1)[:, :k]
        worst.sort(axis=1)
        worst = worst[:, ::-1]
        es = (worst[:, :k - 1].sum(axis=1) + (tail - (k - 1)) * worst[:, k - 1]) / tail
        out[s:e] = np.maximum(np.maximum(es, 0) + liquidity[s:e], (1 - max_offset) * floor[s:e])
    return out


compute(inst[:1000], coef[:1000])  # warm-up
times = []
for _ in range(3):
    t0 = time.perf_counter()
    res = compute(inst, coef)
    times.append(time.perf_counter() - t0)
diff = float(np.max(np.abs(res - swift) / np.maximum(1.0, np.abs(swift))))
print(json.dumps({"numpySeconds": min(times), "accounts": int(n), "maxRelativeDifference": diff,
                  "numpyVersion": np.__version__}))
