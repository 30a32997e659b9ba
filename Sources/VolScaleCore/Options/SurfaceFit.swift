import RealModule

/// How one expiry's smile fits its quotes.
public struct SmileFitStatistics: Sendable, Equatable {
    /// Quotes the fit used (two-sided and one-sided).
    public let points: Int
    /// Quotes with both a bid and an ask implied volatility.
    public let twoSided: Int
    /// Root mean square of fitted minus mid implied volatility over the two-sided quotes, in
    /// volatility points (percent); NaN without two-sided quotes.
    public let rmse: Double
    /// Share of two-sided quotes whose fitted volatility lies in [bid, ask]; NaN without any.
    public let withinBidAsk: Double
    /// One-sided quotes the fit crosses: a fitted volatility above an ask-only quote or below a
    /// bid-only one.
    public let oneSidedCrossed: Int
}

/// A fitted surface with the statistics of each expiry and the expiries it could not fit.
public struct SurfaceFit: Sendable {
    public let surface: VolatilitySurface
    /// In the order of `surface.slices`.
    public let statistics: [SmileFitStatistics]
    /// For each slice, the index of its input in the array given to `SurfaceFitter.fit`.
    public let sliceInputs: [Int]
    /// Expiries (years) left out, each with the reason.
    public let skipped: [(expiry: Double, reason: SurfaceError)]
    /// The log-moneyness range of the quotes, widened by 1 on each side: where the arbitrage
    /// checks are made.
    public let checkRange: ClosedRange<Double>
}

/// Fits an SVI smile per expiry to bid and ask implied volatilities.
///
/// The objective for one expiry, over its usable quotes (calls and puts alike):
/// - a two-sided quote adds `((v - mid) / h)^2` with v the fitted volatility, mid the mid
///   implied volatility and h half the bid-ask spread in volatility (at least 0.5 points), so
///   tight quotes weigh more and a fit inside the spread of a wide quote costs little;
/// - an ask-only quote adds `(max(0, v - ask) / 0.01)^2` and a bid-only quote
///   `(max(0, bid - v) / 0.01)^2`: a bound, not a target;
/// - penalties (weight 10^4) keep the smile free of butterfly arbitrage (g(k) >= 10^-4 on 81
///   points over the quotes' range widened by 1/2, wing slopes <= 1.99) and, from the second
///   expiry on, free of calendar arbitrage against the expiry fitted before it (total variance
///   at least the earlier one's on the same points, wing slopes at least the earlier ones).
/// Expiries are fitted in increasing order. The minimiser is BFGS with central-difference
/// gradients from a fixed grid of 30 starting points; the best end point wins. The
/// placeholders of a source (zero bids, capped asks) are the reader's business: quotes reach
/// the fitter as volatilities or as nil.
public enum SurfaceFitter {
    /// Fewest usable quotes and two-sided quotes for a smile.
    public static let minimumQuotes = 5
    public static let minimumTwoSided = 2

    public static func fit(_ inputs: [SmileInput]) throws(SurfaceError) -> SurfaceFit {
        let order = inputs.indices.sorted { inputs[$0].expiry < inputs[$1].expiry }
        let sorted = order.map { inputs[$0] }
        for i in sorted.indices.dropFirst() where sorted[i].expiry == sorted[i - 1].expiry { throw .unsortedExpiries }
        var ks: [Double] = []
        for input in sorted { for q in input.quotes { ks.append(Double.log(q.strike / input.forward)) } }
        guard let kMin = ks.min(), let kMax = ks.max() else { throw .noSlices }
        let penaltyGrid = grid(from: kMin - 0.5, to: kMax + 0.5, count: 81)
        var slices: [SurfaceSlice] = []
        var stats: [SmileFitStatistics] = []
        var skipped: [(Double, SurfaceError)] = []
        var sliceInputs: [Int] = []
        for (position, input) in sorted.enumerated() {
            let usable = input.quotes.count
            let twoSided = input.quotes.filter(\.isTwoSided).count
            guard usable >= minimumQuotes, twoSided >= minimumTwoSided else {
                skipped.append(
                    (
                        input.expiry,
                        .tooFewQuotes(
                            expiry: input.expiry, usable: twoSided < minimumTwoSided ? twoSided : usable,
                            needed: twoSided < minimumTwoSided ? minimumTwoSided : minimumQuotes)
                    ))
                continue
            }
            let smile = fitSmile(input, previous: slices.last?.smile, grid: penaltyGrid)
            slices.append(try SurfaceSlice(expiry: input.expiry, forward: input.forward, smile: smile))
            sliceInputs.append(order[position])
            stats.append(statistics(of: smile, input))
        }
        let surface = try VolatilitySurface(slices: slices)
        return SurfaceFit(
            surface: surface, statistics: stats, sliceInputs: sliceInputs, skipped: skipped,
            checkRange: (kMin - 1)...(kMax + 1))
    }

    /// Fit statistics of a smile against an expiry's quotes.
    public static func statistics(of smile: SVISlice, _ input: SmileInput) -> SmileFitStatistics {
        var squares = 0.0
        var twoSided = 0
        var within = 0
        var crossed = 0
        for q in input.quotes {
            let v = (max(smile.totalVariance(Double.log(q.strike / input.forward)), 0) / input.expiry).squareRoot()
            switch (q.bid, q.ask) {
            case (let b?, let a?):
                twoSided += 1
                let d = v - 0.5 * (a + b)
                squares += d * d
                if v >= b, v <= a { within += 1 }
            case (nil, let a?): if v > a { crossed += 1 }
            case (let b?, nil): if v < b { crossed += 1 }
            case (nil, nil): break
            }
        }
        let n = Double(twoSided)
        return SmileFitStatistics(
            points: input.quotes.count, twoSided: twoSided,
            rmse: twoSided > 0 ? 100 * (squares / n).squareRoot() : .nan,
            withinBidAsk: twoSided > 0 ? Double(within) / n : .nan, oneSidedCrossed: crossed)
    }

    static func grid(from a: Double, to b: Double, count: Int) -> [Double] {
        (0..<count).map { a + (b - a) * Double($0) / Double(count - 1) }
    }

    static func fitSmile(_ input: SmileInput, previous: SVISlice?, grid: [Double]) -> SVISlice {
        let t = input.expiry
        struct Point {
            let k: Double
            let bid: Double?
            let ask: Double?
        }
        let points = input.quotes.map { Point(k: Double.log($0.strike / input.forward), bid: $0.bid, ask: $0.ask) }
        let previousW = previous.map { p in grid.map { p.totalVariance($0) } }
        let previousSlopes = previous?.wingSlopes
        let penalty = 1e4
        func objective(_ x: [Double]) -> Double? {
            let s = SVISlice(unconstrained: x)
            guard s.b.isFinite, s.a.isFinite, s.sigma.isFinite, s.sigma > 1e-8 else { return nil }
            var loss = 0.0
            for p in points {
                let v = (max(s.totalVariance(p.k), 0) / t).squareRoot()
                switch (p.bid, p.ask) {
                case (let b?, let a?):
                    let h = max(0.5 * (a - b), 0.005)
                    let r = (v - 0.5 * (a + b)) / h
                    loss += r * r
                case (nil, let a?):
                    let r = max(0, v - a) / 0.01
                    loss += r * r
                case (let b?, nil):
                    let r = max(0, b - v) / 0.01
                    loss += r * r
                case (nil, nil): break
                }
            }
            loss /= Double(max(points.count, 1))
            var pen = 0.0
            let slopes = s.wingSlopes
            pen += pow2(max(0, slopes.left - 1.99)) + pow2(max(0, slopes.right - 1.99))
            for (j, k) in grid.enumerated() {
                pen += pow2(max(0, 1e-4 - s.density(k)))
                if let pw = previousW?[j] {
                    let w = s.totalVariance(k)
                    pen += pow2(max(0, pw * (1 + 1e-6) - w) / max(pw, 1e-12))
                }
            }
            if let ps = previousSlopes {
                pen += pow2(max(0, ps.left - slopes.left)) + pow2(max(0, ps.right - slopes.right))
            }
            let total = loss + penalty * pen
            return total.isFinite ? total : nil
        }
        func withGradient(_ x: [Double], _ g: inout [Double]) -> Double? {
            guard let f = objective(x) else { return nil }
            var y = x
            for i in x.indices {
                let h = 1e-6 * max(1, abs(x[i]))
                y[i] = x[i] + h
                let up = objective(y)
                y[i] = x[i] - h
                let down = objective(y)
                y[i] = x[i]
                guard let u = up, let d = down else { return nil }
                g[i] = (u - d) / (2 * h)
            }
            return f
        }
        // Starting points: the ATM level from the quote nearest the money, a grid in shape.
        let atm = points.min { abs($0.k) < abs($1.k) }
        let atmVol = atm.flatMap { p in p.bid.flatMap { b in p.ask.map { 0.5 * (b + $0) } } ?? p.ask ?? p.bid } ?? 0.8
        let w0 = max(atmVol * atmVol * t, 1e-8)
        let bFloor = previous?.b ?? 0
        var best: (x: [Double], value: Double)?
        let minimiser = BFGS(gradientTolerance: 1e-9, functionTolerance: 1e-13, maxIterations: 400)
        for m in [-0.3, -0.1, 0.0, 0.1, 0.3] {
            for rho in [-0.5, 0.0, 0.5] {
                for (sigma, bScale) in [(0.05, 0.25), (0.3, 1.0)] {
                    let b = max(bScale * atmVol * t.squareRoot(), bFloor, 1e-4)
                    let minimum = max(w0 - b * sigma * (1 - rho * rho).squareRoot() * 0.5, 0.5 * w0)
                    let start = [m, Double.log(sigma), Double.atanh(rho), Double.log(b), Double.log(minimum)]
                    let r = minimiser.minimize(start: start, withGradient)
                    guard r.value.isFinite else { continue }
                    if let b = best, b.value <= r.value { continue }
                    best = (r.x, r.value)
                }
            }
        }
        return SVISlice(
            unconstrained: best?.x ?? [
                0, Double.log(0.1), 0, Double.log(max(atmVol * t.squareRoot() * 0.2, 1e-4)), Double.log(w0),
            ])
    }

    @inline(__always) static func pow2(_ x: Double) -> Double { x * x }
}
