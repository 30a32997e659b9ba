import RealModule
import VolScaleCore
import VolScaleRisk

/// A value stored, hashed into the audit chain and sent as a plain string, and read back
/// from it: its JSON is that string, and a string literal reads as it would from a store.
public protocol StoredAsString: Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    init(stored: String)
    var stored: String { get }
}

extension StoredAsString {
    public init(stringLiteral value: String) { self.init(stored: value) }
    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(stored)
    }
    public var description: String { stored }
}

/// Which side of an asset's parameter set a publication carries, or, for a change of the
/// margin controls (stored under the asset "policy"), who made it. Stored, hashed into the
/// audit chain and sent as the plain string: "long", "short", or the author.
public enum PublicationSide: Sendable, Hashable, StoredAsString {
    case rates(Side)
    case policyChange(by: String)

    /// The stored string read back: "long" and "short" are sides, anything else an author.
    public init(stored: String) {
        self = Side(rawValue: stored).map(PublicationSide.rates) ?? .policyChange(by: stored)
    }

    public var stored: String {
        switch self {
        case .rates(let side): return side.rawValue
        case .policyChange(let author): return author
        }
    }
    /// The side of a rates publication; nil for a policy change.
    public var side: Side? { if case .rates(let s) = self { return s } else { return nil } }
}

/// What set a published rate: one of the margin controls, the implied-volatility bound, the
/// circuit breaker holding the previous rate; for a policy change, the list of changes. Stored,
/// hashed and sent as the plain string (`BindingControl`'s names, "implied volatility",
/// "circuit breaker (no loosening while unstable)", or the changes).
public enum PublicationBinding: Sendable, Hashable, StoredAsString {
    case control(BindingControl)
    case impliedVolatility
    case circuitBreaker
    case policyChanges(String)

    static let impliedText = "implied volatility"
    static let circuitBreakerText = "circuit breaker (no loosening while unstable)"

    /// The stored string read back: a control's name, the implied bound or the circuit
    /// breaker; anything else the text of a policy change.
    public init(stored: String) {
        if let c = BindingControl(rawValue: stored) {
            self = .control(c)
        } else if stored == Self.impliedText {
            self = .impliedVolatility
        } else if stored == Self.circuitBreakerText {
            self = .circuitBreaker
        } else {
            self = .policyChanges(stored)
        }
    }

    public var stored: String {
        switch self {
        case .control(let c): return c.rawValue
        case .impliedVolatility: return Self.impliedText
        case .circuitBreaker: return Self.circuitBreakerText
        case .policyChanges(let text): return text
        }
    }
}

/// What the live engine publishes: one side of an asset's parameter set, or a change of the
/// margin controls (asset "policy"). The two sides of one bar close carry consecutive
/// sequence numbers; the later one is the set's sequence.
public struct Publication: Sendable, Equatable, Codable {
    /// The asset name under which changes of the margin controls are published.
    public static let policyAsset = "policy"

    /// Global, strictly increasing sequence number.
    public var sequence: Int64
    public var asset: String
    public var side: PublicationSide
    /// Time of the input that triggered it (UTC ms).
    public var timestamp: Int64
    /// Initial rate before and after (decimal fraction of notional; old is nil the first time).
    public var oldValue: Double?
    public var newValue: Double
    public var maintenance: Double
    /// Per-period volatility used, and which control set the value.
    public var sigma: Double
    public var binding: PublicationBinding
    public var modelVersion: String
    /// Time range of the inputs behind it.
    public var inputFrom: Int64
    public var inputTo: Int64
    /// The trusted (aggregate) price the set was made at, settlement currency; nil for
    /// policy changes and for publications stored before parameter sets carried it.
    public var price: Double?
    /// The stable price (moves towards the aggregate at a bounded rate).
    public var stablePrice: Double?
    /// Collateral haircut of this side (decimal fraction of value): `long` for a balance
    /// held, `short` for a borrowed one; the size-independent part (ES over the liquidation
    /// horizon at sigma per day plus half the spread, within floor and cap).
    public var haircut: Double?
    /// `stable` or `unstable` (circuit breaker: nothing loosens) when it was made; nil for
    /// policy changes and publications stored before sets carried it.
    public var status: PriceStatus?

    public init(
        sequence: Int64, asset: String, side: PublicationSide, timestamp: Int64, oldValue: Double?, newValue: Double,
        maintenance: Double, sigma: Double, binding: PublicationBinding, modelVersion: String, inputFrom: Int64,
        inputTo: Int64,
        price: Double? = nil, stablePrice: Double? = nil, haircut: Double? = nil, status: PriceStatus? = nil
    ) {
        self.price = price
        self.stablePrice = stablePrice
        self.haircut = haircut
        self.status = status
        self.sequence = sequence
        self.asset = asset
        // a change of the controls reads its author and its text as such whatever they say
        // (an author named "long" is still an author)
        self.side = asset == Self.policyAsset ? .policyChange(by: side.stored) : side
        self.timestamp = timestamp
        self.oldValue = oldValue
        self.newValue = newValue
        self.maintenance = maintenance
        self.sigma = sigma
        self.binding = asset == Self.policyAsset ? .policyChanges(binding.stored) : binding
        self.modelVersion = modelVersion
        self.inputFrom = inputFrom
        self.inputTo = inputTo
    }

    /// A change of the margin controls: who made it, when (UTC ms), what changed (e.g.
    /// `buffer: none -> 0.5; hardCap: none -> 0.4`) and the maintenance fraction after it.
    /// Stored as a record of its own (the stores' `policy_changes`), in the same audit chain
    /// and sequence as the parameter sets; its hashed text is the one a publication of the
    /// asset "policy" with these fields has, so chains written before it verify unchanged.
    public static func policyChange(
        sequence: Int64, by author: String, at time: Int64, changes: String,
        maintenance: Double, modelVersion: String
    ) -> Publication {
        Publication(
            sequence: sequence, asset: policyAsset, side: .policyChange(by: author), timestamp: time, oldValue: nil,
            newValue: 0,
            maintenance: maintenance, sigma: 0, binding: .policyChanges(changes), modelVersion: modelVersion,
            inputFrom: time, inputTo: time)
    }

    /// The author and the text of a policy change; nil for a parameter set.
    public var policyChange: (author: String, changes: String)? {
        guard case .policyChange(let author) = side else { return nil }
        return (author, binding.stored)
    }
}

/// Streaming settings. Built valid: the initialiser and the decoder (a snapshot read back)
/// check every value; the margin controls are a `MarginControls` built from them.
public struct EngineConfig: Sendable, Equatable, Codable {
    /// The assets margined, each named once.
    public let assets: [String]
    public let aggregation: AggregationPolicy
    /// Bar length in ms, 0 to one year; 0 = every accepted aggregate is a bar close (bar input).
    public let barMillis: Int64
    /// EWMA decay, in (0, 1).
    public let lambda: Double
    /// Parametric margin: coverage in (0.5, 1), MPOR in bars (1 to 250), measure, and the
    /// controls' rates (decimal fractions, as `MarginControls`).
    public let confidence: Double
    public let mpor: Int
    public let expectedShortfall: Bool
    public let buffer: Double?
    public let speedLimitUp: Double?
    public let speedLimitDown: Double?
    public let hardFloor: Double?
    public let hardCap: Double?
    /// Maintenance as a fraction of initial, in (0, 1].
    public let maintenanceFraction: Double
    /// Publish every this many closed bars per asset (1 to 1,000,000).
    public let publishEvery: Int
    public let modelVersion: String
    /// Per-asset settings (the venue file's); an asset without them uses the defaults.
    /// Optional so that snapshots written before they existed still load.
    public let settings: [String: AssetSettings]?
    /// Liquidation horizon of collateral haircuts, days (1 to 365; nil: 2).
    public let liquidationHorizon: Int?
    /// The implied-volatility blend of the engine's own policy: sigma = max(sigma_EWMA,
    /// w x sigma_implied) with sigma_implied the asset's latest implied volatility (from an
    /// option chain, `StreamingEngine.setImplied`) per bar; nil: no blend. Assets with a model
    /// of their own use the model's `implied_weight` instead.
    public let impliedWeight: Double?
    /// An implied volatility older than this (ms, against the bar's time, at least 1 ms) is
    /// not used (nil: one day).
    public let impliedMaxAge: Int64?
    /// The controls the rates above make (not stored: rebuilt from them).
    public let controls: MarginControls

    static let year: Int64 = 31_536_000_000

    /// Throws `EngineConfigError` naming the first value out of range.
    public init(
        assets: [String], aggregation: AggregationPolicy = .standard, barMillis: Int64 = 0,
        lambda: Double = EWMA.riskMetricsLambda, confidence: Double = 0.99, mpor: Int = 1,
        expectedShortfall: Bool = true,
        buffer: Double? = nil, speedLimitUp: Double? = nil, speedLimitDown: Double? = nil, hardFloor: Double? = nil,
        hardCap: Double? = nil, maintenanceFraction: Double = 0.8, publishEvery: Int = 1,
        modelVersion: String = "ewma-parametric-1", settings: [String: AssetSettings]? = nil,
        liquidationHorizon: Int? = nil,
        impliedWeight: Double? = nil, impliedMaxAge: Int64? = nil
    ) throws(EngineConfigError) {
        func bad(_ field: String, _ value: some CustomStringConvertible, _ reason: String) -> EngineConfigError {
            EngineConfigError(field: field, value: value.description, reason: reason)
        }
        if let a = assets.first(where: { $0.isEmpty || $0.utf8.count > 128 }) {
            throw bad("assets", "'\(a.prefix(128))'", "an asset name is 1 to 128 bytes")
        }
        guard Set(assets).count == assets.count else {
            throw bad("assets", assets.joined(separator: ","), "an asset is named twice")
        }
        guard barMillis >= 0 && barMillis <= Self.year else {
            throw bad("barMillis", barMillis, "must be 0 to \(Self.year) ms")
        }
        guard lambda > 0 && lambda < 1 else { throw bad("lambda", lambda, "must be in (0, 1)") }
        guard confidence > 0.5 && confidence < 1 else { throw bad("confidence", confidence, "must be in (0.5, 1)") }
        guard mpor >= 1 && mpor <= MarginModel.maxBars else {
            throw bad("mpor", mpor, "must be 1 to \(MarginModel.maxBars) bars")
        }
        guard publishEvery >= 1 && publishEvery <= 1_000_000 else {
            throw bad("publishEvery", publishEvery, "must be 1 to 1000000 bars")
        }
        guard !modelVersion.isEmpty && modelVersion.utf8.count <= 128 else {
            throw bad("modelVersion", modelVersion.prefix(128), "must be 1 to 128 bytes")
        }
        if let h = liquidationHorizon {
            guard h >= 1 && h <= 365 else { throw bad("liquidationHorizon", h, "must be 1 to 365 days") }
        }
        if let w = impliedWeight {
            guard w > 0 && w.isFinite else { throw bad("impliedWeight", w, "must be positive") }
        }
        if let a = impliedMaxAge {
            guard a >= 1 && a <= AggregationPolicy.maxAgeLimit else {
                throw bad("impliedMaxAge", a, "must be 1 to \(AggregationPolicy.maxAgeLimit) ms")
            }
        }
        if let stray = settings?.keys.sorted().first(where: { !assets.contains($0) }) {
            throw bad("settings", stray, "settings for an asset the engine does not margin")
        }
        do {
            controls = try MarginControls(
                buffer: buffer, speedLimitUp: speedLimitUp, speedLimitDown: speedLimitDown,
                hardFloor: hardFloor, hardCap: hardCap, maintenance: .fractionOfInitial(maintenanceFraction))
        } catch {
            guard case .invalidControl(let field, let value, let reason) = error else {
                throw bad("controls", "\(error)", "invalid")
            }
            throw bad(field, value, reason)
        }
        (self.assets, self.aggregation, self.barMillis, self.lambda, self.confidence, self.mpor) = (
            assets, aggregation, barMillis, lambda, confidence, mpor
        )
        (self.expectedShortfall, self.buffer, self.speedLimitUp, self.speedLimitDown) = (
            expectedShortfall, buffer, speedLimitUp, speedLimitDown
        )
        (self.hardFloor, self.hardCap, self.maintenanceFraction, self.publishEvery) = (
            hardFloor, hardCap, maintenanceFraction, publishEvery
        )
        (self.modelVersion, self.settings, self.liquidationHorizon) = (modelVersion, settings, liquidationHorizon)
        (self.impliedWeight, self.impliedMaxAge) = (impliedWeight, impliedMaxAge)
    }

    /// The same settings with the margin controls changed (a policy change): `.some(nil)`
    /// switches a control off, `nil` leaves it. Checked as a new configuration.
    public func withControls(
        buffer: Double?? = nil, speedLimitUp: Double?? = nil, speedLimitDown: Double?? = nil,
        hardFloor: Double?? = nil, hardCap: Double?? = nil, maintenanceFraction: Double? = nil
    ) throws(EngineConfigError) -> EngineConfig {
        try EngineConfig(
            assets: assets, aggregation: aggregation, barMillis: barMillis, lambda: lambda, confidence: confidence,
            mpor: mpor,
            expectedShortfall: expectedShortfall, buffer: buffer ?? self.buffer,
            speedLimitUp: speedLimitUp ?? self.speedLimitUp,
            speedLimitDown: speedLimitDown ?? self.speedLimitDown, hardFloor: hardFloor ?? self.hardFloor,
            hardCap: hardCap ?? self.hardCap, maintenanceFraction: maintenanceFraction ?? self.maintenanceFraction,
            publishEvery: publishEvery, modelVersion: modelVersion, settings: settings,
            liquidationHorizon: liquidationHorizon,
            impliedWeight: impliedWeight, impliedMaxAge: impliedMaxAge)
    }

    enum CodingKeys: String, CodingKey {
        case assets, aggregation, barMillis, lambda, confidence, mpor, expectedShortfall, buffer, speedLimitUp,
            speedLimitDown
        case hardFloor, hardCap, maintenanceFraction, publishEvery, modelVersion, settings, liquidationHorizon,
            impliedWeight, impliedMaxAge
    }

    /// Reads a configuration back (from a snapshot) and checks it as the initialiser does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            assets: c.decode([String].self, forKey: .assets),
            aggregation: c.decode(AggregationPolicy.self, forKey: .aggregation),
            barMillis: c.decode(Int64.self, forKey: .barMillis), lambda: c.decode(Double.self, forKey: .lambda),
            confidence: c.decode(Double.self, forKey: .confidence), mpor: c.decode(Int.self, forKey: .mpor),
            expectedShortfall: c.decode(Bool.self, forKey: .expectedShortfall),
            buffer: c.decodeIfPresent(Double.self, forKey: .buffer),
            speedLimitUp: c.decodeIfPresent(Double.self, forKey: .speedLimitUp),
            speedLimitDown: c.decodeIfPresent(Double.self, forKey: .speedLimitDown),
            hardFloor: c.decodeIfPresent(Double.self, forKey: .hardFloor),
            hardCap: c.decodeIfPresent(Double.self, forKey: .hardCap),
            maintenanceFraction: c.decode(Double.self, forKey: .maintenanceFraction),
            publishEvery: c.decode(Int.self, forKey: .publishEvery),
            modelVersion: c.decode(String.self, forKey: .modelVersion),
            settings: c.decodeIfPresent([String: AssetSettings].self, forKey: .settings),
            liquidationHorizon: c.decodeIfPresent(Int.self, forKey: .liquidationHorizon),
            impliedWeight: c.decodeIfPresent(Double.self, forKey: .impliedWeight),
            impliedMaxAge: c.decodeIfPresent(Int64.self, forKey: .impliedMaxAge))
    }

    public func settings(_ asset: String) -> AssetSettings { settings?[asset] ?? .none }

    /// Each asset's own aggregation rules, where its settings give them.
    var aggregationOverrides: [String: AggregationPolicy] {
        (settings ?? [:]).compactMapValues(\.aggregation)
    }
}

/// What the live engine needs to know of one asset beyond the engine-wide settings. Built
/// valid, as `EngineConfig`.
public struct AssetSettings: Sendable, Equatable, Codable {
    /// Aggregation rules of this asset (nil: the engine's).
    public let aggregation: AggregationPolicy?
    /// Bar length in ms, 0 to one year (nil: the engine's `barMillis`).
    public let barMillis: Int64?
    /// Bars per day, to state volatility per day: sigma_1d = sigma_bar * sqrt(barsPerDay).
    /// Rates and haircuts are computed from sigma_1d over the MPOR and the liquidation
    /// horizon in days; with 1 (daily bars) the MPOR is in bars, as before it existed.
    /// In [1/7, 86,400].
    public let barsPerDay: Double?
    /// Relative bid-ask spread (half is part of the haircut) in [0, 1), haircut floor and cap
    /// in [0, 1], the floor not above the cap.
    public let spread: Double?
    public let haircutFloor: Double?
    public let haircutCap: Double?
    /// The sources the venue declares for the asset (1 to 128 bytes each, at most the sources
    /// kept): a quote from any other is refused (`undeclaredSource`). nil: any source (tests,
    /// files ingested by hand).
    public let sources: [String]?

    /// No settings of its own: the engine's.
    public static let none = AssetSettings(unchecked: ())

    private init(unchecked: Void) {
        (aggregation, barMillis, barsPerDay, spread, haircutFloor, haircutCap, sources) = (
            nil, nil, nil, nil, nil, nil, nil
        )
    }

    /// Throws `EngineConfigError` naming the first value out of range.
    public init(
        aggregation: AggregationPolicy? = nil, barMillis: Int64? = nil, barsPerDay: Double? = nil,
        spread: Double? = nil, haircutFloor: Double? = nil, haircutCap: Double? = nil, sources: [String]? = nil
    ) throws(EngineConfigError) {
        func bad(_ field: String, _ value: some CustomStringConvertible, _ reason: String) -> EngineConfigError {
            EngineConfigError(field: "settings.\(field)", value: value.description, reason: reason)
        }
        if let names = sources {
            if let n = names.first(where: { $0.isEmpty || $0.utf8.count > 128 }) {
                throw bad("sources", "'\(n.prefix(128))'", "a source name is 1 to 128 bytes")
            }
            guard Set(names).count == names.count else {
                throw bad("sources", names.joined(separator: ","), "a source is named twice")
            }
            let kept = aggregation?.maxSourcesPerAsset ?? AggregationPolicy.defaultMaxSources
            guard !names.isEmpty && names.count <= kept else {
                throw bad("sources", names.count, "must declare 1 to \(kept) sources (the sources kept)")
            }
        }
        if let b = barMillis {
            guard b >= 0 && b <= EngineConfig.year else {
                throw bad("barMillis", b, "must be 0 to \(EngineConfig.year) ms")
            }
        }
        if let n = barsPerDay {
            guard n >= 1.0 / 7 && n <= 86_400 else { throw bad("barsPerDay", n, "must be in [1/7, 86400]") }
        }
        if let s = spread { guard s >= 0 && s < 1 else { throw bad("spread", s, "must be in [0, 1)") } }
        if let f = haircutFloor { guard f >= 0 && f <= 1 else { throw bad("haircutFloor", f, "must be in [0, 1]") } }
        if let c = haircutCap {
            guard c >= 0 && c <= 1 && c >= (haircutFloor ?? 0) else {
                throw bad("haircutCap", c, "must be in [0, 1], not below the floor")
            }
        }
        (self.aggregation, self.barMillis, self.barsPerDay) = (aggregation, barMillis, barsPerDay)
        (self.spread, self.haircutFloor, self.haircutCap, self.sources) = (spread, haircutFloor, haircutCap, sources)
    }

    /// Reads settings back (from a snapshot) and checks them as the initialiser does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            aggregation: c.decodeIfPresent(AggregationPolicy.self, forKey: .aggregation),
            barMillis: c.decodeIfPresent(Int64.self, forKey: .barMillis),
            barsPerDay: c.decodeIfPresent(Double.self, forKey: .barsPerDay),
            spread: c.decodeIfPresent(Double.self, forKey: .spread),
            haircutFloor: c.decodeIfPresent(Double.self, forKey: .haircutFloor),
            haircutCap: c.decodeIfPresent(Double.self, forKey: .haircutCap),
            sources: c.decodeIfPresent([String].self, forKey: .sources))
    }
}

/// The O(1) volatility state of one asset.
public struct AssetVolatilityState: Sendable, Equatable, Codable {
    /// Close of the last trusted bar (returns are taken from it), and of the bar being formed.
    public var lastClose: Double?
    public var pending: Double?
    public var pendingBar: Int64?
    /// Whether the bar being formed ended with the circuit breaker tripped (its close is not a
    /// trusted price).
    public var pendingTripped: Bool?
    /// Bars whose close was not trusted (circuit breaker): no return was taken from them.
    public var untrustedBars: Int64?
    /// Returns kept until the EWMA seed window (75, as arch) is full.
    public var seedReturns: [Double] = []
    /// sigma^2 for the next return (decimal, per bar) once seeded.
    public var variance: Double?
    public var returns: Int64 = 0
    public var barsSincePublication: Int = 0
    public var firstInput: Int64?
    public var lastInput: Int64?
    public var published: [String: Double] = [:]
    /// Last published haircut per side (optional: older snapshots have none).
    public var haircuts: [String: Double]?
    /// For an asset with a margin model of its own (`StreamingEngine.policies`): every bar
    /// return and its bar's time, from which its `MarginWalker` is rebuilt on restart.
    public var policyReturns: [Double]?
    public var policyTimes: [Int64]?
    /// The model's last error (a GARCH fit that failed): no publication at that bar.
    public var policyError: String?
    /// The latest implied volatility of the asset (from an option chain), and, for an asset
    /// with a model of its own, the per-bar implied volatility each bar's step used (nil
    /// where none was fresh), from which the walker is rebuilt on restart.
    public var implied: ImpliedVolatility?
    public var policyImplied: [Double?]?

    public init() {}
}

/// An implied volatility of an asset from an option chain: the 30-day model-free index (the
/// CBOE white-paper method, as Deribit's DVOL), annualised decimal, 365-day year.
public struct ImpliedVolatility: Sendable, Equatable, Codable {
    public var annualised: Double
    /// The chain's moment, UTC ms.
    public var time: Int64
    /// Where it came from (e.g. "chain: 2 expiries, 54 options").
    public var source: String

    public init(annualised: Double, time: Int64, source: String) {
        self.annualised = annualised
        self.time = time
        self.source = source
    }

    /// Per bar: sigma_annual / sqrt(365 x barsPerDay).
    public func perBar(barsPerDay: Double) -> Double { annualised / (365 * barsPerDay).squareRoot() }
}

/// Why an implied volatility was refused.
public enum ImpliedRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownAsset
    case outOfRange(Double)
    case olderThanCurrent(current: Int64)

    public var description: String {
        switch self {
        case .unknownAsset: return "unknown asset"
        case .outOfRange(let v): return "implied volatility \(v) is outside (0, 10] (annualised decimal)"
        case .olderThanCurrent(let t): return "the chain is older than the asset's current one (taken at \(t) ms)"
        }
    }
}

/// Everything that must survive a restart.
public struct EngineSnapshot: Sendable, Equatable, Codable {
    public var config: EngineConfig
    public var prices: [String: PriceState]
    public var rejections: [String: Int]
    public var volatility: [String: AssetVolatilityState]
    public var sequence: Int64
    public var accepted: Int64
    /// The assets' own margin models in force when the snapshot was taken (nil in snapshots
    /// written before they were stored, and when no asset has one): a process that resumes
    /// the store margins each asset by the model that published its last rates.
    public var policies: [String: MarginModel]?
}

/// One asset's part of the engine state: what a process that takes the asset over (several
/// `volscale serve` processes on one PostgreSQL) needs to continue it exactly where its
/// previous owner stopped. Everything in it is the asset's own: the engine's state is the
/// union of its assets' states plus the venue's configuration.
public struct AssetSnapshot: Sendable, Equatable, Codable {
    public var price: PriceState
    public var volatility: AssetVolatilityState
    public init(price: PriceState, volatility: AssetVolatilityState) {
        self.price = price
        self.volatility = volatility
    }
}

/// The live engine: quotes in, trusted prices, volatility and margin publications out.
/// Deterministic: the same quotes in the same order give the same state and publications.
public struct StreamingEngine: Sendable {
    public private(set) var config: EngineConfig
    /// Assets margined by a model of their own (any model `volscale backtest` runs live:
    /// EWMA or GARCH/GJR, parametric, HS or FHS, with its controls) instead of the engine's
    /// EWMA-parametric policy: each publishes, bar for bar, the path the batch engine
    /// computes on the same bars (`MarginWalker`). From the venue file, not the snapshot.
    public private(set) var policies: [String: MarginModel]
    var walkers: [String: MarginWalker] = [:]
    /// The walker's rates at the bar just closed, for the publication that follows.
    var steps: [String: MarginWalker.Step] = [:]
    public private(set) var aggregator: PriceAggregator
    public private(set) var volatility: [String: AssetVolatilityState]
    public private(set) var sequence: Int64 = 0
    public private(set) var accepted: Int64 = 0
    /// Why the last `implausibleResult` was refused (not part of the snapshot).
    public private(set) var lastRefusal: String?
    let factors: (quantile: Double, es: Double)

    public static let seedWindow = EWMA.seedLength

    /// An engine whose assets with a model in `policies` are margined by it.
    public init(config: EngineConfig, policies: [String: MarginModel]) throws(MarginModelError) {
        self.init(config: config)
        self.policies = policies
        for (asset, model) in policies where config.assets.contains(asset) {
            walkers[asset] = try MarginWalker(model: model)
        }
    }

    public init(config: EngineConfig) {
        self.config = config
        self.policies = [:]
        self.aggregator = PriceAggregator(
            policy: config.aggregation, assets: config.assets, overrides: config.aggregationOverrides)
        self.volatility = Dictionary(uniqueKeysWithValues: config.assets.map { ($0, AssetVolatilityState()) })
        self.factors = ParametricTail.factors(confidence: config.confidence, nu: nil)
    }

    /// Resumes a snapshot with the policies stored in it (the venue's when it was taken).
    public init(snapshot s: EngineSnapshot) throws(MarginModelError) {
        try self.init(snapshot: s, policies: s.policies ?? [:])
    }

    /// Resumes a snapshot with `policies` (a venue file's, which may differ from the stored
    /// ones); their walkers are rebuilt from the stored bar returns (the same steps again, so
    /// the same state).
    public init(snapshot s: EngineSnapshot, policies: [String: MarginModel]) throws(MarginModelError) {
        self.config = s.config
        self.policies = policies
        var rej: [RejectionReason: Int] = [:]
        for (k, v) in s.rejections { if let r = RejectionReason(rawValue: k) { rej[r] = v } }
        self.aggregator = PriceAggregator(
            policy: s.config.aggregation, states: s.prices, rejections: rej, overrides: s.config.aggregationOverrides)
        self.volatility = s.volatility
        self.sequence = s.sequence
        self.accepted = s.accepted
        self.factors = ParametricTail.factors(confidence: s.config.confidence, nu: nil)
        for (asset, model) in policies where s.config.assets.contains(asset) {
            var w = try MarginWalker(model: model)
            if let st = s.volatility[asset] { Self.replay(&w, st) }
            walkers[asset] = w
        }
    }

    public var snapshot: EngineSnapshot {
        EngineSnapshot(
            config: config, prices: aggregator.states,
            rejections: Dictionary(uniqueKeysWithValues: aggregator.rejections.map { ($0.key.rawValue, $0.value) }),
            volatility: volatility, sequence: sequence, accepted: accepted,
            policies: policies.isEmpty ? nil : policies)
    }

    public var rejections: [RejectionReason: Int] { aggregator.rejections }

    /// One asset's state (nil for an asset the engine does not track).
    public func assetSnapshot(_ asset: String) -> AssetSnapshot? {
        guard let v = volatility[asset] else { return nil }
        return AssetSnapshot(price: aggregator.states[asset] ?? PriceState(), volatility: v)
    }

    /// Continues an asset from a stored state (taken over from another process, or followed
    /// while another process owns it): the same state, so the same next publications. An
    /// asset with a model of its own needs its walker rebuilt from the stored bar returns
    /// (`walker(for:_:)`, one pass over its bars: built outside the engine's owner so that
    /// it blocks nothing), unless it is only `following` (its state shown, not advanced).
    public mutating func adopt(
        _ asset: String, _ s: AssetSnapshot, following: Bool = false, walker: MarginWalker? = nil
    ) {
        guard volatility[asset] != nil else { return }
        aggregator.adopt(asset, state: s.price)
        volatility[asset] = s.volatility
        steps[asset] = nil
        if following { return }
        if let w = walker ?? Self.walker(for: policies[asset], s) { walkers[asset] = w }
    }

    /// The walker of an asset's own model after the stored state's bars (nil without a model).
    public static func walker(for model: MarginModel?, _ s: AssetSnapshot) -> MarginWalker? {
        guard let model, var w = try? MarginWalker(model: model) else { return nil }
        replay(&w, s.volatility)
        return w
    }

    /// Steps a new walker through an asset's stored bars, with the implied volatility each used.
    static func replay(_ w: inout MarginWalker, _ st: AssetVolatilityState) {
        let implied = st.policyImplied ?? []
        for (i, (r, t)) in zip(st.policyReturns ?? [], st.policyTimes ?? []).enumerated() {
            _ = try? w.step(r, timestamp: t, implied: i < implied.count ? implied[i] : nil)
        }
    }

    /// A new implied volatility for an asset (annualised decimal, from an option chain taken at
    /// `time`, UTC ms). Refused for an unknown asset, a value outside (0, 10], or a chain older
    /// than the asset's current one.
    public mutating func setImplied(_ asset: String, _ value: ImpliedVolatility) -> ImpliedRejection? {
        guard var st = volatility[asset] else { return .unknownAsset }
        guard value.annualised > 0, value.annualised <= 10, value.annualised.isFinite else {
            return .outOfRange(value.annualised)
        }
        if let old = st.implied, value.time < old.time { return .olderThanCurrent(current: old.time) }
        st.implied = value
        volatility[asset] = st
        return nil
    }

    /// The asset's implied volatility per bar at `time` (nil when none, or older than the limit).
    func impliedPerBar(_ asset: String, _ st: AssetVolatilityState, at time: Int64) -> Double? {
        guard let iv = st.implied, time - iv.time <= (config.impliedMaxAge ?? 86_400_000), iv.time <= time + 60_000
        else { return nil }
        return iv.perBar(barsPerDay: config.settings(asset).barsPerDay ?? 1)
    }

    /// Feeds one quote. Returns the publications it triggered (possibly none) or the
    /// reason it was rejected.
    ///
    /// Beyond the aggregator's rules: a source the asset does not declare is refused, and so
    /// is a quote before the asset's current bar (a closed bar never changes). A quote whose
    /// publications or state would hold a value that is not finite or outside its bounds is
    /// refused as `implausibleResult` and the engine is left exactly as it was before it
    /// (`lastRefusal` says why): nothing of it can reach a publication or the store.
    public mutating func ingest(_ q: Quote, now: Int64? = nil) -> Result<[Publication], RejectionReason> {
        let settings = config.settings(q.asset)
        if let declared = settings.sources, !declared.contains(q.source) {
            return .failure(aggregator.reject(.undeclaredSource))
        }
        if let st = volatility[q.asset], let last = st.lastInput {
            let barMillis = settings.barMillis ?? config.barMillis
            let before = barMillis > 0 ? q.timestamp / barMillis < (st.pendingBar ?? Int64.min) : q.timestamp < last
            if before { return .failure(aggregator.reject(.beforeLastBar)) }
        }
        let saved = self
        switch aggregator.offer(q, now: now ?? q.timestamp, barMillis: settings.barMillis ?? config.barMillis) {
        case .rejected(let r): return .failure(r)
        case .accepted(let aggregate, let unstable):
            accepted += 1
            guard let price = aggregate else { return .success([]) }
            let out = onAggregate(asset: q.asset, price: price, time: q.timestamp, unstable: unstable)
            if let problem = PublicationCheck.problem(out, volatility[q.asset]) {
                self = saved
                lastRefusal = "\(q.asset) from \(q.source) at \(q.timestamp): \(problem)"
                return .failure(aggregator.reject(.implausibleResult))
            }
            return .success(out)
        }
    }

    /// Changes the margin controls. The change is itself a publication (asset "policy",
    /// side = who made it, binding = what changed), so it enters the audit chain. A change
    /// that leaves the controls invalid (a cap at or below the floor, a buffer under 0.25)
    /// throws and changes nothing.
    public mutating func updatePolicy(
        buffer: Double??, speedLimitUp: Double??, speedLimitDown: Double??, hardFloor: Double??,
        hardCap: Double??, maintenanceFraction: Double?, by who: String, at time: Int64
    ) throws(EngineConfigError) -> Publication {
        let changed = try config.withControls(
            buffer: buffer, speedLimitUp: speedLimitUp, speedLimitDown: speedLimitDown,
            hardFloor: hardFloor, hardCap: hardCap, maintenanceFraction: maintenanceFraction)
        var changes: [String] = []
        func note(_ name: String, _ given: Double??, _ old: Double?) {
            guard let v = given else { return }
            changes.append("\(name): \(old.map { "\($0)" } ?? "none") -> \(v.map { "\($0)" } ?? "none")")
        }
        note("buffer", buffer, config.buffer)
        note("speedLimitUp", speedLimitUp, config.speedLimitUp)
        note("speedLimitDown", speedLimitDown, config.speedLimitDown)
        note("hardFloor", hardFloor, config.hardFloor)
        note("hardCap", hardCap, config.hardCap)
        if let m = maintenanceFraction { changes.append("maintenanceFraction: \(config.maintenanceFraction) -> \(m)") }
        config = changed
        sequence += 1
        return .policyChange(
            sequence: sequence, by: who, at: time, changes: changes.joined(separator: "; "),
            maintenance: config.maintenanceFraction, modelVersion: config.modelVersion)
    }

    /// Takes the margin controls of a configuration another process changed (several
    /// processes on one store: a policy update made through any of them holds for all).
    public mutating func adoptControls(from other: EngineConfig) throws(EngineConfigError) {
        config = try config.withControls(
            buffer: .some(other.buffer), speedLimitUp: .some(other.speedLimitUp),
            speedLimitDown: .some(other.speedLimitDown), hardFloor: .some(other.hardFloor),
            hardCap: .some(other.hardCap), maintenanceFraction: other.maintenanceFraction)
    }

    /// A new aggregate price. Returns are taken from trusted prices only: a bar that closes
    /// while the circuit breaker is tripped is skipped, neither stepped nor published, and the
    /// next trusted close takes its return from the last trusted one. A spike that reverts
    /// within the breaker's spell thus never enters volatility; one that persists enters once,
    /// as one return, when the breaker releases. (A quote outside the deviation band never
    /// reaches the aggregate; while one is being dropped the asset is unstable, and its rates
    /// do not loosen, but the agreeing sources' aggregate is trusted.)
    mutating func onAggregate(asset: String, price: Double, time: Int64, unstable: Bool) -> [Publication] {
        guard var st = volatility[asset] else { return [] }
        if st.firstInput == nil { st.firstInput = time }
        st.lastInput = time
        var out: [Publication] = []
        let barMillis = config.settings(asset).barMillis ?? config.barMillis
        let tripped = aggregator.states[asset]?.tripped == true
        if barMillis <= 0 {
            if closeBar(&st, asset: asset, close: price, barTime: time, trusted: !tripped) {
                out = maybePublish(asset: asset, state: &st, time: time, unstable: unstable)
            }
        } else {
            let bar = time / barMillis
            if let pb = st.pendingBar, bar > pb, let close = st.pending,
                closeBar(&st, asset: asset, close: close, barTime: pb &* barMillis, trusted: st.pendingTripped != true)
            {
                out = maybePublish(asset: asset, state: &st, time: time, unstable: unstable)
            }
            st.pending = price
            st.pendingBar = bar
            st.pendingTripped = tripped
        }
        volatility[asset] = st
        return out
    }

    /// Absorbs one bar close: O(1) after the seed window (EWMA update); an asset with a
    /// model of its own also steps its walker (`barTime`: the bar's time, UTC ms). An
    /// untrusted close is counted and otherwise ignored. Returns whether a return was taken.
    mutating func closeBar(
        _ st: inout AssetVolatilityState, asset: String, close: Double, barTime: Int64, trusted: Bool
    ) -> Bool {
        guard trusted else {
            st.untrustedBars = (st.untrustedBars ?? 0) + 1
            return false
        }
        defer { st.lastClose = close }
        guard let last = st.lastClose else { return true }
        let r = Double.log(close / last)
        st.returns += 1
        st.barsSincePublication += 1
        if var w = walkers[asset] {
            var rs = st.policyReturns ?? []
            var ts = st.policyTimes ?? []
            st.policyReturns = nil
            st.policyTimes = nil
            rs.append(r)
            ts.append(barTime)
            st.policyReturns = rs
            st.policyTimes = ts
            let implied = w.model.impliedWeight != nil ? impliedPerBar(asset, st, at: barTime) : nil
            if implied != nil || st.policyImplied != nil {
                var ivs = st.policyImplied ?? []
                st.policyImplied = nil
                while ivs.count < rs.count - 1 { ivs.append(nil) }
                ivs.append(implied)
                st.policyImplied = ivs
            }
            do {
                steps[asset] = try w.step(r, timestamp: barTime, implied: implied)
                st.policyError = nil
            } catch {
                steps[asset] = nil
                st.policyError = error.description
            }
            walkers[asset] = w
        }
        // the batch filter's recursion (EWMA.State), stepped once per bar
        if let v = st.variance {
            var state = EWMA.State(variance: v)
            state.update(r, lambda: config.lambda)
            st.variance = state.variance
        } else {
            st.seedReturns.append(r)
            if st.seedReturns.count == Self.seedWindow {
                st.variance = EWMA.State.seeded(st.seedReturns, lambda: config.lambda).variance
                st.seedReturns = []
            }
        }
        return true
    }

    mutating func maybePublish(asset: String, state st: inout AssetVolatilityState, time: Int64, unstable: Bool)
        -> [Publication]
    {
        let step = walkers[asset] != nil ? steps.removeValue(forKey: asset) : nil
        if walkers[asset] != nil {
            // a model of its own publishes every bar it has rates for
            guard step != nil else { return [] }
        } else {
            guard st.variance != nil, st.barsSincePublication >= config.publishEvery else { return [] }
        }
        st.barsSincePublication = 0
        var sigma = step?.sigma ?? (st.variance ?? 0).squareRoot()
        var impliedBound = step?.impliedBound ?? false
        if step == nil, let w = config.impliedWeight, let iv = impliedPerBar(asset, st, at: time), w * iv > sigma {
            sigma = w * iv
            impliedBound = true
        }
        let settings = config.settings(asset)
        let sigmaDaily = sigma * (settings.barsPerDay ?? 1).squareRoot()
        // while unstable, the set carries the last trusted close, not the aggregate that tripped the breaker
        let price = aggregator.states[asset]
        var haircuts = st.haircuts ?? [:]
        var out: [Publication] = []
        for side in Side.allCases {
            let previous = st.published[side.rawValue]
            var rate: Double
            var maintenance: Double
            var binding: PublicationBinding
            if let s = step?.side(side) {
                rate = s.margin
                maintenance = s.maintenance
                binding = .control(s.binding)
            } else {
                let tail = ParametricTail.estimate(
                    sigma: sigmaDaily, horizon: config.mpor, factors: factors, side: side)
                let m = config.expectedShortfall ? tail.expectedShortfall : tail.valueAtRisk
                let controlled = config.controls.apply(model: m, floorValue: nil, previous: previous)
                rate = controlled.rate
                maintenance = config.maintenanceFraction * rate
                binding = .control(controlled.binding)
            }
            if impliedBound && binding == .control(.model) { binding = .impliedVolatility }
            let cap = rateCap(asset, side)
            if rate > cap {
                maintenance *= cap / rate
                rate = cap
                binding = .control(.hardCap)
            }
            if unstable, let p = previous, rate < p {
                maintenance = rate > 0 ? maintenance * (p / rate) : maintenance
                rate = p
                binding = .circuitBreaker
            }
            if step == nil { maintenance = config.maintenanceFraction * rate }
            var haircut = CollateralHaircut.base(
                sigmaDaily: sigmaDaily, horizon: config.liquidationHorizon ?? 2, factors: factors, side: side,
                spread: settings.spread ?? 0, floor: settings.haircutFloor ?? 0, cap: settings.haircutCap ?? 1
            ).rate
            if unstable, let p = haircuts[side.rawValue], haircut < p { haircut = p }
            haircuts[side.rawValue] = haircut
            sequence += 1
            st.published[side.rawValue] = rate
            out.append(
                Publication(
                    sequence: sequence, asset: asset, side: .rates(side), timestamp: time, oldValue: previous,
                    newValue: rate, maintenance: maintenance, sigma: sigma, binding: binding,
                    modelVersion: policies[asset]?.name ?? config.modelVersion, inputFrom: st.firstInput ?? time,
                    inputTo: time,
                    price: unstable ? st.lastClose : price?.aggregate, stablePrice: price?.stable, haircut: haircut,
                    status: PriceStatus(unstable: unstable)))
        }
        st.haircuts = haircuts
        return out
    }

    /// The default hard cap of a policy that sets none: 100% of notional (decimal).
    public static let defaultRateCap = 1.0

    /// The highest initial rate an asset's side may publish (decimal fraction of notional): its
    /// policy's hard cap, or `defaultRateCap` where the policy has none; for the long side never
    /// above 1 (a long linear position cannot lose more than its notional).
    public func rateCap(_ asset: String, _ side: Side) -> Double {
        let cap = (policies[asset].map(\.controls.hardCap) ?? config.hardCap) ?? Self.defaultRateCap
        return side == .long ? min(cap, 1) : cap
    }
}
