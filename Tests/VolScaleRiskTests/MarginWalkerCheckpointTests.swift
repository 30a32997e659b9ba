import Foundation
import Testing
import VolScaleData
import VolScaleTestSupport

@testable import VolScaleRisk

/// A walker continued from its checkpoint, written as JSON and read back at several bars,
/// publishes what one uninterrupted walker publishes, bit for bit; the checkpoint's size
/// stops growing once the model's windows are full (all but an expanding GARCH fit).
@Suite struct MarginWalkerCheckpointTests {
    static let series = try? PriceFileReader().read(path: TestData.data("sp500-daily.csv")).series

    static func models() throws -> [MarginModel] {
        let gjr = VolatilitySpec.garch(asymmetric: true, distribution: .normal, refitEvery: 250, minimumFit: 500)
        let calibration = try CoverageCalibration(target: 0.02, halfLife: 100, gain: 3, minimum: 0.8, maximum: 2)
        return [
            try MarginModel(
                name: "GJR FHS-ES, stressed, floor, calibration, rolling fit", volatility: gjr,
                measure: .expectedShortfall,
                method: .fhs, confidence: 0.975, mpor: 2, lookback: 500,
                controls: MarginControls(
                    buffer: 0.25, stressedWeight: 0.25, floorLookback: 1_000, speedLimitDown: 0.1,
                    calibration: calibration),
                fitWindow: 1_000),
            try MarginModel(
                name: "EWMA HS, named stressed period", volatility: .ewma(lambda: 0.94), measure: .valueAtRisk,
                method: .historical, confidence: 0.99, mpor: 2, lookback: 500,
                controls: MarginControls(
                    stressedWeight: 0.25, stressedPeriod: .dates(start: 1_217_548_800_000, end: 1_238_457_600_000),
                    floorLookback: 750)),
            try MarginModel(
                name: "EWMA parametric, rise limit and corridor", volatility: .ewma(lambda: 0.97),
                measure: .expectedShortfall, method: .parametric, confidence: 0.99, mpor: 1, lookback: 250,
                controls: MarginControls(riseLimit: 0.5, riseBars: 5, corridor: 4, maintenance: .confidence(0.95))),
            try MarginModel(
                name: "GJR parametric, expanding fit", volatility: gjr, measure: .expectedShortfall,
                method: .parametric, confidence: 0.99, mpor: 1, lookback: 250),
        ]
    }

    /// One model walked whole and resumed from JSON at `cuts`: the bars that differ, whether
    /// the final checkpoints are equal, and the checkpoints written at the cuts.
    struct Resumed: Sendable {
        var differ = 0
        var sameAtTheEnd = false
        var count = 0
        var written: [Int: Data] = [:]
    }

    static func resume(_ model: MarginModel, _ returns: [Double], _ timestamps: [Int64], cuts: Set<Int>) throws
        -> Resumed
    {
        var whole = try MarginWalker(model: model)
        var resumed = try MarginWalker(model: model)
        var out = Resumed()
        for (t, (r, ts)) in zip(returns, timestamps).enumerated() {
            if cuts.contains(t) {
                let data = try JSONEncoder().encode(resumed.checkpoint)
                out.written[t] = data
                resumed = try MarginWalker(
                    model: model, checkpoint: try JSONDecoder().decode(MarginWalker.Checkpoint.self, from: data))
            }
            if try whole.step(r, timestamp: ts) != resumed.step(r, timestamp: ts) { out.differ += 1 }
        }
        out.sameAtTheEnd = whole.checkpoint == resumed.checkpoint
        out.count = whole.count
        return out
    }

    @Test func continuedWalkersPublishTheUninterruptedPath() async throws {
        let series = try #require(Self.series)
        // 1999 to 2011: the named period (2008-08 to 2009-03) opens and is taken within it
        let returns = Array(series.returns.prefix(3_200))
        let timestamps = Array(series.timestamps.dropFirst().prefix(3_200))
        let cuts: Set<Int> = [60, 700, 1_600, 2_460, 2_800, 3_100]
        for model in try Self.models() {
            // computed on a Dispatch thread (`offThePool`): a long computation on one of Swift
            // concurrency's two threads here starves the in-process servers of other suites
            let run = try await offThePool { try Self.resume(model, returns, timestamps, cuts: cuts) }
            #expect(run.differ == 0, "\(model.name): \(run.differ) bars differ after a resume")
            #expect(run.sameAtTheEnd, "\(model.name): the checkpoints differ at the end")
            #expect(run.count == returns.count)
            // the stored state: bounded by the windows, or every return for an expanding fit
            let late = try JSONDecoder().decode(MarginWalker.Checkpoint.self, from: try #require(run.written[3_100]))
            let earlier = try JSONDecoder().decode(
                MarginWalker.Checkpoint.self, from: try #require(run.written[2_800]))
            func counts(_ c: MarginWalker.Checkpoint) -> [Int] {
                [
                    c.variance.count, c.residuals.count, c.residualSums.count, c.returnSums.count, c.window.count,
                    c.floorWindow.count, c.stressedValues?.count ?? 0,
                ]
            }
            #expect(counts(late) == counts(earlier), "\(model.name): \(counts(earlier)) then \(counts(late))")
            if model.fitWindow == nil, case .garch = model.volatility {
                #expect(late.returns.count == 3_100)
            } else {
                #expect(late.returns.count == earlier.returns.count, "\(model.name)")
                #expect(late.returns.count <= max(model.fitWindow ?? 0, 250) + model.mpor + 1, "\(model.name)")
            }
        }
    }

    /// A checkpoint of another model, or one whose parts were cut, is refused by name.
    @Test func foreignOrCutCheckpointsAreRefused() throws {
        let series = try #require(Self.series)
        let models = try Self.models()
        var w = try MarginWalker(model: models[1])
        for (r, ts) in zip(series.returns.prefix(800), series.timestamps.dropFirst()) {
            _ = try w.step(r, timestamp: ts)
        }
        var c = w.checkpoint
        #expect(throws: MarginModelError.self) { _ = try MarginWalker(model: models[2], checkpoint: c) }
        c.residuals.removeLast()
        #expect { _ = try MarginWalker(model: models[1], checkpoint: c) } throws: { "\($0)".contains("checkpoint") }
    }
}
