import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore
@testable import VolScaleRisk

@Suite struct MarginEngineTests {
    /// Empirical tail: the quantile rule stated in the docs.
    @Test func empiricalTailRule() {
        // 100 equally weighted losses 1...100, alpha 0.95: tail = the 5 largest.
        var c = (1...100).map { (loss: Double($0), weight: 0.01) }
        let t = EmpiricalTail.estimate(candidates: &c, totalWeight: 1, confidence: 0.95)
        #expect(t.valueAtRisk == 96)
        #expect(close(t.expectedShortfall, (96.0 + 97 + 98 + 99 + 100) / 5, rel: 1e-12))
        // 0.975 over 100: tail mass 2.5 scenarios -> 100, 99 and half of 98
        var d = (1...100).map { (loss: Double($0), weight: 0.01) }
        let u = EmpiricalTail.estimate(candidates: &d, totalWeight: 1, confidence: 0.975)
        #expect(u.valueAtRisk == 98)
        #expect(close(u.expectedShortfall, (100.0 + 99 + 0.5 * 98) / 2.5, rel: 1e-12))
    }

    @Test func parametricNormalMatchesClosedForm() {
        let f = ParametricTail.factors(confidence: 0.99, nu: nil)
        #expect(close(f.quantile, 2.3263478740408408, rel: 1e-14))  // scipy norm.ppf(0.99)
        #expect(close(f.es, 2.6652142203457778, rel: 1e-12))  // norm.pdf(z)/0.01
        let long = ParametricTail.estimate(sigma: 0.02, horizon: 4, factors: f, side: .long)
        #expect(close(long.valueAtRisk, 1 - exp(-2.3263478740408408 * 0.04), rel: 1e-13))
        let short = ParametricTail.estimate(sigma: 0.02, horizon: 4, factors: f, side: .short)
        #expect(short.valueAtRisk > long.valueAtRisk)  // exp is convex: short tail is larger in loss terms
    }

    static func sp500() throws -> (returns: [Double], timestamps: [Int64]) {
        let text = try String(contentsOfFile: TestData.data("sp500-daily.csv"), encoding: .utf8)
        var closes: [Double] = []
        for line in text.split(separator: "\n").dropFirst() { closes.append(Double(line.split(separator: ",")[4])!) }
        let r = (1..<closes.count).map { log(closes[$0] / closes[$0 - 1]) }
        return (r, (0..<r.count).map { Int64($0) * 86_400_000 })
    }

    /// The margin set at bar t uses no return after t: changing the future leaves it alone.
    @Test func noLookAhead() throws {
        let (r, ts) = try Self.sp500()
        let slice = Array(r.prefix(1600))
        let tsl = Array(ts.prefix(1600))
        let model = try MarginModel(
            name: "fhs", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
            confidence: 0.99, mpor: 2, lookback: 500,
            controls: MarginControls(buffer: 0.25, stressedWeight: 0.25, floorLookback: 1000))
        let a = try MarginEngine.run(model, returns: slice, timestamps: tsl)
        var changed = slice
        for i in 1200..<1600 { changed[i] *= -3 }
        let b = try MarginEngine.run(model, returns: changed, timestamps: tsl)
        let k = 1199 - a.startIndex  // publication made at return 1199
        #expect(a.long.margin[...k] == b.long.margin[...k])
        #expect(a.short.margin[...k] == b.short.margin[...k])
        #expect(a.sigma[k + 1] != b.sigma[k + 1])  // ...while the next one sees the change
    }

    /// FHS with h = 1 and no controls is the empirical quantile of sigma_{t+1} z by hand.
    @Test func fhsByHand() throws {
        let (r, ts) = try Self.sp500()
        let slice = Array(r.prefix(700))
        let model = try MarginModel(
            name: "fhs", volatility: .ewma(lambda: 0.94), measure: .valueAtRisk, method: .fhs,
            confidence: 0.99, mpor: 1, lookback: 500)
        let path = try MarginEngine.run(model, returns: slice, timestamps: Array(ts.prefix(700)))
        let ewma = try EWMA(lambda: 0.94).filter(slice)
        let t = 650
        let z = (t - 499...t).map { slice[$0] / ewma.variance[$0]!.squareRoot() }.sorted()
        let sigma = ewma.variance[t + 1]!.squareRoot()
        // 500 * 0.01 = 5: VaR is the 5th worst
        let expected = 1 - exp(sigma * z[4])
        #expect(close(path.long.margin[t - path.startIndex], expected, rel: 1e-12))
        #expect(path.startIndex == 75 + 500 - 1)
    }

    /// A model and its controls are checked when built; the error names the model, the field
    /// and the reason (a control alone: its configuration key).
    @Test func invalidFieldsAreNamed() throws {
        func model(confidence: Double = 0.99, mpor: Int = 2) throws(MarginModelError) -> MarginModel {
            try MarginModel(
                name: "x", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
                confidence: confidence, mpor: mpor, lookback: 500)
        }
        #expect(
            throws: MarginModelError.invalidField(
                model: "x", field: "confidence", value: 1.2, reason: "must be in (0.5, 1), e.g. 0.99")
        ) { try model(confidence: 1.2) }
        #expect(
            throws: MarginModelError.invalidField(
                model: "x", field: "mpor", value: -1, reason: "must be a positive number of bars")
        ) { try model(mpor: -1) }
        #expect(
            throws: MarginModelError.invalidControl(
                field: "buffer", value: 0.1, reason: "EMIR Art. 28 requires at least 0.25")
        ) { try MarginControls(buffer: 0.1) }
        #expect(
            throws: MarginModelError.invalidControl(
                field: "hard_cap", value: 0.05, reason: "must be positive and above hard_floor")
        ) {
            try MarginControls(hardFloor: 0.05, hardCap: 0.05)
        }
        // how the controls fit the model is the model's check
        #expect(
            throws: MarginModelError.invalidField(
                model: "x", field: "floor_lookback", value: 2, reason: "must exceed mpor")
        ) {
            try model().with(controls: MarginControls(floorLookback: 2))
        }
        #expect(
            throws: MarginModelError.invalidField(
                model: "x", field: "maintenance_confidence", value: 0.995, reason: "must be in (0.5, confidence)")
        ) {
            try model().with(controls: MarginControls(maintenance: .confidence(0.995)))
        }
        // the stressed window matters only with a stressed weight: an MPOR of 250 bars is a valid model
        #expect(try model(mpor: 250).mpor == 250)
        #expect(
            throws: MarginModelError.invalidField(
                model: "x", field: "stressed_window", value: 250, reason: "must exceed mpor")
        ) {
            try model(mpor: 250).with(controls: MarginControls(stressedWeight: 0.25))
        }
    }

    @Test func lookbackLongerThanDataIsAnError() throws {
        let (r, ts) = try Self.sp500()
        let m = try MarginModel(
            name: "x", volatility: .ewma(lambda: 0.94), measure: .expectedShortfall, method: .fhs,
            confidence: 0.99, mpor: 2, lookback: 6000)
        #expect(
            throws: MarginModelError.invalidField(
                model: "x", field: "lookback", value: 6000, reason: "longer than the data (5030 returns)")
        ) {
            try MarginEngine.run(m, returns: r, timestamps: ts)
        }
        let g = try m.with(lookback: 4990)
        #expect(throws: MarginModelError.tooFewObservations(model: "x", needed: 75 + 4990 - 1 + 1 + 2, got: 5030)) {
            try MarginEngine.run(g, returns: r, timestamps: ts)
        }
    }

    /// The buffer absorbs a sharp rise: the published rate rises less than the model rate,
    /// and never falls below it.
    @Test func bufferIsDrawnDownWhenMarginRises() throws {
        let c = try MarginControls(buffer: 0.25)
        let calm = c.apply(model: 0.10, floorValue: nil, previous: nil)
        #expect(close(calm.rate, 0.125, rel: 1e-15) && calm.binding == .bufferFull)
        let rise = c.apply(model: 0.11, floorValue: nil, previous: calm.rate)
        #expect(rise.rate == 0.125 && rise.binding == .bufferDrawn)
        let spike = c.apply(model: 0.20, floorValue: nil, previous: rise.rate)
        #expect(spike.rate == 0.20 && spike.binding == .bufferExhausted)
        let back = c.apply(model: 0.10, floorValue: nil, previous: spike.rate)
        #expect(close(back.rate, 0.125, rel: 1e-15) && back.binding == .bufferFull)
        let s = try MarginControls(speedLimitDown: 0.1, hardCap: 0.3)
        let slowed = s.apply(model: 0.05, floorValue: nil, previous: 0.1)
        #expect(close(slowed.rate, 0.09, rel: 1e-15) && slowed.binding == .speedLimitDown)
        #expect(s.apply(model: 0.5, floorValue: nil, previous: 0.4) == (0.3, .hardCap))
        #expect(s.apply(model: 0.05, floorValue: 0.08, previous: nil) == (0.08, .floor))
    }
}

@Suite struct ImpliedAndParametricTests {
    /// sigma = max(realised, w * implied), and the path records when implied bound.
    @Test func impliedVolatilityBindsWhenHigher() throws {
        let (r, ts) = try MarginEngineTests.sp500()
        let slice = Array(r.prefix(400))
        let m = try MarginModel(
            name: "p", volatility: .ewma(lambda: 0.94), measure: .valueAtRisk, method: .parametric,
            confidence: 0.99, mpor: 1, lookback: 100, impliedWeight: 0.8)
        let implied: [Double?] = (0..<400).map { $0 % 2 == 0 ? 0.05 : nil }
        let a = try MarginEngine.run(m, returns: slice, timestamps: Array(ts.prefix(400)), implied: implied)
        let b = try MarginEngine.run(
            m.with(impliedWeight: .some(nil)), returns: slice, timestamps: Array(ts.prefix(400)), implied: implied)
        for k in 0..<a.count {
            let t = a.startIndex + k
            if t % 2 == 0 && 0.8 * 0.05 > b.sigma[k] {
                #expect(a.sigma[k] == 0.8 * 0.05 && a.impliedBound[k])
                #expect(a.long.margin[k] > b.long.margin[k])
            } else {
                #expect(a.sigma[k] == b.sigma[k] && !a.impliedBound[k])
            }
        }
    }

    /// Parametric Student-t with a given nu uses the unit-variance t quantile.
    @Test func parametricStudentT() throws {
        let (r, ts) = try MarginEngineTests.sp500()
        let m = try MarginModel(
            name: "t", volatility: .ewma(lambda: 0.94), measure: .valueAtRisk, method: .parametric,
            nu: 5, confidence: 0.99, mpor: 1, lookback: 100)
        let p = try MarginEngine.run(m, returns: Array(r.prefix(300)), timestamps: Array(ts.prefix(300)))
        let q = (try StudentT(nu: 5)).standardizedQuantile(0.99)
        #expect(close(p.long.modelMargin[0], 1 - exp(-q * p.sigma[0]), rel: 1e-13))
        #expect(close(q, 3.36493 * sqrt(3.0 / 5), rel: 1e-5))  // t_5 ppf(0.99) = 3.36493
    }
}
