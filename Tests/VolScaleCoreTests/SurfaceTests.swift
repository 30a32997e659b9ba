import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// SVI smiles and surfaces: the density function against Breeden-Litzenberger on Black-76
/// prices, the published example of butterfly arbitrage, fits of a known smile, calendar checks
/// and the time interpolation.
@Suite struct SurfaceTests {
    let smooth = try! SVISlice(a: 0.04, b: 0.4, rho: -0.4, m: 0.05, sigma: 0.2)

    /// g(k) is the density of ln(K/F) up to known factors: p(K) = g(k) / (K sqrt(2 pi w)) exp(-d2^2/2)
    /// with d2 = -k/sqrt(w) - sqrt(w)/2. Breeden-Litzenberger gives p(K) = d2C/dK2 from the prices
    /// of the smile itself (central second differences, F = 1, T = 0.5).
    @Test func densityMatchesSecondDifferenceOfPrices() {
        let t = 0.5
        func call(_ strike: Double) -> Double {
            let v = (smooth.totalVariance(Foundation.log(strike)) / t).squareRoot()
            return Black76.price(forward: 1, strike: strike, volatility: v, expiry: t, type: .call)
        }
        for k in stride(from: -0.8, through: 0.8, by: 0.2) {
            let strike = Foundation.exp(k)
            let h = 1e-3
            let bl = (call(strike + h) - 2 * call(strike) + call(strike - h)) / (h * h)
            let w = smooth.totalVariance(k)
            let d2 = -k / w.squareRoot() - w.squareRoot() / 2
            let fromG = smooth.density(k) / (strike * (2 * Double.pi * w).squareRoot()) * Foundation.exp(-d2 * d2 / 2)
            #expect(close(bl, fromG, rel: 1e-5), "k = \(k): \(bl) vs \(fromG)")
        }
    }

    /// Gatheral and Jacquier (2014), "Arbitrage-free SVI volatility surfaces", section 2: the raw SVI
    /// (a, b, m, rho, sigma) = (-0.0410, 0.1331, 0.3586, 0.3060, 0.4153) has a negative density
    /// (g < 0 around k = 0.9), a butterfly arbitrage; our smooth slice has none.
    @Test func publishedExampleHasButterflyArbitrage() throws {
        let gj = try SVISlice(a: -0.0410, b: 0.1331, rho: 0.3060, m: 0.3586, sigma: 0.4153)
        let worst = gj.butterflyMinimum(over: -1.5...1.5)
        #expect(worst.g < -0.03)
        #expect(worst.k > 0.8 && worst.k < 1.0)
        #expect(smooth.butterflyMinimum(over: -3...3).g > 0)
        // a wing steeper than Lee's bound is caught even outside the range
        let steep = try SVISlice(a: 0.01, b: 1.5, rho: 0.5, m: 0, sigma: 0.1)
        #expect(steep.butterflyMinimum(over: -0.1...0.1).g == -.infinity)
    }

    @Test func invalidParametersAreRejected() {
        #expect(throws: SurfaceError.self) { try SVISlice(a: 0.04, b: 0.1, rho: 1, m: 0, sigma: 0.1) }
        #expect(throws: SurfaceError.self) { try SVISlice(a: 0.04, b: -0.1, rho: 0, m: 0, sigma: 0.1) }
        #expect(throws: SurfaceError.self) { try SVISlice(a: 0.04, b: 0.1, rho: 0, m: 0, sigma: 0) }
        // min variance < 0
        #expect(throws: SurfaceError.self) { try SVISlice(a: -0.05, b: 0.1, rho: 0, m: 0, sigma: 0.1) }
        #expect(throws: SurfaceError.self) { try SVISlice(a: .nan, b: 0.1, rho: 0, m: 0, sigma: 0.1) }
        #expect(throws: SurfaceError.self) { try SmileQuote(strike: 100, bid: 0.6, ask: 0.5) }
        #expect(throws: SurfaceError.self) { try SmileInput(expiry: 0, forward: 100, quotes: []) }
    }

    /// Quotes made from a known smile (mid exact, spread 2 vol points): the fit reproduces the
    /// smile at every strike to 1e-4 and puts every quote inside its spread.
    @Test func fitRecoversAKnownSmile() throws {
        let truth = try SVISlice(a: 0.01, b: 0.08, rho: -0.3, m: 0.02, sigma: 0.15)
        let t = 0.25
        let f = 100.0
        let quotes = try stride(from: 60.0, through: 160.0, by: 4).map { k -> SmileQuote in
            let v = (truth.totalVariance(Foundation.log(k / f)) / t).squareRoot()
            return try SmileQuote(strike: k, bid: v - 0.01, ask: v + 0.01)
        }
        let fit = try SurfaceFitter.fit([try SmileInput(expiry: t, forward: f, quotes: quotes)])
        let slice = try #require(fit.surface.slices.first)
        for q in quotes {
            let v = (truth.totalVariance(Foundation.log(q.strike / f)) / t).squareRoot()
            #expect(abs(slice.impliedVolatility(strike: q.strike) - v) < 1e-4, "strike \(q.strike)")
        }
        #expect(fit.statistics[0].withinBidAsk == 1)
        #expect(fit.statistics[0].rmse < 0.01)
        #expect(fit.surface.arbitrage(over: fit.checkRange).arbitrageFree)
    }

    /// Too few quotes: the expiry is skipped with its reason, not fitted on guesswork.
    @Test func sparseExpiryIsSkippedWithReason() throws {
        let q = try [90.0, 100, 110].map { try SmileQuote(strike: $0, bid: 0.5, ask: 0.55) }
        let full = try stride(from: 70.0, through: 130, by: 5).map { try SmileQuote(strike: $0, bid: 0.5, ask: 0.55) }
        let fit = try SurfaceFitter.fit([
            try SmileInput(expiry: 0.1, forward: 100, quotes: q),
            try SmileInput(expiry: 0.2, forward: 100, quotes: full),
        ])
        #expect(fit.surface.slices.map(\.expiry) == [0.2])
        #expect(fit.skipped.count == 1)
        #expect(fit.skipped.first?.reason == .tooFewQuotes(expiry: 0.1, usable: 3, needed: SurfaceFitter.minimumQuotes))
    }

    /// Between expiries the total variance is linear in T at fixed k; before the first, the first
    /// smile's volatility; a later smile below an earlier one is a calendar arbitrage.
    @Test func interpolationAndCalendarCheck() throws {
        let early = try SurfaceSlice(
            expiry: 0.1, forward: 100, smile: SVISlice(a: 0.004, b: 0.02, rho: -0.2, m: 0, sigma: 0.1))
        let late = try SurfaceSlice(
            expiry: 0.3, forward: 102, smile: SVISlice(a: 0.015, b: 0.05, rho: -0.2, m: 0, sigma: 0.1))
        let surface = try VolatilitySurface(slices: [early, late])
        let k = 0.1
        let mid = surface.totalVariance(k: k, expiry: 0.15)  // a quarter of the way
        #expect(close(mid, 0.75 * early.smile.totalVariance(k) + 0.25 * late.smile.totalVariance(k), rel: 1e-14))
        #expect(close(surface.forward(expiry: 0.15), 100.5, rel: 1e-14))
        let before = surface.impliedVolatility(strike: 100 * Foundation.exp(k), expiry: 0.05)
        #expect(close(before, (early.smile.totalVariance(k) / 0.1).squareRoot(), rel: 1e-14))
        #expect(surface.arbitrage(over: -1...1).arbitrageFree)
        // a later smile with a lower level crosses the earlier one
        let crossing = try SurfaceSlice(
            expiry: 0.3, forward: 102, smile: SVISlice(a: 0.001, b: 0.05, rho: -0.2, m: 0, sigma: 0.1))
        let bad = try VolatilitySurface(slices: [early, crossing]).arbitrage(over: -1...1)
        #expect(!bad.calendarFree)
        #expect(bad.butterflyFree)
        #expect(throws: SurfaceError.self) { try VolatilitySurface(slices: [late, early]) }
    }
}
