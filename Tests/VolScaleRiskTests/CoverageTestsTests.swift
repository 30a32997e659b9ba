import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleRisk

@Suite struct CoverageTestsTests {
    /// Against the statistics written out independently and scipy's chi-square p-values.
    @Test func kupiecAndChristoffersenMatchScipy() throws {
        let cases = try #require(try TestData.json("coverage-tests.json")["cases"] as? [[String: Any]])
        for c in cases {
            let hits = (c["hits"] as! [Int]).map { $0 == 1 }
            let alpha = c["confidence"] as! Double
            let x = c["exceedances"] as! Int
            let k = CoverageTests.kupiec(exceedances: x, observations: hits.count, confidence: alpha)
            let ch = CoverageTests.christoffersen(hits, confidence: alpha)
            for (ours, key) in [
                (k, "kupiec"), (ch.independence, "independence"), (ch.conditionalCoverage, "conditionalCoverage"),
            ] {
                let ref = c[key] as! [String: Double]
                #expect(
                    close(ours.statistic, ref["statistic"]!, rel: 1e-10, abs: 1e-12),
                    "\(key) statistic \(ours.statistic) vs \(ref["statistic"]!)")
                #expect(
                    close(ours.pValue, ref["pValue"]!, rel: 1e-9, abs: 1e-15),
                    "\(key) p \(ours.pValue) vs \(ref["pValue"]!)")
            }
        }
    }

    /// Hand check: 10 exceedances in 1000 at 99% is exactly the expected rate: LR = 0.
    @Test func kupiecIsZeroAtTheExpectedRate() {
        let k = CoverageTests.kupiec(exceedances: 10, observations: 1000, confidence: 0.99)
        #expect(Swift.abs(k.statistic) < 1e-12 && Swift.abs(k.pValue - 1) < 1e-12)
        // 0 exceedances: LR = -2 n ln(1 - p) = 2000 * -ln(0.99)
        let z = CoverageTests.kupiec(exceedances: 0, observations: 1000, confidence: 0.99)
        #expect(close(z.statistic, -2000 * log(0.99), rel: 1e-13))
    }

    @Test func trafficLightZonesOnConstructedSequences() {
        // 99%, 250-bar windows: Basel zones green 0-4, yellow 5-9, red 10+.
        let calm = [Bool](repeating: false, count: 300)
        let t0 = CoverageTests.trafficLight(calm, confidence: 0.99)
        #expect(t0.greenMax == 4 && t0.yellowMax == 9)
        #expect(t0.green == 51 && t0.yellow == 0 && t0.red == 0 && t0.worst == .green)
        // 5 exceedances at bars 100..104: windows containing all five are yellow.
        var five = calm
        for i in 100..<105 { five[i] = true }
        let t5 = CoverageTests.trafficLight(five, confidence: 0.99)
        // windows [s, s+249] contain 100..104 iff s <= 100 and s + 249 >= 104, s in 0...50: all 51
        #expect(t5.yellow == 51 && t5.green == 0 && t5.worst == .yellow && t5.maxExceedances == 5)
        // 10 exceedances at bars 0..9 of 260: windows starting at 0 are red, later ones lose them.
        var ten = [Bool](repeating: false, count: 260)
        for i in 0..<10 { ten[i] = true }
        let t10 = CoverageTests.trafficLight(ten, confidence: 0.99)
        // start s has 10 - s exceedances for s <= 10: s=0 red (10); s=1..5 yellow (9..5); s=6..10 green (4..0)
        #expect(t10.red == 1 && t10.yellow == 5 && t10.green == 5 && t10.worst == .red)
    }

    @Test func procyclicalityMetrics() {
        let m = [0.10, 0.12, 0.09, 0.18, 0.18, 0.15]
        let p = Procyclicality(margins: m)
        #expect(close(p.peakToTrough, 0.18 / 0.09, rel: 1e-15))
        #expect(close(p.maxIncrease1, 0.18 / 0.09 - 1, rel: 1e-15))
        #expect(close(p.maxIncrease5, 0.15 / 0.10 - 1, rel: 1e-15))
        #expect(p.maxIncrease30.isNaN)
        #expect(close(p.averageMargin, m.reduce(0, +) / 6, rel: 1e-15))
    }
}
