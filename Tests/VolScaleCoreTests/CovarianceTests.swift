import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

@Suite struct CovarianceTests {
    @Test func ewmaCovarianceMatchesNumpy() throws {
        let ref = try TestData.json("ewma-cov.json")
        let returns = try #require(ref["returns"] as? [[Double]])
        let expected = try #require(ref["nextCovariance"] as? [[Double]])
        let s = try EWMACovariance(lambda: 0.94).nextCovariance(returns)
        for i in 0..<2 { for j in 0..<2 { #expect(close(s[i, j], expected[i][j], rel: 1e-12)) } }
        // The diagonal is the univariate EWMA forecast.
        let uni = try EWMA(lambda: 0.94).filter(returns.map { $0[0] })
        #expect(close(s[0, 0], uni.nextVariance, rel: 1e-12))
        let c = s.correlation
        #expect(c[0, 0] == 1 && Swift.abs(c[0, 1]) < 1 && c[0, 1] == c[1, 0])
    }

    @Test func ledoitWolfMatchesNumpy() throws {
        let ref = try TestData.json("ledoit-wolf.json")
        let returns = try #require(ref["returns"] as? [[Double]])
        let r = try LedoitWolf().estimate(returns)
        #expect(close(r.shrinkage, ref["shrinkage"] as! Double, rel: 1e-10))
        #expect(r.shrinkage > 0 && r.shrinkage < 1)
        #expect(close(r.averageCorrelation, ref["averageCorrelation"] as! Double, rel: 1e-12))
        let corr = try #require(ref["correlation"] as? [[Double]])
        for i in 0..<6 { for j in 0..<6 { #expect(close(r.correlation[i, j], corr[i][j], rel: 1e-10, abs: 1e-14)) } }
    }

    @Test func raggedInputIsRejected() {
        #expect(throws: CovarianceError.raggedReturns(row: 1, expected: 2, got: 1)) {
            try EWMACovariance().nextCovariance([[0.1, 0.2], [0.1], [0.3, 0.1]])
        }
    }
}
