import RealModule
import VolScaleCore

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

    func median(_ x: [Double]) -> Double { Self.median(x) }

    /// The median of a non-empty list (for an even count the mean of the two middle values):
    /// the value the sorted list has there, found by selection in a scratch buffer on the
    /// stack (no sorted copy on the heap: the breaker's reference is taken at every quote).
    static func median(_ x: [Double]) -> Double {
        let n = x.count
        guard n > 2 else { return n == 1 ? x[0] : 0.5 * (Swift.min(x[0], x[1]) + Swift.max(x[0], x[1])) }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { buf in
            _ = buf.initialize(from: x)
            let k = n / 2
            select(buf, k)
            guard n % 2 == 0 else { return buf[k] }
            // the other middle value: the largest of the k below the k-th
            var lower = buf[0]
            for i in 1..<k where buf[i] > lower { lower = buf[i] }
            return 0.5 * (lower + buf[k])
        }
    }

    /// Rearranges `a` so that `a[k]` is the value the sorted buffer has at k, nothing after it
    /// smaller and nothing before it larger (Hoare's selection, median-of-three pivots).
    static func select(_ a: UnsafeMutableBufferPointer<Double>, _ k: Int) {
        var lo = 0
        var hi = a.count - 1
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo
            var j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j {
                hi = j
            } else if k >= i {
                lo = i
            } else {
                return
            }
        }
    }
}
