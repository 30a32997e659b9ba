#!/usr/bin/env python3
"""Regenerate the reference fixtures in Tests/Fixtures from independent sources.

    pip install arch==8.0.0 numpy scipy mpmath
    python3 scripts/make_fixtures.py

Sources, per fixture:
- garch-*.json, ewma-sp500.json: the Python `arch` package (K. Sheppard), version
  printed into each file, on the `close` column of data/sp500-daily.csv.
- range-sp500.json: a vectorised numpy implementation of the range estimators
  (Parkinson, Garman-Klass, Rogers-Satchell, Yang-Zhang) written from the
  papers' formulas, independent of the Swift code.
- vix-*.json: an independent numpy implementation of the CBOE VIX white-paper
  method, on the white paper's own option chain (data/vix-whitepaper-chain.csv)
  and on a synthetic flat-volatility chain.
- black76-mpmath.json: Black-76 prices at 50 significant digits (mpmath) for
  deep in/out-of-the-money points, to check the forward formula's accuracy.
- ewma-cov.json, ledoit-wolf.json: numpy, on aligned returns.
- liquidity-*.json: rolling dollar volume, Amihud illiquidity and the Corwin-Schultz
  spread written in numpy from the papers' formulas (sliding windows, no running sums).
- regimes-*.json: statsmodels' MarkovRegression (switching mean and variance), fitted
  on percent returns with search_reps, mapped to decimal units. statsmodels' random
  search does not follow np.random.seed: a rerun may land on a slightly lower optimum for
  three states (seen: 0.02 lower); keep the file with the higher logLikelihood.

    python3 scripts/make_fixtures.py liquidity regimes   # only those
All numbers are stored in decimal units unless the key says otherwise.
"""
import json
import math
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "Tests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def dump(name, obj, compact=False):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=None if compact else 1)
        f.write("\n")


def sp500():
    df = pd.read_csv(os.path.join(ROOT, "data", "sp500-daily.csv"))
    return df


ARCH_NAMES = {"mu": "mu", "omega": "omega", "alpha[1]": "alpha", "gamma[1]": "gamma", "beta[1]": "beta", "nu": "nu",
              "eta": "nu", "lambda": "skew"}


def arch_case(name, r, mean, vol, o, dist, horizon, note=""):
    """One arch fit of 100*r written as a fixture in decimal units: mu / 100; omega / 1e4 for
    GARCH, and for EGARCH (the intercept of ln sigma2) minus (1 - beta) ln 1e4 with its standard
    error unchanged; the skewed t's eta and lambda as nu and skew."""
    import arch
    from arch import arch_model

    n = len(r)
    res = arch_model(100 * r, mean=mean, vol=vol, p=1, o=o, q=1, dist=dist).fit(disp="off")
    params, stderr = {}, {}
    for k, v in res.params.items():
        params[ARCH_NAMES[k]] = float(v)
        stderr[ARCH_NAMES[k]] = float(res.std_err[k])
    for d in (params, stderr):
        if "mu" in d:
            d["mu"] /= 100.0
    if vol == "EGARCH":
        params["omega"] -= (1 - params["beta"]) * math.log(1e4)
    else:
        params["omega"] /= 1e4
        stderr["omega"] /= 1e4
    f = res.forecast(horizon=horizon, reindex=False)
    dump(name + ".json", {
        "source": f"arch {arch.__version__}: arch_model(100*r, mean='{mean}', vol='{vol}', p=1, o={o}, q=1, dist='{dist}').fit(); r = diff(log(close)) of data/sp500-daily.csv; converted to decimal units{note}",
        "observations": n,
        "parameters": params,
        "standardErrors": stderr,
        "standardErrorsType": "robust (Bollerslev-Wooldridge), arch default",
        "logLikelihood": float(res.loglikelihood) + n * math.log(100.0),
        "logLikelihoodPercent": float(res.loglikelihood),
        "aicPercent": float(res.aic),
        "bicPercent": float(res.bic),
        "conditionalVolatility": [float(x) / 100 for x in res.conditional_volatility],
        "varianceForecast": [float(x) / 1e4 for x in f.variance.values[-1]],
    })


def sp500_returns():
    return np.diff(np.log(sp500()["close"].values))


def arch_fixtures():
    import arch
    from arch.univariate import ZeroMean, EWMAVariance

    r = sp500_returns()
    for name, mean, o, dist in [
        ("garch-normal", "Constant", 0, "normal"),
        ("garch-t", "Constant", 0, "t"),
        ("gjr-normal", "Constant", 1, "normal"),
        ("gjr-t", "Constant", 1, "t"),
        ("garch-zero-normal", "Zero", 0, "normal"),
    ]:
        arch_case(name, r, mean, "GARCH", o, dist, horizon=10)

    ewma = ZeroMean(100 * r, volatility=EWMAVariance(0.94)).fit(disp="off")
    dump("ewma-sp500.json", {
        "source": f"arch {arch.__version__}: ZeroMean(100*r, volatility=EWMAVariance(0.94)).fit(); decimal units",
        "lambda": 0.94,
        "conditionalVolatility": [float(x) / 100 for x in ewma.conditional_volatility],
    })


def arch_composed_fixtures():
    """EGARCH(1,1,1) and Hansen's skewed t (arch's EGARCH and SkewStudent), composed with the
    constant mean as arch composes them; one-step forecasts (arch's EGARCH has no analytic
    forecast beyond)."""
    r = sp500_returns()
    for name, vol, o, dist in [
        ("egarch-normal", "EGARCH", 1, "normal"),
        ("egarch-t", "EGARCH", 1, "t"),
        ("egarch-skewt", "EGARCH", 1, "skewt"),
        ("garch-skewt", "GARCH", 0, "skewt"),
        ("gjr-skewt", "GARCH", 1, "skewt"),
    ]:
        arch_case(name, r, "Constant", vol, o, dist, horizon=1,
                  note="; EGARCH omega minus (1-beta) ln 1e4 (its standard error unchanged); skewed t: eta -> nu, lambda -> skew")


def range_fixtures():
    df = sp500()
    o, h, l, c = (np.log(df[k].values) for k in ("open", "high", "low", "close"))
    window = 20

    def estimators(s):
        oo, hh, ll, cc = o[s], h[s], l[s], c[s]
        pk = np.mean((hh - ll) ** 2) / (4 * math.log(2))
        gk = np.mean(0.5 * (hh - ll) ** 2 - (2 * math.log(2) - 1) * (cc - oo) ** 2)
        rs = np.mean((hh - cc) * (hh - oo) + (ll - cc) * (ll - oo))
        return pk, gk, rs

    def yang_zhang(end, n):
        # bars end-n+1 .. end, overnight uses the close before each bar
        idx = np.arange(end - n + 1, end + 1)
        on = o[idx] - c[idx - 1]
        oc = c[idx] - o[idx]
        k = 0.34 / (1.34 + (n + 1) / (n - 1))
        rs = np.mean((h[idx] - c[idx]) * (h[idx] - o[idx]) + (l[idx] - c[idx]) * (l[idx] - o[idx]))
        return np.var(on, ddof=1) + k * np.var(oc, ddof=1) + (1 - k) * rs

    points = []
    for end in (window, 1000, 2500, len(c) - 1):
        s = slice(end - window + 1, end + 1)
        pk, gk, rs = estimators(s)
        points.append({"barIndex": end, "parkinson": math.sqrt(pk), "garmanKlass": math.sqrt(gk),
                       "rogersSatchell": math.sqrt(rs), "yangZhang": math.sqrt(yang_zhang(end, window))})
    pk, gk, rs = estimators(slice(0, len(c)))
    full = {"parkinson": math.sqrt(pk), "garmanKlass": math.sqrt(gk), "rogersSatchell": math.sqrt(rs),
            "yangZhang": math.sqrt(yang_zhang(len(c) - 1, len(c) - 1))}
    dump("range-sp500.json", {
        "source": "numpy implementation of the published formulas in scripts/make_fixtures.py; per-bar volatility, decimal",
        "window": window,
        "rolling": points,
        "fullSample": full,
        "fullSampleNote": "Parkinson/GK/RS over all bars; Yang-Zhang over bars 1..n-1 (needs a previous close)",
    })


def vix_sigma2(strikes, calls_bid, calls_ask, puts_bid, puts_ask, T, r):
    """One expiry of the CBOE white-paper method. Returns sigma^2, F, K0."""
    strikes = np.asarray(strikes, float)
    cm = (np.asarray(calls_bid) + np.asarray(calls_ask)) / 2
    pm = (np.asarray(puts_bid) + np.asarray(puts_ask)) / 2
    # at-the-money: the smallest |call - put| among strikes where both have a bid
    both = np.where((np.asarray(calls_bid) > 0) & (np.asarray(puts_bid) > 0))[0]
    i = int(both[np.argmin(np.abs(cm[both] - pm[both]))])
    F = strikes[i] + math.exp(r * T) * (cm[i] - pm[i])
    below = strikes[strikes <= F]
    K0 = below.max()
    k0 = int(np.where(strikes == K0)[0][0])
    used = {}
    # puts below K0, walking down, stop after two consecutive zero bids
    zeros = 0
    for j in range(k0 - 1, -1, -1):
        if puts_bid[j] == 0:
            zeros += 1
            if zeros == 2:
                break
            continue
        zeros = 0
        used[j] = pm[j]
    zeros = 0
    for j in range(k0 + 1, len(strikes)):
        if calls_bid[j] == 0:
            zeros += 1
            if zeros == 2:
                break
            continue
        zeros = 0
        used[j] = cm[j]
    used[k0] = (cm[k0] + pm[k0]) / 2
    idx = sorted(used)
    ks = strikes[idx]
    q = np.array([used[j] for j in idx])
    dk = np.empty(len(ks))
    dk[0] = ks[1] - ks[0]
    dk[-1] = ks[-1] - ks[-2]
    dk[1:-1] = (ks[2:] - ks[:-2]) / 2
    s2 = 2 / T * np.sum(dk / ks ** 2 * math.exp(r * T) * q) - (F / K0 - 1) ** 2 / T
    return float(s2), float(F), float(K0), len(idx)


def vix_fixtures():
    chain = pd.read_csv(os.path.join(ROOT, "data", "vix-whitepaper-chain.csv"))
    r = 0.0038
    out = []
    terms = []
    for days, g in chain.groupby("days"):
        T = days / 365.0
        s2, F, K0, count = vix_sigma2(g["strike"].values, g["call_bid"].values, g["call_ask"].values,
                                      g["put_bid"].values, g["put_ask"].values, T, r)
        terms.append((T, s2))
        out.append({"days": int(days), "T": T, "sigma2": s2, "forward": F, "k0": K0, "optionsUsed": count})
    (T1, s1), (T2, s2) = terms
    N30, N1, N2 = 30 / 365, T1, T2
    w1 = (N2 - N30) / (N2 - N1)
    var30 = (T1 * s1 * w1 + T2 * s2 * (1 - w1)) / N30
    dump("vix-whitepaper.json", {
        "source": "independent numpy implementation (scripts/make_fixtures.py) of the CBOE white-paper method on data/vix-whitepaper-chain.csv; T = days/365, r = 0.38% continuously compounded for both terms",
        "rate": r,
        "expiries": out,
        "index": 100 * math.sqrt(var30),
    })

    # A flat-volatility chain priced with Black-76: the index must recover the volatility
    from scipy.stats import norm
    sigma, F0, rr = 0.6, 30000.0, 0.02
    strikes = np.arange(3000.0, 150001.0, 250.0)
    rows = []
    for days in (23, 37):
        T = days / 365
        df_ = math.exp(-rr * T)
        d1 = (np.log(F0 / strikes) + 0.5 * sigma ** 2 * T) / (sigma * math.sqrt(T))
        d2 = d1 - sigma * math.sqrt(T)
        call = df_ * (F0 * norm.cdf(d1) - strikes * norm.cdf(d2))
        put = df_ * (strikes * norm.cdf(-d2) - F0 * norm.cdf(-d1))
        for k, c_, p_ in zip(strikes, call, put):
            rows.append({"days": days, "strike": float(k), "call": float(c_), "put": float(p_)})
    terms = []
    for days in (23, 37):
        g = [x for x in rows if x["days"] == days]
        ks = [x["strike"] for x in g]
        cc = [x["call"] for x in g]
        pp = [x["put"] for x in g]
        terms.append((days / 365, vix_sigma2(ks, cc, cc, pp, pp, days / 365, rr)[0]))
    (T1, s1), (T2, s2) = terms
    w1 = (T2 - N30) / (T2 - T1)
    var30 = (T1 * s1 * w1 + T2 * s2 * (1 - w1)) / N30
    dump("vix-flat.json", {
        "source": "Black-76 chain with flat volatility 0.6 (scipy norm.cdf), F=30000, r=2%, strikes 3000..150000 step 250; index by the same numpy implementation",
        "sigma": sigma, "forward": F0, "rate": rr, "indexFromNumpy": 100 * math.sqrt(var30),
        "chain": rows,
    })


def dvol_fixtures():
    """The 30-day model-free index of the bundled Deribit chain by the white-paper method above:
    bids and asks in USD (BTC price x the expiry's median underlying_price), zero rate, a side
    without both bid and ask as a zero bid, as of 2020-05-21T23:21:00Z."""
    chain = pd.read_csv(os.path.join(ROOT, "data", "deribit-btc-options-20200521.csv"))
    as_of = pd.Timestamp("2020-05-21T23:21:00Z")
    terms = []
    for expiry, g in chain.groupby("expiry"):
        T = (pd.Timestamp(expiry) - as_of).total_seconds() / (365 * 86400)
        F = float(np.median(g["underlying_price"]))
        calls = g[g["type"] == "call"].set_index("strike")
        puts = g[g["type"] == "put"].set_index("strike")
        ks = sorted(set(calls.index) & set(puts.index))
        def side(row):
            b, a = row["bid"], row["ask"]
            if pd.isna(b) or pd.isna(a) or a < b:
                return 0.0, 0.0
            return b * F, a * F
        cb, ca, pb, pa = [], [], [], []
        for k in ks:
            x, y = side(calls.loc[k]); cb.append(x); ca.append(y)
            x, y = side(puts.loc[k]); pb.append(x); pa.append(y)
        terms.append((T, expiry, ks, cb, ca, pb, pa))
    target = 30 / 365
    near = [t for t in terms if t[0] <= target][-1]
    nxt = [t for t in terms if t[0] > target][0]
    out = []
    var = []
    for T, expiry, ks, cb, ca, pb, pa in (near, nxt):
        s2, F, K0, count = vix_sigma2(ks, cb, ca, pb, pa, T, 0.0)
        var.append((T, s2))
        out.append({"expiry": expiry, "T": T, "sigma2": s2, "forward": F, "k0": K0, "optionsUsed": count})
    (T1, s1), (T2, s2) = var
    w1 = (T2 - target) / (T2 - T1)
    var30 = (T1 * s1 * w1 + T2 * s2 * (1 - w1)) / target
    dump("dvol-deribit.json", {
        "source": "independent numpy implementation (scripts/make_fixtures.py, dvol) of the CBOE white-paper method on"
                  " data/deribit-btc-options-20200521.csv as of 2020-05-21T23:21:00Z: USD quotes = BTC price x median"
                  " underlying_price of the expiry, zero rate, a side without bid and ask as a zero bid",
        "asOf": "2020-05-21T23:21:00Z", "expiries": out, "index": 100 * math.sqrt(var30),
    })


def options_grid_fixtures():
    """A short strangle with a futures hedge on a flat-volatility market, evaluated by the risk
    matrix written out with scipy: coin-settled Black-76 (zero rate) per scenario, relative IV
    shocks times (30/days)^0.30 or ^0.13, extended moves on IV up at weight (range/move)^2,
    contingencies 0.01 coin per net short option per strike and 1% of offsetting futures."""
    from scipy.stats import norm
    F0, vol, days = 9000.0, 0.8, 20.0
    T = days / 365
    positions = [("call", 11000.0, -20.0), ("put", 7500.0, -20.0)]
    future_usd = -7500.0          # inverse future at the same forward
    def black(F, K, s, kind):
        if s <= 0:
            return max(F - K, 0) if kind == "call" else max(K - F, 0)
        d1 = (math.log(F / K) + 0.5 * s * s * T) / (s * math.sqrt(T)); d2 = d1 - s * math.sqrt(T)
        return F * norm.cdf(d1) - K * norm.cdf(d2) if kind == "call" else K * norm.cdf(-d2) - F * norm.cdf(-d1)
    def pnl(move, shock):
        F1 = F0 * (1 + move)
        factor = (30 / days) ** 0.30 if days < 30 else (30 / days) ** 0.13
        v1 = vol * max(1 + shock * factor, 0.1)
        total = 0.0
        for kind, K, q in positions:
            total += q * (black(F1, K, v1, kind) / F1 - black(F0, K, vol, kind) / F0)
        total += future_usd * (1 / F0 - 1 / F1)
        return total
    rng, up, down = 0.16, 0.45, 0.30
    scenarios = []
    for i in range(9):
        move = rng * (2 * i / 8 - 1)
        for side, shock in (("up", up), ("unchanged", 0.0), ("down", -down)):
            scenarios.append({"move": move, "volatility": side, "weight": 1.0, "pnl": pnl(move, shock)})
    for move in (-0.66, -0.33, 0.5, 1, 2, 3, 4, 5):
        scenarios.append({"move": move, "volatility": "up", "weight": min(1, (rng / move) ** 2), "pnl": pnl(move, up)})
    worst = max(max(0, -x["pnl"]) * x["weight"] for x in scenarios)
    contingency = 2 * 20 * 0.01   # two strikes, 20 net short each; one future: nothing offsets it
    marks = {f"{k}-{K:g}": black(F0, K, vol, k) / F0 for k, K, _ in positions}
    dump("options-grid.json", {
        "source": "scipy.stats.norm Black-76 written out in scripts/make_fixtures.py (options_grid): coin-settled short"
                  " strangle (20 x 11000 C, 20 x 7500 P) and a -7500 USD inverse future on F = 9000, flat vol 0.8, 20 days",
        "forward": F0, "volatility": vol, "days": days, "scenarios": scenarios, "worstWeightedLoss": worst,
        "contingency": contingency, "maintenance": worst + contingency, "initial": 1.2 * (worst + contingency), "marks": marks,
    })


def black_fixtures():
    import mpmath as mp
    mp.mp.dps = 50
    pts = []
    for x in (-3.0, -1.0, -0.3, -0.05, -0.001, 0.0, 0.001, 0.05, 0.3, 1.0, 3.0):
        for s in (0.002, 0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 4.0):
            F = mp.mpf(1)
            K = mp.mpf(float(mp.e ** (-mp.mpf(x))))  # the double the test will use
            sm = mp.mpf(s)
            d1 = (mp.log(F / K) + sm * sm / 2) / sm
            d2 = d1 - sm
            call = F * mp.ncdf(d1) - K * mp.ncdf(d2)
            put = K * mp.ncdf(-d2) - F * mp.ncdf(-d1)
            if call < mp.mpf("1e-280") or put < mp.mpf("1e-280"):
                continue
            # condition numbers |d ln P / d ln K|: the price error that one rounding of K
            # (or of ln(F/K)) alone causes, relative to machine epsilon
            pts.append({"forward": 1.0, "strike": float(K), "totalVol": s,
                        "call": float(call), "put": float(put),
                        "callCondition": float(K * mp.ncdf(d2) / call),
                        "putCondition": float(K * mp.ncdf(-d2) / put)})
    dump("black76-mpmath.json", {
        "source": "mpmath 50-digit Black-76 with T=1, DF=1; totalVol = sigma*sqrt(T)",
        "points": pts,
    })


def covariance_fixtures():
    df = sp500()
    c = df["close"].values
    o = df["open"].values
    # two 'assets': close-to-close log returns and open-to-open log returns of the same index
    a = np.diff(np.log(c))[:600]
    b = np.diff(np.log(o))[:600]
    R = np.column_stack([a, b])
    lam = 0.94
    tau = min(75, len(R))
    w = lam ** np.arange(tau)
    w = w / w.sum()
    S = sum(w[i] * np.outer(R[i], R[i]) for i in range(tau))
    for t in range(1, len(R) + 1):
        S = lam * S + (1 - lam) * np.outer(R[t - 1], R[t - 1])
    dump("ewma-cov.json", {
        "source": "numpy EWMA covariance, lambda 0.94, seeded with the 0.94-weighted mean of the first min(75,n) outer products (as arch seeds EWMA), S_{n+1} after the last return",
        "returns": R.tolist(),
        "lambda": lam,
        "nextCovariance": S.tolist(),
    })

    # Ledoit-Wolf (2004) shrinkage toward constant correlation
    rng = np.random.default_rng(7)
    N, T = 6, 60
    true = np.array([[1.0, 0.8, 0.7, 0.1, 0.0, -0.2],
                     [0.8, 1.0, 0.6, 0.2, 0.1, -0.1],
                     [0.7, 0.6, 1.0, 0.0, 0.2, 0.0],
                     [0.1, 0.2, 0.0, 1.0, 0.5, 0.4],
                     [0.0, 0.1, 0.2, 0.5, 1.0, 0.3],
                     [-0.2, -0.1, 0.0, 0.4, 0.3, 1.0]])
    X = rng.multivariate_normal(np.zeros(N), true, size=T) * np.array([0.01, 0.02, 0.015, 0.03, 0.01, 0.025])
    Y = X - X.mean(axis=0)
    Sm = Y.T @ Y / T
    var = np.diag(Sm)
    sd = np.sqrt(var)
    corr = Sm / np.outer(sd, sd)
    rbar = (corr.sum() - N) / (N * (N - 1))
    Ft = rbar * np.outer(sd, sd)
    np.fill_diagonal(Ft, var)
    Y2 = Y ** 2
    pi_mat = Y2.T @ Y2 / T - Sm ** 2
    pi_hat = pi_mat.sum()
    theta_ii = (Y ** 3).T @ Y / T - var[:, None] * Sm  # theta_ii,ij
    theta_jj = Y.T @ (Y ** 3) / T - var[None, :] * Sm  # theta_jj,ij
    rho_off = 0.0
    for i in range(N):
        for j in range(N):
            if i == j:
                continue
            rho_off += rbar / 2 * (sd[j] / sd[i] * theta_ii[i, j] + sd[i] / sd[j] * theta_jj[i, j])
    rho_hat = np.trace(pi_mat) + rho_off
    gamma_hat = np.linalg.norm(Ft - Sm, "fro") ** 2
    kappa = (pi_hat - rho_hat) / gamma_hat
    delta = max(0.0, min(1.0, kappa / T))
    Sigma = delta * Ft + (1 - delta) * Sm
    sds = np.sqrt(np.diag(Sigma))
    dump("ledoit-wolf.json", {
        "source": "numpy implementation of Ledoit and Wolf (2004), 'Honey, I shrunk the sample covariance matrix', constant-correlation target, sample covariance with divisor T",
        "returns": X.tolist(),
        "shrinkage": delta,
        "averageCorrelation": rbar,
        "covariance": Sigma.tolist(),
        "correlation": (Sigma / np.outer(sds, sds)).tolist(),
    })


def student_t_fixtures():
    from scipy import stats, integrate
    rows = []
    for nu in (2.5, 3.0, 4.0, 6.509363, 10.0, 30.0, 200.0):
        for p in (1e-6, 0.001, 0.01, 0.025, 0.3, 0.5, 0.9, 0.975, 0.99, 0.995, 0.999):
            q = float(stats.t.ppf(p, nu))
            rows.append({"nu": nu, "p": p, "quantile": q, "cdfAtQuantile": float(stats.t.cdf(q, nu)),
                         "pdfAtQuantile": float(stats.t.pdf(q, nu))})
    es = []
    for nu in (3.0, 5.0, 6.509363, 10.0):
        scale = math.sqrt((nu - 2) / nu)
        for alpha in (0.975, 0.99, 0.995):
            q = stats.t.ppf(alpha, nu)
            # ES of the unit-variance t by numerical integration of the upper tail
            val, _ = integrate.quad(lambda x: x * stats.t.pdf(x, nu), q, np.inf, epsabs=1e-14, epsrel=1e-13)
            es.append({"nu": nu, "alpha": alpha, "standardizedQuantile": float(q * scale),
                       "standardizedES": float(val / (1 - alpha) * scale)})
    dump("student-t.json", {
        "source": "scipy.stats.t (ppf, cdf, pdf); ES by scipy.integrate.quad of x f(x) over the upper tail, times sqrt((nu-2)/nu)",
        "points": rows, "expectedShortfall": es,
    })


def coverage_fixtures():
    """Kupiec and Christoffersen statistics written out by hand, p-values from scipy."""
    from scipy.stats import chi2
    rng = np.random.default_rng(11)
    cases = []
    for n, p_hit, alpha in ((1000, 0.01, 0.99), (1000, 0.02, 0.99), (750, 0.05, 0.975), (500, 0.0, 0.99)):
        hits = (rng.uniform(size=n) < p_hit).astype(int)
        if p_hit == 0.02:
            hits[100:104] = 1  # a cluster
        x = int(hits.sum())
        p = 1 - alpha

        def xlogy(a, b):
            return 0.0 if a == 0 else a * math.log(b)
        lr_pof = -2 * (xlogy(n - x, 1 - p) + xlogy(x, p) - xlogy(n - x, 1 - x / n) - xlogy(x, x / n))
        t = [(int(a), int(b)) for a, b in zip(hits[:-1], hits[1:])]
        n00, n01 = t.count((0, 0)), t.count((0, 1))
        n10, n11 = t.count((1, 0)), t.count((1, 1))
        pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
        pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
        pi = (n01 + n11) / (n00 + n01 + n10 + n11)
        lr_ind = -2 * (xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
                       - xlogy(n00, 1 - pi01) - xlogy(n01, pi01) - xlogy(n10, 1 - pi11) - xlogy(n11, pi11))
        lr_ind = max(lr_ind, 0.0)
        cases.append({"confidence": alpha, "hits": hits.tolist(), "exceedances": x,
                      "kupiec": {"statistic": lr_pof, "pValue": float(chi2.sf(lr_pof, 1))},
                      "independence": {"statistic": lr_ind, "pValue": float(chi2.sf(lr_ind, 1))},
                      "conditionalCoverage": {"statistic": lr_pof + lr_ind, "pValue": float(chi2.sf(lr_pof + lr_ind, 2))}})
    dump("coverage-tests.json", {
        "source": "Kupiec POF and Christoffersen independence / conditional coverage written out in numpy; p-values scipy.stats.chi2.sf",
        "cases": cases,
    })


def liquidity_case(file, window, volume_unit, overnight):
    df = pd.read_csv(os.path.join(ROOT, "data", file))
    h, l, c, v = (df[k].to_numpy(float) for k in ("high", "low", "close", "volume"))
    dv = v * c if volume_unit == "base" else v
    n = len(c)
    from numpy.lib.stride_tricks import sliding_window_view as win
    r = np.zeros(n)
    r[1:] = np.log(c[1:] / c[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dv > 0, np.abs(r) / np.where(dv > 0, dv, 1), np.nan)
    # Corwin-Schultz two-bar estimates for bars 1..n-1 (pair t-1, t)
    h2, l2 = h[1:].copy(), l[1:].copy()
    if overnight:
        prev_close = c[:-1]
        up = l2 > prev_close
        down = h2 < prev_close
        gap_up = np.where(up, l2 - prev_close, 0.0)
        gap_down = np.where(down, prev_close - h2, 0.0)
        h2, l2 = h2 - gap_up + gap_down, l2 - gap_up + gap_down
    beta = np.log(h[:-1] / l[:-1]) ** 2 + np.log(h2 / l2) ** 2
    gamma = np.log(np.maximum(h[:-1], h2) / np.minimum(l[:-1], l2)) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    s2 = np.maximum(0.0, 2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha)))
    s = np.concatenate([[np.nan], s2])
    idx = np.arange(window, n)
    adv = win(dv[1:], window).mean(axis=1)            # windows ending at bars window..n-1
    ami = win(ratio[1:], window)
    traded = (~np.isnan(ami)).sum(axis=1)
    ami_mean = np.where(traded > 0, np.nansum(ami, axis=1) / np.maximum(traded, 1), np.nan)
    spread = win(s[1:], window).mean(axis=1)
    return {
        "file": file, "window": window, "volumeUnit": volume_unit, "overnightAdjusted": overnight,
        "index": idx.tolist(), "date": df["date"].iloc[idx].tolist(),
        "adv": adv.tolist(), "amihud": [None if np.isnan(x) else float(x) for x in ami_mean], "spread": spread.tolist(),
    }


def liquidity_fixtures():
    dump("liquidity-btc.json", dict(source="numpy sliding windows, formulas of Amihud (2002) and Corwin-Schultz (2012)",
                                    **liquidity_case("btcusd-daily.csv", 20, "quote", False)), compact=True)
    dump("liquidity-sp500.json", dict(source="numpy sliding windows, formulas of Amihud (2002) and Corwin-Schultz (2012)",
                                      **liquidity_case("sp500-daily.csv", 21, "base", True)), compact=True)


def regime_fixtures():
    import warnings
    import statsmodels
    import statsmodels.api as sm
    warnings.simplefilter("ignore")
    r = np.diff(np.log(sp500()["close"].to_numpy(float)))
    n = len(r)
    cases = []
    for k in (2, 3):
        np.random.seed(12345)
        res = sm.tsa.MarkovRegression(r * 100, k_regimes=k, trend="c", switching_variance=True).fit(search_reps=50, disp=False)
        P = res.regime_transition[:, :, 0].T          # row i: next state given state i
        named = dict(zip(res.model.param_names, res.params))
        means = np.array([named[f"const[{i}]"] for i in range(k)]) / 100
        variances = np.array([named[f"sigma2[{i}]"] for i in range(k)]) / 1e4
        order = np.argsort(variances)
        filt = res.filtered_marginal_probabilities
        filt = np.asarray(filt)[:, order]
        cases.append({
            "states": k,
            "logLikelihood": float(res.llf + n * math.log(100)),
            "means": means[order].tolist(), "variances": variances[order].tolist(),
            "transition": P[np.ix_(order, order)].tolist(),
            "pHigh": filt[:, -1].tolist(),
        })
    # BTC daily, the last 1000 returns: the regime filter a book config runs on a history
    btc = pd.read_csv(os.path.join(ROOT, "data", "btcusd-daily.csv"))
    rb = np.diff(np.log(btc["close"].to_numpy(float)))[-1000:]
    np.random.seed(12345)
    res = sm.tsa.MarkovRegression(rb * 100, k_regimes=2, trend="c", switching_variance=True).fit(search_reps=50, disp=False)
    named = dict(zip(res.model.param_names, res.params))
    hi = int(np.argmax([named["sigma2[0]"], named["sigma2[1]"]]))
    order = [1 - hi, hi]
    P = res.regime_transition[:, :, 0].T
    dump("regimes-btc-last1000.json", {
        "source": f"statsmodels {statsmodels.__version__} MarkovRegression as regimes-sp500.json, on the last 1000 log returns"
                  " of data/btcusd-daily.csv (x 100)",
        "logLikelihood": float(res.llf + len(rb) * math.log(100)),
        "pHighLast": float(np.asarray(res.filtered_marginal_probabilities)[-1, hi]),
        "variances": sorted([named["sigma2[0]"] / 1e4, named["sigma2[1]"] / 1e4]),
        "transition": P[np.ix_(order, order)].tolist(),
        "filteredLast": np.asarray(res.filtered_marginal_probabilities)[-1, order].tolist(),
    })
    dump("regimes-sp500.json", {
        "source": f"statsmodels {statsmodels.__version__} MarkovRegression(k_regimes=k, trend='c', switching_variance=True)"
                  " on 100 x log returns of data/sp500-daily.csv close, fit(search_reps=50), seed 12345; means / 100,"
                  " variances / 1e4, logLikelihood + n ln 100 (decimal returns); transition row i = next state given i;"
                  " pHigh = filtered probability of the highest-variance state",
        "observations": n, "cases": cases,
    }, compact=True)


def account_margin_fixtures():
    """Standard and portfolio margin of accounts on a one-underlying book, written out with
    scipy from the methodology's rules (MarginCalculator's): Black-76 at zero rate on the
    forward = the underlying's price; the risk grid moves the price by exp(m sigma sqrt(mpor))
    for m in -4..4 and shocks IV by -25%, 0, +25% (weight 1), plus +/-8 sigma at IV unchanged
    counted at weight 1/3; an option's stand-alone requirement is its worst weighted grid loss,
    a linear position's is the normal ES rate 1 - exp(-ES_z sigma sqrt(mpor)) (long) or
    exp(ES_z sigma sqrt(mpor)) - 1 (short) times notional; portfolio margin is the account's
    worst weighted grid loss plus liquidity add-ons notional (spread/2 + kappa sigma
    sqrt(notional/ADV)), floored at (1 - max_offset) times the stand-alone sum; maintenance is
    0.8 of initial throughout."""
    from scipy.stats import norm
    F, sigma, adv, spread, kappa, conf, mpor, max_offset, mm_fraction = 60000.0, 0.03, 2e10, 0.0002, 1.0, 0.99, 1, 0.5, 0.8
    instruments = {
        "BTC-PERP": {"kind": "perpetual"},
        "BTC-C-70000": {"kind": "call", "strike": 70000.0, "expiryDays": 30.0, "iv": 0.6},
        "BTC-P-50000": {"kind": "put", "strike": 50000.0, "expiryDays": 30.0, "iv": 0.65},
    }
    def black(Fv, K, s, T, kind):
        d1 = (math.log(Fv / K) + 0.5 * s * s * T) / (s * math.sqrt(T)); d2 = d1 - s * math.sqrt(T)
        return Fv * norm.cdf(d1) - K * norm.cdf(d2) if kind == "call" else K * norm.cdf(-d2) - Fv * norm.cdf(-d1)
    grid = [(m, v, 1.0) for m in (-4, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 4) for v in (-0.25, 0, 0.25)]
    grid += [(-8, 0, 1 / 3), (8, 0, 1 / 3)]
    s = sigma * math.sqrt(mpor)
    def unit_change(symbol, m, v):
        i = instruments[symbol]
        F1 = F * math.exp(m * s)
        if i["kind"] == "perpetual":
            return F1 - F
        T = i["expiryDays"] / 365
        return black(F1, i["strike"], i["iv"] * (1 + v), T, i["kind"]) - black(F, i["strike"], i["iv"], T, i["kind"])
    z = norm.ppf(conf); es = norm.pdf(z) / (1 - conf)
    def standalone(symbol, q):
        i = instruments[symbol]
        if i["kind"] == "perpetual":
            rate = 1 - math.exp(-es * s) if q > 0 else math.exp(es * s) - 1
            return rate * abs(q) * F
        return max([0.0] + [-q * unit_change(symbol, m, v) * w for m, v, w in grid])
    accounts = {
        "short-strangle": [("BTC-C-70000", -10.0), ("BTC-P-50000", -8.0)],
        "hedged-call": [("BTC-C-70000", -10.0), ("BTC-PERP", 3.0)],
        "collar": [("BTC-PERP", 5.0), ("BTC-P-50000", 5.0), ("BTC-C-70000", -5.0)],
    }
    out = {}
    for name, legs in accounts.items():
        std = [standalone(sym, q) for sym, q in legs]
        grid_req = max([0.0] + [max(0.0, -sum(q * unit_change(sym, m, v) for sym, q in legs)) * w for m, v, w in grid])
        liquidity = sum(abs(q) * F * (0.5 * spread + kappa * sigma * math.sqrt(abs(q) * F / adv)) for sym, q in legs)
        pm = max(grid_req + liquidity, (1 - max_offset) * sum(std))
        out[name] = {"positions": [{"instrument": sym, "quantity": q} for sym, q in legs],
                     "standard": {"initial": sum(std), "maintenance": mm_fraction * sum(std), "perPosition": std},
                     "portfolio": {"initial": pm, "maintenance": mm_fraction * pm, "grid": grid_req, "liquidity": liquidity}}
    dump("account-margin.json", {
        "source": "scipy.stats.norm, Black-76 and the methodology's grid, ES and liquidity rules written out in"
                  " scripts/make_fixtures.py (account_margin); no joint historical scenarios in the book",
        "price": F, "volatility": sigma, "adv": adv, "spread": spread, "kappa": kappa, "confidence": conf, "mpor": mpor,
        "maxOffset": max_offset, "instruments": instruments, "accounts": out,
    })


if __name__ == "__main__":
    import sys
    jobs = {"coverage": coverage_fixtures, "student_t": student_t_fixtures, "arch": arch_fixtures, "arch_composed": arch_composed_fixtures,
            "range": range_fixtures, "vix": vix_fixtures, "dvol": dvol_fixtures, "options_grid": options_grid_fixtures, "account_margin": account_margin_fixtures, "black": black_fixtures,
            "covariance": covariance_fixtures, "liquidity": liquidity_fixtures, "regimes": regime_fixtures}
    for name in sys.argv[1:] or list(jobs):
        jobs[name]()
    print("fixtures written to", OUT)
