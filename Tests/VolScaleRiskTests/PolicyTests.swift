import Foundation
import Testing
import VolScaleConfig
import VolScaleTestSupport

@testable import VolScaleRisk

/// The recommended policy (examples/policies/recommended.toml) and the controls it adds:
/// calibration from trailing coverage, the rise limit over a window, the corridor.
@Suite struct PolicyTests {
    static func recommended() throws -> MarginModel {
        let config = try MarginConfig.load(path: TestData.path("examples/policies/recommended.toml"))
        #expect(config.models.count == 1)
        return try #require(config.models.first)
    }

    /// The trailing rate and the multiplier follow the stated recursion, computed here
    /// independently: a = 1 - 2^(-1/halfLife), q <- (1-a) q + a e, k <- clamp(k e^{g(q - target)}).
    @Test func calibrationFollowsItsRecursion() throws {
        let c = try CoverageCalibration(target: 0.01, halfLife: 3, gain: 2, minimum: 0.8, maximum: 1.5)
        var state = CoverageCalibration.State(c)
        let outcomes = [true, false, false, true, true, false, false, false, false, false, false, false]
        let a = 1 - pow(2, -1.0 / 3)
        var q = 0.01
        var k = 1.0
        var sawMaximum = false
        for e in outcomes {
            state.observe(exceeded: e, c)
            q = (1 - a) * q + a * (e ? 1 : 0)
            k = min(max(k * exp(2 * (q - 0.01)), 0.8), 1.5)
            sawMaximum = sawMaximum || k == 1.5
            #expect(close(state.rate, q, rel: 1e-14))
            #expect(close(state.multiplier, k, rel: 1e-13))
        }
        #expect(sawMaximum)  // three exceedances in five push k to its bound
        // a long run without exceedances brings k down to its minimum, never below
        for _ in 0..<2000 { state.observe(exceeded: false, c) }
        #expect(state.multiplier == 0.8)
    }

    /// The rise limit takes the lowest of the last `riseBars` publications; the corridor
    /// the lowest and highest of all.
    @Test func riseLimitAndCorridor() throws {
        let c = try MarginControls(riseLimit: 0.5, riseBars: 3)
        var h = PublicationHistory(keep: 3)
        for v in [0.10, 0.30, 0.20, 0.25] { h.record(v) }
        // last three: 0.30, 0.20, 0.25 -> at most 1.5 x 0.20
        let r = c.apply(model: 0.50, floorValue: nil, history: h)
        #expect(close(r.rate, 0.30, rel: 1e-15) && r.binding == .riseLimit)
        #expect(c.apply(model: 0.29, floorValue: nil, history: h) == (0.29, .model))
        let k = try MarginControls(corridor: 2)
        // all publications: lowest 0.10, highest 0.30 -> within [0.15, 0.20]
        #expect(k.apply(model: 0.50, floorValue: nil, history: h) == (0.20, .corridorCap))
        #expect(k.apply(model: 0.05, floorValue: nil, history: h) == (0.15, .corridorFloor))
        #expect(k.apply(model: 0.18, floorValue: nil, history: h) == (0.18, .model))
        // the floor binds at its fraction
        let f = try MarginControls(floorFraction: 0.5)
        #expect(f.apply(model: 0.03, floorValue: 0.08, previous: nil) == (0.04, .floor))
        #expect(f.apply(model: 0.05, floorValue: 0.08, previous: nil) == (0.05, .model))
    }

    /// On the S&P 500 the policy's path keeps its promises by construction: no 5-bar rise
    /// above 50%, peak to trough at most 4; the calibration moves (it is not stuck at 1).
    @Test func pathControlsHoldOnTheSP500() throws {
        let model = try Self.recommended()
        let r = try TestData.sp500Returns()
        let path = try MarginEngine.run(model, returns: r, timestamps: (0..<r.count).map { Int64($0) * 86_400_000 })
        for side in Side.allCases {
            let m = path.side(side).margin
            #expect(m.count > 3000)
            let rises = (5..<m.count).map { i in m[i] / (m[(i - 5)..<i].min() ?? m[i]) - 1 }
            #expect((rises.max() ?? 1) <= 0.5 + 1e-12)
            #expect((m.max() ?? 0) / (m.min() ?? 1) <= 4 * (1 + 1e-12))
            let bindings = Set(path.side(side).binding)
            #expect(bindings.contains(.riseLimit) && bindings.contains(.model))
        }
    }

    /// No look-ahead: rewriting every return after bar 2,199 leaves every margin published
    /// up to that bar unchanged, calibration included (at MPOR 1 and 2).
    @Test func policyUsesNoFutureData() throws {
        let r = Array(try TestData.sp500Returns().prefix(2600))
        let ts = (0..<r.count).map { Int64($0) * 86_400_000 }
        for mpor in [1, 2] {
            let model = try Self.recommended().with(mpor: mpor)
            var changed = r
            for i in 2200..<r.count { changed[i] = -2.5 * r[i] + 0.001 }
            let a = try MarginEngine.run(model, returns: r, timestamps: ts)
            let b = try MarginEngine.run(model, returns: changed, timestamps: ts)
            let k = 2199 - a.startIndex
            #expect(k > 500)
            for side in Side.allCases {
                #expect(a.side(side).margin[...k] == b.side(side).margin[...k])
                #expect(a.side(side).margin[(k + 1)...] != b.side(side).margin[(k + 1)...])
            }
        }
    }

    /// A calibration is checked when built: a value out of range is refused with its
    /// configuration key, and a configuration file with one names the file and the table.
    @Test func calibrationIsValidatedWhenBuilt() {
        #expect(
            throws: MarginModelError.invalidControl(field: "calibration_gain", value: 0, reason: "must be in (0, 100]")
        ) {
            try CoverageCalibration(target: 0.01, halfLife: 70, gain: 0, minimum: 0.8, maximum: 1.5)
        }
        #expect(
            throws: MarginModelError.invalidControl(
                field: "calibration_target", value: 1, reason: "must be an exceedance rate in (0, 1)")
        ) {
            try CoverageCalibration(target: 1, halfLife: 70, gain: 0.5, minimum: 0.8, maximum: 1.5)
        }
        #expect(
            throws: MarginModelError.invalidControl(field: "calibration_max", value: 0.9, reason: "must be in [1, 100]")
        ) {
            try CoverageCalibration(target: 0.01, halfLife: 70, gain: 0.5, minimum: 0.8, maximum: 0.9)
        }
        let text = Self.fhsModel(controls: "calibration_target = 0.01\ncalibration_half_life = 0.5")
        do {
            _ = try MarginConfig.parse(text, path: "p.toml")
            Issue.record("a half-life of 0.5 publications was accepted")
        } catch {
            #expect(
                "\(error)".contains("p.toml")
                    && "\(error)".contains("calibration_half_life = 0.5: must be 1 to 1000000 publications"), "\(error)"
            )
        }
    }

    /// A configuration of one FHS model named "x" with these `[model.controls]` lines.
    static func fhsModel(controls: String) -> String {
        """
        [[model]]
        name = "x"
        method = "fhs"
        measure = "es"
        confidence = 0.975
        lookback = 500
        [model.controls]
        \(controls)
        """
    }

    @Test func calibrationKeysNeedATarget() throws {
        let text = Self.fhsModel(controls: "calibration_gain = 0.5")
        #expect(throws: ConfigError.self) { _ = try MarginConfig.parse(text, path: "p.toml") }
        do {
            _ = try MarginConfig.parse(text, path: "p.toml")
        } catch {
            #expect("\(error)".contains("calibration_gain needs calibration_target"))
        }
        #expect(
            throws: MarginModelError.invalidControl(field: "floor_fraction", value: 1.5, reason: "must be in (0, 1]")
        ) {
            try MarginControls(floorFraction: 1.5)
        }
        #expect(throws: MarginModelError.invalidControl(field: "corridor", value: 1, reason: "must exceed 1")) {
            try MarginControls(floorFraction: 0.5, corridor: 1)
        }
    }
}
