import RealModule

/// One option's implied volatilities from the bid and the ask (annualised, decimal), nil where
/// the book has no usable quote on that side.
public struct SmileQuote: Sendable, Equatable {
    public let strike: Double
    public let bid: Double?
    public let ask: Double?

    public init(strike: Double, bid: Double?, ask: Double?) throws(SurfaceError) {
        guard strike > 0, strike.isFinite else {
            throw .invalidParameter(field: "strike", value: strike, reason: "must be positive and finite")
        }
        if let b = bid, !(b > 0 && b.isFinite) {
            throw .invalidParameter(field: "bid", value: b, reason: "an implied volatility must be positive and finite")
        }
        if let a = ask, !(a > 0 && a.isFinite) {
            throw .invalidParameter(field: "ask", value: a, reason: "an implied volatility must be positive and finite")
        }
        if let b = bid, let a = ask, b > a {
            throw .invalidParameter(field: "bid", value: b, reason: "above the ask \(a)")
        }
        self.strike = strike
        self.bid = bid
        self.ask = ask
    }

    public var isTwoSided: Bool { bid != nil && ask != nil }
    /// (bid + ask) / 2 for a two-sided quote.
    public var mid: Double? { if let b = bid, let a = ask { return 0.5 * (b + a) } else { return nil } }
}

/// The quotes of one expiry. `expiry` in years (365-day year); `forward` in the quote currency.
public struct SmileInput: Sendable {
    public let expiry: Double
    public let forward: Double
    public let quotes: [SmileQuote]

    public init(expiry: Double, forward: Double, quotes: [SmileQuote]) throws(SurfaceError) {
        guard expiry > 0, expiry.isFinite else {
            throw .invalidParameter(field: "expiry", value: expiry, reason: "must be positive and finite (years)")
        }
        guard forward > 0, forward.isFinite else {
            throw .invalidParameter(field: "forward", value: forward, reason: "must be positive and finite")
        }
        self.expiry = expiry
        self.forward = forward
        self.quotes = quotes
    }
}

/// One expiry of a surface: years to expiry, forward, and its SVI smile.
public struct SurfaceSlice: Sendable, Equatable {
    public let expiry: Double
    public let forward: Double
    public let smile: SVISlice

    public init(expiry: Double, forward: Double, smile: SVISlice) throws(SurfaceError) {
        guard expiry > 0, expiry.isFinite else {
            throw .invalidParameter(field: "expiry", value: expiry, reason: "must be positive and finite (years)")
        }
        guard forward > 0, forward.isFinite else {
            throw .invalidParameter(field: "forward", value: forward, reason: "must be positive and finite")
        }
        self.expiry = expiry
        self.forward = forward
        self.smile = smile
    }

    /// Implied volatility (annualised, decimal) at a strike of this expiry.
    public func impliedVolatility(strike: Double) -> Double {
        (max(smile.totalVariance(Double.log(strike / forward)), 0) / expiry).squareRoot()
    }
}

/// An implied-volatility surface: SVI smiles per expiry, joined in time.
///
/// Between two expiries the total variance at fixed forward log-moneyness `k = ln(K / F(T))` is
/// interpolated linearly in T, and the forward linearly in T; before the first expiry the total
/// variance shrinks in proportion to T (the first smile's volatilities held), after the last it
/// grows in proportion to T. Linear interpolation of total variance keeps a surface that is free
/// of calendar arbitrage at its expiries free of it in between.
///
/// Under a move of the underlying the smile is held in moneyness (sticky moneyness): the
/// volatility of a strike follows `k = ln(K / F)` with the new forward. Crypto smiles are quoted
/// and re-marked in moneyness (Deribit's marks are SVI-type fits in moneyness), and it is the
/// conservative choice for short wings: a fall moves a short put towards the money at the
/// money's volatility.
public struct VolatilitySurface: Sendable, Equatable {
    public let slices: [SurfaceSlice]

    public init(slices: [SurfaceSlice]) throws(SurfaceError) {
        guard !slices.isEmpty else { throw .noSlices }
        for i in slices.indices.dropFirst() where !(slices[i].expiry > slices[i - 1].expiry) { throw .unsortedExpiries }
        self.slices = slices
    }

    /// The index i with slices[i].expiry <= T < slices[i+1].expiry, and the weight of i+1.
    private func bracket(_ t: Double) -> (Int, Int, Double) {
        if t <= slices[0].expiry { return (0, 0, 0) }
        guard let last = slices.last, t < last.expiry else { return (slices.count - 1, slices.count - 1, 0) }
        var hi = 1
        while slices[hi].expiry <= t { hi += 1 }
        let lo = hi - 1
        return (lo, hi, (t - slices[lo].expiry) / (slices[hi].expiry - slices[lo].expiry))
    }

    /// Forward for a time to expiry in years (linear in T between expiries, flat outside).
    public func forward(expiry t: Double) -> Double {
        let (lo, hi, u) = bracket(t)
        return (1 - u) * slices[lo].forward + u * slices[hi].forward
    }

    /// Total implied variance at log-moneyness k for a time to expiry in years.
    public func totalVariance(k: Double, expiry t: Double) -> Double {
        let (lo, hi, u) = bracket(t)
        if lo == hi {
            let s = slices[lo]
            return max(s.smile.totalVariance(k), 0) * t / s.expiry
        }
        return max((1 - u) * slices[lo].smile.totalVariance(k) + u * slices[hi].smile.totalVariance(k), 0)
    }

    /// Implied volatility (annualised, decimal) at a strike for a time to expiry in years,
    /// with the surface's own forward, or `forward` when given (sticky moneyness under a shock).
    public func impliedVolatility(strike: Double, expiry t: Double, forward: Double? = nil) -> Double {
        guard t > 0 else { return 0 }
        let f = forward ?? self.forward(expiry: t)
        return (totalVariance(k: Double.log(strike / f), expiry: t) / t).squareRoot()
    }

    /// Black-76 price (undiscounted, in the forward's currency) off the surface.
    public func price(strike: Double, expiry t: Double, type: OptionType, forward: Double? = nil) -> Double {
        let f = forward ?? self.forward(expiry: t)
        return Black76.price(
            forward: f, strike: strike, volatility: impliedVolatility(strike: strike, expiry: t, forward: f),
            expiry: t, type: type)
    }

    /// Static-arbitrage check on `points` evenly spaced log-moneyness values in `range`: Gatheral's
    /// g(k) per expiry (butterfly) and the difference of total variance between consecutive
    /// expiries (calendar), with the wing slopes compared beyond the range.
    public func arbitrage(over range: ClosedRange<Double>, points: Int = 801) -> SurfaceArbitrage {
        let butterfly = slices.map { s in
            let (k, g) = s.smile.butterflyMinimum(over: range, points: points)
            return SurfaceArbitrage.Butterfly(expiry: s.expiry, k: k, g: g)
        }
        var calendar: [SurfaceArbitrage.Calendar] = []
        for i in slices.indices.dropFirst() {
            let early = slices[i - 1].smile
            let late = slices[i].smile
            var worst = (k: range.lowerBound, gap: Double.infinity)
            let n = max(points, 2)
            for j in 0..<n {
                let k = range.lowerBound + (range.upperBound - range.lowerBound) * Double(j) / Double(n - 1)
                let gap = late.totalVariance(k) - early.totalVariance(k)
                if gap < worst.gap { worst = (k, gap) }
            }
            let se = early.wingSlopes
            let sl = late.wingSlopes
            if sl.left < se.left { worst = (-.infinity, min(worst.gap, -(se.left - sl.left))) }
            if sl.right < se.right { worst = (.infinity, min(worst.gap, -(se.right - sl.right))) }
            calendar.append(.init(earlier: slices[i - 1].expiry, later: slices[i].expiry, k: worst.k, gap: worst.gap))
        }
        return SurfaceArbitrage(butterfly: butterfly, calendar: calendar)
    }
}

/// The result of `VolatilitySurface.arbitrage`: the worst point per expiry and per pair.
public struct SurfaceArbitrage: Sendable, Equatable {
    /// The smallest g(k) of one expiry (negative: a butterfly with negative cost exists there;
    /// k = -inf or +inf: a wing slope above Lee's bound of 2).
    public struct Butterfly: Sendable, Equatable {
        public let expiry: Double
        public let k: Double
        public let g: Double
    }
    /// The smallest w_later(k) - w_earlier(k) (negative: a calendar spread with negative cost;
    /// k = -inf or +inf: the later wing is flatter, so the smiles cross far out).
    public struct Calendar: Sendable, Equatable {
        public let earlier: Double
        public let later: Double
        public let k: Double
        public let gap: Double
    }

    public let butterfly: [Butterfly]
    public let calendar: [Calendar]

    public var butterflyFree: Bool { butterfly.allSatisfy { $0.g >= 0 } }
    public var calendarFree: Bool { calendar.allSatisfy { $0.gap >= 0 } }
    public var arbitrageFree: Bool { butterflyFree && calendarFree }
}
