import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore
@testable import VolScaleEngine
@testable import VolScaleRisk

@Suite struct StreamingEngineTests {
    static func sp500() throws -> (closes: [Double], times: [Int64]) {
        let c = try TestData.sp500().close
        // one bar a day; the calendar is irrelevant here
        return (c, c.indices.map { 915_148_800_000 + Int64($0) * 86_400_000 })
    }

    /// One source, quotes never stale (a file replayed), no circuit breaker.
    static func singleSource(
        _ assets: [String], minInterval: Int64 = 0, impliedWeight: Double? = nil,
        impliedMaxAge: Int64? = nil
    ) throws -> EngineConfig {
        try EngineConfig(
            assets: assets,
            aggregation: AggregationPolicy(
                maxAge: AggregationPolicy.maxAgeLimit, minSources: 1, circuitBreaker: 10,
                minInterval: minInterval),
            impliedWeight: impliedWeight, impliedMaxAge: impliedMaxAge)
    }

    /// Replaying the stored history through the streaming engine gives the batch numbers.
    @Test func replayEqualsBatch() throws {
        let (closes, times) = try Self.sp500()
        var engine = StreamingEngine(config: try Self.singleSource(["SPX"]))
        var pubs: [Publication] = []
        for (p, t) in zip(closes, times) {
            if case .success(let x) = engine.ingest(Quote(asset: "SPX", source: "file", timestamp: t, price: p)) {
                pubs += x
            }
        }
        let returns = (1..<closes.count).map { log(closes[$0] / closes[$0 - 1]) }
        let batch = try EWMA(lambda: 0.94).filter(returns)
        let state = try #require(engine.volatility["SPX"])
        #expect(
            state.variance == batch.nextVariance, "streaming \(state.variance ?? .nan) vs batch \(batch.nextVariance)")
        // every published sigma equals the batch sigma for the next return
        let longs = pubs.filter { $0.side == "long" }
        #expect(longs.count == returns.count - 74)
        for (k, p) in longs.enumerated() {
            let t = 74 + k  // publication after return t
            let next = t + 1 < returns.count ? batch.variance[t + 1]! : batch.nextVariance
            #expect(p.sigma == next.squareRoot(), "publication \(k)")
        }
        // and the published rates equal the batch margin engine's parametric path
        let model = try MarginModel(
            name: "p", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .parametric,
            confidence: 0.99, mpor: 1, lookback: 2)
        let path = try MarginEngine.run(model, returns: returns, timestamps: Array(times.dropFirst()))
        #expect(path.startIndex == 75 && longs.count == path.count + 1)
        for k in 0..<path.count { #expect(longs[k + 1].newValue == path.long.margin[k]) }
        // sequence numbers strictly increase
        #expect(zip(pubs, pubs.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
    }

    /// One of three sources jumps 50% for a minute: the published price moves less than
    /// 0.1% and no parameter loosens.
    @Test func manipulationOfOneSourceIsContained() throws {
        let cfg = try EngineConfig(assets: ["BTC"], aggregation: AggregationPolicy(minSources: 2), barMillis: 60_000)
        var engine = StreamingEngine(config: cfg)
        var rates: [Double] = []
        var attackRates: [(Double?, Double)] = []
        var prices: [Double] = []
        var t: Int64 = 1_700_000_000_000
        var seed: UInt64 = 1
        func noise() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Double(seed >> 11) / Double(1 << 53) - 0.5) * 0.002
        }
        var price = 60_000.0
        var stables: [Double] = []
        for second in 0..<(200 * 60) {  // 200 minutes, a quote per source per second
            t += 1000
            if second % 60 == 0 && !(140 * 60..<160 * 60).contains(second) { price *= exp(noise() * 5) }
            let attacked = second >= 150 * 60 && second < 151 * 60
            for (i, s) in ["a", "b", "c"].enumerated() {
                let p = (i == 2 && attacked) ? price * 1.5 : price * (1 + noise() * 0.1)
                if case .success(let pubs) = engine.ingest(Quote(asset: "BTC", source: s, timestamp: t, price: p)) {
                    rates += pubs.filter { $0.side == "short" }.map(\.newValue)
                    if attacked { attackRates += pubs.map { ($0.oldValue, $0.newValue) } }
                }
            }
            if second >= 149 * 60 && second < 152 * 60, let agg = engine.aggregator.states["BTC"]?.aggregate {
                prices.append(agg)
            }
            if let s = engine.aggregator.states["BTC"]?.stable { stables.append(s) }
        }
        let before = prices[0..<60].reduce(0, +) / 60
        let worst = prices.map { abs($0 / before - 1) }.max()!
        #expect(worst < 0.001, "published price moved \(worst)")
        #expect(!attackRates.isEmpty)
        #expect(attackRates.allSatisfy { $0.1 >= ($0.0 ?? 0) }, "a rate loosened during the attack")
        #expect(engine.rejections[.deviation, default: 0] >= 60)
        // the stable price never moves faster than its rate limit (0.05% a second), and the
        // limit did bind: the minute jumps of the price are larger than that
        let limit = engine.config.aggregation.stableRatePerSecond
        let steps = zip(stables, stables.dropFirst()).map { abs(log($1 / $0)) }
        #expect(stables.count > 100 * 60)
        #expect(steps.allSatisfy { $0 <= limit * (1 + 1e-9) }, "largest one-second move \(steps.max() ?? 0)")
        #expect(steps.contains { $0 >= limit * (1 - 1e-9) }, "the limit never bound")
        #expect(rates.count > 100)
    }

    @Test func rejectedQuotesAreCountedAndNeverApplied() throws {
        let cfg = try Self.singleSource(["BTC"], minInterval: 10)
        var e = StreamingEngine(config: cfg)
        let now: Int64 = 1_000_000
        let cases: [(Quote, RejectionReason)] = [
            (Quote(asset: "BTC", source: "a", timestamp: now, price: .nan), .nonFinitePrice),
            (Quote(asset: "BTC", source: "a", timestamp: now, price: -1), .nonPositivePrice),
            (Quote(asset: "DOGE", source: "a", timestamp: now, price: 1), .unknownAsset),
            (Quote(asset: "BTC", source: "a", timestamp: now + 3_600_000, price: 1), .futureTimestamp),
        ]
        for (q, r) in cases { #expect(e.ingest(q, now: now) == .failure(r)) }
        #expect(e.ingest(Quote(asset: "BTC", source: "a", timestamp: now, price: 100), now: now) == .success([]))
        #expect(
            e.ingest(Quote(asset: "BTC", source: "a", timestamp: now, price: 100), now: now) == .failure(.duplicate))
        #expect(e.ingest(Quote(asset: "BTC", source: "a", timestamp: now, price: 101), now: now) == .failure(.conflict))
        #expect(
            e.ingest(Quote(asset: "BTC", source: "a", timestamp: now - 5, price: 101), now: now)
                == .failure(.beforeLastBar))
        #expect(
            e.ingest(Quote(asset: "BTC", source: "a", timestamp: now + 3, price: 101), now: now) == .failure(.flooding))
        #expect(e.aggregator.states["BTC"]?.aggregate == 100)
        #expect(e.accepted == 1)
        #expect(e.rejections.values.reduce(0, +) == 8)
    }

    /// A snapshot taken mid-stream and restored continues exactly like an uninterrupted run.
    @Test func snapshotRestoreIsExact() throws {
        let (closes, times) = try Self.sp500()
        var a = StreamingEngine(config: try Self.singleSource(["SPX"]))
        var b = a
        for i in 0..<closes.count {
            _ = a.ingest(Quote(asset: "SPX", source: "f", timestamp: times[i], price: closes[i]))
            _ = b.ingest(Quote(asset: "SPX", source: "f", timestamp: times[i], price: closes[i]))
            if i == 2000 {
                let data = try JSONEncoder().encode(b.snapshot)
                b = try StreamingEngine(snapshot: try JSONDecoder().decode(EngineSnapshot.self, from: data))
            }
        }
        #expect(a.snapshot == b.snapshot)
    }
}
