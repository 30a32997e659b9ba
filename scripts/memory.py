#!/usr/bin/env python3
"""Resident memory of `volscale serve` under the lowest roles' heaviest requests (issue 28):

    scripts/memory.py BINARY [--stress 100] [--slow 1000] [--idle 10000] [--accounts 50000]

A venue like the example's with ACCOUNTS generated accounts (one perpetual each, seeded), then:
STRESS calls of POST /v1/stress {"shock":{"BTC":-0.3},"correlation":0.9} with the read key,
one after another; SLOW connections that announce a 1 MB what-if body and send it at 1 KB/s
(answered 408 after the body timeout); IDLE connections that never send a request (closed by
the server after its head timeout). Prints resident memory at the start, after each phase,
and after the clients are gone, and exits non-zero if that last figure is more than 20% above
the start.
"""
import argparse, asyncio, json, os, random, re, resource, socket, subprocess, sys, tempfile, time, urllib.request


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1]) // 1024


async def slow_body(port, key, seconds):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(f"POST /v1/margin/what-if HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {1 << 20}\r\n\r\n".encode())
        end = time.time() + seconds
        while time.time() < end:
            w.write(b" " * 1024)
            await w.drain()
            try:
                if await asyncio.wait_for(r.read(64), 1.0):
                    break  # answered (408)
            except asyncio.TimeoutError:
                pass
        w.close()
    except OSError:
        pass


async def idle(port, seconds):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.wait_for(r.read(1), seconds)
        except asyncio.TimeoutError:
            pass
        w.close()
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--stress", type=int, default=100)
    ap.add_argument("--slow", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--accounts", type=int, default=50000)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as work:
        random.seed(1)
        accounts = [{"id": f"a{i}", "collateral": {"USD": random.randint(1000, 100000)},
                     "positions": [{"instrument": random.choice(["BTC-PERP", "ETH-PERP"]), "quantity": round(random.uniform(-2, 2), 3),
                                    "entryPrice": 60000}]} for i in range(a.accounts)]
        json.dump({"accounts": accounts}, open(os.path.join(work, "accounts.json"), "w"))
        venue = open(os.path.join(root, "examples", "venue.toml")).read()
        venue = venue.replace('accounts = "accounts.json"', f'accounts = "{work}/accounts.json"').replace('"../data/', f'"{root}/data/')
        open(os.path.join(work, "venue.toml"), "w").write(venue)
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        log = open(os.path.join(work, "serve.log"), "w")
        p = subprocess.Popen([os.path.abspath(a.binary), "serve", "--config", os.path.join(work, "venue.toml"), "--data", os.path.join(work, "d"),
                              "--port", str(port), "--live-rate", "1000", "--rate-limit", "1000000"], stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(1200):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                        if r.status == 200:
                            break
                except Exception:
                    time.sleep(0.5)
            time.sleep(5)
            key = re.search(r"\(read\): (\S+)", open(os.path.join(work, "serve.log")).read()).group(1)
            start = rss(p.pid)
            print(f"start: {start} MiB ({a.accounts} accounts)", flush=True)
            peak = start
            for i in range(a.stress):
                req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/stress", method="POST",
                                             data=b'{"shock":{"BTC":-0.3},"correlation":0.9}',
                                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=600) as r:
                    assert r.status == 200
                peak = max(peak, rss(p.pid))
            print(f"after {a.stress} stress calls: {rss(p.pid)} MiB (peak {peak})", flush=True)

            async def clients():
                tasks = [slow_body(port, key, 40) for _ in range(a.slow)] + [idle(port, 30) for _ in range(a.idle)]
                done = asyncio.gather(*tasks)
                await asyncio.sleep(8)
                print(f"with {a.slow} slow bodies and {a.idle} idle connections open: {rss(p.pid)} MiB", flush=True)
                await done
            asyncio.run(clients())
            time.sleep(12)  # the server's 10 s housekeeping returns freed heap to the system
            end = rss(p.pid)
            print(f"after the clients went: {end} MiB ({100 * (end / start - 1):+.1f}% of the start)")
            return 0 if end <= 1.2 * start else 1
        finally:
            p.terminate()
            p.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
