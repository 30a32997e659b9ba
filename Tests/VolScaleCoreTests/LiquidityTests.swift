import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// Liquidity measures against an independent numpy computation (scripts/make_fixtures.py,
/// `liquidity`): sliding windows over the whole file, no running sums.
@Suite struct LiquidityTests {
    func check(_ fixture: String) throws {
        let f = try TestData.json(fixture)
        let file = try #require(f["file"] as? String)
        let window = try #require(f["window"] as? Int)
        let quote = try #require(f["volumeUnit"] as? String) == "quote"
        let overnight = try #require(f["overnightAdjusted"] as? Bool)
        let cols = try TestData.columns(file)
        let close = try #require(cols["close"])
        let volume = try #require(cols["volume"])
        let dollarVolume = quote ? volume : zip(volume, close).map { $0 * $1 }
        let points = try LiquidityTracker.measures(
            high: try #require(cols["high"]), low: try #require(cols["low"]), close: close,
            dollarVolume: dollarVolume,
            settings: LiquidityWindow(window: window, overnightAdjusted: overnight))
        let index = try #require(f["index"] as? [Int])
        let adv = try #require(f["adv"] as? [Double])
        let spread = try #require(f["spread"] as? [Double])
        let amihud = try #require(f["amihud"] as? [Any])
        #expect(points.map(\.index) == index)
        var worst = (adv: 0.0, amihud: 0.0, spread: 0.0)
        for (i, p) in points.enumerated() {
            worst.adv = max(worst.adv, relativeError(p.adv, adv[i]))
            if let expected = amihud[i] as? Double {
                let got = try #require(p.amihud)
                worst.amihud = max(worst.amihud, relativeError(got, expected))
            } else {
                #expect(p.amihud == nil, "bar \(p.index): no traded bar in the window, so no Amihud value")
            }
            // zero spreads (every two-bar estimate floored) compare absolutely
            worst.spread = max(worst.spread, spread[i] == 0 && p.spread == 0 ? 0 : relativeError(p.spread, spread[i]))
        }
        #expect(worst.adv <= 1e-9, "ADV worst relative error \(worst.adv)")
        #expect(worst.amihud <= 1e-9, "Amihud worst relative error \(worst.amihud)")
        #expect(worst.spread <= 1e-9, "spread worst relative error \(worst.spread)")
    }

    @Test func bitcoinDailyQuoteVolume() throws { try check("liquidity-btc.json") }

    @Test func sp500WithOvernightAdjustment() throws { try check("liquidity-sp500.json") }

    /// The paper's two-day estimator by hand: H/L of 101/99 then 101.2/99.2 give
    /// beta = ln(101/99)^2 + ln(101.2/99.2)^2, gamma = ln(101.2/99)^2.
    @Test func corwinSchultzByHand() throws {
        let a = try LiquidityBar(high: 101, low: 99, close: 100, dollarVolume: 1)
        let b = try LiquidityBar(high: 101.2, low: 99.2, close: 101, dollarVolume: 1)
        let l1 = Foundation.log(101.0 / 99)
        let l2 = Foundation.log(101.2 / 99.2)
        let lg = Foundation.log(101.2 / 99)
        let beta = l1 * l1 + l2 * l2
        let gamma = lg * lg
        let k = 3 - 2 * 2.0.squareRoot()
        let alpha = ((2 * beta).squareRoot() - beta.squareRoot()) / k - (gamma / k).squareRoot()
        let expected = max(0, 2 * (Foundation.exp(alpha) - 1) / (1 + Foundation.exp(alpha)))
        #expect(expected > 0)
        #expect(close(LiquidityTracker.corwinSchultz(a, b, overnightAdjusted: false), expected, rel: 1e-14))
        // a bar whose range is far outside the previous one gives a negative estimate: zero
        let c = try LiquidityBar(high: 150.1, low: 150, close: 150, dollarVolume: 1)
        #expect(LiquidityTracker.corwinSchultz(a, c, overnightAdjusted: false) == 0)
        // overnight: the next bar's low 100.5 is above the close 99.5, so with the adjustment
        // its range is moved down by 1 (to 101.5/99.5) before the estimate
        let d = try LiquidityBar(high: 101, low: 99, close: 99.5, dollarVolume: 1)
        let gap = try LiquidityBar(high: 102.5, low: 100.5, close: 101, dollarVolume: 1)
        let moved = try LiquidityBar(high: 101.5, low: 99.5, close: 100, dollarVolume: 1)
        let adjusted = LiquidityTracker.corwinSchultz(d, gap, overnightAdjusted: true)
        #expect(adjusted > 0)
        #expect(adjusted == LiquidityTracker.corwinSchultz(d, moved, overnightAdjusted: false))
        #expect(LiquidityTracker.corwinSchultz(d, gap, overnightAdjusted: false) == 0)
    }

    /// A window slides: a huge value leaving must not leave its digits behind in the sum.
    @Test func windowSumForgetsLargeValues() {
        var w = WindowSum(3)
        for x in [1e12, 1, 2, 3, 4] { w.add(x) }
        #expect(w.sum == 9)
    }

    @Test func invalidInputsAreErrors() {
        #expect(throws: LiquidityError.invalidWindow(1)) { try LiquidityWindow(window: 1) }
        #expect(throws: LiquidityError.self) { try LiquidityBar(high: 1, low: 2, close: 1.5, dollarVolume: 1) }
        #expect(throws: LiquidityError.self) { try LiquidityBar(high: 2, low: 1, close: 1.5, dollarVolume: -1) }
        #expect(throws: LiquidityError.self) { try LiquidityBar(high: 2, low: 1, close: 1.5, dollarVolume: .nan) }
        #expect(throws: LiquidityError.self) {
            try LiquidityTracker.measures(
                high: [2], low: [1], close: [1.5, 1.5], dollarVolume: [1], settings: LiquidityWindow(window: 2))
        }
    }
}
