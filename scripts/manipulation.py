#!/usr/bin/env python3
"""The manipulation table of the README (issue 28): hostile and broken price sequences sent
to `volscale serve` on a venue, and the largest move each caused in what was published.

    scripts/manipulation.py BINARY [--config examples/venue.toml] [--asset BTC] [--source yahoo]

For each attack a fresh server (its own data directory) replays the venue, takes one honest
quote at the asset's last price ten days before now (it closes the feed's last bar; the
publications it makes are the baseline), then the attack through POST /v1/prices with the
generated ingest key. Measured against the baseline, over every publication the attack's
requests returned:
the largest relative move of the published price, sigma, initial rate (either side) and
haircut (either side). "jammed" counts answers other than 200/409/422 (a 503 is a store that
can no longer commit). The same command on two binaries gives the before/after columns.
"""
import argparse, json, math, os, re, socket, subprocess, sys, tempfile, time, urllib.request, urllib.error


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, path, key, body=None, timeout=60):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"null")
        except ValueError:
            return e.code, None
    except Exception:
        return 0, None


def start(binary, config, data):
    port = free_port()
    log = open(os.path.join(data, "serve.log"), "w")
    p = subprocess.Popen([binary, "serve", "--config", config, "--data", data, "--port", str(port), "--live-rate", "1000",
                          "--rate-limit", "1000000"], stdout=log, stderr=subprocess.STDOUT, cwd=os.path.dirname(os.path.dirname(config)))
    keys = {}
    for _ in range(600):
        text = open(os.path.join(data, "serve.log")).read()
        keys = dict(re.findall(r"\((read|ingest|admin)\): (\S+)", text))
        if "read" in keys:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
        if p.poll() is not None:
            sys.exit(f"the server stopped: {text[-2000:]}")
        time.sleep(0.2)
    time.sleep(3)  # the fast live feed ends
    return p, port, keys


def latest(port, key, asset):
    status, rates = call(port, "/v1/rates", key)
    pubs = rates if isinstance(rates, list) else (rates or {}).get("rates", [])
    return [p for p in pubs if p.get("asset") == asset]


def attacks(asset, source, price, now):
    """name -> list of requests (each a list of quotes)."""
    q = lambda s, t, x: {"asset": asset, "source": s, "ts": t, "price": x}
    out = {}
    for k in (2, 10, 1000):
        out[f"one source x{k}, reverted"] = [[q(source, now - 3000, price)], [q(source, now - 2000, price * k)], [q(source, now - 1000, price)]]
        # the same spike held for a week of daily quotes
        out[f"one source x{k}, held 7 days"] = [[q(source, now - 7 * 86_400_000 + d * 86_400_000 - 5000, price * k)] for d in range(7)]
    out["three colluding sources x1000"] = [[q(source, now - 3000, price)]] + [[q(f"fake{i}", now - 2000 + i, price * 1000)] for i in range(1, 4)]
    stuck = [q(source, now - 3_600_000 + i * 1000, price) for i in range(3600)]
    out["stuck feed, one hour"] = [stuck[i:i + 1000] for i in range(0, 3600, 1000)]
    out["1,000 quotes in a second"] = [[q(source, now - 1000 + i, price * (1 + 0.001 * math.sin(i))) for i in range(1000)]]
    return out


def moves(before, published):
    def field(p, k):
        v = p.get(k)
        return v if isinstance(v, (int, float)) else None
    out = {}
    for k, name in (("price", "price"), ("sigma", "sigma"), ("new", "initial rate"), ("haircut", "haircut")):
        worst = 0.0
        for p in published:
            base = next((b for b in before if b.get("side") == p.get("side")), None)
            a, b = field(p, k), field(base or {}, k)
            if a is None or not b:
                continue
            worst = max(worst, abs(a / b - 1) if math.isfinite(a) else math.inf)
        out[name] = worst
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--config", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "venue.toml"))
    ap.add_argument("--asset", default="BTC")
    ap.add_argument("--source", default="yahoo")
    a = ap.parse_args()
    config = os.path.abspath(a.config)
    rows = []
    for name in attacks(a.asset, a.source, 1.0, 0):  # the attacks' names, in order
        with tempfile.TemporaryDirectory() as data:
            p, port, keys = start(os.path.abspath(a.binary), config, data)
            try:
                before = latest(port, keys["read"], a.asset)
                price = next(b["price"] for b in before if b.get("price"))
                now = int(time.time() * 1000)
                q = {"asset": a.asset, "source": a.source, "ts": now - 10 * 86_400_000, "price": price}
                status, body = call(port, "/v1/prices", keys["ingest"], {"quotes": [q]})
                prelude = [x for x in (body or {}).get("publications", []) if x.get("asset") == a.asset] if isinstance(body, dict) else []
                before = prelude or before
                published, codes = [], []
                for batch in attacks(a.asset, a.source, price, now)[name]:
                    status, body = call(port, "/v1/prices", keys["ingest"], {"quotes": batch}, timeout=40)
                    codes.append(status)
                    if isinstance(body, dict):
                        published += [x for x in body.get("publications", []) if x.get("asset") == a.asset]
                jammed = sum(c not in (200, 409, 422) for c in codes)
                status, _ = call(port, "/v1/rates", keys["read"], timeout=10)
                rows.append((name, moves(before, published), len(published), jammed, status))
            finally:
                p.terminate()
                p.wait(timeout=60)
    fmt = lambda x: "inf" if not math.isfinite(x) else (f"{x:.3g}" if x >= 1e4 else f"{100 * x:.2f}%")
    print(f"| attack on {a.asset} | price | sigma | initial rate | haircut | publications | jammed answers | /v1/rates after |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m, n, jammed, status in rows:
        print(f"| {name} | {fmt(m['price'])} | {fmt(m['sigma'])} | {fmt(m['initial rate'])} | {fmt(m['haircut'])} | {n} | {jammed} | {status} |")


if __name__ == "__main__":
    main()
