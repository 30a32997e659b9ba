import RealModule

/// Hansen's (1994) skewed Student's t, standardised to mean 0 and variance 1 (arch's
/// `SkewStudent`). Parameters: `nu` (arch's `eta`, tail thickness, `2.05 < nu < 300`) and
/// `skew` (arch's `lambda`, `-1 < skew < 1`; negative puts more mass in the left tail).
///
/// Density of z: `b c (1 + ((b z + a) / (1 + sgn(z + a/b) skew))^2 / (nu - 2))^(-(nu+1)/2)`
/// with `c = Gamma((nu+1)/2) / (sqrt(pi (nu-2)) Gamma(nu/2))`, `a = 4 skew c (nu-2)/(nu-1)`,
/// `b^2 = 1 + 3 skew^2 - a^2`; sgn(0) = 0 as in arch.
public struct SkewedStudentT: StandardizedDistribution {
    public struct Constants: Sendable {
        let half: Double, logBC: Double, a: Double, b: Double, skew: Double, inverseNuMinus2: Double
    }
    public init() {}
    public var name: String { "Skewed Student's t" }
    public var parameterNames: [String] { ["nu", "skew"] }
    /// arch's: `nu` from the kurtosis as for Student's t, `skew` 0.
    public func startingValues(standardized z: [Double]) -> [Double] {
        StandardizedStudentT().startingValues(standardized: z) + [0]
    }
    public func unconstrained(_ p: [Double]) -> [Double] {
        [Bounded.toLine(p[0], 2.05, 300), Bounded.toLine(p[1], -1, 1)]
    }
    public func natural(_ u: [Double]) -> [Double] {
        [Bounded.fromLine(u[0], 2.05, 300), Bounded.fromLine(u[1], -1, 1)]
    }
    public func constants(_ p: [Double]) -> Constants? {
        let nu = p[0]
        let skew = p[1]
        guard nu > 2 && nu.isFinite && Swift.abs(skew) < 1 else { return nil }
        let logC = Double.logGamma(0.5 * (nu + 1)) - Double.logGamma(0.5 * nu) - 0.5 * Double.log(Double.pi * (nu - 2))
        let a = 4 * skew * Double.exp(logC) * (nu - 2) / (nu - 1)
        let b2 = 1 + 3 * skew * skew - a * a
        guard b2 > 0 else { return nil }
        let b = b2.squareRoot()
        return Constants(
            half: 0.5 * (nu + 1), logBC: Double.log(b) + logC, a: a, b: b, skew: skew, inverseNuMinus2: 1 / (nu - 2))
    }
    public func logDensity(_ c: Constants, residual e: Double, variance s2: Double) -> Double {
        let z = e / s2.squareRoot()
        let side = z + c.a / c.b
        let sign: Double = side > 0 ? 1 : (side < 0 ? -1 : 0)
        let q = (c.b * z + c.a) / (1 + sign * c.skew)
        return c.logBC - 0.5 * Double.log(s2) - c.half * Double.log(1 + q * q * c.inverseNuMinus2)
    }
}
