import RealModule
import VolScaleCore

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
