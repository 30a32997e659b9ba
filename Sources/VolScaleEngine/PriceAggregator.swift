import RealModule
import VolScaleCore

/// One price quote from one source. Times in UTC milliseconds.
public struct Quote: Sendable, Equatable, Codable {
    public var asset: String
    public var source: String
    public var timestamp: Int64
    public var price: Double
    /// Absolute uncertainty in price units (Pyth's confidence), when the source gives one.
    public var confidence: Double?

    /// Timestamps the engine accepts: 1900-01-01 to 2100-01-01 UTC, in ms. Bounding them keeps
    /// every difference of two timestamps far from Int64 overflow.
    public static let timestampRange: ClosedRange<Int64> = EpochMillis.range

    public init(asset: String, source: String, timestamp: Int64, price: Double, confidence: Double? = nil) {
        self.asset = asset
        self.source = source
        self.timestamp = timestamp
        self.price = price
        self.confidence = confidence
    }
}

/// What makes a quote unique: exactly-once ingestion is by (asset, source, timestamp).
public struct QuoteKey: Hashable, Sendable {
    public let asset: String
    public let source: String
    public let timestamp: Int64
    public init(asset: String, source: String, timestamp: Int64) {
        (self.asset, self.source, self.timestamp) = (asset, source, timestamp)
    }
    public init(_ q: Quote) { self.init(asset: q.asset, source: q.source, timestamp: q.timestamp) }
}

/// Why a quote or an aggregate was not used. Every rejection is counted by reason.
public enum RejectionReason: String, Error, Sendable, CaseIterable, Codable {
    case nonFinitePrice = "non-finite price"
    case nonPositivePrice = "non-positive price"
    case futureTimestamp = "timestamp in the future"
    case unknownAsset = "unknown asset"
    case outOfOrder = "out of order"
    case duplicate = "duplicate"
    case flooding = "source flooding"
    case stale
    case lowConfidence = "confidence too wide"
    case deviation = "too far from the other sources"
    case tooFewSources = "too few agreeing sources"
    case timestampOutOfRange = "timestamp outside 1900-2100"
    case tooManySources = "too many sources for the asset"
    /// The same (asset, source, timestamp) as an accepted quote with another price.
    case conflict = "conflicting duplicate"
    /// More than the asset's maximum age older than its newest quote (event time).
    case tooOld = "older than the maximum age"
    /// Before the start of the asset's current bar: a closed bar never changes.
    case beforeLastBar = "before the asset's current bar"
    /// A source the venue does not declare for the asset.
    case undeclaredSource = "undeclared source"
    /// The quote would have published a value that is not finite or outside the asset's
    /// bounds; the engine state was rolled back to before it.
    case implausibleResult = "result not finite or out of bounds"
}

/// Aggregation rules (methodology section 9). Built valid: the initialiser and the decoder
/// (a snapshot read back) check every value.
public struct AggregationPolicy: Sendable, Equatable, Codable {
    /// Quotes older than this (ms) at aggregation time are stale; 1 ms to 2^61 ms.
    public let maxAge: Int64
    /// Largest confidence / price accepted, in [0, 1].
    public let maxConfidenceRatio: Double
    /// Largest |price / median(all fresh quotes) - 1| accepted, in (0, 1].
    public let maxDeviation: Double
    /// Sources that must agree for an aggregate to be published, 1 to the sources kept.
    public let minSources: Int
    /// Stable price: largest relative move per second towards the aggregate (Mango v4), in [0, 1].
    public let stableRatePerSecond: Double
    /// Circuit breaker: an aggregate further than this (relative, in (0, 10]) from its
    /// recent average marks the asset unstable.
    public let circuitBreaker: Double
    /// Decay of the recent average (per aggregate, EWMA weight of the past), in [0, 1). It sets
    /// the circuit breaker's window: the median of the last aggregates of `breakerWindow` bars.
    public let averageDecay: Double
    /// Quotes from one source for one asset within this many ms of its previous one are
    /// rejected as flooding (0 to one day).
    public let minInterval: Int64
    /// Quotes stamped more than this far (ms, 0 to one day) after the engine clock are rejected.
    public let maxFutureSkew: Int64
    /// Distinct sources kept per asset (1 to 1000); a quote from a further source is
    /// rejected (a client cannot grow the engine state without bound). Optional so that
    /// snapshots written before it existed still load; nil means `defaultMaxSources`.
    public let maxSourcesPerAsset: Int?
    public static let defaultMaxSources = 32
    /// A source whose latest quote is this much older (ms, quote time) than a new quote of the
    /// asset leaves the aggregation and frees its slot; nil: `defaultEvictAfter`, never less
    /// than `maxAge`. At least 1 ms.
    public let evictAfter: Int64?
    public static let defaultEvictAfter: Int64 = 86_400_000
    /// The circuit breaker's window, in bars: the span of an EWMA with `averageDecay`,
    /// (1 + d) / (1 - d) (0.8: 9, 0.98: 99), between 1 and 255.
    public var breakerWindow: Int { Int(min(max(((1 + averageDecay) / (1 - averageDecay)).rounded(), 1), 255)) }
    /// The eviction age in force: `evictAfter` (or the default), and never before `maxAge`.
    public var evictionAge: Int64 { max(evictAfter ?? Self.defaultEvictAfter, maxAge) }
    /// Longest `maxAge`: "never stale" (ingesting a file of old quotes), far from overflow
    /// when subtracted from a timestamp.
    public static let maxAgeLimit: Int64 = 1 << 61
    static let day: Int64 = 86_400_000

    /// The rules of methodology section 9 as published (every parameter at its default).
    public static let standard = AggregationPolicy(unchecked: ())

    private init(unchecked: Void) {
        (maxAge, maxConfidenceRatio, maxDeviation, minSources, stableRatePerSecond) = (60_000, 0.02, 0.05, 2, 0.0005)
        (circuitBreaker, averageDecay, minInterval, maxFutureSkew, maxSourcesPerAsset) = (0.15, 0.98, 0, 5_000, nil)
        evictAfter = nil
    }

    /// Throws `EngineConfigError` naming the first value out of range.
    public init(
        maxAge: Int64 = 60_000, maxConfidenceRatio: Double = 0.02, maxDeviation: Double = 0.05, minSources: Int = 2,
        stableRatePerSecond: Double = 0.0005, circuitBreaker: Double = 0.15, averageDecay: Double = 0.98,
        minInterval: Int64 = 0, maxFutureSkew: Int64 = 5_000, maxSourcesPerAsset: Int? = nil,
        evictAfter: Int64? = nil
    ) throws(EngineConfigError) {
        func bad(_ field: String, _ value: some CustomStringConvertible, _ reason: String) -> EngineConfigError {
            EngineConfigError(field: "aggregation.\(field)", value: value.description, reason: reason)
        }
        let kept = maxSourcesPerAsset ?? Self.defaultMaxSources
        guard maxAge >= 1 && maxAge <= Self.maxAgeLimit else {
            throw bad("maxAge", maxAge, "must be 1 to \(Self.maxAgeLimit) ms")
        }
        guard maxConfidenceRatio >= 0 && maxConfidenceRatio <= 1 else {
            throw bad("maxConfidenceRatio", maxConfidenceRatio, "must be in [0, 1]")
        }
        guard maxDeviation > 0 && maxDeviation <= 1 else {
            throw bad("maxDeviation", maxDeviation, "must be in (0, 1]")
        }
        guard kept >= 1 && kept <= 1000 else { throw bad("maxSourcesPerAsset", kept, "must be 1 to 1000") }
        guard minSources >= 1 && minSources <= kept else {
            throw bad("minSources", minSources, "must be 1 to the sources kept (\(kept))")
        }
        guard stableRatePerSecond >= 0 && stableRatePerSecond <= 1 else {
            throw bad("stableRatePerSecond", stableRatePerSecond, "must be in [0, 1]")
        }
        guard circuitBreaker > 0 && circuitBreaker <= 10 else {
            throw bad("circuitBreaker", circuitBreaker, "must be in (0, 10]")
        }
        guard averageDecay >= 0 && averageDecay < 1 else {
            throw bad("averageDecay", averageDecay, "must be in [0, 1)")
        }
        guard minInterval >= 0 && minInterval <= Self.day else {
            throw bad("minInterval", minInterval, "must be 0 to \(Self.day) ms")
        }
        guard maxFutureSkew >= 0 && maxFutureSkew <= Self.day else {
            throw bad("maxFutureSkew", maxFutureSkew, "must be 0 to \(Self.day) ms")
        }
        (self.maxAge, self.maxConfidenceRatio, self.maxDeviation, self.minSources) = (
            maxAge, maxConfidenceRatio, maxDeviation, minSources
        )
        (self.stableRatePerSecond, self.circuitBreaker, self.averageDecay) = (
            stableRatePerSecond, circuitBreaker, averageDecay
        )
        if let e = evictAfter {
            guard e >= 1 && e <= Self.maxAgeLimit else {
                throw bad("evictAfter", e, "must be 1 to \(Self.maxAgeLimit) ms")
            }
        }
        (self.minInterval, self.maxFutureSkew, self.maxSourcesPerAsset) = (
            minInterval, maxFutureSkew, maxSourcesPerAsset
        )
        self.evictAfter = evictAfter
    }

    /// Reads the rules back (from a snapshot) and checks them as the initialiser does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            maxAge: c.decode(Int64.self, forKey: .maxAge),
            maxConfidenceRatio: c.decode(Double.self, forKey: .maxConfidenceRatio),
            maxDeviation: c.decode(Double.self, forKey: .maxDeviation),
            minSources: c.decode(Int.self, forKey: .minSources),
            stableRatePerSecond: c.decode(Double.self, forKey: .stableRatePerSecond),
            circuitBreaker: c.decode(Double.self, forKey: .circuitBreaker),
            averageDecay: c.decode(Double.self, forKey: .averageDecay),
            minInterval: c.decode(Int64.self, forKey: .minInterval),
            maxFutureSkew: c.decode(Int64.self, forKey: .maxFutureSkew),
            maxSourcesPerAsset: c.decodeIfPresent(Int.self, forKey: .maxSourcesPerAsset),
            evictAfter: c.decodeIfPresent(Int64.self, forKey: .evictAfter))
    }
}

/// A live-engine setting out of range: the field (as named in the engine's snapshot), its
/// value and why.
public struct EngineConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String
    public let value: String
    public let reason: String

    public init(field: String, value: String, reason: String) {
        (self.field, self.value, self.reason) = (field, value, reason)
    }

    public var description: String { "\(field) = \(value): \(reason)" }
}

/// An asset's price as the service reports it: `stable`; `unstable`, the circuit breaker
/// tripped (nothing loosens while it lasts); `stale`, no accepted quote within the venue's
/// maximum age. Stored, hashed and sent by its raw value.
public enum PriceStatus: String, Sendable, Codable, CaseIterable {
    case stable, unstable, stale

    /// `unstable` when the circuit breaker is tripped, else `stable`.
    public init(unstable: Bool) { self = unstable ? .unstable : .stable }
}

/// The trusted price state of one asset.
public struct PriceState: Sendable, Equatable, Codable {
    public var aggregate: Double?
    public var stable: Double?
    /// The breaker's reference before `recent` existed: read once from an older snapshot as
    /// the first entry of `recent`, no longer kept up to date.
    public var average: Double?
    /// The last aggregate of each of the last `AggregationPolicy.breakerWindow` bars, oldest first: the circuit
    /// breaker's reference is their median (nil in snapshots written before it existed: the
    /// average stands in for it).
    public var recent: [Double]?
    /// The bar of `recent`'s last entry (nil: every aggregate is a bar).
    public var recentBar: Int64?
    public var unstable: Bool = false
    /// Whether the circuit breaker itself is tripped (the aggregate jumped against its recent
    /// average), as opposed to a source merely being dropped from the deviation band: while it
    /// is, the aggregate is not a trusted price (no return is taken from it). nil: not tripped.
    public var tripped: Bool?
    public var lastUpdate: Int64 = 0
    /// Latest quote per source.
    public var latest: [String: Quote] = [:]

    public init() {}

    /// Value assets at min(aggregate, stable), liabilities at max(aggregate, stable).
    public var assetPrice: Double? { zip2(aggregate, stable).map { min($0, $1) } ?? aggregate }
    public var liabilityPrice: Double? { zip2(aggregate, stable).map { max($0, $1) } ?? aggregate }
}

func zip2(_ a: Double?, _ b: Double?) -> (Double, Double)? {
    guard let a, let b else { return nil }
    return (a, b)
}

/// Multi-source aggregation with manipulation defences, per asset.
public struct PriceAggregator: Sendable {
    /// The rules of every asset without rules of its own.
    public var policy: AggregationPolicy
    /// Assets with rules of their own (the venue file's per-asset aggregation).
    public var overrides: [String: AggregationPolicy]
    public private(set) var states: [String: PriceState] = [:]
    public private(set) var rejections: [RejectionReason: Int] = [:]

    public init(policy: AggregationPolicy = .standard, assets: [String], overrides: [String: AggregationPolicy] = [:]) {
        self.policy = policy
        self.overrides = overrides
        for a in assets { states[a] = PriceState() }
    }

    public init(
        policy: AggregationPolicy, states: [String: PriceState], rejections: [RejectionReason: Int],
        overrides: [String: AggregationPolicy] = [:]
    ) {
        self.policy = policy
        self.overrides = overrides
        self.states = states
        self.rejections = rejections
    }

    /// The rules that apply to `asset`.
    public func policy(for asset: String) -> AggregationPolicy { overrides[asset] ?? policy }

    mutating func reject(_ r: RejectionReason) -> RejectionReason {
        rejections[r, default: 0] += 1
        return r
    }

    /// The outcome of offering a quote.
    public enum Outcome: Sendable, Equatable {
        /// Rejected before aggregation.
        case rejected(RejectionReason)
        /// Accepted; the asset's new aggregate (nil when too few sources agree).
        case accepted(aggregate: Double?, unstable: Bool)
    }

    /// Replaces one asset's state (a process taking the asset over from the shared store).
    public mutating func adopt(_ asset: String, state: PriceState) { states[asset] = state }

    /// Validates a quote, records it and recomputes the asset's aggregate at the quote's time.
    /// Rules: non-finite or non-positive prices, unknown assets, timestamps beyond
    /// `now + maxFutureSkew` and more than `maxAge` before the asset's newest quote are rejected; per (asset, source) a
    /// timestamp equal to the last one is a duplicate (the same price) or a conflict (another
    /// price), an earlier one is out of order, one within `minInterval` is flooding — all
    /// rejected and counted, never applied. Sources silent for `evictionAge` leave the table.
    /// `barMillis`: the asset's bar length (0: every aggregate is a bar), over which the
    /// circuit breaker's reference is kept (one entry per bar).
    public mutating func offer(_ q: Quote, now: Int64, barMillis: Int64 = 0) -> Outcome {
        guard q.price.isFinite else { return .rejected(reject(.nonFinitePrice)) }
        guard q.price > 0 else { return .rejected(reject(.nonPositivePrice)) }
        guard var st = states[q.asset] else { return .rejected(reject(.unknownAsset)) }
        let policy = policy(for: q.asset)
        guard Quote.timestampRange.contains(q.timestamp) else { return .rejected(reject(.timestampOutOfRange)) }
        guard q.timestamp <= now &+ policy.maxFutureSkew else { return .rejected(reject(.futureTimestamp)) }
        // event time: older than `maxAge` before the asset's newest quote (a 1900 stamp cannot
        // reach the aggregate); both stamps within 1900-2100, so no overflow
        if !st.latest.isEmpty, st.lastUpdate - q.timestamp > policy.maxAge { return .rejected(reject(.tooOld)) }
        if let c = q.confidence, !(c.isFinite && c >= 0) { return .rejected(reject(.lowConfidence)) }
        if let last = st.latest[q.source] {
            if q.timestamp == last.timestamp {
                return .rejected(reject(q.price == last.price ? .duplicate : .conflict))
            }
            if q.timestamp < last.timestamp { return .rejected(reject(.outOfOrder)) }
            if q.timestamp - last.timestamp < policy.minInterval { return .rejected(reject(.flooding)) }
        }
        let evictBefore = q.timestamp - policy.evictionAge
        if st.latest.values.contains(where: { $0.timestamp < evictBefore }) {
            st.latest = st.latest.filter { $0.value.timestamp >= evictBefore }
        }
        if st.latest[q.source] == nil,
            st.latest.count >= (policy.maxSourcesPerAsset ?? AggregationPolicy.defaultMaxSources)
        {
            return .rejected(reject(.tooManySources))
        }
        st.latest[q.source] = q
        let result = aggregate(&st, at: q.timestamp, policy: policy, bar: barMillis > 0 ? q.timestamp / barMillis : nil)
        states[q.asset] = st
        return .accepted(aggregate: result, unstable: st.unstable)
    }

    /// Median of the sources that are fresh, confident and close to the median of the
    /// others; updates the stable price and the circuit breaker.
    mutating func aggregate(_ st: inout PriceState, at t: Int64, policy: AggregationPolicy, bar: Int64? = nil)
        -> Double?
    {
        var usable: [Double] = []
        for q in st.latest.values {
            if t - q.timestamp > policy.maxAge {
                _ = reject(.stale)
                continue
            }
            if let c = q.confidence, c / q.price > policy.maxConfidenceRatio {
                _ = reject(.lowConfidence)
                continue
            }
            usable.append(q.price)
        }
        var agreed: [Double] = []
        var disagreement = false
        if usable.count >= 2 {
            // Distance from the median of all usable quotes: with two others the "median of
            // the others" would be their mean, which one outlier drags along; the median of
            // all three is an honest quote.
            let m = median(usable)
            for p in usable {
                if Swift.abs(p / m - 1) > policy.maxDeviation {
                    _ = reject(.deviation)
                    disagreement = true
                } else {
                    agreed.append(p)
                }
            }
        } else {
            agreed = usable
        }
        // the stable price's clock never runs backwards (an old quote cannot buy a large step later)
        let dt = Double(max(t - st.lastUpdate, 0)) / 1000
        st.lastUpdate = max(st.lastUpdate, t)
        guard agreed.count >= policy.minSources else {
            _ = reject(.tooFewSources)
            st.aggregate = nil
            st.unstable = true
            return nil
        }
        let agg = median(agreed)
        // Unstable (no parameter may loosen) when the aggregate jumps against its recent
        // reference (the breaker trips), or while a source is being dropped for disagreeing: a
        // possible manipulation. The reference is the median of the last aggregate of each of
        // the recent bars (this one's so far included): a spike does not move it, however many
        // quotes repeat it within a bar, and the breaker releases as soon as it reverts; a level
        // that persists for half the window's bars becomes it, and the breaker releases then.
        var recent = st.recent ?? st.average.map { [$0] } ?? []
        let tripped = recent.isEmpty ? false : Swift.abs(agg / median(recent) - 1) > policy.circuitBreaker
        st.unstable = tripped || disagreement
        st.tripped = tripped ? true : nil
        if let bar, bar == st.recentBar, !recent.isEmpty {
            recent[recent.count - 1] = agg
        } else {
            if recent.count >= policy.breakerWindow { recent.removeFirst(recent.count - policy.breakerWindow + 1) }
            recent.append(agg)
        }
        st.recent = recent
        st.recentBar = bar
        if let s = st.stable {
            let limit = Double.exp(policy.stableRatePerSecond * dt)
            st.stable = s * min(max(agg / s, 1 / limit), limit)
        } else {
            st.stable = agg
        }
        st.aggregate = agg
        return agg
    }

    func median(_ x: [Double]) -> Double {
        let s = x.sorted()
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}
