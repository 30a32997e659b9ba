import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// Student's t against scipy.stats (fixture student-t.json).
@Suite struct StudentTTests {
    @Test func quantileCDFAndPDFMatchScipy() throws {
        let ref = try TestData.json("student-t.json")
        let points = try #require(ref["points"] as? [[String: Double]])
        for p in points {
            let t = try StudentT(nu: p["nu"]!)
            let q = t.quantile(p["p"]!)
            #expect(
                close(q, p["quantile"]!, rel: 1e-11, abs: 1e-14),
                "nu \(p["nu"]!) p \(p["p"]!): \(q) vs \(p["quantile"]!)")
            #expect(close(t.cdf(p["quantile"]!), p["cdfAtQuantile"]!, rel: 1e-12), "cdf nu \(p["nu"]!) p \(p["p"]!)")
            #expect(close(t.pdf(p["quantile"]!), p["pdfAtQuantile"]!, rel: 1e-12))
        }
    }

    @Test func standardizedTailMatchesNumericalIntegration() throws {
        let ref = try TestData.json("student-t.json")
        let rows = try #require(ref["expectedShortfall"] as? [[String: Double]])
        for r in rows {
            let t = try StudentT(nu: r["nu"]!)
            #expect(close(t.standardizedQuantile(r["alpha"]!), r["standardizedQuantile"]!, rel: 1e-11))
            #expect(
                close(t.standardizedExpectedShortfall(r["alpha"]!), r["standardizedES"]!, rel: 1e-9),
                "nu \(r["nu"]!) alpha \(r["alpha"]!)")
        }
    }

    /// Degrees of freedom are checked when the distribution is built.
    @Test func degreesOfFreedomAreValidated() {
        for nu in [0.0, -1, .nan, .infinity] {
            #expect(throws: VolatilityError.self, "nu \(nu)") { try StudentT(nu: nu) }
        }
        #expect(
            throws: VolatilityError.invalidParameter(
                name: "nu", value: 2, reason: "degrees of freedom must be finite and above 2")
        ) {
            try StudentT(nu: 2, standardized: true)
        }
        #expect((try? StudentT(nu: 1.5)) != nil)
    }
}
