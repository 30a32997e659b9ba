import RealModule
import VolScaleCore
import VolScaleRisk

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
    public internal(set) var volatility: [String: AssetVolatilityState]
    public internal(set) var sequence: Int64 = 0
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
        self.volatility = s.volatility.mapValues(Self.withoutWalkerState)
        self.sequence = s.sequence
        self.accepted = s.accepted
        self.factors = ParametricTail.factors(confidence: s.config.confidence, nu: nil)
        for (asset, model) in policies where s.config.assets.contains(asset) {
            walkers[asset] = try Self.walker(model, s.volatility[asset] ?? AssetVolatilityState())
        }
    }

    /// An asset's state without its walker's (which the engine keeps in the walker itself).
    static func withoutWalkerState(_ v: AssetVolatilityState) -> AssetVolatilityState {
        var v = v
        (v.policyState, v.policyReturns, v.policyTimes, v.policyImplied) = (nil, nil, nil, nil)
        return v
    }

    /// The assets' states as stored: each with its walker's checkpoint.
    var storedVolatility: [String: AssetVolatilityState] {
        var v = volatility
        for (asset, w) in walkers { v[asset]?.policyState = w.checkpoint }
        return v
    }

    public var snapshot: EngineSnapshot {
        EngineSnapshot(
            config: config, prices: aggregator.states,
            rejections: Dictionary(uniqueKeysWithValues: aggregator.rejections.map { ($0.key.rawValue, $0.value) }),
            volatility: storedVolatility, sequence: sequence, accepted: accepted,
            policies: policies.isEmpty ? nil : policies)
    }

    public var rejections: [RejectionReason: Int] { aggregator.rejections }

    /// One asset's state (nil for an asset the engine does not track).
    public func assetSnapshot(_ asset: String) -> AssetSnapshot? {
        guard var v = volatility[asset] else { return nil }
        if let w = walkers[asset] { v.policyState = w.checkpoint }
        return AssetSnapshot(price: aggregator.states[asset] ?? PriceState(), volatility: v)
    }

    /// Continues an asset from a stored state (taken over from another process, or followed
    /// while another process owns it): the same state, so the same next publications. An
    /// asset with a model of its own continues its walker from the stored checkpoint
    /// (`walker(for:_:)`), unless it is only `following` (its state shown, not advanced: its
    /// walker is dropped, and rebuilt from the store when the asset is taken over).
    public mutating func adopt(
        _ asset: String, _ s: AssetSnapshot, following: Bool = false, walker: MarginWalker? = nil
    ) {
        guard volatility[asset] != nil else { return }
        aggregator.adopt(asset, state: s.price)
        steps[asset] = nil
        if following {
            volatility[asset] = s.volatility
            walkers[asset] = nil
            return
        }
        volatility[asset] = Self.withoutWalkerState(s.volatility)
        if let w = walker ?? Self.walker(for: policies[asset], s) { walkers[asset] = w }
    }

    /// The walker of an asset's own model continuing a stored state (nil without a model, or
    /// when the stored state cannot be continued).
    public static func walker(for model: MarginModel?, _ s: AssetSnapshot) -> MarginWalker? {
        guard let model else { return nil }
        return try? walker(model, s.volatility)
    }

    /// The walker of `model` continuing a stored asset state: from its checkpoint when that is
    /// the same model's (bit for bit); otherwise a new walker that replays the returns stored
    /// (a snapshot written before checkpoints held every return), or those the previous model's
    /// checkpoint kept (a venue file that changed the asset's model: the new one warms up on
    /// them, as far back as the old one's windows reached).
    static func walker(_ model: MarginModel, _ st: AssetVolatilityState) throws(MarginModelError) -> MarginWalker {
        if let c = st.policyState, c.model == model { return try MarginWalker(model: model, checkpoint: c) }
        var w = try MarginWalker(model: model)
        if let c = st.policyState {
            for (r, t) in zip(c.returns, c.timestamps) { _ = try? w.step(r, timestamp: t) }
        } else {
            let implied = st.policyImplied ?? []
            for (i, (r, t)) in zip(st.policyReturns ?? [], st.policyTimes ?? []).enumerated() {
                _ = try? w.step(r, timestamp: t, implied: i < implied.count ? implied[i] : nil)
            }
        }
        return w
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
        // what a quote can change is its own asset's state and the counters: that much is kept
        // for a rollback (a copy of the whole engine would make every ingest copy every
        // asset's state, as the first write to each collection copies it)
        let saved = AssetRollback(self, q.asset)
        switch aggregator.offer(q, now: now ?? q.timestamp, barMillis: settings.barMillis ?? config.barMillis) {
        case .rejected(let r): return .failure(r)
        case .accepted(let aggregate, let unstable):
            accepted += 1
            guard let price = aggregate else { return .success([]) }
            let out = onAggregate(asset: q.asset, price: price, time: q.timestamp, unstable: unstable)
            if let problem = PublicationCheck.problem(out, volatility[q.asset]) {
                saved.restore(&self)
                lastRefusal = "\(q.asset) from \(q.source) at \(q.timestamp): \(problem)"
                return .failure(aggregator.reject(.implausibleResult))
            }
            return .success(out)
        }
    }

    /// One asset's part of the engine and the engine's counters, as they were before a quote:
    /// everything `ingest` can change when it accepts the quote.
    struct AssetRollback {
        let asset: String
        let price: PriceState?
        let volatility: AssetVolatilityState?
        let walker: MarginWalker?
        let step: MarginWalker.Step?
        let sequence: Int64
        let accepted: Int64

        init(_ e: StreamingEngine, _ asset: String) {
            self.asset = asset
            (price, volatility, walker, step) = (
                e.aggregator.states[asset], e.volatility[asset], e.walkers[asset], e.steps[asset]
            )
            (sequence, accepted) = (e.sequence, e.accepted)
        }

        func restore(_ e: inout StreamingEngine) {
            if let price { e.aggregator.adopt(asset, state: price) }
            e.volatility[asset] = volatility
            e.walkers[asset] = walker
            e.steps[asset] = step
            (e.sequence, e.accepted) = (sequence, accepted)
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
}
