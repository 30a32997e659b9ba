import RealModule

/// Special functions the models need, with their accuracy stated.
///
/// Built on the C library's `erfc` and `lgamma` (through swift-numerics), which are
/// accurate to a few ulps over the whole real line.
public enum Special {
    /// 1/sqrt(2 pi).
    public static let invSqrt2Pi = 0.398_942_280_401_432_677_94
    /// ln(2 pi).
    public static let log2Pi = 1.837_877_066_409_345_483_56
    /// sqrt(2 pi).
    public static let sqrt2Pi = 2.506_628_274_631_000_502_42

    /// Standard normal density phi(x).
    @inlinable
    public static func normalPDF(_ x: Double) -> Double {
        invSqrt2Pi * Double.exp(-0.5 * x * x)
    }

    /// Standard normal distribution function Phi(x) = erfc(-x/sqrt 2)/2.
    ///
    /// Relative accuracy of a few ulps in both tails (no cancellation: `erfc` is used
    /// directly, never `1 - Phi`), down to the underflow of `erfc` near x = -38.
    @inlinable
    public static func normalCDF(_ x: Double) -> Double {
        0.5 * Double.erfc(-x * 0.707_106_781_186_547_524_40)
    }

    /// Standard normal quantile Phi^-1(p) for p in (0, 1).
    ///
    /// Acklam's rational approximation (relative error 1.15e-9) refined by one Halley
    /// step on `erfc`, which brings it to full double precision. Returns -inf at 0,
    /// +inf at 1 and NaN outside [0, 1].
    public static func normalQuantile(_ p: Double) -> Double {
        guard p > 0 && p < 1 else {
            if p == 0 { return -.infinity }
            if p == 1 { return .infinity }
            return .nan
        }
        let a = (
            -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00
        )
        let b = (
            -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01
        )
        let c = (
            -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00
        )
        let d = (
            7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00
        )
        let pLow = 0.02425
        var x: Double
        if p < pLow {
            let q = Double.sqrt(-2 * Double.log(p))
            x =
                (((((c.0 * q + c.1) * q + c.2) * q + c.3) * q + c.4) * q + c.5)
                / ((((d.0 * q + d.1) * q + d.2) * q + d.3) * q + 1)
        } else if p <= 1 - pLow {
            let q = p - 0.5
            let r = q * q
            x =
                (((((a.0 * r + a.1) * r + a.2) * r + a.3) * r + a.4) * r + a.5) * q
                / (((((b.0 * r + b.1) * r + b.2) * r + b.3) * r + b.4) * r + 1)
        } else {
            let q = Double.sqrt(-2 * Double.log(onePlus: -p))
            x =
                -(((((c.0 * q + c.1) * q + c.2) * q + c.3) * q + c.4) * q + c.5)
                / ((((d.0 * q + d.1) * q + d.2) * q + d.3) * q + 1)
        }
        // One Halley step. In the upper half work with the upper tail to avoid cancellation.
        if x <= 0 {
            let e = normalCDF(x) - p
            let u = e * sqrt2Pi * Double.exp(0.5 * x * x)
            x -= u / (1 + 0.5 * x * u)
        } else {
            let e = normalCDF(-x) - (1 - p)
            let u = -e * sqrt2Pi * Double.exp(0.5 * x * x)
            x -= u / (1 + 0.5 * x * u)
        }
        return x
    }

    /// ln Gamma(x) for x > 0.
    @inlinable
    public static func logGamma(_ x: Double) -> Double { Double.logGamma(x) }

    /// Digamma psi(x) = d/dx ln Gamma(x) for x > 0; absolute error below 1e-14.
    ///
    /// Recurrence psi(x) = psi(x+1) - 1/x up to x >= 10, then the asymptotic series.
    public static func digamma(_ x: Double) -> Double {
        var x = x
        var result = 0.0
        while x < 10 {
            result -= 1 / x
            x += 1
        }
        let f = 1 / (x * x)
        let series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))))
        return result + Double.log(x) - 0.5 / x - series
    }

    /// Mills-type ratio Y(h) = Phi(h) / phi(h) = sqrt(pi/2) erfcx(-h/sqrt 2), for h <= 0
    /// (used by the Black-76 kernel).
    ///
    /// Relative accuracy of a few ulps for every h <= 0. For h >= -10 it is
    /// `sqrt(pi/2) erfc(z) exp(z^2)` with z = -h/sqrt 2, where both the rounding of z
    /// (recovered exactly with an FMA and a two-part 1/sqrt 2) and of z^2 are corrected to
    /// first order: uncorrected, erfc's sensitivity to its argument would cost about h^2
    /// ulps. Below -10, Laplace's continued fraction `1/(a + 1/(a + 2/(a + 3/(a + ...))))`,
    /// a = -h, from a depth that makes the truncation error negligible.
    public static func millsRatio(_ h: Double) -> Double {
        if h >= -10 {
            let a = -h
            let z = a * invSqrt2Hi
            let dz = Double.fma(a, invSqrt2Hi, -z) + a * invSqrt2Lo  // exact z = z + dz
            let zz = z * z
            let zzLo = Double.fma(z, z, -zz)
            let erfcx = Double.erfc(z) * Double.exp(zz) * (1 + zzLo)
            let slope = 2 * z * erfcx - 2 * invSqrtPi  // d erfcx / dz
            return sqrtHalfPi * (erfcx + dz * slope)
        }
        let a = -h
        let depth = max(12, Int(1000 / (a * a)) + 10)
        var f = a
        var k = depth
        while k >= 1 {
            f = a + Double(k) / f
            k -= 1
        }
        return 1 / f
    }

    /// 1/sqrt 2 as a rounded double plus the remainder.
    static let invSqrt2Hi = 0.7071067811865476
    static let invSqrt2Lo = -4.833646656726457e-17
    static let invSqrtPi = 0.564_189_583_547_756_286_95
    static let sqrtHalfPi = 1.253_314_137_315_500_251_21
}

extension Double {
    /// Fused multiply-add `a * b + c` with a single rounding.
    @inlinable
    static func fma(_ a: Double, _ b: Double, _ c: Double) -> Double {
        c.addingProduct(a, b)
    }
}
