/// The margin rule's arithmetic, written once. `MarginCalculator` (which explains every
/// step), `StandardMarginKernel` (re-margin over tables built once per book) and
/// `PortfolioKernel` (batched portfolio margin) compute through these functions and nothing
/// else, so they agree to the last bit by construction rather than by a test holding three
/// copies equal. Each function is small and inlined: the kernels' loops keep their speed.
///
/// Conventions: amounts in the settlement currency; rates are decimal fractions of notional;
/// a requirement or a loss is positive.
enum MarginRule {
    /// What a collateral holding counts in margin equity: its value `v` (quantity x price)
    /// less the haircut `h` for a balance, plus it for a borrowed (negative) quantity.
    @inline(__always)
    static func counted(quantity q: Double, value v: Double, haircut h: Double) -> Double {
        q >= 0 ? v * (1 - h) : v * (1 + h)
    }

    /// Unrealised P&L of one entry of a futures leg: `q m (P - E)` for a linear contract,
    /// `q m (1/E - 1/P) P` for an inverse one (its contracts are worth `m` in the settlement
    /// currency, its P&L accrues in the underlying and is marked at P).
    @inline(__always)
    static func entryPnL(inverse: Bool, quantity q: Double, multiplier m: Double, price p: Double, entry e: Double)
        -> Double
    {
        inverse ? q * m * (1 / e - 1 / p) * p : q * m * (p - e)
    }

    /// Notional of a futures leg of net quantity `q`: `|q| m P`, or `|q| m` for an inverse
    /// contract.
    @inline(__always)
    static func notional(inverse: Bool, quantity q: Double, multiplier m: Double, price p: Double) -> Double {
        inverse ? Swift.abs(q) * m : Swift.abs(q) * m * p
    }

    /// The initial rate of a futures leg: its base rate, raised by the size rule where that
    /// asks more at this notional; `sized` when the rule set it.
    @inline(__always)
    static func sizedRate(base: Double, rule: SizeRule?, notional: Double) -> (rate: Double, sized: Bool) {
        guard let rule else { return (base, false) }
        let r = rule.rate(notional: notional)
        return r > base ? (r, true) : (base, false)
    }

    /// A futures leg's requirements: initial `rate x notional`, maintenance in the ratio of
    /// the maintenance base rate to the initial base rate (a size add-on raises both alike).
    @inline(__always)
    static func requirement(rate: Double, notional: Double, base: Double, maintenanceBase: Double)
        -> (initial: Double, maintenance: Double)
    {
        let initial = rate * notional
        return (initial, base > 0 ? initial * maintenanceBase / base : 0)
    }

    /// An option leg's requirement: its worst weighted loss over the risk grid,
    /// `max(0, max_g -c row_g weight_g)` for coefficient `c` on the per-unit row, and the grid
    /// point that set it (-1: no loss anywhere). A row of losses already summed over an
    /// account's positions goes in with coefficient -1 (portfolio margin's grid part).
    @inline(__always)
    static func worstGridLoss(coefficient c: Double, row: UnsafeBufferPointer<Double>, weights: [Double])
        -> (loss: Double, at: Int)
    {
        var worst = 0.0
        var at = -1
        for g in 0..<row.count {
            let loss = -c * row[g] * weights[g]
            if loss > worst {
                worst = loss
                at = g
            }
        }
        return (worst, at)
    }

    /// The liquidity add-on of a position of notional `n` in portfolio margin: the half
    /// spread and the square-root impact, both scaled by the regime multiplier.
    @inline(__always)
    static func liquidityAddOn(notional n: Double, multiplier: Double, halfSpread: Double, impact: Double) -> Double {
        n * multiplier * (halfSpread + impact)
    }

    /// Portfolio initial margin: the worse of the grid and the scenarios, plus liquidity,
    /// never below `(1 - maxOffset)` of the stand-alone sum (the offset limit); and that limit
    /// (`floor`), which set the margin when `offsetBinds`.
    @inline(__always)
    static func portfolioInitial(
        grid: Double, scenarios: Double, liquidity: Double, standaloneSum: Double,
        maxOffset: Double
    ) -> (initial: Double, floor: Double, offsetBinds: Bool) {
        let risk = max(grid, scenarios) + liquidity
        let floor = (1 - maxOffset) * standaloneSum
        return (max(risk, floor), floor, floor > risk)
    }

    /// How many of `count` equally weighted scenarios the tail at `confidence` reaches (the
    /// last one possibly in part) and that tail's weight in scenarios, `(1 - alpha) count`.
    @inline(__always)
    static func tail(count: Int, confidence: Double) -> (k: Int, weight: Double) {
        let weight = (1 - confidence) * Double(count)
        return (Swift.max(1, Int(weight.rounded(.up))), weight)
    }

    /// Expected shortfall of the first `count` of `losses`, equally weighted: the mean of the
    /// worst `tail.weight` scenarios (the boundary one in part), at least 0. `top` is scratch of
    /// at least `tail.k` places; it receives the largest losses, sorted descending.
    @inline(__always)
    static func expectedShortfall(
        _ losses: UnsafeBufferPointer<Double>, count: Int,
        tail: (k: Int, weight: Double), scratch top: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        let k = Swift.min(tail.k, count)
        guard k > 0 else { return 0 }
        // k largest losses, kept sorted descending (insertion; k is small), the smallest kept
        // in a register: most losses stop at that comparison
        var m = 0
        var smallest = -Double.infinity
        for s in 0..<count {
            let v = losses[s]
            if m == k { if v <= smallest { continue } } else { m += 1 }
            // v goes in at the end (the list still filling) or over the smallest kept
            var p = m - 1
            while p > 0 && top[p - 1] < v {
                top[p] = top[p - 1]
                p -= 1
            }
            top[p] = v
            if m == k { smallest = top[k - 1] }
        }
        // ES over exactly `tail.weight` scenarios' weight (the boundary one partly)
        var sum = 0.0
        for r in 0..<(k - 1) { sum += top[r] }
        sum += (tail.weight - Double(k - 1)) * top[k - 1]
        return Swift.max(0, sum / tail.weight)
    }
}

extension AccountStatus {
    /// Liquidatable below maintenance, a margin call below initial, otherwise healthy.
    @inline(__always)
    init(equity: Double, initial: Double, maintenance: Double) {
        self = equity < maintenance ? .liquidatable : (equity < initial ? .marginCall : .healthy)
    }
}
