import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore
@testable import VolScaleMargin

/// The haircut path over a history: no look-ahead, no dependence on the reported range,
/// and the regime multiplier only ever adding to the calm haircut.
@Suite struct HaircutHistoryTests {
    /// The first `n` rows of data/btcusd-daily.csv (volume in USD), read without the data target.
    static func btc(_ n: Int) throws -> (high: [Double], low: [Double], close: [Double], volume: [Double]) {
        let c = try TestData.columns("btcusd-daily.csv")
        let cols = try ["high", "low", "close", "volume"].map { try #require(c[$0]).prefix(n) }.map(Array.init)
        return (cols[0], cols[1], cols[2], cols[3])
    }

    func walk(_ d: (high: [Double], low: [Double], close: [Double], volume: [Double]), first: Int) throws
        -> HaircutHistory
    {
        let s = try MarginSettings(stressedLiquidityMultiplier: 2)
        return try HaircutHistory.walk(
            high: d.high, low: d.low, close: d.close, dollarVolume: d.volume, holdingValue: 5e8,
            asset: try AssetRisk(name: "BTC", price: 1, volatility: 0), settings: s, regimeLookback: 500,
            refitEvery: 63, minimumRegimeReturns: 250, firstIndex: first)
    }

    /// Changing bars after t moves nothing at or before t; starting the report later gives
    /// the same numbers on the bars both reports hold.
    @Test func noLookAheadAndRangeIndependent() throws {
        let d = try Self.btc(460)
        let base = try walk(d, first: 380)
        #expect(base.points.count == 460 - 380)
        var changed = d
        for i in 430..<460 {
            changed.close[i] *= 1.3
            changed.high[i] *= 1.3
            changed.low[i] *= 1.3
            changed.volume[i] *= 5
        }
        let moved = try walk(changed, first: 380)
        for (a, b) in zip(base.points, moved.points) where a.index < 430 { #expect(a == b, "bar \(a.index) moved") }
        #expect(base.points.last != moved.points.last)
        let later = try walk(d, first: 400)
        for p in later.points {
            #expect(base.points.first { $0.index == p.index } == p, "bar \(p.index) depends on the range")
        }
    }

    @Test func regimeMultiplierOnlyAdds() throws {
        let d = try Self.btc(420)
        let h = try walk(d, first: 390)
        for p in h.points {
            #expect(p.haircut >= p.calmHaircut)
            #expect(p.stressedProbability >= 0 && p.stressedProbability <= 1)
        }
        #expect(h.points.contains { $0.haircut > $0.calmHaircut })
    }
}
