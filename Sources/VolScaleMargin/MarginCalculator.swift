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

    // MARK: - Resolution and validation

    /// A netted position with everything needed to value it.
    struct Leg {
        var instrument: Instrument
        var asset: AssetRisk
        var quantity: Double
        /// (quantity, entry) of each original position, for P&L.
        var entries: [(Double, Double)]
        var iv: Double?

        /// Coefficient on the unit-change rows: value change = coefficient * row.
        var coefficient: Double {
            switch instrument.kind {
            case .spot: return quantity
            case .linear: return quantity * instrument.multiplier
            case .inverse:
                // value = Q (1/E - 1/P) P = Q (P/E - 1): linear in P with slope Q/E per leg
                return entries.reduce(0) { $0 + $1.0 * instrument.multiplier / $1.1 }
            case .option: return quantity
            }
        }

        /// Notional in the settlement currency.
        func notional(price: Double) -> Double {
            MarginRule.notional(
                inverse: instrument.kind.isInverse, quantity: quantity, multiplier: instrument.multiplier, price: price)
        }

        /// Mark value in the settlement currency: unrealised P&L for futures, option value.
        func value(price: Double, volShock: Double = 0) -> Double {
            switch instrument.kind {
            case .spot: return quantity * price
            case .linear, .inverse:
                let inverse = instrument.kind.isInverse
                return entries.reduce(0) {
                    $0
                        + MarginRule.entryPnL(
                            inverse: inverse, quantity: $1.0, multiplier: instrument.multiplier, price: price,
                            entry: $1.1)
                }
            case .option(let type, let strike, let expiry):
                return quantity * instrument.multiplier
                    * Black76.price(
                        forward: price, strike: strike, volatility: (iv ?? 0) * (1 + volShock), expiry: expiry,
                        type: type)
            }
        }
    }

    func resolve(_ account: Account) throws(AccountError) -> (legs: [Leg], collateral: [(AssetRisk, Double)]) {
        func fail(_ field: String, _ reason: String) -> AccountError {
            AccountError(accountId: account.id, field: field, reason: reason)
        }
        var collateral: [(AssetRisk, Double)] = []
        var seenAssets = Set<String>()
        for (i, c) in account.collateral.enumerated() {
            guard c.quantity.isFinite else { throw fail("collateral[\(i)] \(c.asset).quantity", "not a finite number") }
            guard let a = book.assets[c.asset] else {
                throw fail("collateral[\(i)].asset", "unknown asset '\(c.asset)'")
            }
            guard a.price > 0, a.price.isFinite else {
                throw fail("collateral[\(i)].asset", "no price for '\(c.asset)'")
            }
            guard seenAssets.insert(c.asset).inserted else {
                throw fail("collateral[\(i)].asset", "'\(c.asset)' listed twice")
            }
            collateral.append((a, c.quantity))
        }
        var legs: [String: Leg] = [:]
        var order: [String] = []
        for (i, p) in account.positions.enumerated() {
            func field() -> String { "positions[\(i)]" }  // built only for an error
            guard p.quantity.isFinite else { throw fail("\(field()).quantity", "not a finite number") }
            guard let inst = book.instruments[p.instrument] else {
                throw fail("\(field()).instrument", "unknown instrument '\(p.instrument)'")
            }
            guard let asset = book.assets[inst.underlying] else {
                throw fail("\(field()).instrument", "no risk parameters for underlying '\(inst.underlying)'")
            }
            guard asset.price > 0, asset.price.isFinite else {
                throw fail("\(field()).instrument", "missing price for '\(inst.underlying)'")
            }
            var entry = asset.price
            switch inst.kind {
            case .linear, .inverse:
                guard let e = p.entryPrice else { throw fail("\(field()).entryPrice", "missing for \(p.instrument)") }
                guard e > 0, e.isFinite else { throw fail("\(field()).entryPrice", "must be a positive price") }
                entry = e
            case .option:
                let iv = p.impliedVolatility ?? inst.impliedVolatility
                guard let iv else {
                    throw fail("\(field()).impliedVolatility", "option \(p.instrument) has no implied volatility")
                }
                guard iv > 0, iv.isFinite else { throw fail("\(field()).impliedVolatility", "must be positive") }
            case .spot:
                throw fail("\(field()).instrument", "'\(p.instrument)' is a spot asset: list it under collateral")
            }
            if var leg = legs[p.instrument] {
                if let piv = p.impliedVolatility, leg.iv != piv, leg.iv != nil, inst.isOption {
                    throw fail("\(field()).impliedVolatility", "differs from an earlier position in \(p.instrument)")
                }
                leg.quantity += p.quantity
                leg.entries.append((p.quantity, entry))
                legs[p.instrument] = leg
            } else {
                legs[p.instrument] = Leg(
                    instrument: inst, asset: asset, quantity: p.quantity, entries: [(p.quantity, entry)],
                    iv: p.impliedVolatility ?? inst.impliedVolatility)
                order.append(p.instrument)
            }
        }
        return (order.map { legs[$0]! }, collateral)
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
        let risk = max(gridReq, fhsReq) + liquidity
        let floor = (1 - s.maxOffset) * standaloneSum
        let im = MarginRule.portfolioInitial(
            grid: gridReq, scenarios: fhsReq, liquidity: liquidity, standaloneSum: standaloneSum, maxOffset: s.maxOffset
        )
        let bound =
            floor > risk
            ? "offset limit: (1 - \(s.maxOffset)) x stand-alone sum \(Self.money(standaloneSum))"
            : (fhsReq > gridReq ? "historical scenarios + liquidity" : "grid + liquidity")
        children.append(
            Explanation("offset limit", floor, detail: text("(1 - max_offset) x sum of stand-alone requirements")))
        return (
            im, s.maintenanceFraction * im,
            Explanation("portfolio margin", im, detail: text("set by \(bound)"), children: children)
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
