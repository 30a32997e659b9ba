import RealModule

/// Bid and ask quotes of the call and the put at one strike (price units; a bid of 0
/// means no bid).
public struct StrikeQuote: Sendable, Equatable {
    public var strike: Double
    public var callBid: Double
    public var callAsk: Double
    public var putBid: Double
    public var putAsk: Double

    public init(strike: Double, callBid: Double, callAsk: Double, putBid: Double, putAsk: Double) {
        self.strike = strike
        self.callBid = callBid
        self.callAsk = callAsk
        self.putBid = putBid
        self.putAsk = putAsk
    }
    var callMid: Double { 0.5 * (callBid + callAsk) }
    var putMid: Double { 0.5 * (putBid + putAsk) }
}

/// The option quotes of one expiry.
public struct ExpiryQuotes: Sendable, Equatable {
    /// Time to expiry in years.
    public var expiry: Double
    /// Continuously compounded risk-free rate to expiry, decimal (0.0038 = 0.38%).
    public var rate: Double
    /// Quotes by strike, in any order; strikes must be distinct.
    public var quotes: [StrikeQuote]

    public init(expiry: Double, rate: Double, quotes: [StrikeQuote]) {
        self.expiry = expiry
        self.rate = rate
        self.quotes = quotes
    }
}

/// Why a model-free variance cannot be computed.
public enum ModelFreeVarianceError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidExpiry(Double)
    case duplicateStrike(Double)
    case invalidQuote(strike: Double, reason: String)
    case tooFewOptions(expiry: Double, count: Int)
    case noBracketingExpiries(targetDays: Double, available: [Double])

    public var description: String {
        switch self {
        case .invalidExpiry(let t): return "expiry \(t) years: must be positive and finite"
        case .duplicateStrike(let k): return "strike \(k) appears twice in one expiry"
        case .invalidQuote(let k, let reason): return "strike \(k): \(reason)"
        case .tooFewOptions(let t, let n):
            return "expiry \(t) years: only \(n) out-of-the-money options with a bid (need 3)"
        case .noBracketingExpiries(let target, let available):
            return
                "need one expiry at or before \(target) days and one after it; have \(available.map { ($0 * 365 * 1e4).rounded() / 1e4 }) days"
        }
    }
}

/// The CBOE VIX white-paper method (model-free implied variance), which Deribit's DVOL
/// applies to crypto options.
///
/// Per expiry: the forward from put-call parity at the strike where |call mid - put mid|
/// is smallest, `F = K + e^{rT}(C - P)`; `K0` the largest strike at or below F;
/// out-of-the-money puts below K0 and calls above it, skipping zero bids and stopping after
/// two consecutive zero bids; at K0 the average of the put and call mids; then
/// `sigma2 = (2/T) sum_i (dK_i / K_i^2) e^{rT} Q(K_i) - (1/T)(F/K0 - 1)^2`, with
/// `dK_i` half the distance between the neighbouring included strikes (one-sided at the
/// ends). The 30-day index interpolates total variance linearly in time between the two
/// expiries around 30 days and annualises: `100 sqrt(...)`, in volatility percent.
public enum ModelFreeVariance {
    /// One expiry's result.
    public struct Expiry: Sendable, Equatable {
        /// Years to expiry.
        public var expiry: Double
        /// Annualised model-free variance, decimal (0.04 = 20% volatility).
        public var variance: Double
        public var forward: Double
        public var k0: Double
        /// Number of strikes that entered the sum.
        public var optionsUsed: Int
    }

    /// Model-free variance of one expiry.
    public static func expiry(_ chain: ExpiryQuotes) throws(ModelFreeVarianceError) -> Expiry {
        let t = chain.expiry
        guard t > 0, t.isFinite else { throw .invalidExpiry(t) }
        let q = chain.quotes.sorted { $0.strike < $1.strike }
        for (i, s) in q.enumerated() {
            guard s.strike > 0, s.strike.isFinite else {
                throw .invalidQuote(strike: s.strike, reason: "strike must be positive")
            }
            for v in [s.callBid, s.callAsk, s.putBid, s.putAsk] where !(v >= 0 && v.isFinite) {
                throw .invalidQuote(strike: s.strike, reason: "quotes must be non-negative numbers")
            }
            guard s.callAsk >= s.callBid, s.putAsk >= s.putBid else {
                throw .invalidQuote(strike: s.strike, reason: "ask below bid")
            }
            if i > 0 && q[i - 1].strike == s.strike { throw .duplicateStrike(s.strike) }
        }
        guard q.count >= 3 else { throw .tooFewOptions(expiry: t, count: q.count) }
        let growth = Double.exp(chain.rate * t)
        // the at-the-money strike: smallest |call mid - put mid| among strikes where both have a bid
        // (a strike with a missing side would show a spurious zero difference)
        let twoSided = q.indices.filter { q[$0].callBid > 0 && q[$0].putBid > 0 }
        guard var atm = twoSided.first else { throw .tooFewOptions(expiry: t, count: 0) }
        for i in twoSided where Swift.abs(q[i].callMid - q[i].putMid) < Swift.abs(q[atm].callMid - q[atm].putMid) {
            atm = i
        }
        let forward = q[atm].strike + growth * (q[atm].callMid - q[atm].putMid)
        guard let k0Index = q.lastIndex(where: { $0.strike <= forward }) else {
            throw .invalidQuote(strike: q[0].strike, reason: "forward \(forward) is below every strike")
        }
        var used: [(strike: Double, price: Double)] = [
            (q[k0Index].strike, 0.5 * (q[k0Index].callMid + q[k0Index].putMid))
        ]
        var zeros = 0
        var i = k0Index - 1
        while i >= 0 {
            if q[i].putBid == 0 {
                zeros += 1
                if zeros == 2 { break }
            } else {
                zeros = 0
                used.append((q[i].strike, q[i].putMid))
            }
            i -= 1
        }
        zeros = 0
        i = k0Index + 1
        while i < q.count {
            if q[i].callBid == 0 {
                zeros += 1
                if zeros == 2 { break }
            } else {
                zeros = 0
                used.append((q[i].strike, q[i].callMid))
            }
            i += 1
        }
        used.sort { $0.strike < $1.strike }
        guard used.count >= 3 else { throw .tooFewOptions(expiry: t, count: used.count) }
        var sum = 0.0
        for j in used.indices {
            let dk: Double
            if j == 0 {
                dk = used[1].strike - used[0].strike
            } else if j == used.count - 1 {
                dk = used[j].strike - used[j - 1].strike
            } else {
                dk = 0.5 * (used[j + 1].strike - used[j - 1].strike)
            }
            sum += dk / (used[j].strike * used[j].strike) * growth * used[j].price
        }
        let k0 = q[k0Index].strike
        let variance = 2 / t * sum - (forward / k0 - 1) * (forward / k0 - 1) / t
        return Expiry(expiry: t, variance: variance, forward: forward, k0: k0, optionsUsed: used.count)
    }

    /// The constant-maturity index.
    public struct Index: Sendable, Equatable {
        /// Annualised volatility in percent (VIX points): `100 sqrt(variance)`.
        public var value: Double
        /// Annualised variance at the target maturity, decimal.
        public var variance: Double
        public var near: Expiry
        public var next: Expiry
        /// Weight of the near expiry in the interpolation.
        public var nearWeight: Double
    }

    /// The constant-maturity index from a set of expiries: the last expiry at or before
    /// `targetDays` and the first after it (days of 365 per year).
    public static func index(_ chains: [ExpiryQuotes], targetDays: Double = 30) throws(ModelFreeVarianceError) -> Index
    {
        let target = targetDays / 365
        let sorted = chains.sorted { $0.expiry < $1.expiry }
        guard let nearChain = sorted.last(where: { $0.expiry <= target }),
            let nextChain = sorted.first(where: { $0.expiry > target })
        else {
            throw .noBracketingExpiries(targetDays: targetDays, available: sorted.map(\.expiry))
        }
        let near = try expiry(nearChain)
        let next = try expiry(nextChain)
        let w = (next.expiry - target) / (next.expiry - near.expiry)
        let variance = (near.expiry * near.variance * w + next.expiry * next.variance * (1 - w)) / target
        return Index(
            value: 100 * max(variance, 0).squareRoot(), variance: variance, near: near, next: next, nearWeight: w)
    }
}
