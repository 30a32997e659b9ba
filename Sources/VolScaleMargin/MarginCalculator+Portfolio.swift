import RealModule
import VolScaleCore
import VolScaleRisk

extension MarginCalculator {
    /// Portfolio requirement: the worse of the account's loss in the joint grid (all
    /// underlyings moved by the same multiple of their own sigma sqrt(mpor), IV shocked,
    /// extended rows weighted) and its ES over the joint filtered-historical scenarios,
    /// plus liquidity add-ons; never below (1 - maxOffset) of the stand-alone sum.
    func portfolio(_ legs: [Leg], prices: [String: Double], standaloneSum: Double) -> (
        im: Double, mm: Double, explanation: Explanation
    ) {
        let s = book.settings
        var children: [Explanation] = []
        // Grid
        var gridLoss = [Double](repeating: 0, count: grid.count)
        for leg in legs {
            let price = prices[leg.asset.name] ?? leg.asset.price
            let row = self.row(leg, price: price, cache: gridRows) {
                Self.rowForGrid(leg.instrument, asset: $0, iv: leg.iv, grid: grid, mpor: s.mpor)
            }
            let c = leg.coefficient
            for g in 0..<grid.count { gridLoss[g] -= c * row[g] }
        }
        let (gridReq, gridAt) = gridLoss.withUnsafeBufferPointer {
            MarginRule.worstGridLoss(coefficient: -1, row: $0, weights: gridWeights)
        }
        children.append(
            Explanation(
                "grid", gridReq, detail: gridAt >= 0 ? "worst: \(grid[gridAt].label)" : "no loss in any grid scenario"))
        // Joint FHS
        var fhsReq = 0.0
        if let sc = book.scenarios, sc.count > 0 {
            var loss = [Double](repeating: 0, count: sc.count)
            for leg in legs {
                guard let a = sc.assets.firstIndex(of: leg.asset.name) else { continue }
                let price = prices[leg.asset.name] ?? leg.asset.price
                let row = self.row(leg, price: price, cache: fhsRows) {
                    Self.rowForScenarios(leg.instrument, asset: $0, iv: leg.iv, scenarios: sc, column: a)
                }
                let c = leg.coefficient
                for k in 0..<sc.count { loss[k] -= c * row[k] }
            }
            let worstIndex = loss.indices.max { loss[$0] < loss[$1] } ?? 0
            let tail = MarginRule.tail(count: sc.count, confidence: s.confidence)
            var top = [Double](repeating: 0, count: tail.k)
            fhsReq = loss.withUnsafeBufferPointer { losses in
                top.withUnsafeMutableBufferPointer {
                    MarginRule.expectedShortfall(losses, count: sc.count, tail: tail, scratch: $0)
                }
            }
            children.append(
                Explanation(
                    "joint historical scenarios", fhsReq,
                    detail: text(
                        "ES \(s.confidence) over \(sc.count) dates; worst \(sc.labels[worstIndex]) (loss \(Self.money(loss[worstIndex])))"
                    )))
        }
        // Liquidity add-ons
        var liquidity = 0.0
        var liqChildren: [Explanation] = []
        for leg in legs {
            let price = prices[leg.asset.name] ?? leg.asset.price
            let n = leg.notional(price: price)
            let l = HoldingLiquidity(asset: leg.asset, settings: s, esFactor: tailFactors.es)
            let add = MarginRule.liquidityAddOn(
                notional: n, multiplier: l.multiplier, halfSpread: 0.5 * leg.asset.spread, impact: l.squareRootImpact(n)
            )
            liquidity += add
            var detail = "notional \(Self.money(n)) vs ADV \(Self.money(leg.asset.averageDailyVolume))"
            if l.multiplier != 1 {
                detail +=
                    "; liquidity x\((l.multiplier * 1000).rounded() / 1000): the stressed regime expected for \(Self.pct(leg.asset.stressedProbability)) of the horizon"
            }
            liqChildren.append(Explanation(leg.instrument.symbol, add, detail: text(detail)))
        }
        children.append(Explanation("liquidity add-ons", liquidity, children: liqChildren))
        let (im, floor, offsetBinds) = MarginRule.portfolioInitial(
            grid: gridReq, scenarios: fhsReq, liquidity: liquidity, standaloneSum: standaloneSum, maxOffset: s.maxOffset
        )
        let bound =
            offsetBinds
            ? "offset limit: (1 - \(s.maxOffset)) x stand-alone sum \(Self.money(standaloneSum))"
            : (fhsReq > gridReq ? "historical scenarios + liquidity" : "grid + liquidity")
        children.append(
            Explanation("offset limit", floor, detail: text("(1 - max_offset) x sum of stand-alone requirements")))
        return (
            im, s.maintenanceFraction * im,
            Explanation("portfolio margin", im, detail: text("set by \(bound)"), children: children)
        )
    }
}
