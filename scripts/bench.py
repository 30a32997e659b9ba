#!/usr/bin/env python3
"""Python anchors for the benchmarks, on the same data (prints one JSON object).

- arch 8.x GARCH(1,1) fit, constant mean, normal, on 100 * the last 5000 daily log
  returns of data/sp500-daily.csv (median over repeats; percent units as arch is used).
- EWMA: arch's EWMAVariance.compute_variance (its compiled recursion) on the same returns.
- Implied volatility: scipy.optimize.brentq on the Black-76 price per option (the
  usual Python approach), on a grid like the Swift benchmark's.
"""
import json
import math
import sys
import time

import numpy as np
import pandas as pd
from arch import arch_model

path = sys.argv[1] if len(sys.argv) > 1 else "data/sp500-daily.csv"
close = pd.read_csv(path)["close"].values
r = np.diff(np.log(close))[-5000:]

times = []
for _ in range(15):
    t0 = time.perf_counter()
    res = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, q=1).fit(disp="off")
    times.append(time.perf_counter() - t0)
garch = float(np.median(times))

from arch.univariate import EWMAVariance

y = 100 * r
vol = EWMAVariance(0.94)
backcast = vol.backcast(y)
bounds = vol.variance_bounds(y)
sigma2 = np.empty_like(y)
reps = 200
t0 = time.perf_counter()
for _ in range(reps):
    vol.compute_variance(np.empty(0), y, sigma2, backcast, bounds)
ewma_rate = reps * len(y) / (time.perf_counter() - t0)

from scipy.optimize import brentq
from scipy.stats import norm

rng = np.random.default_rng(42)
quotes = []
for _ in range(3000):
    T = 1 / 365 + rng.uniform() * 2
    vol = 0.1 + rng.uniform() * 1.2
    z = -3 + 6 * rng.uniform()
    K = 100 * math.exp(z * vol * math.sqrt(T))
    call = rng.uniform() < 0.5

    def black(s, K=K, T=T, call=call):
        d1 = (math.log(100 / K) + 0.5 * s * s * T) / (s * math.sqrt(T))
        d2 = d1 - s * math.sqrt(T)
        if call:
            return 100 * norm.cdf(d1) - K * norm.cdf(d2)
        return K * norm.cdf(-d2) - 100 * norm.cdf(-d1)

    quotes.append((black(vol), black))
t0 = time.perf_counter()
solved = 0
for p, f in quotes:
    try:
        brentq(lambda s: f(s) - p, 1e-6, 10.0, xtol=1e-15, rtol=8.9e-16)
        solved += 1
    except ValueError:
        pass
iv_rate = solved / (time.perf_counter() - t0)

print(json.dumps({
    "archVersion": __import__("arch").__version__,
    "garchFitSeconds": garch,
    "garchLogLikelihoodPercent": float(res.loglikelihood),
    "ewmaUpdatesPerSecond": ewma_rate,
    "ivInversionsPerSecond": iv_rate,
}))
