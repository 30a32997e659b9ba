import Dispatch
import RealModule
import VolScaleCore
import VolScaleRisk

/// Evaluates accounts against a book: haircuts, size add-ons, standard and portfolio
/// margin, status and explanations. Stateless once built; safe to share across threads.
///
/// Conventions: amounts in the settlement currency; rates are decimal fractions of
/// notional; a requirement is positive. Positions in the same instrument are netted
/// before margining (one-way position mode), their P&L is summed leg by leg.
public struct MarginCalculator: Sendable {
    public let book: MarginBook
    /// Grid scenarios: (price move in multiples of sigma sqrt(mpor), relative IV shock, weight, label).
    public let grid: [(move: Double, volShock: Double, weight: Double, label: String)]
    /// Each grid point's weight, in `grid`'s order.
    let gridWeights: [Double]
    /// Per-unit scenario P&L rows of each instrument at its quoted IV: FHS and grid.
    let fhsRows: [String: [Double]]
    let gridRows: [String: [Double]]
    /// When false, the explanation tree skips the descriptive text and the per-holding lines
    /// of margin equity (the what-if hot path without `explain`: formatting numbers into text
    /// is most of an evaluation); the account's figures are the same.
    public var explaining = true
    /// When false, `evaluate` skips the liquidation price (a bisection of some hundred
    /// evaluations): re-margining needs status and ratio only.
    public var liquidationPrices = true
    /// Normal tail factors at the book's confidence, computed once (every haircut and
    /// volatility rate needs them).
    let tailFactors: (quantile: Double, es: Double)
    /// The book's price of each asset, built once (every evaluation starts from them).
    let bookPrices: [String: Double]

    /// The book's volatility rate (as `MarginBook.volatilityRate`) with the cached factors.
    func volatilityRate(_ asset: AssetRisk, side: Side, horizon: Int) -> Double {
        ParametricTail.estimate(sigma: asset.volatility, horizon: horizon, factors: tailFactors, side: side)
            .expectedShortfall
    }

    /// A leg's per-unit scenario row: the cached one when the leg is at the book's price
    /// and its quoted implied volatility, otherwise computed at `price`.
    func row(_ leg: Leg, price: Double, cache: [String: [Double]], compute: (AssetRisk) -> [Double]) -> [Double] {
        if price == leg.asset.price, leg.iv == leg.instrument.impliedVolatility,
            let cached = cache[leg.instrument.symbol]
        {
            return cached
        }
        var a = leg.asset
        a.price = price
        return compute(a)
    }

    @inline(__always)
    func text(_ make: @autoclosure () -> String) -> String { explaining ? make() : "" }

    public init(book: MarginBook) {
        self.book = book
        self.bookPrices = book.assets.mapValues(\.price)
        var g: [(Double, Double, Double, String)] = []
        let s = book.settings
        for m in s.gridMoves {
            for v in s.volShocks {
                g.append((m, v, 1, "price \(Self.signed(m))σ, IV \(Self.signed(v * 100))%"))
            }
        }
        for m in [-s.extendedMove, s.extendedMove] {
            g.append((m, 0, s.extendedWeight, "extended: price \(Self.signed(m))σ (loss x \(s.extendedWeight))"))
        }
        self.grid = g
        self.gridWeights = g.map(\.2)
        var fr: [String: [Double]] = [:]
        var gr: [String: [Double]] = [:]
        for (symbol, inst) in book.instruments {
            guard let asset = book.assets[inst.underlying] else { continue }
            gr[symbol] = Self.rowForGrid(inst, asset: asset, iv: inst.impliedVolatility, grid: g, mpor: s.mpor)
            if let sc = book.scenarios, let a = sc.assets.firstIndex(of: inst.underlying) {
                fr[symbol] = Self.rowForScenarios(
                    inst, asset: asset, iv: inst.impliedVolatility, scenarios: sc, column: a)
            }
        }
        self.fhsRows = fr
        self.gridRows = gr
        self.tailFactors = ParametricTail.factors(confidence: s.confidence, nu: nil)
    }

    /// Per-unit P&L of an instrument in each joint historical scenario, at its quoted IV
    /// (multiply by the position's coefficient: quantity x multiplier for linear contracts,
    /// sum of quantity x multiplier / entry for inverse ones, quantity for options).
    public func scenarioRow(_ symbol: String) -> [Double]? { fhsRows[symbol] }

    static func signed(_ v: Double) -> String {
        (v > 0 ? "+" : "") + (v == v.rounded() ? Checked.rounded(v).map(String.init) ?? String(v) : String(v))
    }

    // MARK: - Unit values

    /// Value change per unit of coefficient when the underlying moves from P to P1 (and the
    /// IV by a relative shock): the price change for linear and inverse contracts (the
    /// position's coefficient carries multiplier and entry), the option value change times
    /// the multiplier for options.
    static func unitChange(_ inst: Instrument, price p: Double, newPrice p1: Double, iv: Double?, volShock: Double)
        -> Double
    {
        switch inst.kind {
        case .spot, .linear, .inverse: return p1 - p
        case .option(let type, let strike, let expiry):
            let sigma = iv ?? 0
            let v0 = Black76.price(forward: p, strike: strike, volatility: sigma, expiry: expiry, type: type)
            let v1 = Black76.price(
                forward: p1, strike: strike, volatility: sigma * (1 + volShock), expiry: expiry, type: type)
            return inst.multiplier * (v1 - v0)
        }
    }

    static func rowForGrid(
        _ inst: Instrument, asset: AssetRisk, iv: Double?,
        grid: [(move: Double, volShock: Double, weight: Double, label: String)], mpor: Int
    ) -> [Double] {
        let s = asset.volatility * Double(mpor).squareRoot()
        return grid.map {
            unitChange(
                inst, price: asset.price, newPrice: asset.price * Double.exp($0.move * s), iv: iv, volShock: $0.volShock
            )
        }
    }

    static func rowForScenarios(
        _ inst: Instrument, asset: AssetRisk, iv: Double?, scenarios: JointScenarios, column a: Int
    ) -> [Double] {
        let m = scenarios.assets.count
        return (0..<scenarios.count).map { k in
            unitChange(
                inst, price: asset.price, newPrice: asset.price * Double.exp(scenarios.returns[k * m + a]), iv: iv,
                volShock: 0)
        }
    }

    // MARK: - Haircuts

    /// Haircut of a collateral holding: the size-independent base (the published one when
    /// the asset has a parameter set, else the side's tail loss over the liquidation horizon
    /// plus half the spread, within floor and cap; long for assets, short for liabilities),
    /// plus the liquidity add-on of `HoldingLiquidity` (impact, regime-stressed spread, a
    /// longer horizon for holdings too large to sell in it), at least the tier rate, at most
    /// the cap.
    /// - Returns: the rate, its volatility part (the longer horizon included), its liquidity
    ///   part, what bound it, and the add-on's parts.
    public func haircut(_ asset: AssetRisk, holdingValue v: Double, borrowed: Bool)
        -> (rate: Double, volatility: Double, liquidity: Double, bound: String, addOn: HoldingLiquidity.AddOn)
    {
        let side: Side = borrowed ? .short : .long
        let b = haircutBase(asset, side: side)
        let liquidity = HoldingLiquidity(asset: asset, settings: book.settings, esFactor: tailFactors.es)
        let h = Self.holdingHaircut(
            base: b.rate, liquidity: liquidity, side: side, cap: asset.haircutCap, tiers: asset.haircutTiers, value: v)
        let volatility = b.volatility + h.addOn.horizon
        return (h.rate, volatility, h.rate - volatility, h.bound ?? b.bound, h.addOn)
    }

    /// The size-independent part of a haircut: published, or computed from the volatility.
    func haircutBase(_ asset: AssetRisk, side: Side) -> (rate: Double, volatility: Double, bound: String) {
        if let p = asset.published {
            let base = p.haircut(side)
            return (base, max(0, base - 0.5 * asset.spread), "published (sequence \(p.sequence))")
        }
        let b = CollateralHaircut.base(
            sigmaDaily: asset.volatility, horizon: book.settings.liquidationHorizon, factors: tailFactors, side: side,
            spread: asset.spread, floor: asset.haircutFloor, cap: asset.haircutCap)
        let bound =
            b.rate == asset.haircutFloor && b.rate > b.volatility + 0.5 * asset.spread
            ? "floor" : (b.rate == asset.haircutCap ? "cap" : "volatility + liquidity")
        return (b.rate, b.volatility, bound)
    }

    /// A holding's haircut from its base: plus the liquidity add-on, at least the tier rate,
    /// at most the cap; the bound when a tier or the cap set it.
    @inline(__always)
    static func holdingHaircut(
        base: Double, liquidity: HoldingLiquidity, side: Side, cap: Double, tiers: [Tier],
        value v: Double
    ) -> (rate: Double, bound: String?, addOn: HoldingLiquidity.AddOn) {
        let addOn = liquidity.addOn(value: v, side: side)
        var rate = base + addOn.total
        var bound: String?
        if !tiers.isEmpty {
            let t = SizeRule.tiers(tiers).rate(notional: Swift.abs(v))
            if t > rate {
                rate = t
                bound = "tier table"
            }
        }
        if rate > cap {
            rate = cap
            bound = "cap"
        }
        return (rate, bound, addOn)
    }

    /// Initial and maintenance rates of a linear or inverse position before its size rule:
    /// published, fixed, or from the volatility (maintenance: the fraction of initial).
    func linearRates(_ asset: AssetRisk, side: Side) -> (initial: Double, maintenance: Double) {
        let base =
            asset.published?.initial(side) ?? asset.initialRate
            ?? volatilityRate(asset, side: side, horizon: book.settings.mpor)
        return (
            base,
            asset.published?.maintenance(side) ?? asset.maintenanceRate ?? book.settings.maintenanceFraction * base
        )
    }

    // MARK: - Requirements

    /// Stand-alone requirement of one leg: rate x notional for futures (volatility rate or
    /// fixed rate, raised by the size rule), the worst grid loss for an option.
    func standalone(_ leg: Leg, price: Double) -> (im: Double, mm: Double, explanation: Explanation) {
        let s = book.settings
        let side: Side = leg.quantity >= 0 ? .long : .short
        let notional = leg.notional(price: price)
        if leg.instrument.isOption {
            let row = self.row(leg, price: price, cache: gridRows) {
                Self.rowForGrid(leg.instrument, asset: $0, iv: leg.iv, grid: grid, mpor: s.mpor)
            }
            let (worst, at) = row.withUnsafeBufferPointer {
                MarginRule.worstGridLoss(coefficient: leg.coefficient, row: $0, weights: gridWeights)
            }
            let label = at >= 0 ? grid[at].label : "no loss in any grid scenario"
            return (
                worst, s.maintenanceFraction * worst,
                Explanation(
                    leg.instrument.symbol, worst,
                    detail: text("\(side.rawValue) \(Swift.abs(leg.quantity)) options, worst grid scenario: \(label)"))
            )
        }
        let published = leg.asset.published
        let (base, mmBase) = linearRates(leg.asset, side: side)
        var why: String {
            if let published { return "published rate, sequence \(published.sequence)" }
            return leg.asset.initialRate != nil
                ? "fixed rate"
                : "volatility rate (ES \(s.confidence) over \(s.mpor) day\(s.mpor == 1 ? "" : "s"), daily sigma \(leg.asset.volatility))"
        }
        let (rate, sized) = MarginRule.sizedRate(base: base, rule: leg.asset.sizeRule, notional: notional)
        let (im, mm) = MarginRule.requirement(rate: rate, notional: notional, base: base, maintenanceBase: mmBase)
        return (
            im, mm,
            Explanation(
                leg.instrument.symbol, im,
                detail: text(
                    "\(side.rawValue) \(Swift.abs(leg.quantity)) contracts, notional \(Self.money(notional)), rate \(Self.pct(rate)) (\(sized ? "size rule at notional \(Self.money(notional))" : why))"
                ))
        )
    }

    // MARK: - Evaluation

    struct Figures {
        var equity: Double, im: Double, mm: Double
        var equityExplanation: Explanation, marginExplanation: Explanation
    }

    func figures(_ legs: [Leg], _ collateral: [(AssetRisk, Double)], prices: [String: Double], mode: MarginMode)
        -> Figures
    {
        var equity = 0.0
        var eqChildren: [Explanation] = []
        for (asset, q) in collateral {
            let p = prices[asset.name] ?? asset.price
            let v = q * p
            let h = haircut(asset, holdingValue: v, borrowed: q < 0)
            let counted = MarginRule.counted(quantity: q, value: v, haircut: h.rate)
            equity += counted
            if explaining {
                var detail =
                    "\(q) at \(Self.money(p)) = \(Self.money(v)); haircut \(Self.pct(h.rate)) (volatility \(Self.pct(h.volatility)) + liquidity \(Self.pct(h.liquidity)); \(h.bound))"
                detail += Self.liquidityNote(asset, h.addOn, settings: book.settings)
                eqChildren.append(
                    Explanation("\(asset.name) \(q >= 0 ? "balance" : "borrowed")", counted, detail: text(detail)))
            }
        }
        for leg in legs {
            let p = prices[leg.asset.name] ?? leg.asset.price
            let v = leg.value(price: p)
            equity += v
            if explaining {
                eqChildren.append(
                    Explanation(
                        "\(leg.instrument.symbol) \(leg.instrument.isOption ? "option value" : "unrealised P&L")", v,
                        detail: text("net \(leg.quantity) at \(Self.money(p))")))
            }
        }
        var im = 0.0
        var mm = 0.0
        var posChildren: [Explanation] = []
        for leg in legs {
            let r = standalone(leg, price: prices[leg.asset.name] ?? leg.asset.price)
            im += r.im
            mm += r.mm
            posChildren.append(r.explanation)
        }
        var marginExplanation = Explanation(
            "standard margin", im, detail: text("sum of per-position requirements"), children: posChildren)
        if mode == .portfolio {
            let pm = portfolio(legs, prices: prices, standaloneSum: im)
            im = pm.im
            mm = pm.mm
            var e = pm.explanation
            e.children.append(Explanation("stand-alone requirements", marginExplanation.value, children: posChildren))
            marginExplanation = e
        }
        return Figures(
            equity: equity, im: im, mm: mm,
            equityExplanation: Explanation("margin equity", equity, children: eqChildren),
            marginExplanation: marginExplanation)
    }

    /// Evaluates one account.
    public func evaluate(_ account: Account, mode: MarginMode) throws(AccountError) -> AccountResult {
        let (legs, collateral) = try resolve(account)
        let prices = bookPrices
        let f = figures(legs, collateral, prices: prices, mode: mode)
        // every input is in range, yet products of extreme ones can overflow: never a result of NaN
        guard f.equity.isFinite, f.im.isFinite, f.mm.isFinite else {
            throw AccountError(
                accountId: account.id, field: "account",
                reason: "equity or margin is not a finite number (quantities and prices at the ends of their ranges)")
        }
        let status = AccountStatus(equity: f.equity, initial: f.im, maintenance: f.mm)
        let liq = liquidationPrices ? liquidationPrice(legs, collateral, prices: prices, mode: mode) : nil
        var children = [
            f.equityExplanation, f.marginExplanation,
            Explanation("maintenance margin", f.mm), Explanation("free collateral", f.equity - f.im),
        ]
        if let liq {
            children.append(
                Explanation(
                    "liquidation price", liq.price, detail: text("\(liq.asset) price at which equity = maintenance")))
        }
        if explaining, !legs.isEmpty { children.append(greeks(legs, prices: prices)) }
        return AccountResult(
            accountId: account.id, mode: mode, equity: f.equity, initialMargin: f.im, maintenanceMargin: f.mm,
            status: status, liquidationPrice: liq?.price,
            explanation: Explanation(
                "account \(account.id)", nil, detail: text("\(mode.rawValue) margin, status \(status.rawValue)"),
                children: children), sequence: nil)
    }

    /// Evaluates many accounts on all cores; each entry is a result or that account's error.
    public func evaluateAll(_ accounts: [Account], mode: MarginMode) -> [Result<AccountResult, AccountError>] {
        let out = UnsafeMutableBufferPointer<Result<AccountResult, AccountError>?>.allocate(capacity: accounts.count)
        out.initialize(repeating: nil)
        // the results hold references (explanations, names): deinitialised before the memory
        // is freed, or every evaluation leaks them (issue 28: 540 MB per stress call)
        defer {
            out.deinitialize()
            out.deallocate()
        }
        let chunk = 64
        let chunks = (accounts.count + chunk - 1) / chunk
        nonisolated(unsafe) let buffer = out
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (c * chunk)..<min(accounts.count, (c + 1) * chunk) {
                buffer[i] = Result { () throws(AccountError) -> AccountResult in try evaluate(accounts[i], mode: mode) }
            }
        }
        return out.map { $0! }
    }

}
