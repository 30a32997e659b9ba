import RealModule

/// The standard normal law of the standardised residuals (arch's `Normal`); no parameters.
public struct StandardizedNormal: StandardizedDistribution {
    public struct Constants: Sendable {}
    public init() {}
    public var name: String { "Normal" }
    public var parameterNames: [String] { [] }
    public func startingValues(standardized z: [Double]) -> [Double] { [] }
    public func unconstrained(_ p: [Double]) -> [Double] { [] }
    public func natural(_ u: [Double]) -> [Double] { [] }
    public func constants(_ p: [Double]) -> Constants? { Constants() }
    public func logDensity(_ c: Constants, residual e: Double, variance s2: Double) -> Double {
        -0.5 * (Special.log2Pi + Double.log(s2) + e * e / s2)
    }
}

/// Student's t with `nu` degrees of freedom scaled to unit variance (arch's `StudentsT`,
/// parameter `nu`), `2.05 < nu < 500` as arch bounds it.
public struct StandardizedStudentT: StandardizedDistribution {
    public struct Constants: Sendable {
        let half: Double, constant: Double, inverseNuMinus2: Double
    }
    public init() {}
    public var name: String { "Student's t" }
    public var parameterNames: [String] { ["nu"] }
    /// arch's moment estimator: `(4k - 6) / (k - 3)` from the kurtosis k when k > 3.75, else 12; at least 4.
    public func startingValues(standardized z: [Double]) -> [Double] {
        let k = Kurtosis.of(z)
        return [max(k > 3.75 ? (4 * k - 6) / (k - 3) : 12, 4)]
    }
    public func unconstrained(_ p: [Double]) -> [Double] { [Bounded.toLine(p[0], 2.05, 500)] }
    public func natural(_ u: [Double]) -> [Double] { [Bounded.fromLine(u[0], 2.05, 500)] }
    public func constants(_ p: [Double]) -> Constants? {
        let nu = p[0]
        guard nu > 2 && nu.isFinite else { return nil }
        let half = 0.5 * (nu + 1)
        return Constants(
            half: half,
            constant: Double.logGamma(half) - Double.logGamma(0.5 * nu) - 0.5 * Double.log(Double.pi * (nu - 2)),
            inverseNuMinus2: 1 / (nu - 2))
    }
    public func logDensity(_ c: Constants, residual e: Double, variance s2: Double) -> Double {
        c.constant - 0.5 * Double.log(s2) - c.half * Double.log(1 + e * e / s2 * c.inverseNuMinus2)
    }
}

/// Moments for the distributions' starting values.
enum Kurtosis {
    /// `m4 / m2^2` with central moments (scipy's `kurtosis(fisher=False)`, biased).
    static func of(_ z: [Double]) -> Double {
        let n = Double(z.count)
        guard n > 0 else { return 3 }
        let m = z.reduce(0, +) / n
        var m2 = 0.0
        var m4 = 0.0
        for x in z {
            let d = (x - m) * (x - m)
            m2 += d
            m4 += d * d
        }
        m2 /= n
        m4 /= n
        return m2 > 0 ? m4 / (m2 * m2) : 3
    }
}

/// An interval `(low, high)` mapped onto the real line by the logistic function, for
/// parameters that arch bounds on both sides.
enum Bounded {
    static func fromLine(_ u: Double, _ low: Double, _ high: Double) -> Double {
        low + (high - low) / (1 + Double.exp(-u))
    }
    static func toLine(_ x: Double, _ low: Double, _ high: Double) -> Double {
        let f = min(max((x - low) / (high - low), 1e-12), 1 - 1e-12)
        return Double.log(f / (1 - f))
    }
}
