import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore
@testable import VolScaleEngine
@testable import VolScaleRisk

/// The implied side of the live engine: an implied volatility from an option chain raises the
/// published sigma to w x sigma_implied per bar while it is fresh, for the engine's own policy and
/// for an asset with a model of its own, as the batch engine does with the same implied series;
/// it survives a restart from the snapshot.
@Suite struct ImpliedLiveTests {
    @Test func engineBlendUsesTheFreshImpliedVolatility() throws {
        let (closes, times) = try StreamingEngineTests.sp500()
        let cfg = try StreamingEngineTests.singleSource(["SPX"], impliedWeight: 1, impliedMaxAge: 3 * 86_400_000)
        var engine = StreamingEngine(config: cfg)
        var last: [Publication] = []
        func feed(_ i: Int) {
            if case .success(let p) = engine.ingest(
                Quote(asset: "SPX", source: "file", timestamp: times[i], price: closes[i])), !p.isEmpty
            {
                last = p
            }
        }
        for i in 0..<200 { feed(i) }
        let realised = try #require(last.first).sigma
        // an implied volatility far above the realised one (annualised 2.0 = 10.5% a day)
        #expect(engine.setImplied("SPX", ImpliedVolatility(annualised: 2, time: times[199], source: "test")) == nil)
        feed(200)
        let bound = try #require(last.first)
        #expect(close(bound.sigma, 2 / 365.0.squareRoot(), rel: 1e-15))
        #expect(bound.binding == "implied volatility")
        #expect(
            bound.newValue > 3
                * ParametricTail.estimate(
                    sigma: realised, horizon: 1, factors: ParametricTail.factors(confidence: 0.99, nu: nil),
                    side: .long
                ).expectedShortfall)
        // it survives a restart
        var restarted = try StreamingEngine(snapshot: engine.snapshot)
        #expect(restarted.volatility["SPX"]?.implied?.annualised == 2)
        // older chains are refused; once the implied is stale, the realised sigma is back
        #expect(
            restarted.setImplied("SPX", ImpliedVolatility(annualised: 1, time: times[100], source: "old"))
                == .olderThanCurrent(current: times[199]))
        #expect(
            restarted.setImplied("XYZ", ImpliedVolatility(annualised: 1, time: times[300], source: "x"))
                == .unknownAsset)
        #expect(restarted.setImplied("SPX", ImpliedVolatility(annualised: .nan, time: times[300], source: "x")) != nil)
        engine = restarted
        for i in 201..<205 { feed(i) }
        #expect(try #require(last.first).sigma < 0.05)
        #expect(try #require(last.first).binding != "implied volatility")
    }

    /// An asset with a model of its own (EWMA FHS with implied_weight 1): the live walker with the
    /// chain's implied volatility from bar 300 on equals the batch engine fed the same implied
    /// series, and a restart rebuilds the same walker.
    @Test func policyWithImpliedWeightMatchesBatch() throws {
        let (closes, times) = try StreamingEngineTests.sp500()
        let n = 420
        let model = try MarginModel(
            name: "fhs-implied", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
            confidence: 0.99, mpor: 1, lookback: 250, impliedWeight: 1)
        // fresh for the whole test, as the batch series is
        let cfg = try StreamingEngineTests.singleSource(["SPX"], impliedMaxAge: 1000 * 86_400_000)
        var engine = try StreamingEngine(config: cfg, policies: ["SPX": model])
        var longs: [Publication] = []
        let iv = 0.5
        for i in 0..<n {
            if i == 300 {
                #expect(
                    engine.setImplied("SPX", ImpliedVolatility(annualised: iv, time: times[299], source: "test")) == nil
                )
            }
            if case .success(let p) = engine.ingest(
                Quote(asset: "SPX", source: "file", timestamp: times[i], price: closes[i]))
            {
                longs += p.filter { $0.side == "long" }
            }
        }
        let returns = (1..<n).map { log(closes[$0] / closes[$0 - 1]) }
        // return i closes bar i+1: the implied is known from bar 300 (return 299) on
        let implied: [Double?] = returns.indices.map { $0 + 1 >= 300 ? iv / 365.0.squareRoot() : nil }
        let path = try MarginEngine.run(model, returns: returns, timestamps: Array(times[1..<n]), implied: implied)
        #expect(longs.count == path.count)
        for k in 0..<path.count { #expect(longs[k].newValue == path.long.margin[k], "publication \(k)") }
        #expect(path.impliedBound.contains(true))
        // restart: the rebuilt walker continues identically
        var a = engine
        var b = try StreamingEngine(snapshot: engine.snapshot, policies: ["SPX": model])
        for i in n..<(n + 5) {
            let q = Quote(asset: "SPX", source: "file", timestamp: times[i], price: closes[i])
            #expect((try? a.ingest(q).get()) == (try? b.ingest(q).get()))
        }
    }
}
