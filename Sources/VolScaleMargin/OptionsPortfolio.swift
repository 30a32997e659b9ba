import RealModule
import VolScaleCore
import VolScaleRisk

/// A derivative on one underlying as an options venue lists it; times in years from the
/// valuation moment.
public enum ListedContract: Sendable, Equatable {
    /// European option.
    case option(type: OptionType, strike: Double, expiry: Double, settlement: OptionSettlement)
    /// Future (`expiry` in years) or perpetual (nil). Inverse (Deribit's BTC-26JUN20): the
    /// quantity is USD of face value and the P&L in coins `q (1/F0 - 1/F1)`. Linear: the quantity
    /// is in coins and the P&L in USD `q (F1 - F0)`.
    case future(expiry: Double?, inverse: Bool)
}

/// Why an options account could not be evaluated: the position (or field) and the reason.
public struct OptionsAccountError: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "\(field): \(reason)" }
}

/// A position: options on one coin each (negative: short), inverse futures in USD of face
/// value, linear futures in coins.
public struct ContractPosition: Sendable, Equatable {
    public let name: String
    public let contract: ListedContract
    public let quantity: Double

    public init(name: String, contract: ListedContract, quantity: Double) throws(OptionsAccountError) {
        guard quantity.isFinite, abs(quantity) <= AccountLimits.maxQuantity else {
            throw OptionsAccountError(field: name, reason: "quantity \(quantity) is not a number in [-1e12, 1e12]")
        }
        switch contract {
        case .option(_, let strike, let expiry, _):
            guard strike > 0, strike.isFinite else {
                throw OptionsAccountError(field: name, reason: "strike \(strike) must be positive")
            }
            guard expiry > 0, expiry.isFinite else {
                throw OptionsAccountError(field: name, reason: "expired or no time to expiry (\(expiry) years)")
            }
        case .future(let expiry, _):
            if let e = expiry, !(e > 0 && e.isFinite) {
                throw OptionsAccountError(field: name, reason: "expired (\(e) years)")
            }
        }
        self.name = name
        self.contract = contract
        self.quantity = quantity
    }
}

/// What the options are valued on: the implied-volatility surface (forwards per expiry
/// included) and the index, the forward of perpetuals.
public struct OptionsMarket: Sendable {
    public let surface: VolatilitySurface
    /// Index price, USD (perpetuals).
    public let index: Double

    public init(surface: VolatilitySurface, index: Double) throws(OptionsAccountError) {
        guard index > 0, index.isFinite else {
            throw OptionsAccountError(field: "index", reason: "must be positive and finite")
        }
        self.surface = surface
        self.index = index
    }

    public func forward(_ expiry: Double?) -> Double { expiry.map { surface.forward(expiry: $0) } ?? index }
}

/// The venue's option-margin parameters. Defaults: Deribit's published standard margin for
/// short options and the shape of its portfolio-margin risk matrix; the volatility ranges are
/// VolScale's defaults (Deribit's risk team sets and changes its own).
public struct OptionsMarginPolicy: Sendable, Equatable {
    // Standard margin, per short option, in coins (Deribit):
    //   initial = max(initialBase - OTM amount / F, initialMinimum) + mark
    //   maintenance = maintenanceBase + mark
    public var initialBase = 0.15
    public var initialMinimum = 0.10
    public var maintenanceBase = 0.075
    // Futures (Deribit 2020): rate = base + slope x (coins / 100), of the coin notional.
    public var futuresInitialBase = 0.01
    public var futuresMaintenanceBase = 0.005
    public var futuresSlopePer100 = 0.005

    // Portfolio margin risk matrix:
    /// Largest move of the underlying (all forwards and the index at once), decimal.
    public var priceRange = 0.16
    /// Points from -range to +range (9: steps of range/4).
    public var priceSteps = 9
    /// Relative implied-volatility shocks at 30 days; an expiry of d days is shocked by
    /// `(30/d)^shortPower` below 30 days and `(30/d)^longPower` beyond.
    public var volatilityUp = 0.45
    public var volatilityDown = 0.30
    public var shortPower = 0.30
    public var longPower = 0.13
    /// A shocked volatility is at least this share of the unshocked one.
    public var minimumVolatilityFactor = 0.1
    /// Extended moves, on the volatility-up scenario, each loss counted at its weight
    /// (default `(priceRange / move)^2`: a move k times the range counts 1/k^2, so the table
    /// binds where a loss grows faster than the square of the move, as for deep out-of-the-money
    /// shorts and coin-settled puts near a crash, not for every short option).
    public var extendedMoves: [Double] = [-0.66, -0.33, 0.5, 1, 2, 3, 4, 5]
    public var extendedWeights: [Double]? = nil
    /// Contingency: coins per net short option per (expiry, strike).
    public var shortOptionContingency = 0.01
    /// Contingency: share of the offsetting futures notional (coins), min(long, short).
    public var futuresContingency = 0.01
    /// Initial = maintenance x this.
    public var initialMultiplier = 1.2

    public init() {}

    public func validate() throws(OptionsAccountError) {
        func check(_ name: String, _ v: Double, _ ok: Bool) throws(OptionsAccountError) {
            guard v.isFinite, ok else {
                throw OptionsAccountError(field: "policy.\(name)", reason: "\(v) is out of range")
            }
        }
        try check("initial_base", initialBase, initialBase >= 0)
        try check("initial_minimum", initialMinimum, initialMinimum >= 0)
        try check("maintenance_base", maintenanceBase, maintenanceBase >= 0)
        try check("price_range", priceRange, priceRange > 0 && priceRange < 1)
        try check("price_steps", Double(priceSteps), priceSteps >= 3 && priceSteps % 2 == 1 && priceSteps <= 101)
        try check("volatility_up", volatilityUp, volatilityUp >= 0)
        try check("volatility_down", volatilityDown, volatilityDown >= 0)
        try check(
            "minimum_volatility_factor", minimumVolatilityFactor,
            minimumVolatilityFactor > 0 && minimumVolatilityFactor <= 1)
        try check("initial_multiplier", initialMultiplier, initialMultiplier >= 1)
        for m in extendedMoves { try check("extended_moves", m, m > -1) }
        if let w = extendedWeights {
            guard w.count == extendedMoves.count else {
                throw OptionsAccountError(field: "policy.extended_weights", reason: "one weight per extended move")
            }
            for x in w { try check("extended_weights", x, x >= 0 && x <= 1) }
        }
    }

    /// The term-structure factor of the volatility shock for an expiry in years.
    public func termFactor(_ expiry: Double) -> Double {
        let days = max(expiry * 365, 1.0 / 24)
        return days < 30 ? Double.pow(30 / days, shortPower) : Double.pow(30 / days, longPower)
    }

    /// The weight of each extended move (given, or `(priceRange / move)^2` capped at 1).
    public var extendedMoveWeights: [Double] {
        extendedWeights ?? extendedMoves.map { min(1, (priceRange / $0) * (priceRange / $0)) }
    }

    /// The matrix scaled by the underlying's live volatility (see `VolatilityScaling`): the
    /// price range and the volatility shocks; the extended moves keep the fixed matrix's
    /// weights (the catastrophe table does not relax in a calm market).
    public func scaled(by s: VolatilityScaling) -> OptionsMarginPolicy {
        var p = self
        p.extendedWeights = extendedMoveWeights
        let r = s.ratio
        p.priceRange = min(priceRange * r, 0.95)
        p.volatilityUp = volatilityUp * r
        p.volatilityDown = volatilityDown * r
        return p
    }
}

/// Scaling of the risk matrix by live volatility: the price range and both volatility shocks are
/// multiplied by `ratio = clamp(live / calibration, floor, cap)`. At `live == calibration` the
/// fixed matrix comes back unchanged. `calibration` is the annualised volatility at which the
/// venue's fixed range is right (VolScale's default 0.80, a long-run level of BTC's 30-day
/// implied volatility, not fitted to any file here); floor and cap keep a calm market from
/// shrinking the range below half and a violent one from stretching it beyond 2.5 times.
public struct VolatilityScaling: Sendable, Equatable {
    public let live: Double
    public let calibration: Double
    public let floor: Double
    public let cap: Double

    public init(live: Double, calibration: Double = 0.8, floor: Double = 0.5, cap: Double = 2.5)
        throws(OptionsAccountError)
    {
        guard live > 0, live.isFinite else {
            throw OptionsAccountError(field: "volatility", reason: "the live volatility \(live) must be positive")
        }
        guard calibration > 0, calibration.isFinite else {
            throw OptionsAccountError(field: "calibration_volatility", reason: "must be positive")
        }
        guard floor > 0, cap >= floor, cap.isFinite else {
            throw OptionsAccountError(field: "scaling", reason: "need 0 < floor <= cap")
        }
        self.live = live
        self.calibration = calibration
        self.floor = floor
        self.cap = cap
    }

    public var ratio: Double { min(max(live / calibration, floor), cap) }
}

/// One scenario of the risk matrix: a relative move of the underlying, the volatility side, the
/// weight of its loss, and the account's P&L in coins.
public struct OptionsScenario: Sendable, Equatable {
    public enum Volatility: String, Sendable { case up, unchanged, down }
    public let move: Double
    public let volatility: Volatility
    public let weight: Double
    public let extended: Bool
    public let pnl: Double
    /// Loss counted toward the margin: `max(0, -pnl) x weight`.
    public var weightedLoss: Double { max(0, -pnl) * weight }
}

/// A position's valuation, Greeks and standard margin.
public struct PositionReport: Sendable {
    public let position: ContractPosition
    /// Forward of the contract's expiry (index for a perpetual), USD.
    public let forward: Double
    /// Implied volatility off the surface (options), annualised decimal.
    public let volatility: Double?
    /// Value of the position, coins (options: quantity x mark in coins; futures: 0, their P&L
    /// being settled into the balance).
    public let value: Double
    /// Greeks of the whole position in USD and in coins (futures: delta only).
    public let greeksUSD: OptionGreeks
    public let greeksCoin: OptionGreeks
    /// Standard margin, coins.
    public let initialMargin: Double
    public let maintenanceMargin: Double
}

/// An options account evaluated: standard and portfolio margin in coins, Greeks, and the
/// matrix behind the portfolio margin.
public struct OptionsAccountReport: Sendable {
    public let balance: Double
    /// balance + option values, coins.
    public let equity: Double
    public let positions: [PositionReport]
    public let greeksUSD: OptionGreeks
    public let greeksCoin: OptionGreeks
    public let standardInitial: Double
    public let standardMaintenance: Double
    public let portfolio: PortfolioMarginResult
}

/// Historical scenarios for the options matrix: relative one-day moves of the underlying
/// (filtered historical simulation: each past return devolatilised by its EWMA sigma and
/// rescaled to the current one, `JointScenarios.filteredHistorical`), applied to every forward
/// with implied volatilities unchanged (sticky moneyness); their loss counts as its expected
/// shortfall at `confidence`.
public struct HistoricalMoves: Sendable, Equatable {
    public let moves: [Double]
    public let labels: [String]
    public let confidence: Double

    public init(moves: [Double], labels: [String], confidence: Double = 0.99) throws(OptionsAccountError) {
        guard !moves.isEmpty, moves.count == labels.count else {
            throw OptionsAccountError(field: "history", reason: "needs at least one scenario, with a label each")
        }
        guard moves.allSatisfy({ $0.isFinite && $0 > -1 }) else {
            throw OptionsAccountError(field: "history", reason: "a move is not a finite relative move above -100%")
        }
        guard confidence > 0.5, confidence < 1 else {
            throw OptionsAccountError(field: "confidence", reason: "\(confidence) is not in (0.5, 1)")
        }
        self.moves = moves
        self.labels = labels
        self.confidence = confidence
    }

    /// From MPOR log returns (`JointScenarios` rows of one asset).
    public init(logReturns: [Double], labels: [String], confidence: Double = 0.99) throws(OptionsAccountError) {
        try self.init(moves: logReturns.map { Double.expMinusOne($0) }, labels: labels, confidence: confidence)
    }
}

/// The historical part of a portfolio margin, coins.
public struct HistoricalPart: Sendable, Equatable {
    public let count: Int
    public let expectedShortfall: Double
    public let worstLabel: String
    public let worstLoss: Double
}

/// Portfolio margin under one risk matrix (and historical scenarios, when given), coins.
public struct PortfolioMarginResult: Sendable {
    public let policy: OptionsMarginPolicy
    public let scenarios: [OptionsScenario]
    /// The largest weighted loss and its scenario.
    public let worst: OptionsScenario?
    public let historical: HistoricalPart?
    public let shortOptionContingency: Double
    public let futuresContingency: Double
    /// The larger of the matrix's worst weighted loss and the historical expected shortfall,
    /// plus the contingencies.
    public var maintenance: Double {
        max(worst?.weightedLoss ?? 0, historical?.expectedShortfall ?? 0, 0) + shortOptionContingency
            + futuresContingency
    }
    /// Which part set the maintenance: "matrix" or "historical".
    public var setBy: String {
        (historical?.expectedShortfall ?? 0) > (worst?.weightedLoss ?? 0) ? "historical" : "matrix"
    }
    public var initial: Double { maintenance * policy.initialMultiplier }
}

/// Options margin in the Deribit form, in coins: standard margin per position, portfolio margin
/// from a risk matrix of price moves and implied-volatility shocks (and the expected shortfall
/// over filtered historical moves, when given), and Greeks.
///
/// Under a move x every forward and the index are multiplied by (1 + x); each option's volatility
/// is read off the surface at its strike with the moved forward (sticky moneyness, see
/// `VolatilitySurface`) and then shocked by `(1 +- shock x termFactor(T))`. Coin-settled
/// options' P&L is `q (V1/F1 - V0/F0)`; USD-settled ones' and linear futures' USD P&L is
/// converted at the moved forward.
public enum OptionsMargin {
    public static func evaluate(
        balance: Double, positions: [ContractPosition], market: OptionsMarket,
        policy: OptionsMarginPolicy, historical: HistoricalMoves? = nil
    ) throws(OptionsAccountError) -> OptionsAccountReport {
        guard balance.isFinite, abs(balance) <= AccountLimits.maxCollateral else {
            throw OptionsAccountError(field: "balance", reason: "\(balance) is not a number in [-1e15, 1e15]")
        }
        try policy.validate()
        var reports: [PositionReport] = []
        var usd = OptionGreeks.zero
        var coin = OptionGreeks.zero
        var im = 0.0
        var mm = 0.0
        var value = 0.0
        for p in positions {
            let r = report(p, market, policy)
            reports.append(r)
            usd = usd + r.greeksUSD
            coin = coin + r.greeksCoin
            im += r.initialMargin
            mm += r.maintenanceMargin
            value += r.value
        }
        return OptionsAccountReport(
            balance: balance, equity: balance + value, positions: reports, greeksUSD: usd, greeksCoin: coin,
            standardInitial: im, standardMaintenance: mm,
            portfolio: portfolioMargin(positions, market: market, policy: policy, historical: historical))
    }

    static func report(_ p: ContractPosition, _ market: OptionsMarket, _ policy: OptionsMarginPolicy) -> PositionReport
    {
        let q = p.quantity
        switch p.contract {
        case .option(let type, let strike, let expiry, let settlement):
            let f = market.forward(expiry)
            let v = market.surface.impliedVolatility(strike: strike, expiry: expiry, forward: f)
            let g = Black76.greeks(forward: f, strike: strike, volatility: v, expiry: expiry, type: type)
            let markCoin = g.price / f
            var im = 0.0
            var mm = 0.0
            if q < 0 {
                // out of the money by the intrinsic value of the opposite option
                let otm = Black76.intrinsic(forward: f, strike: strike, type: type == .call ? .put : .call) / f
                im = -q * (max(policy.initialBase - otm, policy.initialMinimum) + markCoin)
                mm = -q * (policy.maintenanceBase + markCoin)
            }
            return PositionReport(
                position: p, forward: f, volatility: v, value: q * markCoin, greeksUSD: g.scaled(q),
                greeksCoin: g.inCoin(forward: f, settlement: settlement).scaled(q), initialMargin: im,
                maintenanceMargin: mm)
        case .future(let expiry, let inverse):
            let f = market.forward(expiry)
            let coins = inverse ? q / f : q
            let size = abs(coins)
            // An inverse future's coin exposure is its face value in coins; the USD delta is the same in USD.
            let delta = OptionGreeks(price: 0, delta: coins, gamma: 0, vega: 0, theta: 0)
            let deltaCoin = inverse ? OptionGreeks(price: 0, delta: coins, gamma: -coins / f, vega: 0, theta: 0) : delta
            let scale = policy.futuresSlopePer100 * size / 100
            return PositionReport(
                position: p, forward: f, volatility: nil, value: 0, greeksUSD: delta, greeksCoin: deltaCoin,
                initialMargin: size * (policy.futuresInitialBase + scale),
                maintenanceMargin: size * (policy.futuresMaintenanceBase + scale))
        }
    }

    /// P&L in coins of the positions when the underlying moves by `move` and volatilities are
    /// shocked relatively by `shock x termFactor(T)` (signed).
    public static func pnl(
        _ positions: [ContractPosition], market: OptionsMarket, move: Double, shock: Double,
        policy: OptionsMarginPolicy
    ) -> Double {
        var total = 0.0
        for p in positions {
            switch p.contract {
            case .option(let type, let strike, let expiry, let settlement):
                let f0 = market.forward(expiry)
                let f1 = f0 * (1 + move)
                let v0 = market.surface.impliedVolatility(strike: strike, expiry: expiry, forward: f0)
                let factor = max(1 + shock * policy.termFactor(expiry), policy.minimumVolatilityFactor)
                let v1 = market.surface.impliedVolatility(strike: strike, expiry: expiry, forward: f1) * factor
                let p0 = Black76.price(forward: f0, strike: strike, volatility: v0, expiry: expiry, type: type)
                let p1 = Black76.price(forward: f1, strike: strike, volatility: v1, expiry: expiry, type: type)
                total += settlement == .coin ? p.quantity * (p1 / f1 - p0 / f0) : p.quantity * (p1 - p0) / f1
            case .future(let expiry, let inverse):
                let f0 = market.forward(expiry)
                let f1 = f0 * (1 + move)
                total += inverse ? p.quantity * (1 / f0 - 1 / f1) : p.quantity * (f1 - f0) / f1
            }
        }
        return total
    }

    /// The risk matrix: `priceSteps` moves over +-priceRange times volatility up, unchanged and
    /// down (weight 1), and the extended moves on volatility up at their weights; plus the
    /// contingencies.
    public static func portfolioMargin(
        _ positions: [ContractPosition], market: OptionsMarket, policy: OptionsMarginPolicy,
        historical: HistoricalMoves? = nil
    ) -> PortfolioMarginResult {
        var scenarios: [OptionsScenario] = []
        let n = policy.priceSteps
        for i in 0..<n {
            let move = policy.priceRange * (2 * Double(i) / Double(n - 1) - 1)
            for (side, shock) in [
                (OptionsScenario.Volatility.up, policy.volatilityUp), (.unchanged, 0), (.down, -policy.volatilityDown),
            ] {
                scenarios.append(
                    OptionsScenario(
                        move: move, volatility: side, weight: 1, extended: false,
                        pnl: pnl(positions, market: market, move: move, shock: shock, policy: policy)))
            }
        }
        let weights = policy.extendedMoveWeights
        for (j, move) in policy.extendedMoves.enumerated() {
            let weight = weights[j]
            scenarios.append(
                OptionsScenario(
                    move: move, volatility: .up, weight: weight, extended: true,
                    pnl: pnl(positions, market: market, move: move, shock: policy.volatilityUp, policy: policy)))
        }
        let worst = scenarios.max { $0.weightedLoss < $1.weightedLoss }
        var historicalPart: HistoricalPart?
        if let h = historical {
            var candidates: [(loss: Double, weight: Double)] = h.moves.map {
                (-pnl(positions, market: market, move: $0, shock: 0, policy: policy), 1.0)
            }
            let worstIndex = candidates.indices.max { candidates[$0].loss < candidates[$1].loss } ?? 0
            let worstLoss = candidates[worstIndex].loss
            let es = EmpiricalTail.estimate(
                candidates: &candidates, totalWeight: Double(h.moves.count), confidence: h.confidence
            ).expectedShortfall
            historicalPart = HistoricalPart(
                count: h.moves.count, expectedShortfall: max(es, 0), worstLabel: h.labels[worstIndex],
                worstLoss: worstLoss)
        }
        // net short options per (expiry, strike), calls and puts together
        var net: [Double: [Double: Double]] = [:]
        var longFutures = 0.0
        var shortFutures = 0.0
        for p in positions {
            switch p.contract {
            case .option(_, let strike, let expiry, _): net[expiry, default: [:]][strike, default: 0] += p.quantity
            case .future(let expiry, let inverse):
                let coins = inverse ? p.quantity / market.forward(expiry) : p.quantity
                if coins > 0 { longFutures += coins } else { shortFutures -= coins }
            }
        }
        let shortOptions = net.values.reduce(0.0) { $0 + $1.values.reduce(0.0) { $0 + max(0, -$1) } }
        return PortfolioMarginResult(
            policy: policy, scenarios: scenarios, worst: worst, historical: historicalPart,
            shortOptionContingency: shortOptions * policy.shortOptionContingency,
            futuresContingency: min(longFutures, shortFutures) * policy.futuresContingency)
    }
}
