import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

@Suite struct EWMATests {
    @Test func matchesArchEWMAVariance() throws {
        let ref = try TestData.json("ewma-sp500.json")
        let refVol = try #require(ref["conditionalVolatility"] as? [Double])
        let path = try EWMA(lambda: 0.94).filter(try TestData.sp500Returns())
        #expect(path.variance.count == refVol.count)
        var worst = 0.0
        for (v, r) in zip(path.volatility, refVol) { worst = max(worst, relativeError(v!, r)) }
        #expect(worst <= 1e-9, "worst relative error \(worst)")
    }

    @Test func halfLifeMapsToLambda() throws {
        let e = try EWMA(halfLife: 11.2)
        #expect(close(e.lambda, pow(0.5, 1 / 11.2), rel: 1e-15))
        #expect(close(e.halfLife, 11.2, rel: 1e-12))
    }

    @Test func lambdaOutsideUnitIntervalIsRejected() {
        #expect(
            throws: VolatilityError.invalidParameter(
                name: "lambda", value: 1.0, reason: "must be strictly between 0 and 1")
        ) {
            try EWMA(lambda: 1.0)
        }
    }

    @Test func rollingUsesOnlyPastReturns() throws {
        let r: [Double] = [0.01, -0.02, 0.03, 0.0, -0.01, 0.02]
        let path = try RollingVolatility(window: 3).filter(r)
        #expect(path.variance[0] == nil && path.variance[2] == nil)
        // return 3 is forecast from returns 0...2: sample variance with ddof 1
        let m = (0.01 - 0.02 + 0.03) / 3
        let v = (pow(0.01 - m, 2) + pow(-0.02 - m, 2) + pow(0.03 - m, 2)) / 2
        #expect(close(path.variance[3]!, v, rel: 1e-14))
        let z = try RollingVolatility(window: 3, demean: false).filter(r)
        #expect(close(z.nextVariance, (0.0 + 0.0001 + 0.0004) / 3, rel: 1e-14))
    }
}
