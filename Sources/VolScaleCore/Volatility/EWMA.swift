import RealModule

/// RiskMetrics exponentially weighted moving-average variance, zero mean:
/// `sigma2_t = lambda sigma2_{t-1} + (1 - lambda) r_{t-1}^2`.
///
/// Seeded exactly as `arch`'s `EWMAVariance`: `sigma2_0` is the backcast
/// `sum_{i<tau} w_i r_i^2` with `w_i` proportional to `0.94^i`, `tau = min(75, n)`,
/// weights normalised to one (0.94 whatever lambda is, as in arch).
/// `sigma2_t` is the forecast for return t made with returns up to t-1.
public struct EWMA: Sendable, Hashable, Codable {
    /// Decay factor in (0, 1); 0.94 daily, 0.97 monthly (RiskMetrics 1996).
    public let lambda: Double

    /// - Throws: `VolatilityError.invalidParameter` unless 0 < lambda < 1.
    /// RiskMetrics' daily decay (1996), the default wherever a lambda is not given.
    public static let riskMetricsLambda = 0.94

    public init(lambda: Double = EWMA.riskMetricsLambda) throws(VolatilityError) {
        guard lambda > 0 && lambda < 1 else {
            throw .invalidParameter(name: "lambda", value: lambda, reason: "must be strictly between 0 and 1")
        }
        self.lambda = lambda
    }

    /// `lambda = 0.5^(1/halfLife)`, the half-life in bars.
    public init(halfLife: Double) throws(VolatilityError) {
        guard halfLife > 0 && halfLife.isFinite else {
            throw .invalidParameter(name: "halflife", value: halfLife, reason: "must be a positive number of bars")
        }
        try self.init(lambda: Double.pow(0.5, 1 / halfLife))
    }

    /// The half-life in bars implied by lambda.
    public var halfLife: Double { Double.log(0.5) / Double.log(lambda) }

    /// Returns in arch's backcast (its `tau`): the seed window every EWMA in the product uses.
    public static let seedLength = 75
    /// Decay of the backcast's weights (arch's, whatever lambda is).
    public static let seedDecay = 0.94

    /// arch's backcast: `seedDecay`-weighted mean of the first min(`seedLength`, n) squared residuals.
    public static func backcast(_ squared: [Double]) -> Double {
        let tau = min(seedLength, squared.count)
        guard tau > 0 else { return 0 }
        var w = 1.0
        var sw = 0.0
        var s = 0.0
        for i in 0..<tau {
            s += w * squared[i]
            sw += w
            w *= seedDecay
        }
        return s / sw
    }

    /// Variance path (per return) and the one-step forecast after the last return.
    ///
    /// - Parameter returns: decimal log returns.
    /// - Complexity: O(n).
    public func filter(_ returns: [Double]) throws(VolatilityError) -> VolatilityPath {
        try checkFinite(returns)
        guard returns.count >= 2 else {
            throw .tooFewObservations(model: "EWMA", needed: 2, got: returns.count)
        }
        var state = State(variance: Self.backcast(returns.prefix(Self.seedLength).map { $0 * $0 }))
        var variance = [Double](repeating: 0, count: returns.count)
        for (t, r) in returns.enumerated() {
            variance[t] = state.variance
            state.update(r, lambda: lambda)
        }
        return VolatilityPath(variance: variance, nextVariance: state.variance)
    }

    /// The last value of the path (sigma2 of the last return) and the forecast after it,
    /// without the path: what `filter` gives as `variance.last` and `nextVariance`.
    public func lastAndNext(_ returns: [Double]) throws(VolatilityError) -> (last: Double, next: Double) {
        try checkFinite(returns)
        guard returns.count >= 2 else {
            throw .tooFewObservations(model: "EWMA", needed: 2, got: returns.count)
        }
        var state = State(variance: Self.backcast(returns.prefix(Self.seedLength).map { $0 * $0 }))
        var last = state.variance
        for r in returns {
            last = state.variance
            state.update(r, lambda: lambda)
        }
        return (last, state.variance)
    }

    /// The O(1) streaming state.
    public struct State: Sendable, Hashable, Codable {
        /// sigma2 for the next return, decimal per period.
        public var variance: Double
        public init(variance: Double) { self.variance = variance }
        /// Absorbs return `r` (decimal).
        @inlinable
        public mutating func update(_ r: Double, lambda: Double) {
            variance = lambda * variance + (1 - lambda) * r * r
        }

        /// The state after the seed window: arch's backcast of the returns' squares, then the
        /// recursion over the same returns (what `filter` holds after them).
        public static func seeded(_ returns: [Double], lambda: Double) -> State {
            var state = State(variance: EWMA.backcast(returns.prefix(EWMA.seedLength).map { $0 * $0 }))
            for r in returns { state.update(r, lambda: lambda) }
            return state
        }
    }
}

/// A variance path produced by a filter or rolling estimator.
public struct VolatilityPath: Sendable, Equatable {
    /// `sigma2_t` per return, the forecast for return t made before it was seen; `nil`
    /// while a rolling window is not yet full. Decimal, per period.
    public var variance: [Double?]
    /// The forecast for the return after the last one.
    public var nextVariance: Double

    public init(variance: [Double?], nextVariance: Double) {
        self.variance = variance
        self.nextVariance = nextVariance
    }
    public init(variance: [Double], nextVariance: Double) {
        self.variance = variance.map { Optional($0) }
        self.nextVariance = nextVariance
    }

    /// Volatility (square root) per return.
    public var volatility: [Double?] { variance.map { $0.map { $0.squareRoot() } } }
}

/// Close-to-close volatility over a rolling window of n returns.
///
/// With `demean` (default) the sample standard deviation with ddof 1; otherwise
/// `sqrt(mean(r^2))`. The value reported for return t uses returns t-n...t-1 (the window
/// ending at the previous bar), `nil` for the first n returns; `nextVariance` uses the
/// last n returns.
public struct RollingVolatility: Sendable, Hashable, Codable {
    public let window: Int
    public let demean: Bool

    public init(window: Int, demean: Bool = true) throws(VolatilityError) {
        guard window >= 2 else {
            throw .invalidParameter(name: "window", value: Double(window), reason: "must be at least 2 returns")
        }
        self.window = window
        self.demean = demean
    }

    /// The estimate from the `window` returns before `end` (returns[end - window ..< end]),
    /// the forecast for return `end`. Requires `end >= window`.
    public func variance(of returns: [Double], endingAt end: Int) -> Double {
        let slice = returns[(end - window)..<end]
        if demean {
            let m = slice.reduce(0, +) / Double(window)
            var s = 0.0
            for r in slice { s += (r - m) * (r - m) }
            return s / Double(window - 1)
        }
        var s = 0.0
        for r in slice { s += r * r }
        return s / Double(window)
    }

    public func filter(_ returns: [Double]) throws(VolatilityError) -> VolatilityPath {
        try checkFinite(returns)
        guard returns.count >= window else {
            throw .tooFewObservations(model: "close-to-close(\(window))", needed: window, got: returns.count)
        }
        var out = [Double?](repeating: nil, count: returns.count)
        func estimate(_ end: Int) -> Double { variance(of: returns, endingAt: end) }
        if returns.count > window {
            for t in window..<returns.count { out[t] = estimate(t) }
        }
        return VolatilityPath(variance: out, nextVariance: estimate(returns.count))
    }
}
