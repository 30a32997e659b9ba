// Release-build benchmarks. Run through scripts/bench.sh, which runs the Python anchors
// on the same data in the same run and prints the ratios. Prints one JSON object.
import Foundation
import VolScaleCore
import VolScaleData
import VolScaleRisk

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func median(_ x: [Double]) -> Double { let s = x.sorted(); return s[s.count / 2] }

let args = CommandLine.arguments
let dataPath = args.count > 1 ? args[1] : "data/sp500-daily.csv"
let series = try PriceFileReader().read(path: dataPath).series
let returns = Array(series.returns.suffix(5000))

// 1. GARCH(1,1) fit, constant mean, normal: median wall time over repeated fits.
let model = GARCHModel(mean: .constant, volatility: .init(asymmetric: false), distribution: .normal)
var fit = try model.fit(returns)
var times: [Double] = []
for _ in 0..<30 {
    let t0 = now()
    fit = try model.fit(returns)
    times.append(now() - t0)
}
let garchSeconds = median(times)
let n = Double(returns.count)

// 2. EWMA updates: one core, a streaming state over the returns repeated.
let lambda = 0.94
var state = EWMA.State(variance: 1e-4)
let rounds = 10_000
var checksum = 0.0
let t1 = now()
returns.withUnsafeBufferPointer { r in
    for _ in 0..<rounds {
        for x in r { state.update(x, lambda: lambda) }
        checksum += state.variance
    }
}
let ewmaSeconds = now() - t1
let ewmaUpdates = Double(rounds * returns.count)

// 3. Implied volatility: a grid of calls and puts across strikes and maturities.
struct Quote { let price, forward, strike, expiry: Double; let type: OptionType }
var quotes: [Quote] = []
struct LCG {
    var seed: UInt64 = 42
    mutating func uniform() -> Double {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return Double(seed >> 11) / Double(1 << 53)
    }
}
var rng = LCG()
for _ in 0..<200_000 {
    let t = 1.0 / 365 + rng.uniform() * 2
    let vol = 0.1 + rng.uniform() * 1.2
    let z = -3 + 6 * rng.uniform() // strike in standard deviations
    let k = 100 * exp(z * vol * t.squareRoot())
    let type: OptionType = rng.uniform() < 0.5 ? .call : .put
    let p = Black76.price(forward: 100, strike: k, volatility: vol, expiry: t, type: type)
    let intrinsic = type == .call ? max(100 - k, 0) : max(k - 100, 0)
    if p > intrinsic { quotes.append(Quote(price: p, forward: 100, strike: k, expiry: t, type: type)) }
}
var ivSum = 0.0
var ivTimes: [Double] = []
for _ in 0..<5 {
    let t0 = now()
    for q in quotes {
        ivSum += (try? Black76.impliedVolatility(price: q.price, forward: q.forward, strike: q.strike, expiry: q.expiry, type: q.type)) ?? 0
    }
    ivTimes.append(now() - t0)
}
let ivSeconds = median(ivTimes)

// 4. A 20-year daily FHS-ES backtest, 1000-bar lookback, with the three APC tools and
//    without: the whole walk-forward (volatility filter, scenarios, tails, controls,
//    backtest statistics) on every return of the S&P 500 file.
let allReturns = series.returns
let stamps = Array(series.timestamps.dropFirst())
func fhsModel(apc: Bool) -> MarginModel {
    var m = MarginModel(name: "FHS-ES", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
                        confidence: 0.975, mpor: 2, lookback: 1000, testConfidence: 0.99)
    if apc {
        m.controls.buffer = 0.25
        m.controls.stressedWeight = 0.25
        m.controls.floorLookback = 2520
    }
    return m
}
var backtestTimes: [Double] = [], backtestAPCTimes: [Double] = []
var exceedances = 0
for _ in 0..<9 {
    for apc in [false, true] {
        let t0 = now()
        let path = try MarginEngine.run(fhsModel(apc: apc), returns: allReturns, timestamps: stamps)
        let bt = path.backtest(returns: allReturns, side: .long)
        exceedances += bt.exceedances
        if apc { backtestAPCTimes.append(now() - t0) } else { backtestTimes.append(now() - t0) }
    }
}

let result: [String: Any] = [
    "fhsBacktestSeconds": median(backtestTimes),
    "fhsBacktestAPCSeconds": median(backtestAPCTimes),
    "fhsBacktestReturns": allReturns.count,
    "garchFitSeconds": garchSeconds,
    "garchObservations": returns.count,
    "garchLogLikelihoodPercent": fit.logLikelihood - n * log(100.0),
    "garchIterations": fit.iterations,
    "garchEvaluations": fit.evaluations,
    "ewmaUpdatesPerSecond": ewmaUpdates / ewmaSeconds,
    "ivInversionsPerSecond": Double(quotes.count) / ivSeconds,
    "ivQuotes": quotes.count,
    "checksum": checksum + ivSum + Double(exceedances),
]
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
