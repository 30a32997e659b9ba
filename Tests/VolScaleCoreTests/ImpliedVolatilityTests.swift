import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

@Suite struct ImpliedVolatilityTests {
    /// The forward formula against 50-digit mpmath prices, including prices of 1e-200.
    /// The tolerance is a few ulps times the condition number |d ln P / d ln K| (the
    /// error that the rounding of ln(F/K) alone must cause), plus 1e-14.
    @Test func blackPricesMatchHighPrecision() throws {
        let ref = try TestData.json("black76-mpmath.json")
        let points = try #require(ref["points"] as? [[String: Double]])
        #expect(points.count > 60)
        var worst = 0.0
        for p in points {
            let k = p["strike"]!
            let s = p["totalVol"]!
            for (type, key) in [(OptionType.call, "call"), (.put, "put")] {
                let ours = Black76.price(forward: 1, strike: k, volatility: s, expiry: 1, type: type)
                let err = relativeError(ours, p[key]!)
                let tolerance = 4 * Double.ulpOfOne * p[key + "Condition"]! + 1e-14
                worst = max(worst, err / tolerance)
                #expect(err <= tolerance, "K=\(k) s=\(s) \(key): \(ours) vs \(p[key]!)")
            }
        }
        #expect(worst <= 1)
    }

    /// Round trip price -> vol -> price over a 10,000+ point grid spanning deep ITM/OTM
    /// and maturities from one day to ten years.
    @Test func roundTripIsAccurateEverywhere() throws {
        let expiries = [1.0 / 365, 2.0 / 365, 7.0 / 365, 30.0 / 365, 0.25, 0.5, 1, 3, 5, 10]
        let vols = [0.01, 0.02, 0.05, 0.1, 0.15, 0.3, 0.45, 0.6, 1.0, 1.5, 2.0, 4.0]
        // strikes from deep ITM to deep OTM in units of standard deviations of ln(K/F)
        let moneyness = stride(from: -12.0, through: 12.0, by: 24.0 / 95).map { $0 }
        var count = 0
        var worst = 0.0
        var skipped = 0
        for t in expiries {
            for v in vols {
                for z in moneyness {
                    let s = v * t.squareRoot()
                    let k = 100 * exp(z * s)
                    for type in [OptionType.call, .put] {
                        let df = exp(-0.03 * t)
                        let p = Black76.price(
                            forward: 100, strike: k, volatility: v, expiry: t, discountFactor: df, type: type)
                        let intrinsic = df * (type == .call ? max(100 - k, 0) : max(k - 100, 0))
                        let maximum = df * (type == .call ? 100 : k)
                        // skipped: price equal to intrinsic or to the maximum in double precision
                        guard p > intrinsic, p < maximum, p > 1e-280 else {
                            skipped += 1
                            continue
                        }
                        let iv = try Black76.impliedVolatility(
                            price: p, forward: 100, strike: k, expiry: t, discountFactor: df, type: type)
                        let back = Black76.price(
                            forward: 100, strike: k, volatility: iv, expiry: t, discountFactor: df, type: type)
                        let err = relativeError(back, p)
                        worst = max(worst, err)
                        count += 1
                        #expect(err <= 1e-12, "T=\(t) v=\(v) K=\(k) \(type): price \(p) iv \(iv) back \(back)")
                    }
                }
            }
        }
        #expect(
            count >= 10_000, "grid has \(count) points (\(skipped) skipped: price equals intrinsic in double precision)"
        )
        #expect(worst <= 1e-12)
    }

    @Test func recoversVolatilityWhereItIsIdentified() throws {
        for v in [0.05, 0.2, 0.8, 3.0] {
            for k in [70.0, 95.0, 100.0, 105.0, 140.0] {
                let p = Black76.price(forward: 100, strike: k, volatility: v, expiry: 0.5, type: .call)
                // identified only where the time value is not lost beside the intrinsic value
                guard p - max(100 - k, 0) > 1e-6 * p else { continue }
                let iv = try Black76.impliedVolatility(price: p, forward: 100, strike: k, expiry: 0.5, type: .call)
                #expect(close(iv, v, rel: 1e-10), "K=\(k) v=\(v): \(iv)")
            }
        }
    }

    @Test func pricesOutsideNoArbitrageBoundsAreErrors() {
        #expect(throws: ImpliedVolatilityError.belowIntrinsic(price: 4, intrinsic: 5)) {
            try Black76.impliedVolatility(price: 4, forward: 105, strike: 100, expiry: 1, type: .call)
        }
        #expect(throws: ImpliedVolatilityError.atOrAboveMaximum(price: 100, maximum: 100)) {
            try Black76.impliedVolatility(price: 100, forward: 100, strike: 90, expiry: 1, type: .call)
        }
        #expect(throws: ImpliedVolatilityError.atOrAboveMaximum(price: 120, maximum: 110)) {
            try Black76.impliedVolatility(price: 120, forward: 100, strike: 110, expiry: 1, type: .put)
        }
        #expect(throws: ImpliedVolatilityError.invalidInput(field: "expiry", value: 0)) {
            try Black76.impliedVolatility(price: 1, forward: 100, strike: 110, expiry: 0, type: .put)
        }
        #expect(throws: ImpliedVolatilityError.invalidInput(field: "price", value: .infinity)) {
            try Black76.impliedVolatility(price: .infinity, forward: 100, strike: 110, expiry: 1, type: .put)
        }
    }

    @Test func priceAtIntrinsicHasZeroVolatility() throws {
        #expect(try Black76.impliedVolatility(price: 5, forward: 105, strike: 100, expiry: 1, type: .call) == 0)
    }

    @Test func normalQuantileInvertsTheCDF() {
        for p in [1e-300, 1e-20, 1e-5, 0.01, 0.02425, 0.3, 0.5, 0.7, 0.975, 0.99, 1 - 1e-12] {
            let x = Special.normalQuantile(p)
            let back = p < 0.5 ? Special.normalCDF(x) : 1 - Special.normalCDF(-x)
            // Phi's condition number at x is about x^2: allow that many ulps
            #expect(close(back, p, rel: 4 * Double.ulpOfOne * max(1, x * x)), "p=\(p)")
        }
        #expect(close(Special.normalQuantile(0.99), 2.3263478740408408, rel: 1e-15))  // scipy.stats.norm.ppf(0.99)
    }
}
