import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleEngine
@testable import VolScaleRisk

/// Hostile and broken sequences of prices (issue 28): a spike that reverts, one that persists,
/// a stuck feed, invented sources, an ancient timestamp, a flood of source names, a
/// conflicting duplicate. Each ends with every published number finite and within its bounds,
/// the state encodable (the store can write it) and the engine still taking honest quotes.
@Suite struct PriceSequenceTests {
    static let day: Int64 = 86_400_000
    static let warm = 1_700
    /// The last close of the warm-up (1,196.02 in 2004-11): the honest price of the attacks.
    static func lastClose() throws -> Double { try StreamingEngineTests.sp500().closes[warm - 1] }

    /// The example venue's S&P 500 set-up: its GJR FHS-ES88 policy with stressed weighting and
    /// a floor and no hard cap of its own, one declared source, daily bars on quote time, the
    /// [aggregation] defaults with the asset's ~5-bar average.
    static func venue(sources: [String] = ["arch"], barMillis: Int64 = day) throws -> StreamingEngine {
        let controls = try MarginControls(
            stressedWeight: 0.25, stressedPeriod: .worstWindow(bars: 250), floorLookback: 1000)
        let policy = try MarginModel(
            name: "GJR FHS-ES88 + stressed + floor",
            volatility: .garch(asymmetric: true, distribution: .normal, refitEvery: 250, minimumFit: 500),
            measure: .expectedShortfall, method: .fhs, confidence: 0.88, mpor: 1, lookback: 1000, controls: controls)
        let aggregation = try AggregationPolicy(maxAge: 120_000, minSources: 1, averageDecay: 0.8, maxFutureSkew: 5_000)
        let settings = try AssetSettings(
            aggregation: aggregation, barMillis: barMillis, barsPerDay: 1, sources: sources)
        let config = try EngineConfig(assets: ["SPX"], aggregation: aggregation, settings: ["SPX": settings])
        return try StreamingEngine(config: config, policies: ["SPX": policy])
    }

    /// The engine after `bars` S&P 500 closes from `arch`, and the time of the last one.
    static func warmed(_ bars: Int = warm, sources: [String] = ["arch"]) throws -> (
        StreamingEngine, [Publication], Int64
    ) {
        var e = try venue(sources: sources)
        let (closes, times) = try StreamingEngineTests.sp500()
        var pubs: [Publication] = []
        for i in 0..<bars {
            if case .success(let p) = e.ingest(
                Quote(asset: "SPX", source: "arch", timestamp: times[i], price: closes[i]))
            {
                pubs += p
            }
        }
        return (e, pubs, times[bars - 1])
    }

    /// Every publication finite and within its bounds, and the state writable as JSON.
    static func sane(_ e: StreamingEngine, _ pubs: [Publication], _ note: Comment) throws {
        for p in pubs {
            #expect(PublicationCheck.problem([p], nil) == nil, note)
            if let side = p.side.side { #expect(p.newValue <= e.rateCap(p.asset, side), note) }
            if p.side.side == .long { #expect(p.newValue <= 1, note) }
        }
        _ = try JSONEncoder().encode(e.snapshot)
    }

    /// The issue's reproducer: P, then P x1000, then P again, 1 s apart within one
    /// bar, then honest daily bars. The spike's bar is never a return; the rates after it are
    /// those of an engine that never saw it, and nothing published is absurd.
    @Test(arguments: [2.0, 10.0, 1000.0])
    func spikeThatRevertsNeverEntersVolatility(_ factor: Double) throws {
        var (e, _, t) = try Self.warmed()
        var (clean, _, _) = try Self.warmed()
        let p = try Self.lastClose()
        var pubs: [Publication] = []
        for (k, x) in [p, p * factor, p].enumerated() {
            if case .success(let out) = e.ingest(
                Quote(asset: "SPX", source: "arch", timestamp: t + Self.day + Int64(k) * 1000, price: x))
            {
                pubs += out
            }
        }
        _ = clean.ingest(Quote(asset: "SPX", source: "arch", timestamp: t + Self.day + 2000, price: p))
        // a spike on a bar of its own, reverted the next bar
        var cleanPubs: [Publication] = []
        t += 2 * Self.day
        if case .success(let out) = e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t, price: p * factor)) {
            pubs += out
        }
        for k in 1...20 {
            let x = p * (1 + 0.001 * Double(k % 3))
            if case .success(let out) = e.ingest(
                Quote(asset: "SPX", source: "arch", timestamp: t + Int64(k) * Self.day, price: x))
            {
                pubs += out
            }
            if case .success(let out) = clean.ingest(
                Quote(asset: "SPX", source: "arch", timestamp: t + Int64(k) * Self.day, price: x))
            {
                cleanPubs += out
            }
        }
        try Self.sane(e, pubs, "x\(factor)")
        #expect(e.volatility["SPX"]?.untrustedBars ?? 0 >= 1)
        let last = pubs.suffix(2).map(\.newValue)
        let cleanLast = cleanPubs.suffix(2).map(\.newValue)
        #expect(!last.isEmpty && last == cleanLast, "x\(factor): \(last) vs \(cleanLast)")
        #expect(pubs.last?.sigma == cleanPubs.last?.sigma)
        // the policy's whole state (its returns, windows, fit and path) as an engine that never saw the spike
        let state = e.assetSnapshot("SPX")?.volatility.policyState
        let cleanState = clean.assetSnapshot("SPX")?.volatility.policyState
        #expect(state != nil && state == cleanState, "x\(factor): the policy state differs")
    }

    /// A move that persists is taken, once, from the last trusted price when the breaker
    /// releases: the rates rise (the move was real) and stay finite and capped.
    @Test func persistentSpikeIsTakenOnceWhenTheBreakerReleases() throws {
        var (e, before, t) = try Self.warmed()
        let p = try Self.lastClose()
        var pubs: [Publication] = []
        for k in 1...300 {
            if case .success(let out) = e.ingest(
                Quote(asset: "SPX", source: "arch", timestamp: t + Int64(k) * Self.day, price: p * 1000))
            {
                pubs += out
            }
        }
        try Self.sane(e, pubs, "persistent x1000")
        #expect(e.aggregator.states["SPX"]?.unstable == false, "the breaker never released")
        #expect(!pubs.isEmpty, "\(e.volatility["SPX"]?.policyError ?? "")")
        let rise = (pubs.last?.newValue ?? 0) > (before.last?.newValue ?? 1)
        #expect(rise, "a x1000 move did not raise the rate")
        #expect(pubs.allSatisfy { $0.newValue <= 1 }, "the default cap of a policy without one is 100% of notional")
        // the spell of untrusted bars is half the breaker's window (9 bars), not the whole run
        #expect((e.volatility["SPX"]?.untrustedBars ?? 0) <= 5)
    }

    /// A stuck feed repeating its price 300 times within a bar, or 1,000 quotes in a second:
    /// the bar does not close, so sigma and the rates do not move at all.
    @Test func repeatedPricesWithinABarMoveNothing() throws {
        var (e, before, t) = try Self.warmed()
        let p = try Self.lastClose()
        // the first quote of the next bar closes the last one; the rest stay within the new bar
        _ = e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t + Self.day, price: p))
        let sigma = e.volatility["SPX"]?.variance
        let returns = e.volatility["SPX"]?.returns
        for k in 1...1000 {
            let r = e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t + Self.day + Int64(k), price: p))
            #expect(r == .success([]))
        }
        #expect(e.volatility["SPX"]?.variance == sigma && e.volatility["SPX"]?.returns == returns)
        #expect(!before.isEmpty)
    }

    /// Sources are declared: invented names are refused and cannot fill the table; a declared
    /// source silent for `evictionAge` leaves it.
    @Test func undeclaredSourcesAreRefusedAndSilentOnesEvicted() throws {
        var (e, _, t) = try Self.warmed(sources: ["arch", "b"])
        for k in 0..<40 {
            #expect(
                e.ingest(Quote(asset: "SPX", source: "fake\(k)", timestamp: t + 1000, price: 1_196_020))
                    == .failure(.undeclaredSource))
        }
        #expect(e.aggregator.states["SPX"]?.latest.count == 1)
        // "b" quotes once, then only "arch" for more than the eviction age (a day; max_age is 120 s)
        _ = e.ingest(Quote(asset: "SPX", source: "b", timestamp: t + 2000, price: 1196))
        #expect(e.aggregator.states["SPX"]?.latest.count == 2)
        _ = e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t + 2 * Self.day, price: 1196))
        #expect(e.aggregator.states["SPX"]?.latest.keys.sorted() == ["arch"])
    }

    /// A quote stamped 1900 from a declared source is refused: older than the maximum age
    /// before the asset's newest quote, and before its current bar. The stable price's clock
    /// never runs back, so the next quote's step is limited as before.
    @Test func ancientTimestampsAreRefused() throws {
        var (e, _, t) = try Self.warmed(sources: ["arch", "b"])
        let r = e.ingest(Quote(asset: "SPX", source: "b", timestamp: -2_208_988_800_000, price: 1196))
        #expect(r == .failure(.beforeLastBar) || r == .failure(.tooOld))
        // within the bar but older than max_age before the newest quote
        _ = e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t + Self.day + 3_600_000, price: 1196))
        #expect(
            e.ingest(Quote(asset: "SPX", source: "b", timestamp: t + Self.day + 1000, price: 1196)) == .failure(.tooOld)
        )
        let stable = e.aggregator.states["SPX"]?.stable ?? 0
        _ = e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t + Self.day + 3_601_000, price: 1196 * 1.1))
        let moved = abs(log((e.aggregator.states["SPX"]?.stable ?? 0) / stable))
        #expect(moved <= 0.0005 * (1 + 1e-9), "the stable price moved \(moved) in one second")
    }

    /// The same (asset, source, ts) with another price is a conflict, counted; with the same
    /// price, a duplicate.
    @Test func conflictingDuplicatesAreNamed() throws {
        var (e, _, t) = try Self.warmed()
        #expect(e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t, price: 1)) == .failure(.conflict))
        #expect(e.rejections[.conflict] == 1)
        let (closes, _) = try StreamingEngineTests.sp500()
        #expect(
            e.ingest(Quote(asset: "SPX", source: "arch", timestamp: t, price: closes[Self.warm - 1]))
                == .failure(.duplicate))
    }

    /// A quote whose result is not finite is refused and the engine is left as it was: its
    /// state, sequence and counters other than the refusal.
    @Test func aNonFiniteResultRollsTheQuoteBack() throws {
        // no quote of a finite price can make an EWMA variance infinite any more, so the state
        // is given one, as a corrupted or overflowing model would leave it
        let config = try StreamingEngineTests.singleSource(["BTC"])
        var e = StreamingEngine(config: config)
        for k in 0..<100 {
            _ = e.ingest(
                Quote(
                    asset: "BTC", source: "a", timestamp: Int64(k) * Self.day, price: 100 * (1 + 0.01 * Double(k % 5))))
        }
        var snap = e.snapshot
        snap.volatility["BTC"]?.variance = .infinity
        e = try StreamingEngine(snapshot: snap)
        let before = e.snapshot
        let r = e.ingest(Quote(asset: "BTC", source: "a", timestamp: 200 * Self.day, price: 1e6))
        #expect(r == .failure(.implausibleResult))
        #expect(e.lastRefusal?.contains("variance inf is not a finite") == true, "\(e.lastRefusal ?? "")")
        var after = e.snapshot
        #expect(after.rejections[RejectionReason.implausibleResult.rawValue] == 1)
        after.rejections = before.rejections
        #expect(after == before)
    }
}

/// The aggregator's median (selection, no sort) is the sorted list's middle value, or the
/// mean of its two middle values, to the bit: odd and even counts, ties, runs.
@Suite struct MedianTests {
    @Test func selectionEqualsTheSortedMiddle() {
        var random = SeededUniform(seed: 5)
        func u() -> Double { random.next() }
        for n in 1...300 {
            for pattern in 0..<4 {
                let x: [Double] = (0..<n).map { i in
                    switch pattern {
                    case 0: return 100 * u()
                    case 1: return Double(Int(u() * 4))  // many ties
                    case 2: return Double(i)  // sorted
                    default: return Double(n - i)  // reversed
                    }
                }
                let s = x.sorted()
                let expected = n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
                #expect(PriceAggregator.median(x).bitPattern == expected.bitPattern, "n \(n), pattern \(pattern)")
            }
        }
    }
}
