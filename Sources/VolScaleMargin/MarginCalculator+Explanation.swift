import RealModule
import VolScaleCore
import VolScaleRisk

/// What the explanation adds to the figures: the Greeks, the liquidation price, and numbers
/// written for people.
extension MarginCalculator {
    /// The positions' Greeks per underlying (Black-76 at each option's IV, the index as forward):
    /// delta in units of the underlying and in the settlement currency, gamma per unit of price,
    /// vega per volatility point and theta per calendar day in the settlement currency, with
    /// each position's part. Futures carry delta only (an inverse one `sum q m / E` coins).
    func greeks(_ legs: [Leg], prices: [String: Double]) -> Explanation {
        var byAsset: [String: (total: OptionGreeks, parts: [Explanation])] = [:]
        var order: [String] = []
        for leg in legs {
            let p = prices[leg.asset.name] ?? leg.asset.price
            let g: OptionGreeks
            switch leg.instrument.kind {
            case .option(let type, let strike, let expiry):
                g = Black76.greeks(forward: p, strike: strike, volatility: leg.iv ?? 0, expiry: expiry, type: type)
                    .scaled(leg.quantity * leg.instrument.multiplier)
            case .spot, .linear, .inverse:
                g = OptionGreeks(price: 0, delta: leg.coefficient, gamma: 0, vega: 0, theta: 0)
            }
            if byAsset[leg.asset.name] == nil { order.append(leg.asset.name) }
            byAsset[leg.asset.name, default: (.zero, [])].total = (byAsset[leg.asset.name]?.total ?? .zero) + g
            byAsset[leg.asset.name, default: (.zero, [])].parts.append(
                Explanation(leg.instrument.symbol, g.delta * p, detail: Self.greekText(g, price: p)))
        }
        let children = order.compactMap { name -> Explanation? in
            guard let a = byAsset[name] else { return nil }
            let p = prices[name] ?? book.assets[name]?.price ?? 0
            return Explanation(name, a.total.delta * p, detail: Self.greekText(a.total, price: p), children: a.parts)
        }
        return Explanation(
            "greeks", nil, detail: "per underlying: value = delta in the settlement currency (delta x price)",
            children: children)
    }

    static func greekText(_ g: OptionGreeks, price p: Double) -> String {
        func f(_ v: Double) -> String {
            // four significant digits
            guard v != 0, v.isFinite else { return String(v) }
            let scale = Double.pow(10, 3 - Double.log10(Swift.abs(v)).rounded(.down))
            return String((v * scale).rounded() / scale)
        }
        let delta = "delta \(f(g.delta)) units (\(money(g.delta * p)))"
        if g.gamma == 0 && g.vega == 0 && g.theta == 0 { return delta }
        return delta
            + ", gamma \(f(g.gamma)) per unit of price, vega \(money(g.vega)) per vol point, theta \(money(g.theta)) per day"
    }

    /// For positions on one underlying: the price where equity meets maintenance, found by
    /// bisection on a bracket found by scanning outwards from the current price.
    func liquidationPrice(
        _ legs: [Leg], _ collateral: [(AssetRisk, Double)], prices: [String: Double], mode: MarginMode
    ) -> (asset: String, price: Double)? {
        let underlyings = Set(legs.map(\.asset.name))
        guard underlyings.count == 1, let u = underlyings.first, let p0 = prices[u] else { return nil }
        func gap(_ p: Double) -> Double {
            var pr = prices
            pr[u] = p
            let f = figures(legs, collateral, prices: pr, mode: mode)
            return f.equity - f.mm
        }
        let g0 = gap(p0)
        guard g0 > 0 else { return (u, p0) }
        for direction in [0.5, 2.0] {
            var a = p0
            var b = p0 * direction
            var steps = 0
            while gap(b) > 0 && steps < 12 {
                a = b
                b *= direction
                steps += 1
            }
            if gap(b) <= 0 {
                for _ in 0..<80 {
                    let mid = 0.5 * (a + b)
                    if gap(mid) > 0 { a = mid } else { b = mid }
                    if Swift.abs(b - a) <= 1e-10 * p0 { break }
                }
                return (u, 0.5 * (a + b))
            }
        }
        return nil
    }

    static func money(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        guard Swift.abs(r) >= 1e6 else { return String(r) }
        return Checked.rounded(r).map(String.init) ?? String(r)
    }

    static func pct(_ v: Double) -> String { String((v * 10000).rounded() / 100) + "%" }

    /// The liquidity add-on's parts in words, for a holding's explanation ("" when it has none).
    static func liquidityNote(_ asset: AssetRisk, _ a: HoldingLiquidity.AddOn, settings: MarginSettings) -> String {
        var parts: [String] = []
        if a.impact > 0 { parts.append("impact \(pct(a.impact))") }
        if a.days > Double(settings.liquidationHorizon) {
            parts.append(
                "\((a.days * 10).rounded() / 10) days to sell at \(pct(settings.participation)) of ADV \(money(asset.averageDailyVolume)): +\(pct(a.horizon)) volatility"
            )
        }
        let m = 1 + (settings.stressedLiquidityMultiplier - 1) * min(1, max(0, asset.stressedProbability))
        if m != 1 {
            parts.append(
                "liquidity x\((m * 1000).rounded() / 1000): the stressed regime expected for \(pct(asset.stressedProbability)) of the \(settings.liquidationHorizon)-day horizon (+\(pct(a.spread)) spread)"
            )
        }
        return parts.isEmpty ? "" : "; " + parts.joined(separator: ", ")
    }
}
