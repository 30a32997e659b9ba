import RealModule
import VolScaleCore
import VolScaleRisk

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
