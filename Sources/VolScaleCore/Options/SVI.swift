import RealModule

/// Errors of the volatility surface: invalid parameters or inputs, named by field.
public enum SurfaceError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameter(field: String, value: Double, reason: String)
    case tooFewQuotes(expiry: Double, usable: Int, needed: Int)
    case noSlices
    case unsortedExpiries

    public var description: String {
        switch self {
        case .invalidParameter(let f, let v, let r): return "\(f) = \(v): \(r)"
        case .tooFewQuotes(let t, let u, let n):
            return "expiry \(t) years: \(u) usable quotes, at least \(n) needed to fit a smile"
        case .noSlices: return "a surface needs at least one expiry"
        case .unsortedExpiries: return "expiries must be positive, finite and strictly increasing"
        }
    }
}

/// One expiry's smile in Gatheral's raw SVI form.
///
/// Total implied variance at log-moneyness `k = ln(K / F)` (F the forward of the expiry):
/// `w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))`, and the implied volatility is
/// `sqrt(w(k) / T)` (annualised, decimal) with T the time to expiry in years (365-day year).
///
/// Validated when built: `b >= 0`, `|rho| < 1`, `sigma > 0`, and the smallest total variance
/// `a + b sigma sqrt(1 - rho^2)` not negative. Both wing slopes `b (1 +- rho)` are at most 2
/// (Lee's moment bound) by construction of the fit, and checked by `butterflyMinimum`.
public struct SVISlice: Sendable, Equatable, Codable {
    public let a: Double
    public let b: Double
    public let rho: Double
    public let m: Double
    public let sigma: Double

    public init(a: Double, b: Double, rho: Double, m: Double, sigma: Double) throws(SurfaceError) {
        for (name, v) in [("a", a), ("b", b), ("rho", rho), ("m", m), ("sigma", sigma)] where !v.isFinite {
            throw .invalidParameter(field: name, value: v, reason: "not finite")
        }
        guard b >= 0 else { throw .invalidParameter(field: "b", value: b, reason: "must be >= 0") }
        guard abs(rho) < 1 else { throw .invalidParameter(field: "rho", value: rho, reason: "must lie in (-1, 1)") }
        guard sigma > 0 else { throw .invalidParameter(field: "sigma", value: sigma, reason: "must be > 0") }
        let minimum = a + b * sigma * (1 - rho * rho).squareRoot()
        guard minimum >= 0 else {
            throw .invalidParameter(
                field: "a", value: a,
                reason: "the smallest total variance a + b sigma sqrt(1 - rho^2) = \(minimum) is negative")
        }
        self.a = a
        self.b = b
        self.rho = rho
        self.m = m
        self.sigma = sigma
    }

    /// Built from the fitter's unconstrained vector; every point of R^5 is a valid slice.
    /// `x = [m, ln sigma, atanh rho, ln b, ln(min total variance)]`.
    init(unconstrained x: [Double]) {
        m = x[0]
        sigma = Double.exp(x[1])
        rho = Double.tanh(x[2])
        b = Double.exp(x[3])
        a = Double.exp(x[4]) - b * sigma * (1 - rho * rho).squareRoot()
    }

    var unconstrained: [Double] {
        let minimum = a + b * sigma * (1 - rho * rho).squareRoot()
        return [m, Double.log(sigma), Double.atanh(rho), Double.log(max(b, 1e-300)), Double.log(max(minimum, 1e-300))]
    }

    /// Total implied variance w(k) (annualised variance times years).
    @inlinable public func totalVariance(_ k: Double) -> Double {
        let d = k - m
        return a + b * (rho * d + (d * d + sigma * sigma).squareRoot())
    }

    /// w'(k) and w''(k).
    @inlinable public func derivatives(_ k: Double) -> (first: Double, second: Double) {
        let d = k - m
        let r = (d * d + sigma * sigma).squareRoot()
        return (b * (rho + d / r), b * sigma * sigma / (r * r * r))
    }

    /// Slopes of w far to the left and right: `b (1 - rho)` and `b (1 + rho)`.
    public var wingSlopes: (left: Double, right: Double) { (b * (1 - rho), b * (1 + rho)) }

    /// Gatheral's density function
    /// `g(k) = (1 - k w'/(2 w))^2 - (w'^2 / 4)(1/w + 1/4) + w''/2`.
    /// The risk-neutral density of `ln(K/F)` is `g(k)/sqrt(2 pi w) exp(-d_2^2/2)`, so the slice
    /// is free of butterfly arbitrage exactly when g >= 0 everywhere (Gatheral and Jacquier 2014).
    public func density(_ k: Double) -> Double {
        let w = totalVariance(k)
        guard w > 0 else { return -.infinity }
        let (w1, w2) = derivatives(k)
        let u = 1 - k * w1 / (2 * w)
        return u * u - 0.25 * w1 * w1 * (1 / w + 0.25) + 0.5 * w2
    }

    /// The smallest g(k) on `points` evenly spaced k in `range`, with its k; far wings are
    /// covered by the slope bound (g tends to 1/4 - slope^2/16, negative for a slope above 2),
    /// reported as -infinity when a slope exceeds 2.
    public func butterflyMinimum(over range: ClosedRange<Double>, points: Int = 401) -> (k: Double, g: Double) {
        let slopes = wingSlopes
        if slopes.left > 2 { return (-.infinity, -.infinity) }
        if slopes.right > 2 { return (.infinity, -.infinity) }
        var best = (k: range.lowerBound, g: Double.infinity)
        let n = max(points, 2)
        for i in 0..<n {
            let k = range.lowerBound + (range.upperBound - range.lowerBound) * Double(i) / Double(n - 1)
            let g = density(k)
            if g < best.g { best = (k, g) }
        }
        return best
    }
}
