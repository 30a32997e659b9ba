#!/usr/bin/env python3
"""NumPy implementation of the portfolio-margin kernel, on the inputs the Swift benchmark
wrote (bench-results/pm): prints its time and the largest difference from Swift's results.

The kernel is MarginCalculator's whole portfolio rule (`MarginCalculator.portfolioKernel`),
written out here from its documented formula: for each account, with Q the dense
account x instrument coefficient matrix (built from the sparse 10-position lists),

    loss      = -(Q @ S)                      over the joint scenarios
    grid      = max_g(-(Q @ G)[:, g] * w_g)   over the risk grid, weighted
    ES        = mean of the worst (1 - confidence) share of the losses (np.partition; the
                boundary scenario counted in part)
    liquidity = sum_j n_j * m_j * (halfSpread_j + kappaSigma_j * sqrt(max(0, n_j - t_j) / ADV_j)),
                n_j = |c_j| * price_j
    floor     = (1 - maxOffset) * sum_j standalone_j, a linear position's
                rate_side(c_j) * n_j, an option's worst grid loss max(0, max_g(-c_j G_jg w_g))
    margin    = max(max(ES, grid, 0) + liquidity, floor)

vectorised in chunks of accounts so the loss matrix fits memory.
"""
import json
import sys
import time

import numpy as np

d = sys.argv[1] if len(sys.argv) > 1 else "bench-results/pm"


def f64(name):
    return np.fromfile(f"{d}/{name}.f64")


rows = f64("rows")
inst = np.fromfile(f"{d}/inst.i32", dtype=np.int32)
coef = f64("coef")
standalone_long, standalone_short = f64("standalone-long"), f64("standalone-short")
price, half_spread, kappa_sigma, adv = f64("price"), f64("halfspread"), f64("kappasigma"), f64("adv")
multiplier, threshold = f64("liquidity-multiplier"), f64("impact-threshold")
grid, grid_weights = f64("grid"), f64("grid-weights")
grid_standalone = f64("grid-standalone") > 0
confidence, max_offset, scenarios = f64("settings")
swift = f64("swift-result")
n_inst = standalone_long.size
scenarios = int(scenarios)
S = rows.reshape(n_inst, scenarios)
G = grid.reshape(n_inst, grid_weights.size)
width = 10
n = coef.size // width
inst = inst.reshape(n, width)
coef = coef.reshape(n, width)
tail = (1 - confidence) * scenarios
k = int(np.ceil(tail - 1e-9))


def compute(inst, coef, chunk=10_000):
    out = np.empty(inst.shape[0])
    q = np.abs(coef)
    notional = q * price[inst]
    excess = np.maximum(0, notional - threshold[inst])
    impact = np.where((kappa_sigma[inst] > 0) & (excess > 0), kappa_sigma[inst] * np.sqrt(excess / adv[inst]), 0)
    liquidity = (notional * multiplier[inst] * (half_spread[inst] + impact)).sum(axis=1)
    rate = np.nan_to_num(np.where(coef < 0, standalone_short[inst], standalone_long[inst]))
    for s in range(0, inst.shape[0], chunk):
        e = min(s + chunk, inst.shape[0])
        Q = np.zeros((e - s, n_inst))
        np.add.at(Q, (np.arange(e - s)[:, None], inst[s:e]), coef[s:e])
        loss = -(Q @ S)
        worst = -np.partition(-loss, k - 1, axis=1)[:, :k]
        worst.sort(axis=1)
        worst = worst[:, ::-1]
        es = (worst[:, :k - 1].sum(axis=1) + (tail - (k - 1)) * worst[:, k - 1]) / tail
        grid_req = (-(Q @ G) * grid_weights).max(axis=1)
        option_worst = np.maximum(0, (-coef[s:e, :, None] * G[inst[s:e]] * grid_weights).max(axis=2))
        floor = np.where(grid_standalone[inst[s:e]], option_worst, rate[s:e] * notional[s:e]).sum(axis=1)
        out[s:e] = np.maximum(np.maximum(np.maximum(es, grid_req), 0) + liquidity[s:e], (1 - max_offset) * floor)
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
