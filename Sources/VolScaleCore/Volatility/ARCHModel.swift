import RealModule

// MARK: - Roles as protocols (arch's VolatilityProcess and Distribution)

/// A conditional variance recursion: the volatility role of an `ARCHModel`, as arch's
/// `VolatilityProcess`. It declares its parameters (names in arch's spelling, starting
/// values, the map to the optimiser's unconstrained coordinates, constraints) and steps
/// the variance one observation at a time.
///
/// Parameters here are those of returns scaled to unit sample variance (the fit works on
/// `y = r / sd(r)`); `unscaled` converts them to decimal returns.
public protocol VolatilityProcess: Sendable {
    /// For messages and descriptions, e.g. `EGARCH(1,1,1)`.
    var name: String { get }
    /// Parameter names in order, as arch names them (without arch's `[1]` lag suffix).
    var parameterNames: [String] { get }
    /// Candidate starting values given the mean of the squared residuals at the mean's
    /// starting value; the fit keeps the one with the best Gaussian likelihood (as arch).
    func startingValues(variance: Double) -> [[Double]]
    /// Natural parameters to the unconstrained coordinates the optimiser moves in.
    func unconstrained(_ p: [Double]) -> [Double]
    /// The inverse of `unconstrained`.
    func natural(_ u: [Double]) -> [Double]
    /// Constraints the coordinates do not guarantee (e.g. stationarity); a point that fails
    /// them is infeasible for the optimiser.
    func admits(_ p: [Double]) -> Bool
    /// `sigma2_1`, the variance of the first residual, from the backcast (the 0.94-weighted
    /// mean of the first 75 squared residuals, arch's `backcast`).
    func firstVariance(_ p: [Double], backcast: Double) -> Double
    /// `sigma2_{t+1}` from `sigma2_t` and the residual `e_t`.
    func nextVariance(_ p: [Double], variance: Double, residual: Double) -> Double
    /// The parameters for returns `r = y / scale` (decimal units) from those fitted on `y`.
    func unscaled(_ p: [Double], scale: Double) -> [Double]
    /// Variance forecasts `E[sigma2_{n+k}]`, k = 1...horizon, from `sigma2_{n+1}`; nil when
    /// the process has no analytic forecast that far (EGARCH beyond one step).
    func forecast(_ p: [Double], next: Double, horizon: Int) -> [Double]?
}

/// The law of the standardised residuals `z_t = e_t / sigma_t` (unit variance): the
/// distribution role of an `ARCHModel`, as arch's `Distribution`.
public protocol StandardizedDistribution: Sendable {
    /// What the parameters leave fixed: constants of the density computed once per
    /// parameter vector, outside the loop over observations.
    associatedtype Constants: Sendable
    var name: String { get }
    /// Parameter names in order (VolScale's spelling; the doc comment of each type gives arch's).
    var parameterNames: [String] { get }
    /// Starting values from the standardised residuals at the process's starting values.
    func startingValues(standardized z: [Double]) -> [Double]
    func unconstrained(_ p: [Double]) -> [Double]
    func natural(_ u: [Double]) -> [Double]
    /// The density's constants; nil where the parameters are outside their range.
    func constants(_ p: [Double]) -> Constants?
    /// `ln f(e | sigma2)`: the log density of a residual with variance `sigma2`, including
    /// `-ln(sigma2)/2`.
    func logDensity(_ c: Constants, residual e: Double, variance s2: Double) -> Double
}

// MARK: - The composite

/// A univariate volatility model composed of a mean, a variance process and a distribution,
/// as arch composes `ARCHModel`: one parameter vector `[mean | process | distribution]`
/// sliced among the roles, one recursion (the process's `nextVariance`) used by the
/// likelihood and the filter alike.
///
/// The fit follows arch's conventions: returns scaled to unit sample variance for the
/// optimisation; the process's starting values chosen by the Gaussian likelihood, then the
/// distribution's from the standardised residuals there; the backcast from the first 75
/// squared residuals about the sample mean; the exact likelihood (no observation dropped).
/// Derivatives are central differences in the unconstrained coordinates (arch also
/// differentiates numerically); standard errors are Bollerslev-Wooldridge's sandwich, as
/// arch's default. arch also clips each variance into loose bounds around the backcast;
/// those bind only far from an optimum and are not reproduced.
public struct ARCHModel<Process: VolatilityProcess, Distribution: StandardizedDistribution>: Sendable {
    public let mean: MeanModel
    public let volatility: Process
    public let distribution: Distribution

    public init(mean: MeanModel = .constant, volatility: Process, distribution: Distribution) {
        self.mean = mean
        self.volatility = volatility
        self.distribution = distribution
    }

    var meanCount: Int { mean == .constant ? 1 : 0 }
    public var parameterNames: [String] {
        (mean == .constant ? ["mu"] : []) + volatility.parameterNames + distribution.parameterNames
    }
    public var name: String {
        "\(mean == .constant ? "Constant Mean" : "Zero Mean") - \(volatility.name) - \(distribution.name)"
    }

    /// The roles' slices of one parameter vector.
    func split(_ theta: [Double]) -> (mu: Double, process: [Double], distribution: [Double]) {
        let k = volatility.parameterNames.count
        let m = meanCount
        return (m == 1 ? theta[0] : 0, Array(theta[m..<(m + k)]), Array(theta[(m + k)...]))
    }

    /// Per-observation log-likelihoods (into `each` when given) and their sum; nil where the
    /// parameters are infeasible or a variance is not positive and finite.
    func logLikelihood(
        _ theta: [Double], _ y: [Double], backcast: Double,
        each: UnsafeMutablePointer<Double>? = nil
    ) -> Double? {
        let (mu, p, d) = split(theta)
        guard volatility.admits(p), let c = distribution.constants(d) else { return nil }
        var s2 = volatility.firstVariance(p, backcast: backcast)
        var total = 0.0
        for t in y.indices {
            guard s2 > 0, s2.isFinite else { return nil }
            let e = y[t] - mu
            let l = distribution.logDensity(c, residual: e, variance: s2)
            each?[t] = l
            total += l
            s2 = volatility.nextVariance(p, variance: s2, residual: e)
        }
        return total.isFinite ? total : nil
    }

    /// The variance path, residuals and the one-step forecast after the sample.
    func filter(_ theta: [Double], _ y: [Double], backcast: Double) -> (
        variance: [Double], residuals: [Double], next: Double
    ) {
        let (mu, p, _) = split(theta)
        var s2 = volatility.firstVariance(p, backcast: backcast)
        var variance = [Double](repeating: 0, count: y.count)
        var residuals = [Double](repeating: 0, count: y.count)
        for t in y.indices {
            variance[t] = s2
            let e = y[t] - mu
            residuals[t] = e
            s2 = volatility.nextVariance(p, variance: s2, residual: e)
        }
        return (variance, residuals, s2)
    }

    func natural(_ u: [Double]) -> [Double] {
        let k = volatility.parameterNames.count
        let m = meanCount
        return Array(u[0..<m]) + volatility.natural(Array(u[m..<(m + k)])) + distribution.natural(Array(u[(m + k)...]))
    }

    func unconstrained(_ theta: [Double]) -> [Double] {
        let (_, p, d) = split(theta)
        return Array(theta[0..<meanCount]) + volatility.unconstrained(p) + distribution.unconstrained(d)
    }

    /// Fits by maximum likelihood.
    /// - Parameter returns: log returns in decimal units, oldest first.
    /// - Throws: `VolatilityError` for too few or non-finite returns, or no finite optimum.
    public func fit(_ returns: [Double]) throws(VolatilityError) -> ARCHFit {
        let (y, scale, sampleMean) = try GARCHModel.scaled(returns, model: volatility.name)
        let n = returns.count
        let mu0 = mean == .constant ? sampleMean * scale : 0
        let backcast = EWMA.backcast(y.map { ($0 - mu0) * ($0 - mu0) })

        // the process's starting values by the Gaussian likelihood, then the distribution's
        let gaussian = ARCHModel<Process, StandardizedNormal>(
            mean: mean, volatility: volatility, distribution: StandardizedNormal())
        let meanPart = mean == .constant ? [mu0] : []
        var best: (ll: Double, p: [Double])?
        let variance = y.reduce(0) { $0 + ($1 - mu0) * ($1 - mu0) } / Double(n)
        for p in volatility.startingValues(variance: variance) {
            if let ll = gaussian.logLikelihood(meanPart + p, y, backcast: backcast), ll > (best?.ll ?? -.infinity) {
                best = (ll, p)
            }
        }
        guard let p0 = best?.p else {
            throw .optimizationFailed(model: volatility.name, reason: "no finite likelihood at any starting value")
        }
        let path0 = gaussian.filter(meanPart + p0, y, backcast: backcast)
        let z0 = zip(path0.residuals, path0.variance).map { $0 / $1.squareRoot() }
        let start = meanPart + p0 + distribution.startingValues(standardized: z0)

        let invN = 1 / Double(n)
        let objective = { (u: [Double]) -> Double? in
            self.logLikelihood(self.natural(u), y, backcast: backcast).map { -$0 * invN }
        }
        let optimizer = BFGS(gradientTolerance: 1e-7, functionTolerance: 1e-13, maxIterations: 1000)
        let u0 = unconstrained(start)
        // BHHH start, as GARCHModel: the inverse outer product of the per-observation scores
        // (central differences in the unconstrained coordinates), scaled to -logL/n
        let h0 = scoreOuterProduct(u0, y, backcast: backcast).flatMap { opg in
            DenseMatrix.inverse(opg.map { $0 * invN }, n: u0.count)
        }
        let result = optimizer.minimize(start: u0, initialInverseHessian: h0, value: objective) { u, grad in
            guard let f = objective(u) else { return nil }
            return NumericDerivative.gradient(objective, at: u, value: f, into: &grad) ? f : nil
        }
        let theta = natural(result.x)
        guard result.value.isFinite, let ll = logLikelihood(theta, y, backcast: backcast) else {
            throw .optimizationFailed(model: volatility.name, reason: result.message)
        }
        let path = filter(theta, y, backcast: backcast)
        let parameters = decimal(theta, scale: scale)
        let standardErrors = robustCovariance(theta, y, backcast: backcast).flatMap { cov -> [Double]? in
            // the delta method through the change to decimal units: J cov J'
            let k = theta.count
            var jacobian = [Double](repeating: 0, count: k * k)
            for j in 0..<k {
                let h = 1e-6 * max(Swift.abs(theta[j]), 1e-3)
                var a = theta
                var b = theta
                a[j] += h
                b[j] -= h
                let (da, db) = (decimal(a, scale: scale), decimal(b, scale: scale))
                for i in 0..<k { jacobian[i * k + j] = (da[i] - db[i]) / (2 * h) }
            }
            let jt = (0..<(k * k)).map { jacobian[($0 % k) * k + $0 / k] }
            let c = DenseMatrix.multiply(DenseMatrix.multiply(jacobian, cov, n: k, k: k, m: k), jt, n: k, k: k, m: k)
            return (0..<k).allSatisfy { c[$0 * k + $0] >= 0 } ? (0..<k).map { c[$0 * k + $0].squareRoot() } : nil
        }
        let unscaledProcess = split(parameters).process
        return ARCHFit(
            description: name, parameterNames: parameterNames, parameters: parameters, standardErrors: standardErrors,
            logLikelihood: ll + Double(n) * Double.log(scale), observations: n,
            conditionalVariance: path.variance.map { $0 / (scale * scale) },
            residuals: path.residuals.map { $0 / scale },
            nextVariance: path.next / (scale * scale),
            forecaster: { [volatility] h, next in volatility.forecast(unscaledProcess, next: next, horizon: h) },
            iterations: result.iterations, evaluations: result.evaluations, converged: result.converged)
    }

    /// The parameters for decimal returns `r = y / scale` from those fitted on `y`.
    func decimal(_ theta: [Double], scale: Double) -> [Double] {
        let (mu, p, d) = split(theta)
        return (mean == .constant ? [mu / scale] : []) + volatility.unscaled(p, scale: scale) + d
    }

    /// `S'S`, the outer product of the per-observation scores (k x k, row major), by central
    /// differences in `x` with `steps`; `toNatural` maps `x` to the natural parameters.
    func scoreOuterProduct(
        _ x: [Double], _ y: [Double], backcast: Double, steps: [Double]? = nil,
        toNatural: (([Double]) -> [Double])? = nil
    ) -> [Double]? {
        let k = x.count
        let n = y.count
        let steps = steps ?? x.map { 1e-5 * max(Swift.abs($0), 1e-2) }
        let natural = toNatural ?? { self.natural($0) }
        var up = [Double](repeating: 0, count: n)
        var down = [Double](repeating: 0, count: n)
        var scores = [Double](repeating: 0, count: n * k)
        for j in 0..<k {
            var a = x
            var b = x
            a[j] += steps[j]
            b[j] -= steps[j]
            let ok = up.withUnsafeMutableBufferPointer { u in
                down.withUnsafeMutableBufferPointer { d in
                    logLikelihood(natural(a), y, backcast: backcast, each: u.baseAddress) != nil
                        && logLikelihood(natural(b), y, backcast: backcast, each: d.baseAddress) != nil
                }
            }
            guard ok else { return nil }
            for t in 0..<n { scores[t * k + j] = (up[t] - down[t]) / (2 * steps[j]) }
        }
        var opg = [Double](repeating: 0, count: k * k)
        for t in 0..<n { for a in 0..<k { for b in 0..<k { opg[a * k + b] += scores[t * k + a] * scores[t * k + b] } } }
        return opg
    }

    /// Bollerslev-Wooldridge `H^-1 (S'S) H^-1` in the natural parameters of `y` (k x k, row
    /// major): scores and Hessian by central differences. nil when the Hessian is singular.
    func robustCovariance(_ theta: [Double], _ y: [Double], backcast: Double) -> [Double]? {
        let k = theta.count
        let steps = theta.map { 1e-5 * max(Swift.abs($0), 1e-2) }
        guard let opg = scoreOuterProduct(theta, y, backcast: backcast, steps: steps, toNatural: { $0 }) else {
            return nil
        }
        let total = { (x: [Double]) -> Double? in self.logLikelihood(x, y, backcast: backcast) }
        guard let hess = NumericDerivative.hessian(total, at: theta, steps: steps),
            let hinv = DenseMatrix.inverse(hess, n: k)
        else { return nil }
        return DenseMatrix.multiply(DenseMatrix.multiply(hinv, opg, n: k, k: k, m: k), hinv, n: k, k: k, m: k)
    }
}

/// Central differences for the composite's fit (no analytic derivatives needed of a role).
enum NumericDerivative {
    /// The gradient of `f` at `x` into `grad`; false where a neighbouring point is infeasible.
    static func gradient(_ f: ([Double]) -> Double?, at x: [Double], value: Double, into grad: inout [Double]) -> Bool {
        var p = x
        for i in x.indices {
            let h = 1e-6 * max(Swift.abs(x[i]), 1)
            p[i] = x[i] + h
            let a = f(p)
            p[i] = x[i] - h
            let b = f(p)
            p[i] = x[i]
            switch (a, b) {
            case (let a?, let b?): grad[i] = (a - b) / (2 * h)
            case (let a?, nil): grad[i] = (a - value) / h
            case (nil, let b?): grad[i] = (value - b) / h
            default: return false
            }
        }
        return true
    }

    /// The Hessian of `f` at `x` (symmetric, row major) from second differences.
    static func hessian(_ f: ([Double]) -> Double?, at x: [Double], steps: [Double]) -> [Double]? {
        let k = x.count
        var h = [Double](repeating: 0, count: k * k)
        guard let f0 = f(x) else { return nil }
        for i in 0..<k {
            for j in i..<k {
                var pp = x
                var pm = x
                var mp = x
                var mm = x
                pp[i] += steps[i]
                pp[j] += steps[j]
                pm[i] += steps[i]
                pm[j] -= steps[j]
                mp[i] -= steps[i]
                mp[j] += steps[j]
                mm[i] -= steps[i]
                mm[j] -= steps[j]
                let v: Double
                if i == j {
                    var p = x
                    var m = x
                    p[i] += steps[i]
                    m[i] -= steps[i]
                    guard let a = f(p), let b = f(m) else { return nil }
                    v = (a - 2 * f0 + b) / (steps[i] * steps[i])
                } else {
                    guard let a = f(pp), let b = f(pm), let c = f(mp), let d = f(mm) else { return nil }
                    v = (a - b - c + d) / (4 * steps[i] * steps[j])
                }
                h[i * k + j] = v
                h[j * k + i] = v
            }
        }
        return h
    }
}

// MARK: - Result

/// An immutable fit of an `ARCHModel`, decimal units throughout.
public struct ARCHFit: Sendable {
    /// e.g. `Constant Mean - EGARCH(1,1,1) - Hansen's skewed t`.
    public let description: String
    public let parameterNames: [String]
    /// Estimates in `parameterNames` order, decimal units of the returns.
    public let parameters: [Double]
    /// Bollerslev-Wooldridge robust standard errors; nil when the Hessian is singular.
    public let standardErrors: [Double]?
    /// Log-likelihood of the decimal returns (= arch's percent-scale value + n ln 100).
    public let logLikelihood: Double
    public let observations: Int
    /// `sigma2_t` per return, forecast with information up to t-1 (decimal, per period).
    public let conditionalVariance: [Double]
    /// Residuals `e_t = r_t - mu`, decimal.
    public let residuals: [Double]
    /// `sigma2_{n+1}`, the one-step forecast after the last return.
    public let nextVariance: Double
    let forecaster: @Sendable (Int, Double) -> [Double]?
    public let iterations: Int
    public let evaluations: Int
    public let converged: Bool

    public subscript(name: String) -> Double? { parameterNames.firstIndex(of: name).map { parameters[$0] } }
    /// Akaike information criterion `-2 logL + 2k`.
    public var aic: Double { -2 * logLikelihood + 2 * Double(parameters.count) }
    /// Bayesian information criterion `-2 logL + k ln n`.
    public var bic: Double { -2 * logLikelihood + Double(parameters.count) * Double.log(Double(observations)) }
    /// `sigma_t` per return (decimal, per period).
    public var conditionalVolatility: [Double] { conditionalVariance.map { $0.squareRoot() } }
    /// Variance forecasts for k = 1...horizon (decimal, per period); nil when the process has
    /// no analytic forecast that far.
    public func forecastVariance(horizon: Int) -> [Double]? { forecaster(horizon, nextVariance) }
}
