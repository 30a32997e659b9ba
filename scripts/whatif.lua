-- wrk script: POST a 10-position account to the what-if margin endpoint.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("VOLSCALE_READ_KEY")
wrk.body = [[{"collateral": {"USD": 250000, "BTC": 1.5},
 "positions": [
  {"instrument": "BTC-PERP", "quantity": 3, "entryPrice": 59000},
  {"instrument": "BTC-PERP", "quantity": -1, "entryPrice": 61000},
  {"instrument": "ETH-PERP", "quantity": -40, "entryPrice": 3100},
  {"instrument": "BTC-USD-INVERSE", "quantity": 200, "entryPrice": 55000},
  {"instrument": "BTC-30D-70000-C", "quantity": -2},
  {"instrument": "BTC-30D-50000-P", "quantity": -2},
  {"instrument": "BTC-30D-70000-C", "quantity": 1, "impliedVolatility": 0.6},
  {"instrument": "SPX-FUT", "quantity": 2, "entryPrice": 2500},
  {"instrument": "SPX-FUT", "quantity": -1, "entryPrice": 2550},
  {"instrument": "ETH-PERP", "quantity": 10, "entryPrice": 2900}
 ]}]]
local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
