import RealModule

/// A symmetric matrix of per-period covariances (decimal squared) or correlations,
/// row-major, `dimension x dimension`.
public struct SymmetricMatrix: Sendable, Equatable {
    public let dimension: Int
    public var values: [Double]

    public init(dimension: Int, values: [Double]) {
        self.dimension = dimension
        self.values = values
    }

    public subscript(i: Int, j: Int) -> Double {
        get { values[i * dimension + j] }
        set { values[i * dimension + j] = newValue }
    }

    /// Correlation matrix of a covariance matrix (zero where a variance is zero).
    public var correlation: SymmetricMatrix {
        var c = self
        for i in 0..<dimension {
            for j in 0..<dimension {
                let d = (self[i, i] * self[j, j]).squareRoot()
                c[i, j] = i == j ? 1 : (d > 0 ? self[i, j] / d : 0)
            }
        }
        return c
    }

    public var rows: [[Double]] {
        (0..<dimension).map { Array(values[($0 * dimension)..<(($0 + 1) * dimension)]) }
    }
}

/// Why a multivariate estimate cannot be made.
public enum CovarianceError: Error, Equatable, Sendable, CustomStringConvertible {
    case raggedReturns(row: Int, expected: Int, got: Int)
    case tooFewObservations(needed: Int, got: Int)
    case nonFinite(row: Int, column: Int)
    case invalidLambda(Double)

    public var description: String {
        switch self {
        case .raggedReturns(let row, let expected, let got):
            return "row \(row) has \(got) returns, expected \(expected)"
        case .tooFewObservations(let needed, let got): return "needs at least \(needed) aligned returns, got \(got)"
        case .nonFinite(let row, let column): return "return at row \(row), asset \(column) is not finite"
        case .invalidLambda(let l): return "lambda = \(l): must be strictly between 0 and 1"
        }
    }
}

func validate(_ returns: [[Double]], minimum: Int) throws(CovarianceError) -> Int {
    guard let first = returns.first else { throw .tooFewObservations(needed: minimum, got: 0) }
    let n = first.count
    for (t, row) in returns.enumerated() {
        guard row.count == n else { throw .raggedReturns(row: t, expected: n, got: row.count) }
        for (j, v) in row.enumerated() where !v.isFinite { throw .nonFinite(row: t, column: j) }
    }
    guard returns.count >= minimum else { throw .tooFewObservations(needed: minimum, got: returns.count) }
    return n
}

/// EWMA covariance `S_t = lambda S_{t-1} + (1 - lambda) r_{t-1} r_{t-1}'` (zero mean).
///
/// Seeded like the univariate EWMA: the 0.94-weighted mean of the first min(75, n) outer
/// products. `returns[t]` holds the decimal log returns of every asset at one common
/// timestamp (rows are time, columns assets).
public struct EWMACovariance: Sendable, Hashable {
    public let lambda: Double

    public init(lambda: Double = EWMA.riskMetricsLambda) throws(CovarianceError) {
        guard lambda > 0 && lambda < 1 else { throw .invalidLambda(lambda) }
        self.lambda = lambda
    }

    /// Covariance forecast for the period after the last row.
    public func nextCovariance(_ returns: [[Double]]) throws(CovarianceError) -> SymmetricMatrix {
        let k = try validate(returns, minimum: 2)
        var s = [Double](repeating: 0, count: k * k)
        let tau = min(EWMA.seedLength, returns.count)
        var w = 1.0
        var sw = 0.0
        for t in 0..<tau {
            for i in 0..<k { for j in 0..<k { s[i * k + j] += w * returns[t][i] * returns[t][j] } }
            sw += w
            w *= EWMA.seedDecay
        }
        for i in s.indices { s[i] /= sw }
        for r in returns {
            for i in 0..<k {
                for j in 0..<k { s[i * k + j] = lambda * s[i * k + j] + (1 - lambda) * r[i] * r[j] }
            }
        }
        return SymmetricMatrix(dimension: k, values: s)
    }
}

/// Ledoit and Wolf (2004), "Honey, I shrunk the sample covariance matrix": shrink the
/// sample covariance (divisor T, demeaned) toward the constant-correlation target with
/// the estimated optimal intensity `delta = clamp(kappa / T, 0, 1)`. Use it when the
/// window is short relative to the number of assets.
public struct LedoitWolf: Sendable {
    public struct Result: Sendable, Equatable {
        public var covariance: SymmetricMatrix
        /// Shrinkage intensity in [0, 1] (1 = the target).
        public var shrinkage: Double
        /// Average sample correlation, the target's common correlation.
        public var averageCorrelation: Double
        public var correlation: SymmetricMatrix { covariance.correlation }
    }

    public init() {}

    public func estimate(_ returns: [[Double]]) throws(CovarianceError) -> Result {
        let n = try validate(returns, minimum: 3)
        let t = Double(returns.count)
        var mean = [Double](repeating: 0, count: n)
        for r in returns { for i in 0..<n { mean[i] += r[i] / t } }
        let y = returns.map { r in (0..<n).map { r[$0] - mean[$0] } }
        var s = [Double](repeating: 0, count: n * n)
        for r in y { for i in 0..<n { for j in 0..<n { s[i * n + j] += r[i] * r[j] / t } } }
        let sd = (0..<n).map { s[$0 * n + $0].squareRoot() }
        var rbar = 0.0
        for i in 0..<n { for j in 0..<n where i != j { rbar += s[i * n + j] / (sd[i] * sd[j]) } }
        rbar /= Double(n * (n - 1))
        var f = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { f[i * n + j] = i == j ? s[i * n + i] : rbar * sd[i] * sd[j] } }
        // pi: sum of asymptotic variances of the sample covariances
        var piMat = [Double](repeating: 0, count: n * n)
        var thetaII = [Double](repeating: 0, count: n * n)  // theta_{ii,ij}
        for r in y {
            for i in 0..<n {
                for j in 0..<n {
                    piMat[i * n + j] += (r[i] * r[j]) * (r[i] * r[j]) / t
                    thetaII[i * n + j] += r[i] * r[i] * r[i] * r[j] / t
                }
            }
        }
        var piHat = 0.0
        for i in 0..<n {
            for j in 0..<n {
                piMat[i * n + j] -= s[i * n + j] * s[i * n + j]
                piHat += piMat[i * n + j]
                thetaII[i * n + j] -= s[i * n + i] * s[i * n + j]
            }
        }
        var rho = 0.0
        for i in 0..<n { rho += piMat[i * n + i] }
        for i in 0..<n {
            for j in 0..<n where i != j {
                // theta_{jj,ij} = thetaII[j][i] by symmetry of the products
                rho += rbar / 2 * (sd[j] / sd[i] * thetaII[i * n + j] + sd[i] / sd[j] * thetaII[j * n + i])
            }
        }
        var gamma = 0.0
        for i in 0..<(n * n) { gamma += (f[i] - s[i]) * (f[i] - s[i]) }
        let delta = gamma > 0 ? min(1, max(0, (piHat - rho) / gamma / t)) : 1
        var sigma = [Double](repeating: 0, count: n * n)
        for i in 0..<(n * n) { sigma[i] = delta * f[i] + (1 - delta) * s[i] }
        return Result(
            covariance: SymmetricMatrix(dimension: n, values: sigma), shrinkage: delta, averageCorrelation: rbar)
    }
}

/// Sample covariance (demeaned, divisor T - 1) of rows of aligned returns.
public func sampleCovariance(_ returns: [[Double]]) throws(CovarianceError) -> SymmetricMatrix {
    let n = try validate(returns, minimum: 2)
    let t = Double(returns.count)
    var mean = [Double](repeating: 0, count: n)
    for r in returns { for i in 0..<n { mean[i] += r[i] / t } }
    var s = [Double](repeating: 0, count: n * n)
    for r in returns {
        for i in 0..<n { for j in 0..<n { s[i * n + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / (t - 1) } }
    }
    return SymmetricMatrix(dimension: n, values: s)
}
