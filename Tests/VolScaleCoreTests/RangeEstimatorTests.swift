import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// Range estimators against an independent numpy implementation (range-sp500.json) and a
/// hand-computed bar.
@Suite struct RangeEstimatorTests {
    static func bars() throws -> OHLCBars {
        let d = try TestData.sp500()
        return try OHLCBars(open: d.open, high: d.high, low: d.low, close: d.close)
    }

    @Test func rollingWindowsMatchNumpy() throws {
        let ref = try TestData.json("range-sp500.json")
        let window = try #require(ref["window"] as? Int)
        let bars = try Self.bars()
        let points = try #require(ref["rolling"] as? [[String: Double]])
        for p in points {
            let end = Int(p["barIndex"]!)
            for (est, key) in [
                (RangeEstimator.parkinson, "parkinson"), (.garmanKlass, "garmanKlass"),
                (.rogersSatchell, "rogersSatchell"), (.yangZhang, "yangZhang"),
            ] {
                let v = est.variance(bars, end: end, window: window).squareRoot()
                #expect(close(v, p[key]!, rel: 1e-12), "\(key) at \(end): \(v) vs \(p[key]!)")
            }
        }
    }

    @Test func fullSampleMatchesNumpy() throws {
        let ref = try #require(try TestData.json("range-sp500.json")["fullSample"] as? [String: Double])
        let bars = try Self.bars()
        for (est, key) in [
            (RangeEstimator.parkinson, "parkinson"), (.garmanKlass, "garmanKlass"),
            (.rogersSatchell, "rogersSatchell"), (.yangZhang, "yangZhang"),
        ] {
            #expect(close(try est.fullSample(bars).squareRoot(), ref[key]!, rel: 1e-11), "\(key)")
        }
    }

    /// One bar by hand: O=100, H=110, L=95, C=105.
    @Test func singleBarByHand() throws {
        let bars = try OHLCBars(open: [100, 100], high: [110, 110], low: [95, 95], close: [105, 105])
        let hl = log(110.0 / 95)
        let co = log(105.0 / 100)
        #expect(close(RangeEstimator.parkinson.variance(bars, end: 1, window: 2), hl * hl / (4 * log(2)), rel: 1e-14))
        #expect(
            close(
                RangeEstimator.garmanKlass.variance(bars, end: 1, window: 2),
                0.5 * hl * hl - (2 * log(2) - 1) * co * co, rel: 1e-14))
        let rs = log(110.0 / 105) * log(110.0 / 100) + log(95.0 / 105) * log(95.0 / 100)
        #expect(close(RangeEstimator.rogersSatchell.variance(bars, end: 1, window: 2), rs, rel: 1e-14))
    }

    /// The estimate attached to return t comes from the window ending at bar t.
    @Test func rollingPathHasNoLookAhead() throws {
        let bars = try Self.bars()
        let path = try RangeEstimator.parkinson.rolling(bars, window: 20)
        #expect(path.variance.count == bars.count - 1)
        #expect(path.variance[18] == nil)
        #expect(path.variance[19] == RangeEstimator.parkinson.variance(bars, end: 19, window: 20))
        let yz = try RangeEstimator.yangZhang.rolling(bars, window: 20)
        #expect(yz.variance[19] == nil && yz.variance[20] != nil)
        #expect(path.nextVariance == RangeEstimator.parkinson.variance(bars, end: bars.count - 1, window: 20))
    }

    @Test func badBarsAreRejectedWithIndexAndReason() {
        #expect(throws: VolatilityError.invalidBar(index: 1, reason: "high 90.0 below low 95.0")) {
            try OHLCBars(open: [100, 100], high: [110, 90], low: [95, 95], close: [105, 95])
        }
        #expect(throws: VolatilityError.invalidBar(index: 0, reason: "close 120.0 outside [low 95.0, high 110.0]")) {
            try OHLCBars(open: [100], high: [110], low: [95], close: [120])
        }
    }
}
