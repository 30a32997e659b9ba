import RealModule

/// Student's t distribution with `nu` degrees of freedom, and its unit-variance
/// ("standardised", as `arch` uses for innovations) form.
public struct StudentT: Sendable, Hashable {
    /// Degrees of freedom, > 0 (> 2 for the standardised form).
    public let nu: Double

    /// - Throws: `VolatilityError.invalidParameter` unless `nu` is finite and above 0, or
    ///   above 2 with `standardized` (a unit variance needs a finite variance).
    public init(nu: Double, standardized: Bool = false) throws(VolatilityError) {
        let least = standardized ? 2.0 : 0.0
        guard nu.isFinite && nu > least else {
            throw .invalidParameter(
                name: "nu", value: nu, reason: "degrees of freedom must be finite and above \(Int(least))")
        }
        self.nu = nu
    }

    /// Degrees of freedom the caller has already checked (a fitted or validated model's).
    package init(checkedNu nu: Double) { self.nu = nu }

    /// Density of the ordinary t.
    public func pdf(_ t: Double) -> Double {
        let c = Double.logGamma(0.5 * (nu + 1)) - Double.logGamma(0.5 * nu) - 0.5 * Double.log(nu * Double.pi)
        return Double.exp(c - 0.5 * (nu + 1) * Double.log(onePlus: t * t / nu))
    }

    /// Distribution function of the ordinary t, through the regularised incomplete beta
    /// function: `P(T <= t) = 1 - I_x(nu/2, 1/2)/2` for t > 0, `x = nu/(nu + t^2)`.
    /// Relative accuracy about 1e-14 in both tails.
    public func cdf(_ t: Double) -> Double {
        if t.isNaN { return .nan }
        let x = nu / (nu + t * t)
        let tail = 0.5 * IncompleteBeta.regularized(a: 0.5 * nu, b: 0.5, x: x)
        return t > 0 ? 1 - tail : tail
    }

    /// Quantile of the ordinary t for p in (0, 1): Newton iterations on the tail
    /// probability from the normal quantile (Cornish-Fisher corrected), safeguarded by
    /// bisection. Accurate to about 1e-13 relative.
    public func quantile(_ p: Double) -> Double {
        guard p > 0 && p < 1 else { return p == 0 ? -.infinity : (p == 1 ? .infinity : .nan) }
        if p == 0.5 { return 0 }
        // Work in the lower tail: q = min(p, 1-p), answer negative, then reflect.
        let q = min(p, 1 - p)
        let z = Special.normalQuantile(q)
        var t = z + (z * z * z + z) / (4 * nu)  // first Cornish-Fisher term
        if !(t < 0) { t = -1e-3 }
        var lo = -Double.greatestFiniteMagnitude
        var hi = 0.0
        for _ in 0..<100 {
            let f = cdf(t) - q
            if f > 0 { hi = t } else { lo = t }
            let d = pdf(t)
            var next = t - f / d
            if !(next > lo && next < hi) || !next.isFinite {
                next = lo.isFinite && lo > -Double.greatestFiniteMagnitude ? 0.5 * (lo + hi) : 2 * t - 1
            }
            if Swift.abs(next - t) <= 1e-15 * Swift.abs(t) {
                t = next
                break
            }
            t = next
        }
        return p < 0.5 ? t : -t
    }

    /// Scale that turns the ordinary t into unit variance: sqrt((nu - 2)/nu).
    public var unitVarianceScale: Double { ((nu - 2) / nu).squareRoot() }

    /// Upper-tail quantile of the standardised (unit-variance) t at coverage `alpha`.
    public func standardizedQuantile(_ alpha: Double) -> Double { quantile(alpha) * unitVarianceScale }

    /// Expected shortfall of the standardised t beyond its `alpha` quantile (upper tail):
    /// `sqrt((nu-2)/nu) * (nu + q^2)/(nu - 1) * f(q) / (1 - alpha)`, q the ordinary quantile.
    public func standardizedExpectedShortfall(_ alpha: Double) -> Double {
        let q = quantile(alpha)
        return unitVarianceScale * (nu + q * q) / (nu - 1) * pdf(q) / (1 - alpha)
    }
}

/// Regularised incomplete beta function I_x(a, b) by its continued fraction (modified
/// Lentz), using the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) where the fraction converges
/// slowly.
public enum IncompleteBeta {
    public static func regularized(a: Double, b: Double, x: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront =
            Double.logGamma(a + b) - Double.logGamma(a) - Double.logGamma(b)
            + a * Double.log(x) + b * Double.log(onePlus: -x)
        if x < (a + 1) / (a + b + 2) {
            return Double.exp(logFront) * fraction(a: a, b: b, x: x) / a
        }
        return 1 - Double.exp(logFront) * fraction(a: b, b: a, x: 1 - x) / b
    }

    static func fraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if Swift.abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...500 {
            let m = Double(m)
            var num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + num * d
            if Swift.abs(d) < tiny { d = tiny }
            c = 1 + num / c
            if Swift.abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + num * d
            if Swift.abs(d) < tiny { d = tiny }
            c = 1 + num / c
            if Swift.abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if Swift.abs(delta - 1) < 1e-16 { break }
        }
        return h
    }
}
