import RealModule

// MARK: - Roles

/// The mean model: how residuals `e_t = r_t - mu` are formed.
public enum MeanModel: String, Sendable, CaseIterable, Codable {
    /// `e_t = r_t` (mu fixed at zero).
    case zero
    /// `e_t = r_t - mu`, mu estimated.
    case constant
}

/// The innovation distribution of the standardised residuals `z_t = e_t / sigma_t`.
public enum InnovationDistribution: String, Sendable, CaseIterable, Codable {
    /// Standard normal.
    case normal
    /// Student's t with `nu > 2` degrees of freedom, scaled to unit variance (as `arch`).
    case studentT = "t"
}

/// The GARCH(1,1) variance process, optionally with the GJR asymmetry term (o = 1):
/// `sigma2_t = omega + (alpha + gamma 1[e_{t-1} < 0]) e_{t-1}^2 + beta sigma2_{t-1}`.
///
/// Constraints (as `arch`): `omega > 0`, `alpha >= 0`, `alpha + gamma >= 0`, `beta >= 0`,
/// `alpha + gamma/2 + beta < 1`.
public struct GARCHProcess: Sendable, Hashable, Codable {
    /// `true` for GJR-GARCH(1,1,1).
    public var asymmetric: Bool
    public init(asymmetric: Bool = false) { self.asymmetric = asymmetric }
    public var name: String { asymmetric ? "GJR-GARCH(1,1,1)" : "GARCH(1,1)" }

    /// The recursion, written once: `sigma2_{t+1}` from `sigma2_t` and `e_t`. The analytic
    /// kernel (`GARCHKernel`) and the composite (`ARCHModel`) both step with it.
    @inlinable @inline(__always)
    public static func step(
        omega: Double, alpha: Double, gamma: Double, beta: Double, variance s2: Double, residual e: Double
    ) -> Double {
        omega + (alpha + (e < 0 ? gamma : 0)) * e * e + beta * s2
    }

    /// `sigma2_1 = omega + (alpha + gamma/2 + beta) backcast`, as arch starts the recursion.
    @inlinable @inline(__always)
    public static func first(omega: Double, alpha: Double, gamma: Double, beta: Double, backcast: Double) -> Double {
        omega + (alpha + 0.5 * gamma + beta) * backcast
    }

    /// `sbar + persistence^(k-1) (sigma2_{n+1} - sbar)` for k = 1...horizon.
    public static func forecast(persistence: Double, unconditional sbar: Double, next: Double, horizon: Int) -> [Double]
    {
        var out: [Double] = []
        out.reserveCapacity(max(horizon, 0))
        var decay = 1.0
        for _ in 0..<max(horizon, 0) {
            out.append(sbar + decay * (next - sbar))
            decay *= persistence
        }
        return out
    }
}

/// GARCH(1,1) and GJR-GARCH(1,1,1) as a role of the composite `ARCHModel` (used with the
/// skewed t; with the normal and Student's t distributions `GARCHModel` fits the same model
/// with analytic derivatives). Parameters `omega, alpha, [gamma,] beta`; coordinates as
/// `GARCHTransform`: omega = exp(u), alpha = u^2, alpha + gamma = v^2, beta = w^2.
extension GARCHProcess: VolatilityProcess {
    public var parameterNames: [String] {
        asymmetric ? ["omega", "alpha", "gamma", "beta"] : ["omega", "alpha", "beta"]
    }

    /// The parts of a parameter vector, gamma 0 when symmetric.
    @inline(__always)
    func parts(_ p: [Double]) -> (omega: Double, alpha: Double, gamma: Double, beta: Double) {
        asymmetric ? (p[0], p[1], p[2], p[3]) : (p[0], p[1], 0, p[2])
    }
    func vector(omega: Double, alpha: Double, gamma: Double, beta: Double) -> [Double] {
        asymmetric ? [omega, alpha, gamma, beta] : [omega, alpha, beta]
    }

    /// The grid `GARCHModel` starts from: alpha in {0.03, 0.07, 0.12}, persistence in {0.9,
    /// 0.96, 0.99}, gamma in {0, 0.08, 0.16} when asymmetric; omega `(1 - persistence) variance`.
    public func startingValues(variance: Double) -> [[Double]] {
        var out: [[Double]] = []
        for a in [0.03, 0.07, 0.12] {
            for persistence in [0.9, 0.96, 0.99] {
                for g in asymmetric ? [0.0, 0.08, 0.16] : [0.0] {
                    let b = persistence - a - 0.5 * g
                    if b > 0 { out.append(vector(omega: (1 - persistence) * variance, alpha: a, gamma: g, beta: b)) }
                }
            }
        }
        return out
    }
    public func unconstrained(_ p: [Double]) -> [Double] {
        let (omega, alpha, gamma, beta) = parts(p)
        return asymmetric
            ? [Double.log(omega), alpha.squareRoot(), max(alpha + gamma, 0).squareRoot(), beta.squareRoot()]
            : [Double.log(omega), alpha.squareRoot(), beta.squareRoot()]
    }
    public func natural(_ u: [Double]) -> [Double] {
        asymmetric
            ? [Double.exp(u[0]), u[1] * u[1], u[2] * u[2] - u[1] * u[1], u[3] * u[3]]
            : [Double.exp(u[0]), u[1] * u[1], u[2] * u[2]]
    }
    public func admits(_ p: [Double]) -> Bool {
        let (omega, alpha, gamma, beta) = parts(p)
        return omega > 0 && alpha + 0.5 * gamma + beta < 1
    }
    public func firstVariance(_ p: [Double], backcast: Double) -> Double {
        let (omega, alpha, gamma, beta) = parts(p)
        return Self.first(omega: omega, alpha: alpha, gamma: gamma, beta: beta, backcast: backcast)
    }
    @inlinable
    public func nextVariance(_ p: [Double], variance: Double, residual: Double) -> Double {
        asymmetric
            ? Self.step(omega: p[0], alpha: p[1], gamma: p[2], beta: p[3], variance: variance, residual: residual)
            : Self.step(omega: p[0], alpha: p[1], gamma: 0, beta: p[2], variance: variance, residual: residual)
    }
    public func unscaled(_ p: [Double], scale: Double) -> [Double] {
        var q = p
        q[0] = p[0] / (scale * scale)
        return q
    }
    public func forecast(_ p: [Double], next: Double, horizon: Int) -> [Double]? {
        let (omega, alpha, gamma, beta) = parts(p)
        let persistence = alpha + 0.5 * gamma + beta
        return Self.forecast(
            persistence: persistence, unconditional: omega / (1 - persistence), next: next, horizon: horizon)
    }
}

/// Parameters of a fitted GARCH-family model, in decimal units of the returns.
///
/// `mu` is per period (decimal), `omega` per-period variance (decimal squared); `alpha`,
/// `gamma`, `beta` are unitless; `nu` are degrees of freedom.
public struct GARCHParameters: Sendable, Equatable, Codable {
    public var mu: Double
    public var omega: Double
    public var alpha: Double
    public var gamma: Double
    public var beta: Double
    public var nu: Double?

    public init(mu: Double = 0, omega: Double, alpha: Double, gamma: Double = 0, beta: Double, nu: Double? = nil) {
        self.mu = mu
        self.omega = omega
        self.alpha = alpha
        self.gamma = gamma
        self.beta = beta
        self.nu = nu
    }

    /// `alpha + gamma/2 + beta`: the decay rate of variance forecasts towards `sbar`
    /// (gamma/2 because a symmetric innovation is negative half the time).
    public var persistence: Double { alpha + 0.5 * gamma + beta }

    /// Unconditional per-period variance `omega / (1 - persistence)`.
    public var unconditionalVariance: Double { omega / (1 - persistence) }
}

// MARK: - Model

/// A univariate GARCH-family model composed like `arch`'s `ARCHModel`: a mean model, a
/// variance process and an innovation distribution.
///
/// Fitting follows `arch` exactly where it fixes a convention: the recursion starts from
/// `sigma2_0 = omega + (alpha + gamma/2 + beta) * backcast`, where the backcast is the
/// 0.94-weighted mean of the first `min(75, n)` squared residuals from the sample mean,
/// computed once before the optimisation; the likelihood is exact (no observations are
/// dropped). For conditioning the optimisation runs on returns divided by their sample
/// standard deviation; parameters and the log-likelihood are reported in decimal units.
public struct GARCHModel: Sendable, Hashable, Codable {
    public var mean: MeanModel
    public var volatility: GARCHProcess
    public var distribution: InnovationDistribution

    public init(
        mean: MeanModel = .constant, volatility: GARCHProcess = .init(), distribution: InnovationDistribution = .normal
    ) {
        self.mean = mean
        self.volatility = volatility
        self.distribution = distribution
    }

    /// Names of the free parameters in the order of `GARCHFit.parameterVector`.
    public var parameterNames: [String] {
        var names: [String] = []
        if mean == .constant { names.append("mu") }
        names += ["omega", "alpha"]
        if volatility.asymmetric { names.append("gamma") }
        names.append("beta")
        if distribution == .studentT { names.append("nu") }
        return names
    }

    public var name: String {
        let m = mean == .constant ? "Constant Mean" : "Zero Mean"
        let d = distribution == .normal ? "Normal" : "Student's t"
        return "\(m) - \(volatility.name) - \(d)"
    }

    /// Smallest sample this implementation accepts.
    public static let minimumObservations = 100

    /// The returns as every fit starts from them (this one and `ARCHModel`'s): checked
    /// finite and long enough, then divided by their sample standard deviation (`y = r *
    /// scale`) for conditioning; with the sample mean of `r`.
    static func scaled(_ returns: [Double], model: String) throws(VolatilityError) -> (
        y: [Double], scale: Double, mean: Double
    ) {
        try checkFinite(returns)
        guard returns.count >= minimumObservations else {
            throw .tooFewObservations(model: model, needed: minimumObservations, got: returns.count)
        }
        let n = Double(returns.count)
        let mean = returns.reduce(0, +) / n
        var ss = 0.0
        for r in returns { ss += (r - mean) * (r - mean) }
        let sd = (ss / n).squareRoot()
        guard sd > 0 else { throw .optimizationFailed(model: model, reason: "returns have zero variance") }
        let scale = 1 / sd
        return (returns.map { $0 * scale }, scale, mean)
    }

    /// Fits by maximum likelihood.
    ///
    /// - Parameter returns: log returns in decimal units, oldest first.
    /// - Throws: `VolatilityError` for too few or non-finite returns, or when no finite
    ///   optimum is found.
    public func fit(_ returns: [Double]) throws(VolatilityError) -> GARCHFit {
        let (y, scale, sampleMean) = try Self.scaled(returns, model: volatility.name)
        let n = returns.count
        let kernel = GARCHKernel(y: y, mean: mean, asymmetric: volatility.asymmetric, distribution: distribution)

        // Starting values: best of the process's grid (as arch does), at unit variance
        let yMean = mean == .constant ? sampleMean * scale : 0
        var best: (ll: Double, theta: GARCHKernel.Theta)?
        for p in volatility.startingValues(variance: 1) {
            let (omega, alpha, gamma, beta) = volatility.parts(p)
            let th = GARCHKernel.Theta(
                mu: yMean, omega: omega, alpha: alpha, gamma: gamma, beta: beta,
                nu: distribution == .studentT ? 8 : 0)
            if let ll = kernel.logLikelihood(th), ll.isFinite, ll > (best?.ll ?? -.infinity) {
                best = (ll, th)
            }
        }
        guard let start = best?.theta else {
            throw .optimizationFailed(model: volatility.name, reason: "no finite likelihood at any starting value")
        }
        let transform = GARCHTransform(mean: mean, asymmetric: volatility.asymmetric, distribution: distribution)
        let optimizer = BFGS(gradientTolerance: 1e-8, functionTolerance: 1e-13, maxIterations: 1000)
        let invN = 1 / Double(n)
        let u0 = transform.toUnconstrained(start)
        // Start BFGS from the BHHH approximation: the inverse of the outer product of the
        // per-observation scores (in the unconstrained coordinates), scaled to -logL/n.
        let h0 = kernel.outerProductOfScores(start, transform: transform, u: u0).flatMap { opg in
            DenseMatrix.inverse(opg.map { $0 * invN }, n: u0.count)
        }
        let result = optimizer.minimize(start: u0, initialInverseHessian: h0) { u, grad in
            let th = transform.toNatural(u)
            guard th.persistence < 1, th.omega > 0, !(distribution == .studentT && th.nu > 500) else { return nil }
            guard let (ll, g) = kernel.logLikelihoodAndGradient(th) else { return nil }
            transform.chainRule(u: u, naturalGradient: g, into: &grad)
            for i in grad.indices { grad[i] *= -invN }
            return -ll * invN
        }
        let theta = transform.toNatural(result.x)
        guard result.value.isFinite, let (ll, _) = kernel.logLikelihoodAndGradient(theta) else {
            throw .optimizationFailed(model: volatility.name, reason: result.message)
        }
        let path = kernel.filter(theta)
        let logScale = Double.log(scale)
        let params = GARCHParameters(
            mu: theta.mu / scale, omega: theta.omega / (scale * scale), alpha: theta.alpha,
            gamma: volatility.asymmetric ? theta.gamma : 0, beta: theta.beta,
            nu: distribution == .studentT ? theta.nu : nil)
        let se = kernel.robustStandardErrors(theta).map { seTheta in
            GARCHParameters(
                mu: seTheta.mu / scale, omega: seTheta.omega / (scale * scale), alpha: seTheta.alpha,
                gamma: seTheta.gamma, beta: seTheta.beta,
                nu: distribution == .studentT ? seTheta.nu : nil)
        }
        return GARCHFit(
            model: self, parameters: params, standardErrors: se,
            logLikelihood: ll + Double(n) * logScale,
            observations: n,
            conditionalVariance: path.variance.map { $0 / (scale * scale) },
            residuals: path.residuals.map { $0 / scale },
            nextVariance: path.next / (scale * scale),
            iterations: result.iterations, evaluations: result.evaluations, converged: result.converged)
    }
}

// MARK: - Result

/// An immutable fitted GARCH-family model.
public struct GARCHFit: Sendable {
    public let model: GARCHModel
    /// Estimates in decimal units.
    public let parameters: GARCHParameters
    /// Bollerslev-Wooldridge robust standard errors (arch's default `cov_type='robust'`),
    /// decimal units; `nil` when the information matrix is singular.
    public let standardErrors: GARCHParameters?
    /// Log-likelihood of the decimal returns (= arch's percent-scale value + n ln 100).
    public let logLikelihood: Double
    public let observations: Int
    /// `sigma2_t` per return: the variance forecast for return t made with information up
    /// to t-1 (arch's `conditional_volatility` squared), decimal per period.
    public let conditionalVariance: [Double]
    /// Residuals `e_t = r_t - mu`, decimal.
    public let residuals: [Double]
    /// `sigma2_{n+1}`: the one-step-ahead variance forecast after the last return.
    public let nextVariance: Double
    /// Optimiser iterations and likelihood evaluations.
    public let iterations: Int
    public let evaluations: Int
    public let converged: Bool

    /// Number of estimated parameters.
    public var parameterCount: Int { model.parameterNames.count }
    /// Akaike information criterion `-2 logL + 2k` (decimal-unit likelihood).
    public var aic: Double { -2 * logLikelihood + 2 * Double(parameterCount) }
    /// Bayesian information criterion `-2 logL + k ln n`.
    public var bic: Double { -2 * logLikelihood + Double(parameterCount) * Double.log(Double(observations)) }
    /// `sigma_t` per return (decimal, per period).
    public var conditionalVolatility: [Double] { conditionalVariance.map { $0.squareRoot() } }
    /// Standardised residuals `z_t = e_t / sigma_t`.
    public var standardizedResiduals: [Double] {
        zip(residuals, conditionalVariance).map { $0 / $1.squareRoot() }
    }

    /// Variance forecasts `E[sigma2_{n+k}]` for k = 1...horizon (decimal, per period):
    /// `sbar + persistence^(k-1) (sigma2_{n+1} - sbar)`.
    public func forecastVariance(horizon: Int) -> [Double] {
        GARCHProcess.forecast(
            persistence: parameters.persistence, unconditional: parameters.unconditionalVariance,
            next: nextVariance, horizon: horizon)
    }

    /// Parameter vector in `model.parameterNames` order (decimal units).
    public var parameterVector: [Double] { Self.vector(parameters, model) }
    /// Standard errors in `model.parameterNames` order.
    public var standardErrorVector: [Double]? { standardErrors.map { Self.vector($0, model) } }

    static func vector(_ p: GARCHParameters, _ m: GARCHModel) -> [Double] {
        var v: [Double] = []
        if m.mean == .constant { v.append(p.mu) }
        v += [p.omega, p.alpha]
        if m.volatility.asymmetric { v.append(p.gamma) }
        v.append(p.beta)
        if m.distribution == .studentT { v.append(p.nu ?? .nan) }
        return v
    }
}

// MARK: - Likelihood kernel

/// The hot loop: residuals, then variance, then density, with the analytic gradient of
/// the log-likelihood carried through the variance recursion.
struct GARCHKernel: Sendable {
    struct Theta: Sendable {
        var mu, omega, alpha, gamma, beta, nu: Double
        var persistence: Double { alpha + 0.5 * gamma + beta }
        subscript(i: Int) -> Double {
            get { [mu, omega, alpha, gamma, beta, nu][i] }
            set {
                switch i {
                case 0: mu = newValue
                case 1: omega = newValue
                case 2: alpha = newValue
                case 3: gamma = newValue
                case 4: beta = newValue
                default: nu = newValue
                }
            }
        }
    }

    let y: [Double]
    let mean: MeanModel
    let asymmetric: Bool
    let distribution: InnovationDistribution
    let backcast: Double

    init(y: [Double], mean: MeanModel, asymmetric: Bool, distribution: InnovationDistribution) {
        self.y = y
        self.mean = mean
        self.asymmetric = asymmetric
        self.distribution = distribution
        // arch: backcast from residuals at the starting values (sample mean for a constant mean).
        let m = mean == .constant ? y.reduce(0, +) / Double(y.count) : 0
        self.backcast = EWMA.backcast(y.map { ($0 - m) * ($0 - m) })
    }

    /// Indices of the free parameters within Theta's six slots.
    var freeSlots: [Int] {
        var s: [Int] = []
        if mean == .constant { s.append(0) }
        s += [1, 2]
        if asymmetric { s.append(3) }
        s.append(4)
        if distribution == .studentT { s.append(5) }
        return s
    }

    /// Log-likelihood alone (no derivative recursions): for the starting-value grid.
    func logLikelihood(_ th: Theta) -> Double? {
        let isT = distribution == .studentT
        if isT && !(th.nu > 2) { return nil }
        let mu = mean == .constant ? th.mu : 0
        let gamma = asymmetric ? th.gamma : 0
        var s2 = GARCHProcess.first(omega: th.omega, alpha: th.alpha, gamma: gamma, beta: th.beta, backcast: backcast)
        var sumLog = 0.0
        var sumQuad = 0.0
        let k = isT ? 1 / (th.nu - 2) : 0
        for r in y {
            guard s2 > 0, s2.isFinite else { return nil }
            let e = r - mu
            sumLog += Double.log(s2)
            sumQuad += isT ? Double.log(1 + e * e / s2 * k) : e * e / s2
            s2 = GARCHProcess.step(
                omega: th.omega, alpha: th.alpha, gamma: gamma, beta: th.beta, variance: s2, residual: e)
        }
        let dn = Double(y.count)
        if isT {
            let c1 = 0.5 * (th.nu + 1)
            let const = Double.logGamma(c1) - Double.logGamma(0.5 * th.nu) - 0.5 * Double.log(Double.pi * (th.nu - 2))
            return dn * const - 0.5 * sumLog - c1 * sumQuad
        }
        return -0.5 * (dn * Special.log2Pi + sumLog + sumQuad)
    }

    /// Total log-likelihood and its gradient with respect to the six Theta slots.
    /// `scores`, when given, receives per-observation gradients (n x 6, row major).
    func logLikelihoodAndGradient(_ th: Theta, scores: UnsafeMutablePointer<Double>? = nil) -> (Double, [Double])? {
        let n = y.count
        let mu = mean == .constant ? th.mu : 0
        let omega = th.omega
        let alpha = th.alpha
        let beta = th.beta
        let gamma = asymmetric ? th.gamma : 0
        let nu = th.nu
        let isT = distribution == .studentT
        if isT && !(nu > 2) { return nil }
        let bc = backcast
        var s2 = GARCHProcess.first(omega: omega, alpha: alpha, gamma: gamma, beta: beta, backcast: bc)
        var dMu = 0.0
        var dOmega = 1.0
        var dAlpha = bc
        var dGamma = 0.5 * bc
        var dBeta = bc
        var gMu = 0.0
        var gOmega = 0.0
        var gAlpha = 0.0
        var gGamma = 0.0
        var gBeta = 0.0
        var gNu = 0.0
        var sumLog = 0.0
        var sumQuad = 0.0
        // Logs are taken of products of 8 terms (one log instead of eight); the products
        // stay far from overflow for any variance the optimiser can reach, and a
        // non-finite total is recomputed term by term below.
        var prodS2 = 1.0
        var prodQ = 1.0
        let c1 = 0.5 * (nu + 1)
        let invNuM2 = isT ? 1 / (nu - 2) : 0
        let ok: Bool = y.withUnsafeBufferPointer { yb -> Bool in
            for t in 0..<n {
                if !(s2 > 0) || !s2.isFinite { return false }
                let e = yb[t] - mu
                let e2 = e * e
                let inv = 1 / s2
                prodS2 *= s2
                let dlds2: Double
                let dlde: Double
                if isT {
                    let q = e2 * inv * invNuM2
                    let onePlusQ = 1 + q
                    prodQ *= onePlusQ
                    let w = q / onePlusQ
                    dlds2 = (-0.5 + c1 * w) * inv
                    dlde = -c1 * 2 * e * inv * invNuM2 / onePlusQ
                    gNu += c1 * w * invNuM2
                    if let sc = scores { sc[t * 6 + 5] = -0.5 * Double.log(onePlusQ) + c1 * w * invNuM2 }
                } else {
                    sumQuad += e2 * inv
                    dlds2 = -0.5 * inv * (1 - e2 * inv)
                    dlde = -e * inv
                }
                if t & 7 == 7 {
                    sumLog += Double.log(prodS2)
                    prodS2 = 1
                    if isT {
                        sumQuad += Double.log(prodQ)
                        prodQ = 1
                    }
                }
                let sMu = dlds2 * dMu - dlde
                gMu += sMu
                gOmega += dlds2 * dOmega
                gAlpha += dlds2 * dAlpha
                gGamma += dlds2 * dGamma
                gBeta += dlds2 * dBeta
                if let sc = scores {
                    sc[t * 6 + 0] = sMu
                    sc[t * 6 + 1] = dlds2 * dOmega
                    sc[t * 6 + 2] = dlds2 * dAlpha
                    sc[t * 6 + 3] = dlds2 * dGamma
                    sc[t * 6 + 4] = dlds2 * dBeta
                }
                let neg: Double = e < 0 ? 1 : 0
                let a = alpha + gamma * neg
                let next = GARCHProcess.step(
                    omega: omega, alpha: alpha, gamma: gamma, beta: beta, variance: s2, residual: e)
                dMu = -2 * a * e + beta * dMu
                dOmega = 1 + beta * dOmega
                dAlpha = e2 + beta * dAlpha
                dGamma = neg * e2 + beta * dGamma
                dBeta = s2 + beta * dBeta
                s2 = next
            }
            return true
        }
        if !ok { return nil }
        sumLog += Double.log(prodS2)
        if isT { sumQuad += Double.log(prodQ) }
        if !sumLog.isFinite || !sumQuad.isFinite {
            // A product over- or underflowed: redo the sums term by term.
            let path = filter(th)
            sumLog = 0
            sumQuad = 0
            for t in 0..<n {
                let v = path.variance[t]
                let e = path.residuals[t]
                sumLog += Double.log(v)
                sumQuad += isT ? Double.log(1 + e * e / (v * (nu - 2))) : e * e / v
            }
        }
        // d/dnu of -(nu+1)/2 ln(1+q) summed: the log part is -0.5 sum ln(1+q) = -0.5 sumQuad.
        if isT { gNu -= 0.5 * sumQuad }
        let dn = Double(n)
        var ll: Double
        if isT {
            let const = Double.logGamma(c1) - Double.logGamma(0.5 * nu) - 0.5 * Double.log(Double.pi * (nu - 2))
            ll = dn * const - 0.5 * sumLog - c1 * sumQuad
            let dConst = 0.5 * Special.digamma(c1) - 0.5 * Special.digamma(0.5 * nu) - 0.5 * invNuM2
            gNu += dn * dConst
            if let sc = scores { for t in 0..<n { sc[t * 6 + 5] += dConst } }
        } else {
            ll = -0.5 * (dn * Special.log2Pi + sumLog + sumQuad)
        }
        if mean == .zero { gMu = 0 }
        if !asymmetric { gGamma = 0 }
        if !isT { gNu = 0 }
        if let sc = scores {
            for t in 0..<n {
                if mean == .zero { sc[t * 6] = 0 }
                if !asymmetric { sc[t * 6 + 3] = 0 }
                if !isT { sc[t * 6 + 5] = 0 }
            }
        }
        guard ll.isFinite else { return nil }
        return (ll, [gMu, gOmega, gAlpha, gGamma, gBeta, gNu])
    }

    /// Conditional variance path, residuals and the one-step forecast after the sample.
    /// The composite's filter, which steps `GARCHProcess.step` like the loops above.
    func filter(_ th: Theta) -> (variance: [Double], residuals: [Double], next: Double) {
        let process = GARCHProcess(asymmetric: asymmetric)
        let model = ARCHModel(mean: mean, volatility: process, distribution: StandardizedNormal())
        let vector =
            (mean == .constant ? [th.mu] : [])
            + process.vector(omega: th.omega, alpha: th.alpha, gamma: th.gamma, beta: th.beta)
        return model.filter(vector, y, backcast: backcast)
    }

    /// Outer product of the per-observation scores with respect to the unconstrained
    /// coordinates u (k x k, row major).
    func outerProductOfScores(_ th: Theta, transform: GARCHTransform, u: [Double]) -> [Double]? {
        let n = y.count
        var scores = [Double](repeating: 0, count: n * 6)
        let ok = scores.withUnsafeMutableBufferPointer { buf in
            logLikelihoodAndGradient(th, scores: buf.baseAddress) != nil
        }
        guard ok else { return nil }
        let k = u.count
        var opg = [Double](repeating: 0, count: k * k)
        var row = [Double](repeating: 0, count: 6)
        var su = [Double](repeating: 0, count: k)
        for t in 0..<n {
            for j in 0..<6 { row[j] = scores[t * 6 + j] }
            transform.chainRule(u: u, naturalGradient: row, into: &su)
            for a in 0..<k { for b in 0..<k { opg[a * k + b] += su[a] * su[b] } }
        }
        return opg
    }

    /// Bollerslev-Wooldridge sandwich `H^-1 (S'S) H^-1` in the scaled units of `y`, with
    /// the Hessian H from central differences of the analytic gradient.
    func robustStandardErrors(_ th: Theta) -> Theta? {
        let slots = freeSlots
        let k = slots.count
        let n = y.count
        var scores = [Double](repeating: 0, count: n * 6)
        let okScores = scores.withUnsafeMutableBufferPointer { buf in
            logLikelihoodAndGradient(th, scores: buf.baseAddress) != nil
        }
        guard okScores else { return nil }
        var opg = [Double](repeating: 0, count: k * k)
        for t in 0..<n {
            for (a, sa) in slots.enumerated() {
                let va = scores[t * 6 + sa]
                for (b, sb) in slots.enumerated() { opg[a * k + b] += va * scores[t * 6 + sb] }
            }
        }
        var hess = [Double](repeating: 0, count: k * k)
        for (a, sa) in slots.enumerated() {
            let h = 1e-5 * max(abs(th[sa]), 1e-2)
            var up = th
            var down = th
            up[sa] += h
            down[sa] -= h
            guard let gu = logLikelihoodAndGradient(up)?.1, let gd = logLikelihoodAndGradient(down)?.1 else {
                return nil
            }
            for (b, sb) in slots.enumerated() { hess[b * k + a] = (gu[sb] - gd[sb]) / (2 * h) }
        }
        for a in 0..<k {
            for b in (a + 1)..<max(a + 1, k) {
                let s = 0.5 * (hess[a * k + b] + hess[b * k + a])
                hess[a * k + b] = s
                hess[b * k + a] = s
            }
        }
        guard let hinv = DenseMatrix.inverse(hess, n: k) else { return nil }
        let cov = DenseMatrix.multiply(DenseMatrix.multiply(hinv, opg, n: k, k: k, m: k), hinv, n: k, k: k, m: k)
        var se = Theta(mu: 0, omega: 0, alpha: 0, gamma: 0, beta: 0, nu: 0)
        for (a, sa) in slots.enumerated() {
            let v = cov[a * k + a]
            guard v >= 0 else { return nil }
            se[sa] = v.squareRoot()
        }
        return se
    }
}

/// Maps the free parameters to an unconstrained vector: omega = exp(u), alpha = u^2,
/// alpha + gamma = v^2, beta = w^2, nu = 2 + exp(u). Squares (not exponentials) keep
/// a boundary optimum such as alpha = 0 (common for GJR on equity indices) at a finite,
/// smooth point of the unconstrained space.
struct GARCHTransform: Sendable {
    let mean: MeanModel
    let asymmetric: Bool
    let distribution: InnovationDistribution

    var process: GARCHProcess { GARCHProcess(asymmetric: asymmetric) }

    /// The process's coordinates (`GARCHProcess.unconstrained`), with mu before and
    /// `ln(nu - 2)` after.
    func toUnconstrained(_ th: GARCHKernel.Theta) -> [Double] {
        var u: [Double] = mean == .constant ? [th.mu] : []
        u += process.unconstrained(process.vector(omega: th.omega, alpha: th.alpha, gamma: th.gamma, beta: th.beta))
        if distribution == .studentT { u.append(Double.log(th.nu - 2)) }
        return u
    }

    func toNatural(_ u: [Double]) -> GARCHKernel.Theta {
        var th = GARCHKernel.Theta(mu: 0, omega: 0, alpha: 0, gamma: 0, beta: 0, nu: 0)
        let m = mean == .constant ? 1 : 0
        let k = process.parameterNames.count
        if m == 1 { th.mu = u[0] }
        (th.omega, th.alpha, th.gamma, th.beta) = process.parts(process.natural(Array(u[m..<(m + k)])))
        if distribution == .studentT { th.nu = 2 + Double.exp(u[m + k]) }
        return th
    }

    func chainRule(u: [Double], naturalGradient g: [Double], into grad: inout [Double]) {
        var i = 0
        if mean == .constant {
            grad[i] = g[0]
            i += 1
        }
        grad[i] = g[1] * Double.exp(u[i])
        i += 1
        let a = u[i]
        grad[i] = 2 * a * (g[2] - (asymmetric ? g[3] : 0))
        i += 1
        if asymmetric {
            grad[i] = 2 * u[i] * g[3]
            i += 1
        }
        grad[i] = 2 * u[i] * g[4]
        i += 1
        if distribution == .studentT { grad[i] = g[5] * Double.exp(u[i]) }
    }
}
