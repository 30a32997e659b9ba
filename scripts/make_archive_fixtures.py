#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/archives/: the bundled BTC-USD daily bars (data/btcusd-daily.csv,
first 400 rows) written in Binance's kline layout (open time in epoch ms, open, high, low,
close, volume, close time, quote volume, trades, taker base, taker quote, ignore; no header),
as Binance's public archive publishes them: plain, zipped (one entry, deflate) and gzipped
(also as two concatenated gzip members, as `cat a.gz b.gz` makes). Python's own zipfile and
gzip modules write them, independently of the reader under test.
"""
import csv, gzip, io, os, zipfile
from datetime import datetime, timezone

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "Fixtures", "archives")
os.makedirs(out, exist_ok=True)
rows = []
with open(os.path.join(root, "data", "btcusd-daily.csv")) as f:
    for r in list(csv.DictReader(f))[:400]:
        t = int(datetime.strptime(r["date"], "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)
        vol_usd = float(r["volume"])
        close = float(r["close"])
        rows.append(f"{t},{r['open']},{r['high']},{r['low']},{r['close']},{vol_usd / close:.8f},{t + 86_399_999},"
                    f"{vol_usd:.8f},1000,0,0,0")
text = "\n".join(rows) + "\n"
name = "BTCUSD-1d-klines"
with open(os.path.join(out, name + ".csv"), "w") as f:
    f.write(text)
with zipfile.ZipFile(os.path.join(out, name + ".zip"), "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.writestr(name + ".csv", text)
with open(os.path.join(out, name + ".csv.gz"), "wb") as f:
    f.write(gzip.compress(text.encode(), mtime=0))
half = len(rows) // 2
with open(os.path.join(out, name + "-two-members.csv.gz"), "wb") as f:
    f.write(gzip.compress(("\n".join(rows[:half]) + "\n").encode(), mtime=0))
    f.write(gzip.compress(("\n".join(rows[half:]) + "\n").encode(), mtime=0))
with zipfile.ZipFile(os.path.join(out, "two-files.zip"), "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.writestr("a.csv", text)
    z.writestr("b.csv", text)
print(f"wrote {len(rows)} rows to {out}")
