import Foundation
import Testing
import VolScaleConfig
import VolScaleData
import VolScaleTestSupport

@testable import VolScaleRisk

/// Replay equals batch: every model of the S&P 500 comparison (GJR FHS-ES with stressed
/// weighting and floor, buffers, floors, speed limits), stepped one return at a time by
/// `MarginWalker`, publishes exactly the path the batch engine computed before it was
/// built on the walker (`ReferenceMarginEngine`, frozen in the tests): the same sigma,
/// model margin, rate, maintenance and binding control at every bar, to the last bit. And
/// `MarginEngine.run` (`volscale backtest`), now the walker fed a whole history, returns
/// that same path with the same notes.
@Suite struct MarginWalkerTests {
    static func compare(_ model: MarginModel, _ returns: [Double], _ timestamps: [Int64], implied: [Double?]? = nil)
        throws
    {
        let batch = try ReferenceMarginEngine.run(model, returns: returns, timestamps: timestamps, implied: implied)
        let run = try MarginEngine.run(model, returns: returns, timestamps: timestamps, implied: implied)
        #expect(
            run.sigma == batch.sigma && run.long == batch.long && run.short == batch.short
                && run.impliedBound == batch.impliedBound
                && run.startIndex == batch.startIndex && run.notes == batch.notes,
            "\(model.name): MarginEngine.run differs from the reference; notes \(run.notes) vs \(batch.notes)")
        guard implied == nil, model.impliedWeight == nil else { return }
        if case .closeToClose = model.volatility { return }
        var walker = try MarginWalker(model: model)
        var steps: [MarginWalker.Step] = []
        for (r, ts) in zip(returns, timestamps) { if let s = try walker.step(r, timestamp: ts) { steps.append(s) } }
        #expect(steps.count == batch.count, "\(model.name): \(steps.count) live publications, \(batch.count) in batch")
        var mismatches = 0
        for (k, s) in steps.enumerated() where k < batch.count {
            var same = s.sigma == batch.sigma[k]
            for side in Side.allCases {
                let b = batch.side(side)
                let l = s.side(side)
                same =
                    same && l.model == b.modelMargin[k] && l.margin == b.margin[k] && l.maintenance == b.maintenance[k]
                    && l.binding == b.binding[k]
            }
            if !same {
                mismatches += 1
                if mismatches <= 3 {
                    Issue.record(
                        "\(model.name) bar \(batch.startIndex + k): live \(s), batch sigma \(batch.sigma[k]) long \(batch.long.margin[k]) short \(batch.short.margin[k])"
                    )
                }
            }
        }
        #expect(mismatches == 0, "\(model.name): \(mismatches) of \(batch.count) bars differ")
    }

    @Test func everyComparisonModelReplaysItsBatchPath() throws {
        let config = try MarginConfig.load(
            path: TestData.root.appendingPathComponent("examples/sp500-margin.toml").path)
        let series = try PriceFileReader().read(path: TestData.data("sp500-daily.csv")).series
        let returns = series.returns
        let timestamps = Array(series.timestamps.dropFirst())
        let gjr = config.models.filter { if case .garch = $0.volatility { return true } else { return false } }
        #expect(
            gjr.contains { $0.controls.stressedWeight != nil && $0.controls.floorLookback != nil },
            "a GJR FHS-ES with stressed weighting and floor is among them")
        for model in config.models { try Self.compare(model, returns, timestamps) }
    }

    /// The batch-only parts: the implied blend (VIX) and close-to-close volatility.
    @Test func batchOnlyModelsMatchTheReference() throws {
        let series = try PriceFileReader().read(path: TestData.data("sp500-daily.csv")).series
        let returns = Array(series.returns.suffix(1_500))
        let timestamps = Array(series.timestamps.suffix(1_500))
        let implied: [Double?] = returns.indices.map { $0 % 7 == 0 ? nil : 0.012 + 0.004 * sin(Double($0) / 40) }
        let blend = try MarginModel(
            name: "EWMA FHS + implied", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
            confidence: 0.975, mpor: 1, lookback: 500, impliedWeight: 1.0)
        try Self.compare(blend, returns, timestamps, implied: implied)
        let closeToClose = try blend.with(
            volatility: .closeToClose(window: 20), controls: MarginControls(floorLookback: 750),
            impliedWeight: .some(nil))
        try Self.compare(closeToClose, returns, timestamps)
        #expect(throws: MarginModelError.self) { _ = try MarginWalker(model: closeToClose) }  // not live
    }

    /// The same with a buffer added to the GJR FHS-ES policy with stressed weighting and
    /// floor, a named stressed period, a MPOR of 2 bars, and a refit due exactly at the
    /// last return (the batch then refits too, as live).
    @Test func gjrWithBufferNamedPeriodAndRefitAtTheEnd() throws {
        let series = try PriceFileReader().read(path: TestData.data("sp500-daily.csv")).series
        let returns = Array(series.returns.prefix(2_000))
        let timestamps = Array(series.timestamps.dropFirst().prefix(2_000))
        let c = try MarginControls(buffer: 0.25, stressedWeight: 0.25, floorLookback: 1_000, speedLimitDown: 0.1)
        let gjr = try MarginModel(
            name: "GJR FHS-ES + buffer + stressed + floor",
            volatility: .garch(asymmetric: true, distribution: .normal, refitEvery: 250, minimumFit: 500),
            measure: .expectedShortfall, method: .fhs, confidence: 0.975, mpor: 1, lookback: 500, controls: c)
        try Self.compare(gjr, returns, timestamps)  // 2,000 - 500 = 6 x 250: a refit at the last return
        let named = try gjr.with(
            mpor: 2,
            controls: MarginControls(
                buffer: 0.25, stressedWeight: 0.25,  // 2008-08-01 to 2009-03-31
                stressedPeriod: .dates(start: 1_217_548_800_000, end: 1_238_457_600_000),
                floorLookback: 1_000, speedLimitDown: 0.1))
        let long = Array(series.returns.prefix(3_000))
        let ts = Array(series.timestamps.dropFirst().prefix(3_000))
        try Self.compare(named, long, ts)
        let ewma = try gjr.with(
            volatility: .ewma(lambda: 0.94),
            controls: MarginControls(
                buffer: 0.25, stressedWeight: 0.25, floorLookback: 1_000, speedLimitDown: 0.1,
                maintenance: .confidence(0.95)))
        try Self.compare(ewma, long, ts)
    }
}
