// Release-build benchmarks. Run through scripts/bench.sh, which runs the Python anchors
// on the same data in the same run and prints the ratios. Prints one JSON object.
import Foundation
import Hummingbird
import VolScaleConfig
import VolScaleCore
import VolScaleData
import VolScaleEngine
import VolScaleMargin
import VolScaleRisk
import VolScaleStore

enum VolScaleConfigLoader {
    static func book() throws -> MarginBook { try BookConfig.load(path: "examples/book.toml").book }
}

// `volscale-bench hello PORT`: a bare Hummingbird hello-world, the baseline of the load test.
if CommandLine.arguments.count > 2 && CommandLine.arguments[1] == "hello" {
    let router = Router()
    router.get("/hello") { _, _ in "Hello" }
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: Int(CommandLine.arguments[2]) ?? 18081)))
    try await app.runService()
    exit(0)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
func flushOut(_ out: inout [UInt8]) {
    var offset = 0
    while offset < out.count {
        let n = out.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { exit(1) }
        offset += n
    }
    out.removeAll(keepingCapacity: true)
}

// `volscale-bench generate N [seconds|minutes]`: N one-second (or one-minute) OHLC bars from
// 2000-01-01 as CSV on standard output, a random walk in cents, for the constant-memory
// streaming benchmark (100 million rows do not fit in a file here; they go through a pipe).
if CommandLine.arguments.count > 2 && CommandLine.arguments[1] == "generate" {
    guard let n = Int(CommandLine.arguments[2]), n > 0 else { fatalError("generate N: N a positive integer") }
    let step = CommandLine.arguments.count > 3 && CommandLine.arguments[3] == "minutes" ? 60 : 1
    var out = [UInt8]()
    out.reserveCapacity(1 << 20)
    out += Array("date,open,high,low,close\n".utf8)
    var t = 946_684_800  // 2000-01-01 UTC, seconds
    var cents: Int64 = 3_000_000
    var state: UInt64 = 42
    func rand() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    let powers = [1, 10, 100, 1000]
    func digits(_ v: Int, _ width: Int) {
        for i in stride(from: width - 1, through: 0, by: -1) { out.append(UInt8(48 + v / powers[i] % 10)) }
    }
    func integer(_ v: Int64) {
        if v >= 10 { integer(v / 10) }
        out.append(UInt8(48 + v % 10))
    }
    func price(_ c: Int64) {
        integer(c / 100)
        out.append(46)
        digits(Int(c % 100), 2)
    }
    var day = -1
    var date = [UInt8]()
    for _ in 0..<n {
        let d = t / 86_400
        if d != day {
            day = d
            let (y, m, dd) = Timestamp.civil(days: d)
            date = Array(String(format: "%04d-%02d-%02d ", y, m, dd).utf8)
        }
        out += date
        let s = t % 86_400
        digits(s / 3600, 2)
        out.append(58)
        digits(s / 60 % 60, 2)
        out.append(58)
        digits(s % 60, 2)
        let open = cents
        let move = Int64(rand() % 201) - 100
        cents = max(100, cents + move)
        let high = max(open, cents) + Int64(rand() % 50)
        let low = max(1, min(open, cents) - Int64(rand() % 50))
        out.append(44)
        price(open)
        out.append(44)
        price(high)
        out.append(44)
        price(low)
        out.append(44)
        price(cents)
        out.append(10)
        t += step
        if out.count >= 1 << 20 { flushOut(&out) }
    }
    flushOut(&out)
    exit(0)
}

// `volscale-bench floatcheck N`: the float parser against strtod on N random strings
// (DecimalSamples, the tests' generator), bit for bit; prints the count of disagreements.
if CommandLine.arguments.count > 2 && CommandLine.arguments[1] == "floatcheck" {
    guard let n = Int(CommandLine.arguments[2]), n > 0 else { fatalError("floatcheck N: N a positive integer") }
    var samples = DecimalSamples(seed: 11)
    var mismatches = 0
    var first: [String] = []
    let t0 = now()
    for _ in 0..<n {
        let s = samples.number()
        if !DecimalSamples.same(DecimalParser.parse(s), DecimalSamples.strtodValue(s)) {
            mismatches += 1
            if first.count < 5 { first.append(s) }
        }
    }
    print("{\"strings\": \(n), \"mismatches\": \(mismatches), \"seconds\": \(now() - t0), \"first\": \(first)}")
    exit(mismatches == 0 ? 0 : 1)
}

// `volscale-bench read FILE`: where the time of `volscale vol FILE --model ewma` goes, phase by phase.
if CommandLine.arguments.count > 2 && CommandLine.arguments[1] == "read" {
    var t0 = now()
    let out = try PriceFileReader().read(path: CommandLine.arguments[2])
    let tRead = now() - t0
    t0 = now()
    let sampling = out.series.sampling
    let tSampling = now() - t0
    t0 = now()
    let returns = out.series.returns
    let tReturns = now() - t0
    t0 = now()
    let path = try EWMA(lambda: 0.94).filter(returns)
    let tFilter = now() - t0
    print(
        String(
            format: "read %.1f ms, sampling %.1f ms, returns %.1f ms, ewma %.1f ms (%d rows, %@, next %.6g)",
            tRead * 1e3, tSampling * 1e3, tReturns * 1e3, tFilter * 1e3, out.series.count, sampling.barDescription,
            path.nextVariance))
    exit(0)
}

if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "profile-whatif" {
    let body = try String(contentsOfFile: "scripts/whatif.lua", encoding: .utf8)
    let json = String(body[body.range(of: "[[{")!.upperBound...].prefix { _ in true })
    let text = "{" + json[..<json.range(of: "]]")!.lowerBound]
    let data = Data(text.utf8)
    let book = try VolScaleConfigLoader.book()
    let calc = MarginCalculator(book: book)
    var t0 = now()
    for _ in 0..<10_000 { _ = try JSONSerialization.jsonObject(with: data) }
    print("JSONSerialization parse: \((now() - t0) * 100) us")
    struct P: Decodable {
        var instrument: String
        var quantity: Double
        var entryPrice: Double?
        var impliedVolatility: Double?
    }
    struct A: Decodable {
        var collateral: [String: Double]
        var positions: [P]
    }
    t0 = now()
    for _ in 0..<10_000 { _ = try JSONDecoder().decode(A.self, from: data) }
    print("JSONDecoder decode: \((now() - t0) * 100) us")
    t0 = now()
    for _ in 0..<10_000 { _ = try Requests.json(data) }
    print("JSONReader parse (the service's reader): \((now() - t0) * 100) us")
    t0 = now()
    var account: Account?
    for _ in 0..<10_000 {
        let json = try Requests.json(data)
        _ = try AccountDocument(json: json)
        account = try AccountsFile.account(json.dictionary ?? [:], id: "what-if").get()
    }
    print("Requests.json + AccountDocument (the service's reader) + AccountsFile.account: \((now() - t0) * 100) us")
    t0 = now()
    var r: AccountResult?
    for _ in 0..<10_000 { r = try calc.evaluate(account!, mode: .standard) }
    print("evaluate: \((now() - t0) * 100) us  IM \(r!.initialMargin)")
    t0 = now()
    for _ in 0..<10_000 {
        _ = try JSONEncoder().encode(["a": r!.equity, "b": r!.initialMargin, "c": r!.maintenanceMargin])
    }
    print("JSONEncoder small: \((now() - t0) * 100) us")
    exit(0)
}

// `volscale-bench remargin [accounts] [positions]`: the live re-margin after one asset's
// publication. Accounts hold `positions` distinct instruments out of 50 (10 underlyings:
// a perpetual and four options each) plus USD and a coin as collateral, in standard margin.
// Timed: applying the publication to the live book, building the calculators of the new
// book, and re-evaluating every account that holds the asset (status and margin ratio), as
// ServiceState does after a publication; best of 5.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "remargin" {
    let n = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 100_000 : 100_000
    let width = CommandLine.arguments.count > 3 ? Int(CommandLine.arguments[3]) ?? 10 : 10
    var rng = LCG()
    let assets = try (0..<10).map { i in
        try AssetRisk(
            name: "U\(i)", price: 100 * Double(i + 1), volatility: 0.02 + 0.003 * Double(i), averageDailyVolume: 1e9,
            spread: 0.0004,
            haircutFloor: 0.05, haircutCap: 0.9, impactThreshold: 1e5)
    }
    var instruments: [Instrument] = []
    for a in assets {
        instruments.append(Instrument(symbol: a.name + "-PERP", underlying: a.name, kind: .linear(expiry: nil)))
        for (type, m) in [(OptionType.call, 1.05), (.call, 1.15), (.put, 0.95), (.put, 0.85)] {
            instruments.append(
                Instrument(
                    symbol: "\(a.name)-\(type.rawValue)-\(m)", underlying: a.name,
                    kind: .option(type: type, strike: a.price * m, expiry: 30.0 / 365), impliedVolatility: 0.6))
        }
    }
    let book = MarginBook(
        assets: [try AssetRisk(name: "USD", price: 1, volatility: 0)] + assets, instruments: instruments)
    let config = try EngineConfig(assets: assets.map(\.name), aggregation: AggregationPolicy(minSources: 1))
    var monitor = AccountMonitor(book: book)
    for k in 0..<n {
        var chosen = Set<Int>()
        while chosen.count < width { chosen.insert(Int(rng.uniform() * 50) % 50) }
        let positions = chosen.sorted().map { i -> Position in
            let inst = instruments[i]
            return Position(
                instrument: inst.symbol, quantity: (rng.uniform() * 2 - 1) * 10,
                entryPrice: book.assets[inst.underlying]!.price)
        }
        let coin = "U\(k % 10)"
        monitor.set(
            Account(
                id: "a\(k)", collateral: [("USD", 50_000 * rng.uniform()), (coin, 10 * rng.uniform())],
                positions: positions),
            mode: .standard)
    }
    var live = LiveBook(book: book)
    let first = monitor.remargin(assets: nil, calculator: MarginCalculator(book: book), sequence: 0)
    var times: [Double] = []
    var evaluated = 0
    var changes = 0
    for round in 0..<5 {
        let sigma = 0.02 * (1 + 0.5 * Double(round % 2))  // U0's volatility alternates: statuses change
        let t0 = now()
        let seq = Int64(2 * round + 2)
        let pubs = ["long", "short"].enumerated().map { j, side in
            Publication(
                sequence: seq - 1 + Int64(j), asset: "U0", side: side, timestamp: Int64(round), oldValue: nil,
                newValue: 2.665 * 1.25 * sigma,
                maintenance: 0.8 * 2.665 * 1.25 * sigma, sigma: sigma, binding: "model", modelVersion: "bench",
                inputFrom: 0, inputTo: 0,
                price: 100 * (1 + 0.01 * Double(round)), stablePrice: 100, haircut: 0.05 + 3 * sigma, status: .stable)
        }
        let changed = live.apply(pubs, config: config)
        var calc = MarginCalculator(book: live.book)
        calc.explaining = false
        let r = monitor.remargin(assets: changed, calculator: calc, sequence: live.sequence)
        times.append(now() - t0)
        evaluated = r.evaluated
        changes += r.changes.count
    }
    print(
        "re-margin after one asset's publication: \(n) accounts x \(width) positions, \(evaluated) hold the asset; "
            + "best \(String(format: "%.1f", times.min()! * 1000)) ms, median \(String(format: "%.1f", median(times) * 1000)) ms over 5 publications "
            + "(\(changes) status changes; first full evaluation of all accounts: \(first.evaluated)); \(ProcessInfo.processInfo.activeProcessorCount) cores"
    )
    exit(0)
}

func median(_ x: [Double]) -> Double {
    let s = x.sorted()
    return s[s.count / 2]
}

// `volscale-bench checkpoint [BARS]`: the stored state and the commit cost as a venue ages
// (CheckpointBench.swift).
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "checkpoint" {
    let bars = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 1_000_000 : 1_000_000
    try await checkpointBenchmark(bars: max(bars, 10_021))
    exit(0)
}

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
struct IVQuote {
    let price, forward, strike, expiry: Double
    let type: OptionType
}
var quotes: [IVQuote] = []
struct LCG {
    var seed: UInt64 = 42
    mutating func uniform() -> Double {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(seed >> 11) / Double(1 << 53)
    }
}
var rng = LCG()
for _ in 0..<200_000 {
    let t = 1.0 / 365 + rng.uniform() * 2
    let vol = 0.1 + rng.uniform() * 1.2
    let z = -3 + 6 * rng.uniform()  // strike in standard deviations
    let k = 100 * exp(z * vol * t.squareRoot())
    let type: OptionType = rng.uniform() < 0.5 ? .call : .put
    let p = Black76.price(forward: 100, strike: k, volatility: vol, expiry: t, type: type)
    let intrinsic = type == .call ? max(100 - k, 0) : max(k - 100, 0)
    if p > intrinsic { quotes.append(IVQuote(price: p, forward: 100, strike: k, expiry: t, type: type)) }
}
var ivSum = 0.0
var ivTimes: [Double] = []
for _ in 0..<5 {
    let t0 = now()
    for q in quotes {
        ivSum +=
            (try? Black76.impliedVolatility(
                price: q.price, forward: q.forward, strike: q.strike, expiry: q.expiry, type: q.type)) ?? 0
    }
    ivTimes.append(now() - t0)
}
let ivSeconds = median(ivTimes)

// 4. A 20-year daily FHS-ES backtest, 1000-bar lookback, with the three APC tools and
//    without: the whole walk-forward (volatility filter, scenarios, tails, controls,
//    backtest statistics) on every return of the S&P 500 file.
let allReturns = series.returns
let stamps = Array(series.timestamps.dropFirst())
func fhsModel(apc: Bool) throws -> MarginModel {
    try MarginModel(
        name: "FHS-ES", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
        confidence: 0.975, mpor: 2, lookback: 1000,
        controls: apc ? MarginControls(buffer: 0.25, stressedWeight: 0.25, floorLookback: 2520) : .none,
        testConfidence: 0.99)
}
var backtestTimes: [Double] = []
var backtestAPCTimes: [Double] = []
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

// 5. Portfolio margin at book scale: 100,000 accounts x 10 positions over 1,000 joint
//    scenarios and 50 instruments (10 underlyings: a perpetual, two calls, two puts each).
//    Synthetic one-factor scenarios (a benchmark, not a model); instrument P&L rows come
//    from the same MarginCalculator the accounts use (Black-76 revaluation for options).
var prng = LCG()
@MainActor func gauss() -> Double {
    let u1 = max(prng.uniform(), 1e-300)
    let u2 = prng.uniform()
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
}
let underlyings = (0..<10).map { "U\($0)" }
let riskAssets = try underlyings.enumerated().map { i, n in
    try AssetRisk(
        name: n, price: 100 * Double(i + 1), volatility: 0.02 + 0.003 * Double(i), averageDailyVolume: 1e9,
        spread: 0.0004)
}
var pmInstruments: [Instrument] = []
for a in riskAssets {
    pmInstruments.append(Instrument(symbol: a.name + "-PERP", underlying: a.name, kind: .linear(expiry: nil)))
    for (type, m) in [(OptionType.call, 1.05), (.call, 1.15), (.put, 0.95), (.put, 0.85)] {
        pmInstruments.append(
            Instrument(
                symbol: "\(a.name)-\(type.rawValue)-\(m)", underlying: a.name,
                kind: .option(type: type, strike: a.price * m, expiry: 30.0 / 365),
                impliedVolatility: 0.5 + 0.1 * prng.uniform()))
    }
}
let scenarioCount = 1000
var jointReturns: [Double] = []
for _ in 0..<scenarioCount {
    let f = gauss()
    for a in riskAssets { jointReturns.append(a.volatility * (0.7 * f + 0.714 * gauss())) }
}
let pmBook = MarginBook(
    assets: riskAssets, instruments: pmInstruments,
    scenarios: JointScenarios(assets: underlyings, returns: jointReturns, labels: (0..<scenarioCount).map { "s\($0)" }))
let pmCalc = MarginCalculator(book: pmBook)
// the calculator's whole portfolio rule: scenarios, risk grid, side-dependent stand-alone
// floors, liquidity add-ons (PortfolioKernelTests checks it equals the calculator's margin)
let kernel = try pmCalc.portfolioKernel(pmInstruments.map(\.symbol))
let accountCount = 100_000
let width = 10
var instIndex: [Int32] = []
var coefs: [Double] = []
instIndex.reserveCapacity(accountCount * width)
for _ in 0..<accountCount {
    var chosen = Set<Int32>()
    while chosen.count < width { chosen.insert(Int32(Int(prng.uniform() * 50))) }
    for i in chosen.sorted() {
        instIndex.append(i)
        coefs.append((prng.uniform() * 2 - 1) * 10)
    }
}
@MainActor func timeKernel(_ n: Int, threads: Int?) -> (Double, [Double]) {
    let ii = Array(instIndex[0..<(n * width)])
    let cc = Array(coefs[0..<(n * width)])
    var best = Double.infinity
    var r: [Double] = []
    for _ in 0..<3 {
        let t0 = now()
        r = kernel.requirements(instrument: ii, coefficient: cc, width: width, threads: threads)
        best = min(best, now() - t0)
    }
    return (best, r)
}
let (pm100k, pmResult) = timeKernel(accountCount, threads: nil)
let (pm100kSerial, _) = timeKernel(accountCount, threads: 1)
let (pm25k, _) = timeKernel(25_000, threads: nil)
let (pm50k, _) = timeKernel(50_000, threads: nil)
// Inputs and results for the NumPy side of scripts/bench.sh.
let outDir = args.count > 2 ? args[2] : "bench-results/pm"
try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
func write<T>(_ a: [T], _ name: String) throws {
    try a.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: outDir + "/" + name)) }
}
try write(kernel.rows, "rows.f64")
try write(instIndex, "inst.i32")
try write(coefs, "coef.f64")
try write(kernel.standaloneLong, "standalone-long.f64")
try write(kernel.standaloneShort, "standalone-short.f64")
try write(kernel.price, "price.f64")
try write(kernel.halfSpread, "halfspread.f64")
try write(kernel.kappaSigma, "kappasigma.f64")
try write(kernel.adv, "adv.f64")
try write(kernel.liquidityMultiplier, "liquidity-multiplier.f64")
try write(kernel.impactThreshold, "impact-threshold.f64")
try write(kernel.gridRows, "grid.f64")
try write(kernel.gridWeights, "grid-weights.f64")
try write(kernel.gridStandalone.map { $0 ? 1.0 : 0.0 }, "grid-standalone.f64")
try write([kernel.confidence, kernel.maxOffset, Double(kernel.scenarios)], "settings.f64")
try write(pmResult, "swift-result.f64")

// 6. Live engine: quotes per second in memory (one core), durably into SQLite in batches,
//    and recovery (open + resume) of a store holding 10 million quotes.
func makeQuotes(_ n: Int, assets: Int) -> [Quote] {
    var q: [Quote] = []
    q.reserveCapacity(n)
    var r = LCG(seed: 99)
    var prices = (0..<assets).map { 100.0 * Double($0 + 1) }
    var t: Int64 = 1_700_000_000_000
    let names = (0..<assets).map { "A\($0)" }
    let sources = ["s0", "s1", "s2"]
    while q.count < n {
        t += 1
        for a in 0..<assets {
            prices[a] *= exp((r.uniform() - 0.5) * 0.001)
            for s in sources where q.count < n {
                q.append(
                    Quote(asset: names[a], source: s, timestamp: t, price: prices[a] * (1 + (r.uniform() - 0.5) * 1e-4))
                )
            }
        }
    }
    return q
}
func liveConfig(assets: Int) throws -> EngineConfig {
    try EngineConfig(
        assets: (0..<assets).map { "A\($0)" }, aggregation: AggregationPolicy(minSources: 2), barMillis: 1000)
}
func liveBenchmarks(outDir: String) async throws -> [String: Any] {
    let memQuotes = makeQuotes(3_000_000, assets: 10)
    var memEngine = StreamingEngine(config: try liveConfig(assets: 10))
    var memPubs = 0
    let tMem = now()
    for q in memQuotes {
        if case .success(let p) = memEngine.ingest(q) { memPubs += p.count }
    }
    let memRate = Double(memQuotes.count) / (now() - tMem)

    let durablePath = outDir + "/durable.sqlite"
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: durablePath + suffix) }
    let durableStore = try SQLiteStore(path: durablePath)
    var ingestor = try await Ingestor.open(store: durableStore, config: liveConfig(assets: 10), batchSize: 20_000)
    let tDur = now()
    for q in memQuotes.prefix(1_000_000) {
        ingestor.feed(q)
        if ingestor.pending >= 20_000 { try await ingestor.commit(input: nil) }
    }
    try await ingestor.commit(input: nil)
    let durableRate = 1_000_000 / (now() - tDur)

    let bigPath = outDir + "/recovery.sqlite"
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: bigPath + suffix) }
    do {
        let big = try SQLiteStore(path: bigPath)
        var ing = try await Ingestor.open(store: big, config: liveConfig(assets: 10), batchSize: 100_000)
        var fed = 0
        var round: Int64 = 0
        while fed < 10_000_000 {
            for q in memQuotes where fed < 10_000_000 {
                var q2 = q
                q2.timestamp += round * 10_000_000  // later rounds move forward in time
                ing.feed(q2)
                fed += 1
                if ing.pending >= 100_000 { try await ing.commit(input: nil) }
            }
            round += 1
        }
        try await ing.commit(input: nil)
    }
    let tRec = now()
    let recovered = try SQLiteStore(path: bigPath)
    let resumed = try await Ingestor.open(store: recovered, config: nil, batchSize: 1000)
    let recoverySeconds = now() - tRec
    let storedQuotes = try await recovered.quoteCount()
    return [
        "ingestMemoryPerSecond": memRate, "ingestDurablePerSecond": durableRate, "ingestPublications": memPubs,
        "recoverySeconds": recoverySeconds, "recoveryStoredQuotes": storedQuotes,
        "recoveryAccepted": resumed.engine.accepted,
    ]
}
let live = try await liveBenchmarks(outDir: outDir)

let result: [String: Any] = [

    "pmSeconds100k": pm100k,
    "pmSeconds100kOneThread": pm100kSerial,
    "pmSeconds25k": pm25k,
    "pmSeconds50k": pm50k,
    "pmCores": ProcessInfo.processInfo.activeProcessorCount,
    "pmInputs": outDir,
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
let json = try JSONSerialization.data(withJSONObject: result.merging(live) { a, _ in a }, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
