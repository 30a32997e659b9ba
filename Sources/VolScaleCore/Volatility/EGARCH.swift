import RealModule

/// Nelson's EGARCH(1,1,1) in arch's form (`vol='EGARCH', p=1, o=1, q=1`): the log variance
///
///     ln sigma2_t = omega + alpha (|z_{t-1}| - sqrt(2/pi)) + gamma z_{t-1} + beta ln sigma2_{t-1},
///
/// with `z = e / sigma`. The first observation has `ln sigma2_1 = omega + beta ln(backcast)`
/// (arch backcasts the log variance and has no shock before the sample). No sign constraint
/// on alpha or gamma; `0 <= beta < 1`. `omega` is the intercept of the log variance of
/// decimal returns: arch's percent-scale value minus `(1 - beta) ln 10^4`.
public struct EGARCH: VolatilityProcess {
    public init() {}
    public var name: String { "EGARCH(1,1,1)" }
    public var parameterNames: [String] { ["omega", "alpha", "gamma", "beta"] }

    /// E|z| for a standard normal.
    static let meanAbsolute = (2 / Double.pi).squareRoot()
    /// arch's cap on the log variance (the log of the largest double).
    static let maximumLogVariance = Double.log(Double.greatestFiniteMagnitude)

    /// arch's grid: alpha in {0.01, 0.05, 0.1, 0.2}, gamma in {-0.1, 0, 0.1}, beta in {0.5, 0.7,
    /// 0.9, 0.98}, omega `(1 - beta) ln(variance)`.
    public func startingValues(variance: Double) -> [[Double]] {
        let target = Double.log(variance)
        var out: [[Double]] = []
        for alpha in [0.01, 0.05, 0.1, 0.2] {
            for gamma in [-0.1, 0, 0.1] {
                for beta in [0.5, 0.7, 0.9, 0.98] { out.append([(1 - beta) * target, alpha, gamma, beta]) }
            }
        }
        return out
    }
    public func unconstrained(_ p: [Double]) -> [Double] { [p[0], p[1], p[2], Bounded.toLine(p[3], 0, 1)] }
    public func natural(_ u: [Double]) -> [Double] { [u[0], u[1], u[2], Bounded.fromLine(u[3], 0, 1)] }
    public func admits(_ p: [Double]) -> Bool { p.allSatisfy(\.isFinite) && p[3] >= 0 && p[3] < 1 }

    public func firstVariance(_ p: [Double], backcast: Double) -> Double {
        Double.exp(min(p[0] + p[3] * Double.log(backcast), Self.maximumLogVariance))
    }

    public func nextVariance(_ p: [Double], variance s2: Double, residual e: Double) -> Double {
        let z = e / s2.squareRoot()
        let ln = p[0] + p[1] * (Swift.abs(z) - Self.meanAbsolute) + p[2] * z + p[3] * Double.log(s2)
        return Double.exp(min(ln, Self.maximumLogVariance))
    }

    /// For `r = y / scale`: `ln sigma2_r = ln sigma2_y - 2 ln scale`, so omega moves by
    /// `-(1 - beta) 2 ln scale`.
    public func unscaled(_ p: [Double], scale: Double) -> [Double] {
        [p[0] - (1 - p[3]) * 2 * Double.log(scale), p[1], p[2], p[3]]
    }

    /// One step ahead only, as arch's analytic forecast: further steps need simulation.
    public func forecast(_ p: [Double], next: Double, horizon: Int) -> [Double]? {
        horizon == 1 ? [next] : (horizon < 1 ? [] : nil)
    }
}
