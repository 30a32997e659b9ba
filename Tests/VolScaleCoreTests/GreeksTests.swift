import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// Black-76 Greeks against central finite differences of the price, in the USD view and in the
/// coin view of a coin-settled option (value V/F, delta F d(V/F)/dF).
@Suite struct GreeksTests {
    let cases: [(f: Double, k: Double, v: Double, t: Double, type: OptionType)] = [
        (9000, 11000, 0.8, 35.0 / 365, .call), (9000, 7500, 1.0, 35.0 / 365, .put),
        (9000, 9000, 0.6, 1.0 / 365, .call), (100, 80, 0.25, 2, .put), (100, 130, 0.4, 0.5, .call),
    ]

    @Test func usdGreeksAreDerivativesOfThePrice() {
        for c in cases {
            let g = Black76.greeks(forward: c.f, strike: c.k, volatility: c.v, expiry: c.t, type: c.type)
            func p(_ f: Double = 0, _ v: Double = 0, _ t: Double = 0) -> Double {
                Black76.price(forward: c.f + f, strike: c.k, volatility: c.v + v, expiry: c.t + t, type: c.type)
            }
            let hf = c.f * 1e-4
            let hv = 1e-5
            let ht = c.t * 1e-5
            #expect(close(g.price, p(), rel: 1e-15))
            #expect(close(g.delta, (p(hf) - p(-hf)) / (2 * hf), rel: 1e-6, abs: 1e-9), "delta \(c)")
            #expect(close(g.gamma, (p(hf) - 2 * p() + p(-hf)) / (hf * hf), rel: 1e-4), "gamma \(c)")
            #expect(close(g.vega, (p(0, hv) - p(0, -hv)) / (2 * hv) / 100, rel: 1e-6), "vega \(c)")
            #expect(close(g.theta, -(p(0, 0, ht) - p(0, 0, -ht)) / (2 * ht) / 365, rel: 1e-5), "theta \(c)")
        }
    }

    @Test func coinGreeksOfACoinSettledOptionAreDerivativesOfItsCoinValue() {
        for c in cases {
            let coin = Black76.greeks(forward: c.f, strike: c.k, volatility: c.v, expiry: c.t, type: c.type)
                .inCoin(forward: c.f, settlement: .coin)
            func value(_ f: Double) -> Double {
                Black76.price(forward: f, strike: c.k, volatility: c.v, expiry: c.t, type: c.type) / f
            }
            func exposure(_ f: Double) -> Double {
                let h = f * 1e-5
                return f * (value(f + h) - value(f - h)) / (2 * h)
            }
            let hf = c.f * 1e-4
            #expect(close(coin.price, value(c.f), rel: 1e-15))
            #expect(close(coin.delta, exposure(c.f), rel: 1e-6, abs: 1e-9), "delta \(c)")
            #expect(
                close(coin.gamma, (exposure(c.f + hf) - exposure(c.f - hf)) / (2 * hf), rel: 1e-3, abs: 1e-12),
                "gamma \(c)")
            // a long call's coin delta is below its Black delta by its coin premium (Deribit's adjusted delta)
            let usd = Black76.greeks(forward: c.f, strike: c.k, volatility: c.v, expiry: c.t, type: c.type)
            #expect(close(coin.delta, usd.delta - usd.price / c.f, rel: 1e-14, abs: 1e-15))
        }
    }

    @Test func expiredOrZeroVolatilityGivesIntrinsicDelta() {
        let itm = Black76.greeks(forward: 110, strike: 100, volatility: 0, expiry: 1, type: .call)
        #expect(itm.price == 10 && itm.delta == 1 && itm.gamma == 0 && itm.vega == 0)
        let otmPut = Black76.greeks(forward: 110, strike: 100, volatility: 0.3, expiry: 0, type: .put)
        #expect(otmPut.price == 0 && otmPut.delta == 0)
    }
}
