import RealModule
import VolScaleCore
import VolScaleRisk

/// What an instrument is. Quantities are in contracts; `multiplier` says what one
/// contract is (units of the underlying for linear contracts and options, quote currency
/// for inverse contracts).
public enum InstrumentKind: Sendable, Equatable {
    /// A balance of the asset itself, held as collateral (negative = borrowed).
    case spot
    /// Linear perpetual (`expiry == nil`) or future: P&L in the quote currency,
    /// `q * multiplier * (P - entry)`.
    case linear(expiry: Double?)
    /// Inverse perpetual or future: each contract is worth `multiplier` units of the quote
    /// currency; P&L in the base coin, `q * multiplier * (1/entry - 1/P)`, worth `P` each.
    case inverse(expiry: Double?)
    /// European option on the underlying's price, Black-76 with the index as forward,
    /// no discounting; `expiry` in years.
    case option(type: OptionType, strike: Double, expiry: Double)

    /// An inverse perpetual or future (its notional is `|q| m`, without the price).
    var isInverse: Bool {
        if case .inverse = self { return true }
        return false
    }
}

public struct Instrument: Sendable, Equatable {
    public var symbol: String
    /// Asset whose price drives it.
    public var underlying: String
    public var kind: InstrumentKind
    public var multiplier: Double
    /// Implied volatility (annualised decimal) when the book quotes one per instrument.
    public var impliedVolatility: Double?

    public init(
        symbol: String, underlying: String, kind: InstrumentKind, multiplier: Double = 1,
        impliedVolatility: Double? = nil
    ) {
        self.symbol = symbol
        self.underlying = underlying
        self.kind = kind
        self.multiplier = multiplier
        self.impliedVolatility = impliedVolatility
    }

    public var isOption: Bool { if case .option = kind { return true } else { return false } }
}

/// A rate schedule by position notional (quote currency): the rate of the highest tier
/// whose `from` the notional reaches (as the exchanges publish them).
public struct Tier: Sendable, Equatable {
    public var from: Double
    public var rate: Double
    public init(from: Double, rate: Double) {
        self.from = from
        self.rate = rate
    }
}

/// How a position's initial-margin rate grows with its size.
public enum SizeRule: Sendable, Equatable {
    /// Tier table by notional.
    case tiers([Tier])
    /// `max(base, f * sqrt(notional))`.
    case squareRoot(base: Double, f: Double)
    /// dYdX v4 open-interest scaling: the rate rises linearly from `base` to 1 as the
    /// market's open interest (quote currency) goes from `lower` to `upper`.
    case openInterest(base: Double, lower: Double, upper: Double, current: Double)

    /// Initial-margin rate for a position of this notional.
    public func rate(notional: Double) -> Double {
        switch self {
        case .tiers(let tiers):
            return tiers.filter { notional >= $0.from }.max { $0.from < $1.from }?.rate ?? (tiers.first?.rate ?? 0)
        case .squareRoot(let base, let f):
            return max(base, f * notional.squareRoot())
        case .openInterest(let base, let lower, let upper, let current):
            let x = upper > lower ? min(max((current - lower) / (upper - lower), 0), 1) : (current >= upper ? 1 : 0)
            return base + (1 - base) * x
        }
    }
}

/// An asset's parameter set as the live engine published it: what every account's margin
/// uses until the next one. Rates and haircuts are decimal fractions (of notional, of
/// value); haircuts are the size-independent part (the impact add-on comes on top).
public struct PublishedParameters: Sendable, Equatable {
    /// The sequence number of the set (its later side's publication).
    public var sequence: Int64
    public var initialLong: Double, initialShort: Double
    public var maintenanceLong: Double, maintenanceShort: Double
    /// Haircut of a balance held (long) and of a borrowed one (short).
    public var haircutLong: Double, haircutShort: Double

    public init(
        sequence: Int64, initialLong: Double, initialShort: Double, maintenanceLong: Double, maintenanceShort: Double,
        haircutLong: Double, haircutShort: Double
    ) {
        self.sequence = sequence
        self.initialLong = initialLong
        self.initialShort = initialShort
        self.maintenanceLong = maintenanceLong
        self.maintenanceShort = maintenanceShort
        self.haircutLong = haircutLong
        self.haircutShort = haircutShort
    }

    public func initial(_ side: Side) -> Double { side == .long ? initialLong : initialShort }
    public func maintenance(_ side: Side) -> Double { side == .long ? maintenanceLong : maintenanceShort }
    public func haircut(_ side: Side) -> Double { side == .long ? haircutLong : haircutShort }
}

/// An asset's risk terms out of range, found when the asset was built: which asset, which
/// field, the value, why.
public struct AssetRiskError: Error, Equatable, Sendable, CustomStringConvertible {
    public let asset: String
    public let field: String
    public let value: Double
    public let reason: String
    public var description: String { "asset '\(asset)': \(field) = \(value): \(reason)" }
}

/// Risk parameters of one asset. Volatility is per day, decimal; ADV in quote currency.
///
/// The venue's terms (rates, size rule, haircut bounds and tiers, impact threshold) are
/// checked when the asset is built and fixed after; the market's state (price, volatility,
/// ADV, spread, regime probability, depth, the engine's latest parameters) moves, and is
/// checked where it is measured.
public struct AssetRisk: Sendable, Equatable {
    public let name: String
    /// Price in the settlement (quote) currency; 1 for the settlement currency itself.
    public var price: Double
    /// Daily volatility forecast, decimal (0.03 = 3% a day); 0 for the settlement currency.
    public var volatility: Double
    /// Average daily volume, quote currency.
    public var averageDailyVolume: Double
    /// Relative bid-ask spread (0.001 = 10 bp).
    public var spread: Double
    /// Fixed initial and maintenance rates for linear positions (decimal of notional, in
    /// (0, 1], maintenance at most initial); nil: from the volatility (parametric ES over the
    /// MPOR at the book's confidence).
    public let initialRate: Double?
    public let maintenanceRate: Double?
    public let sizeRule: SizeRule?
    /// Bounds on the haircut, decimal: 0 <= floor <= cap <= 1.
    public let haircutFloor: Double
    public let haircutCap: Double
    /// Haircut tiers by holding value: `from` >= 0, rate in [0, 1].
    public let haircutTiers: [Tier]
    /// Holding value (quote currency) below which no impact add-on is charged; the add-on
    /// is `kappa sigma_1d sqrt(max(0, V - threshold) / ADV)` (0: the methodology's formula).
    public let impactThreshold: Double
    /// The live engine's latest parameter set for this asset: when present, its rates and
    /// haircuts replace the ones computed from `volatility` (and any fixed rates).
    public var published: PublishedParameters?
    /// Expected share (0...1) of the liquidation horizon that the asset's market spends in its
    /// high-variance regime, from the Markov-switching filter on its history
    /// (`FilterState.expectedShare`); scales the liquidity cost by
    /// `1 + (stressedLiquidityMultiplier - 1) p`. 0 when not measured.
    public var stressedProbability: Double = 0
    /// Order-book depth on the side a liquidation hits (venue file), empty when not given.
    public var depth: [DepthLevel] = []

    /// Throws `AssetRiskError` naming the first value out of range: the name empty; price
    /// not positive and finite; volatility, ADV or spread negative or not a number (ADV may
    /// be infinite: no impact); a fixed rate outside (0, 1] or maintenance above initial; a
    /// size rule's rates outside [0, 1] or negative notionals; haircut bounds outside
    /// 0 <= floor <= cap <= 1; a tier outside [0, 1] or from a negative value; a negative
    /// impact threshold.
    public init(
        name: String, price: Double, volatility: Double, averageDailyVolume: Double = .infinity, spread: Double = 0,
        initialRate: Double? = nil, maintenanceRate: Double? = nil, sizeRule: SizeRule? = nil,
        haircutFloor: Double = 0, haircutCap: Double = 1, haircutTiers: [Tier] = [], impactThreshold: Double = 0
    ) throws(AssetRiskError) {
        func check(_ ok: Bool, _ field: String, _ value: Double, _ reason: String) throws(AssetRiskError) {
            if !ok { throw AssetRiskError(asset: name, field: field, value: value, reason: reason) }
        }
        func unit(_ x: Double) -> Bool { x >= 0 && x <= 1 }
        func checkTiers(_ tiers: [Tier], _ field: String, from what: String) throws(AssetRiskError) {
            for t in tiers {
                try check(t.from >= 0 && t.from.isFinite, field, t.from, "a tier starts at \(what) >= 0")
                try check(unit(t.rate), field, t.rate, "a tier's rate must be in [0, 1]")
            }
        }
        try check(!name.isEmpty, "name", .nan, "must not be empty")
        try check(price > 0 && price.isFinite, "price", price, "must be positive and finite")
        try check(
            volatility >= 0 && volatility.isFinite, "volatility", volatility,
            "must be >= 0 and finite (decimal per day)")
        try check(averageDailyVolume > 0, "adv", averageDailyVolume, "must be positive (infinite: no impact)")
        try check(spread >= 0 && spread < 1, "spread", spread, "must be in [0, 1)")
        if let r = initialRate { try check(r > 0 && r <= 1, "initial_rate", r, "must be in (0, 1]") }
        if let r = maintenanceRate {
            try check(r > 0 && r <= 1, "maintenance_rate", r, "must be in (0, 1]")
            if let i = initialRate { try check(r <= i, "maintenance_rate", r, "must not exceed initial_rate (\(i))") }
        }
        switch sizeRule {
        case nil: break
        case .tiers(let tiers)?:
            try checkTiers(tiers, "tiers", from: "a notional")
        case .squareRoot(let base, let f)?:
            try check(unit(base), "size_rule.base", base, "must be in [0, 1]")
            try check(f >= 0 && f.isFinite, "size_rule.f", f, "must be >= 0")
        case .openInterest(let base, let lower, let upper, let current)?:
            try check(unit(base), "open_interest.base", base, "must be in [0, 1]")
            try check(lower >= 0 && lower.isFinite, "open_interest.lower", lower, "must be >= 0")
            try check(upper >= lower && upper.isFinite, "open_interest.upper", upper, "must be at least lower")
            try check(current >= 0 && current.isFinite, "open_interest.current", current, "must be >= 0")
        }
        try check(unit(haircutFloor), "haircut_floor", haircutFloor, "must be in [0, 1]")
        try check(
            unit(haircutCap) && haircutCap >= haircutFloor, "haircut_cap", haircutCap, "must be in [haircut_floor, 1]")
        try checkTiers(haircutTiers, "haircut_tiers", from: "a holding value")
        try check(
            impactThreshold >= 0 && impactThreshold.isFinite, "impact_threshold", impactThreshold,
            "must be a holding value >= 0")
        self.name = name
        self.price = price
        self.volatility = volatility
        self.averageDailyVolume = averageDailyVolume
        self.spread = spread
        self.initialRate = initialRate
        self.maintenanceRate = maintenanceRate
        self.sizeRule = sizeRule
        self.haircutFloor = haircutFloor
        self.haircutCap = haircutCap
        self.haircutTiers = haircutTiers
        self.impactThreshold = impactThreshold
    }

    /// The settlement currency itself: price 1, no volatility.
    public static func settlement(_ name: String) throws(AssetRiskError) -> AssetRisk {
        try AssetRisk(name: name, price: 1, volatility: 0)
    }
}

/// Everything needed to evaluate accounts: prices and risk parameters per asset, the
/// instrument catalogue, settings, and optionally joint historical scenarios.
public struct MarginBook: Sendable {
    public var assets: [String: AssetRisk]
    public var instruments: [String: Instrument]
    public var settings: MarginSettings
    /// Joint filtered-historical scenarios: `scenarios[k][asset]` is an MPOR log return of
    /// each asset on the same historical dates (correlation kept), rescaled to today's
    /// volatility.
    public var scenarios: JointScenarios?

    public init(
        assets: [AssetRisk], instruments: [Instrument], settings: MarginSettings = .standard,
        scenarios: JointScenarios? = nil
    ) {
        self.assets = Dictionary(assets.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.instruments = Dictionary(instruments.map { ($0.symbol, $0) }, uniquingKeysWith: { $1 })
        self.settings = settings
        self.scenarios = scenarios
    }

    /// Parametric normal tail factor for a side: the loss of a unit position when the log
    /// price moves by the ES (or VaR) quantile of sigma sqrt(h).
    public func volatilityRate(_ asset: AssetRisk, side: Side, horizon: Int, measure: TailMeasure = .expectedShortfall)
        -> Double
    {
        let f = ParametricTail.factors(confidence: settings.confidence, nu: nil)
        return ParametricTail.estimate(sigma: asset.volatility, horizon: horizon, factors: f, side: side).value(measure)
    }
}

/// Joint scenarios on shared historical dates.
public struct JointScenarios: Sendable, Equatable {
    /// Asset names, the column order of `returns`.
    public var assets: [String]
    /// `returns[k * assets.count + a]`: MPOR log return of asset a in scenario k.
    public var returns: [Double]
    /// Label of each scenario (its historical date).
    public var labels: [String]

    public init(assets: [String], returns: [Double], labels: [String]) {
        self.assets = assets
        self.returns = returns
        self.labels = labels
    }

    public var count: Int { labels.count }

    /// Filtered historical scenarios: per asset, devolatilised returns `r_i / sigma_i`
    /// (EWMA sigma made before each return) on common dates, summed over `mpor`
    /// overlapping days and rescaled to each asset's current volatility.
    public static func filteredHistorical(
        assets: [String], alignedReturns: [[Double]], labels: [String],
        lambda: Double = EWMA.riskMetricsLambda, mpor: Int, currentVolatility: [Double], lookback: Int
    ) throws(VolatilityError) -> JointScenarios {
        let n = alignedReturns.count
        let m = assets.count
        var z = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
        for a in 0..<m {
            let series = alignedReturns.map { $0[a] }
            let path = try EWMA(lambda: lambda).filter(series)
            for t in 0..<n { z[t][a] = series[t] / (path.variance[t] ?? .nan).squareRoot() }
        }
        let first = max(min(EWMA.seedLength, n - mpor), n - mpor + 1 - lookback)
        var out: [Double] = []
        var outLabels: [String] = []
        var k = max(first, 0)
        while k + mpor <= n {
            for a in 0..<m {
                var s = 0.0
                for i in k..<(k + mpor) { s += z[i][a] }
                out.append(s * currentVolatility[a])
            }
            outLabels.append(labels[k + mpor - 1])
            k += 1
        }
        return JointScenarios(assets: assets, returns: out, labels: outLabels)
    }
}
