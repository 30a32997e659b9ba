import Foundation
import Testing
import VolScaleData
import VolScaleTestSupport

@testable import VolScaleEngine
@testable import VolScaleRisk

/// Replay equals batch through the live engine: a GJR FHS-ES policy with a buffer,
/// stressed weighting and a floor, fed the S&P 500 closes as quotes, publishes at every
/// bar exactly the rates `MarginEngine.run` (`volscale backtest`) computes on the same
/// returns; a restart from a snapshot in the middle changes nothing.
@Suite struct LivePolicyTests {
    static let root = TestData.root

    static func policy() throws -> MarginModel {
        let c = try MarginControls(
            buffer: 0.25, stressedWeight: 0.25, stressedPeriod: .worstWindow(bars: 250), floorLookback: 1_000)
        return try MarginModel(
            name: "GJR FHS-ES90 + buffer + stressed + floor",
            volatility: .garch(asymmetric: true, distribution: .normal, refitEvery: 250, minimumFit: 500),
            measure: .expectedShortfall, method: .fhs, confidence: 0.90, mpor: 1, lookback: 500, controls: c)
    }

    /// examples/policies/recommended.toml's model (issue 12), with a shorter lookback so the
    /// path controls and the calibration act within the bars the test replays.
    static func recommended() throws -> MarginModel {
        let c = try MarginControls(
            floorLookback: 10_000, floorFraction: 0.5,
            calibration: try CoverageCalibration(target: 0.009, halfLife: 70, gain: 0.5, minimum: 0.8, maximum: 1.5),
            riseLimit: 0.5, riseBars: 5, corridor: 4)
        return try MarginModel(
            name: "recommended", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
            confidence: 0.975, mpor: 1, lookback: 500, controls: c)
    }

    /// One source, never stale, no instability (the breaker's override is live-only).
    static func config() throws -> EngineConfig { try StreamingEngineTests.singleSource(["SPX"]) }

    /// The GJR policy, and the recommended one: its calibration multiplier, rise limit and
    /// corridor carry state from bar to bar, which a restart must rebuild exactly.
    @Test(arguments: ["gjr", "recommended"])
    func policyPublishesTheBatchPathAcrossARestart(_ which: String) throws {
        let policy = which == "gjr" ? try Self.policy() : try Self.recommended()
        let series = try PriceFileReader().read(path: Self.root.appendingPathComponent("data/sp500-daily.csv").path)
            .series
        let n = which == "gjr" ? 1_800 : 3_000  // the recommended one through 2008
        let closes = Array(series.close.prefix(n))
        let times = Array(series.timestamps.prefix(n))
        let batch = try MarginEngine.run(
            policy, returns: try PriceSeries(source: "", timestamps: times, close: closes).returns,
            timestamps: Array(times.dropFirst()))
        var engine = try StreamingEngine(config: try Self.config(), policies: ["SPX": policy])
        var published: [Publication] = []
        for i in 0..<n {
            if i == 1_400 {
                // restart: the snapshot as the store keeps it (JSON), the policy from the venue
                let data = try JSONEncoder().encode(engine.snapshot)
                engine = try StreamingEngine(
                    snapshot: try JSONDecoder().decode(EngineSnapshot.self, from: data), policies: ["SPX": policy])
            }
            if case .success(let p) = engine.ingest(
                Quote(asset: "SPX", source: "arch", timestamp: times[i], price: closes[i]))
            {
                published += p
            }
        }
        let long = published.filter { $0.side == "long" }
        let short = published.filter { $0.side == "short" }
        #expect(long.count == batch.count && short.count == batch.count && batch.count > 700)
        var differ = 0
        for k in 0..<min(long.count, batch.count) {
            let same =
                long[k].newValue == batch.long.margin[k] && short[k].newValue == batch.short.margin[k]
                && long[k].maintenance == batch.long.maintenance[k]
                && short[k].maintenance == batch.short.maintenance[k]
                && long[k].sigma == batch.sigma[k] && long[k].binding == .control(batch.long.binding[k])
            if !same { differ += 1 }
        }
        #expect(differ == 0, "\(differ) of \(batch.count) bars differ from the batch path")
        // the path exercised the controls: more than one of them set the rate at some bar
        let bindings = Set(batch.long.binding + batch.short.binding)
        #expect(bindings.count >= 2, "\(bindings)")
        if which == "recommended" {
            #expect(
                bindings.contains(.riseLimit) && (bindings.contains(.corridorCap) || bindings.contains(.corridorFloor)),
                "\(bindings)")
        }
        #expect(long.first?.modelVersion == policy.name)
    }
}
