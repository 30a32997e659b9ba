import RealModule
import VolScaleCore
import VolScaleRisk

/// The haircut a venue would have charged on a holding, bar by bar over a history, using at
/// each bar only the bars up to it: the evidence that haircuts follow liquidity and regimes
/// without looking ahead.
///
/// At bar t: the daily volatility is the EWMA forecast made after bar t (arch's seeding);
/// ADV and spread are the `LiquidityTracker` measures of the window ending at t; the
/// stressed share is the expected share of the liquidation horizon in the high-variance
/// regime (`FilterState.expectedShare`) by the Hamilton filter, run from the start of the latest
/// fit's window up to t, of the two-state model fitted on the `regimeLookback` returns
/// before the latest scheduled refit (every `refitEvery` bars from bar
/// `minimumRegimeReturns`, whatever the first reported bar, so a bar's value does not
/// depend on the range asked for; a failed fit keeps the previous model). The haircut is
/// `MarginCalculator.haircut` of a long holding of `holdingValue` for that asset, with the
/// regime multiplier and without it (the calm haircut).
public struct HaircutHistory: Sendable {
    public struct Point: Sendable, Equatable {
        /// Bar index in the input.
        public let index: Int
        /// Daily volatility, decimal.
        public let volatility: Double
        public let adv: Double
        public let spread: Double
        public let amihud: Double?
        /// Expected share of the liquidation horizon in the high-variance regime, 0...1.
        public let stressedProbability: Double
        /// Haircut with the regime multiplier, and with liquidity costs as in calm markets.
        public let haircut: Double
        public let calmHaircut: Double
    }

    public let points: [Point]
    /// Bars at which the regime model was refitted.
    public let refits: [Int]

    /// - Parameters:
    ///   - settings: the book settings (confidence, horizon, kappa, participation,
    ///     stressed multiplier) the haircut uses.
    ///   - asset: floor, cap, tiers and threshold of the asset (price, volatility, ADV,
    ///     spread and regime are replaced bar by bar).
    ///   - firstIndex: the first bar to report (earlier bars are still used, as history).
    public static func walk(
        high: [Double], low: [Double], close: [Double], dollarVolume: [Double],
        holdingValue: Double, asset: AssetRisk, settings: MarginSettings,
        liquidityWindow: Int = 20, lambda: Double = EWMA.riskMetricsLambda, regimeLookback: Int = 1000,
        refitEvery: Int = 63, minimumRegimeReturns: Int = 250, firstIndex: Int = 0
    ) throws -> HaircutHistory {
        let window = try LiquidityWindow(window: liquidityWindow)
        let liquidity = try LiquidityTracker.measures(
            high: high, low: low, close: close, dollarVolume: dollarVolume, settings: window)
        let returns = (1..<close.count).map { Double.log(close[$0] / close[$0 - 1]) }
        let path = try EWMA(lambda: lambda).filter(returns)
        let book = MarginBook(assets: [], instruments: [], settings: settings)
        let calc = MarginCalculator(book: book)
        let calmCalc = MarginCalculator(book: MarginBook(assets: [], instruments: [], settings: settings.calm))
        var state: MarkovSwitchingModel.FilterState?
        var filteredUpTo = 0  // returns[0..<filteredUpTo] are in `state`
        var fittedAt: Int?
        var refits: [Int] = []
        var points: [Point] = []
        points.reserveCapacity(liquidity.count)
        for l in liquidity {
            let t = l.index
            // returns[0..<t] end at bars 1...t: those are known at bar t
            guard t >= minimumRegimeReturns, t >= firstIndex else { continue }
            // refits on a fixed schedule, so that a bar's value does not depend on where the
            // report starts
            let due = minimumRegimeReturns + (t - minimumRegimeReturns) / refitEvery * refitEvery
            if fittedAt != due {
                let start = max(0, due - regimeLookback)
                if let fit = try? MarkovSwitching.fit(Array(returns[start..<due]), states: 2, starts: 4) {
                    refits.append(due)
                    // the new model filters from the start of its window
                    var s = MarkovSwitchingModel.FilterState(fit.model)
                    for r in returns[start..<due] { s.step(r) }
                    state = s
                    filteredUpTo = due
                }
                fittedAt = due
            }
            guard var s = state else { continue }
            while filteredUpTo < t {
                s.step(returns[filteredUpTo])
                filteredUpTo += 1
            }
            state = s
            let p = s.expectedShare(of: 1, steps: settings.liquidationHorizon)
            let variance = t < returns.count ? (path.variance[t] ?? path.nextVariance) : path.nextVariance
            var a = asset
            a.price = close[t]
            a.volatility = variance.squareRoot()
            a.averageDailyVolume = l.adv
            a.spread = l.spread
            a.stressedProbability = p
            a.published = nil
            let h = calc.haircut(a, holdingValue: holdingValue, borrowed: false).rate
            let calm = calmCalc.haircut(a, holdingValue: holdingValue, borrowed: false).rate
            points.append(
                Point(
                    index: t, volatility: a.volatility, adv: l.adv, spread: l.spread, amihud: l.amihud,
                    stressedProbability: p, haircut: h, calmHaircut: calm))
        }
        return HaircutHistory(points: points, refits: refits)
    }
}
