import RealModule

/// A Markov-switching model of returns (Hamilton 1989): an unobserved state s_t in 0..<K
/// follows a Markov chain, and given the state the return is normal with that state's mean
/// and variance: `r_t | s_t = k ~ N(mu_k, sigma2_k)`.
///
/// Conventions: returns are decimal log returns per bar; `means` and `variances` are per bar,
/// decimal, with the states ordered by ascending variance (state K-1 is the stressed one);
/// `transition[i][j] = P(s_{t+1} = j | s_t = i)`, each row summing to 1 (the transpose of
/// statsmodels' `regime_transition`). The chain starts from its stationary distribution, as
/// statsmodels' `MarkovRegression` does by default, so the log-likelihood is comparable.
public struct MarkovSwitchingModel: Sendable, Equatable {
    public let means: [Double]
    public let variances: [Double]
    public let transition: [[Double]]

    public var states: Int { means.count }

    /// Checked: at least two states, finite means, positive finite variances in ascending
    /// order, a square row-stochastic transition matrix with entries in [0, 1].
    public init(means: [Double], variances: [Double], transition: [[Double]]) throws(RegimeError) {
        let k = means.count
        guard k >= 2 else { throw .invalidModel("needs at least 2 states, got \(k)") }
        guard variances.count == k, transition.count == k, transition.allSatisfy({ $0.count == k }) else {
            throw .invalidModel("means, variances and transition must all have \(k) states")
        }
        guard means.allSatisfy(\.isFinite) else { throw .invalidModel("means must be finite") }
        guard variances.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw .invalidModel("variances must be positive") }
        guard zip(variances, variances.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw .invalidModel("states must be ordered by ascending variance")
        }
        for (i, row) in transition.enumerated() {
            guard row.allSatisfy({ $0 >= 0 && $0 <= 1 }), Swift.abs(row.reduce(0, +) - 1) <= 1e-9 else {
                throw .invalidModel("transition row \(i) must hold probabilities summing to 1")
            }
        }
        self.means = means
        self.variances = variances
        self.transition = transition
    }

    /// The long-run share of time in each state (left eigenvector of `transition` for 1).
    public var stationary: [Double] { Regimes.stationary(transition.flatMap { $0 }, k: states) }

    /// The Hamilton filter over `returns`: the log-likelihood and, per bar, the filtered
    /// probabilities `P(s_t = k | r_1..r_t)` (row-major, `returns.count * states`).
    public func filter(_ returns: [Double]) -> (logLikelihood: Double, filtered: [Double]) {
        var filtered = [Double](repeating: 0, count: returns.count * states)
        let ll = Regimes.forward(
            returns, means: means, variances: variances, transition: transition.flatMap { $0 },
            k: states, filtered: &filtered)
        return (ll, filtered)
    }

    /// The Hamilton filter one return at a time (the live engine's and the history walk's
    /// form of `filter`; the same recursion).
    public struct FilterState: Sendable {
        public let model: MarkovSwitchingModel
        /// P(s_t = k | r_1..r_t) after the last step (the stationary distribution before any).
        public private(set) var filtered: [Double]
        private var predicted: [Double]
        private let logVar: [Double]

        public init(_ model: MarkovSwitchingModel) {
            self.model = model
            predicted = model.stationary
            filtered = predicted
            logVar = model.variances.map { Double.log($0) }
            transition = model.transition.flatMap { $0 }
            scaled = [Double](repeating: 0, count: model.states)
        }

        private let transition: [Double]
        private var scaled: [Double]

        /// The expected share of the next `steps` bars spent in `state`, given the returns so
        /// far: the mean over h = 1...steps of P(s_{t+h} = state | r_1..r_t). For a persistent
        /// regime it is close to the filtered probability; for one that rarely lasts it is
        /// pulled towards the long-run share, so a single violent bar does not swing it.
        public func expectedShare(of state: Int, steps: Int) -> Double {
            let k = model.states
            guard state >= 0, state < k, steps >= 1 else { return 0 }
            var p = predicted
            var sum = 0.0
            for h in 1...steps {
                if h > 1 {
                    var next = [Double](repeating: 0, count: k)
                    for j in 0..<k { for i in 0..<k { next[j] += p[i] * transition[i * k + j] } }
                    p = next
                }
                sum += p[state]
            }
            return sum / Double(steps)
        }

        /// Adds a return; its log predictive density (nil when it is not finite).
        @discardableResult
        public mutating func step(_ r: Double) -> Double? {
            Regimes.step(
                r, means: model.means, variances: model.variances, logVar: logVar, transition: transition,
                predicted: &predicted, filtered: &filtered, scaled: &scaled
            ).map { Double.log($0.c) + $0.top }
        }
    }
}

public enum RegimeError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidModel(String)
    case tooFewReturns(needed: Int, got: Int)
    case noFit(String)

    public var description: String {
        switch self {
        case .invalidModel(let why): return "invalid Markov-switching model: \(why)"
        case .tooFewReturns(let n, let got): return "a Markov-switching fit needs at least \(n) returns, got \(got)"
        case .noFit(let why): return "the Markov-switching fit failed: \(why)"
        }
    }
}

/// A fitted model with how it was found.
public struct MarkovSwitchingFit: Sendable {
    public let model: MarkovSwitchingModel
    /// Log-likelihood of the decimal returns, the chain started from its stationary distribution.
    public let logLikelihood: Double
    public let observations: Int
    /// Starting points tried, and how many of them climbed (by EM) to within 0.5 of the best
    /// log-likelihood: one means the maximum was hard to find, most means the surface is benign.
    public let starts: Int
    public let startsNearBest: Int
}

/// Maximum likelihood for `MarkovSwitchingModel`.
///
/// Method: the returns are standardised (the fit is invariant to that; the parameters and
/// the likelihood are mapped back exactly). From each of `starts` starting points (one from
/// splitting the bars by |return| into K equal groups, the others drawn from a fixed-seed
/// generator so that a run is reproducible), EM (Baum-Welch) iterations climb to a local
/// maximum (or 300 iterations; EM is slow near the top); the best few are then polished by BFGS on the exact likelihood with the
/// stationary start (EM treats the first state's distribution as given), variances as
/// logarithms and transition rows as softmax, so every point is a valid model.
public enum MarkovSwitching {
    /// The expected share of the next `horizon` bars in the stressed (higher-variance) state
    /// of a two-state model fitted to `returns`, filtered through all of them: the regime
    /// share a book's liquidity costs are scaled by (`FilterState.expectedShare`).
    public static func stressedShare(_ returns: [Double], horizon: Int, starts: Int = 5) throws(RegimeError) -> Double {
        let fit = try fit(returns, states: 2, starts: starts)
        var state = MarkovSwitchingModel.FilterState(fit.model)
        for r in returns { state.step(r) }
        return state.expectedShare(of: 1, steps: horizon)
    }

    public static func fit(_ returns: [Double], states k: Int = 2, starts: Int = 20) throws(RegimeError)
        -> MarkovSwitchingFit
    {
        guard k >= 2, k <= 6 else { throw .invalidModel("states must be between 2 and 6, got \(k)") }
        let needed = 20 * k
        guard returns.count >= needed else { throw .tooFewReturns(needed: needed, got: returns.count) }
        guard returns.allSatisfy(\.isFinite) else { throw .invalidModel("returns must be finite") }
        let n = Double(returns.count)
        let m = returns.reduce(0, +) / n
        let sd = (returns.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n).squareRoot()
        guard sd > 1e-9 * Swift.abs(m), sd > 0 else { throw .noFit("the returns do not vary") }
        let z = returns.map { ($0 - m) / sd }

        var rng = SplitMix64(seed: 0x5EED_0F_4E6)
        var candidates: [(ll: Double, p: Parameters)] = []
        for s in 0..<max(1, starts) {
            let start = s == 0 ? Parameters.quantileStart(z, k: k) : Parameters.randomStart(k: k, rng: &rng)
            if let c = em(z, start) { candidates.append(c) }
        }
        candidates.sort { $0.ll > $1.ll }
        guard !candidates.isEmpty else { throw .noFit("no starting point gave a finite likelihood") }
        var best = candidates[0]
        for c in candidates.prefix(3) {
            let polished = polish(z, c.p)
            if polished.ll > best.ll { best = polished }
        }
        let nearBest = candidates.filter { $0.ll >= best.ll - 0.5 }.count

        // back to decimal returns, states by ascending variance
        let order = (0..<k).sorted { best.p.variances[$0] < best.p.variances[$1] }
        let means = order.map { m + sd * best.p.means[$0] }
        let variances = order.map { sd * sd * best.p.variances[$0] }
        let transition = order.map { i in order.map { j in best.p.transition[i * k + j] } }
        let model = try MarkovSwitchingModel(means: means, variances: variances, transition: transition.map(normalised))
        let ll = best.ll - n * Double.log(sd)
        return MarkovSwitchingFit(
            model: model, logLikelihood: ll, observations: returns.count, starts: max(1, starts),
            startsNearBest: max(1, nearBest))
    }

    private static func normalised(_ row: [Double]) -> [Double] {
        let s = row.reduce(0, +)
        return row.map { min(1, max(0, $0 / s)) }
    }

    /// Parameters on standardised returns; `transition` row-major k*k.
    struct Parameters {
        var means: [Double]
        var variances: [Double]
        var transition: [Double]
        var k: Int { means.count }

        static func quantileStart(_ z: [Double], k: Int) -> Parameters {
            let sorted = z.map { $0 * $0 }.sorted()
            let variances = (0..<k).map { g -> Double in
                let part = sorted[(sorted.count * g / k)..<(sorted.count * (g + 1) / k)]
                return max(1e-3, part.reduce(0, +) / Double(part.count))
            }
            return Parameters(
                means: [Double](repeating: 0, count: k), variances: variances, transition: persistent(k, 0.95))
        }

        static func randomStart(k: Int, rng: inout SplitMix64) -> Parameters {
            let variances = (0..<k).map { _ in Double.exp(rng.uniform(Double.log(0.05), Double.log(6))) }.sorted()
            let means = (0..<k).map { _ in rng.uniform(-0.3, 0.3) }
            var transition = [Double](repeating: 0, count: k * k)
            for i in 0..<k {
                let stay = rng.uniform(0.6, 0.995)
                for j in 0..<k { transition[i * k + j] = i == j ? stay : (1 - stay) / Double(k - 1) }
            }
            return Parameters(means: means, variances: variances, transition: transition)
        }

        static func persistent(_ k: Int, _ stay: Double) -> [Double] {
            (0..<(k * k)).map { $0 / k == $0 % k ? stay : (1 - stay) / Double(k - 1) }
        }
    }

    static let varianceFloor = 1e-6

    /// EM from `start` until the likelihood stops rising (relative 1e-10) or 300 iterations
    /// (BFGS finishes the climb from the best of them).
    static func em(_ z: [Double], _ start: Parameters) -> (ll: Double, p: Parameters)? {
        var p = start
        let k = p.k
        let t = z.count
        var filtered = [Double](repeating: 0, count: t * k)
        var dens = [Double](repeating: 0, count: t * k)
        var scale = [Double](repeating: 0, count: t)
        var beta = [Double](repeating: 0, count: t * k)
        var previous = -Double.infinity
        var ll = -Double.infinity
        for _ in 0..<300 {
            ll = Regimes.forward(
                z, means: p.means, variances: p.variances, transition: p.transition, k: k,
                filtered: &filtered, densities: &dens, scale: &scale)
            guard ll.isFinite else { return nil }
            // backward pass: beta_t(i) = sum_j P_ij b_{t+1}(j) beta_{t+1}(j) / c_{t+1}
            for i in 0..<k { beta[(t - 1) * k + i] = 1 }
            var tt = t - 2
            while tt >= 0 {
                for i in 0..<k {
                    var s = 0.0
                    for j in 0..<k { s += p.transition[i * k + j] * dens[(tt + 1) * k + j] * beta[(tt + 1) * k + j] }
                    beta[tt * k + i] = s / scale[tt + 1]
                }
                tt -= 1
            }
            // M step
            var weight = [Double](repeating: 0, count: k)
            var sumZ = [Double](repeating: 0, count: k)
            var counts = [Double](repeating: 0, count: k * k)
            var from = [Double](repeating: 0, count: k)
            for s in 0..<t {
                for i in 0..<k {
                    let g = filtered[s * k + i] * beta[s * k + i]
                    weight[i] += g
                    sumZ[i] += g * z[s]
                    if s + 1 < t {
                        from[i] += g
                        for j in 0..<k {
                            counts[i * k + j] +=
                                filtered[s * k + i] * p.transition[i * k + j] * dens[(s + 1) * k + j]
                                * beta[(s + 1) * k + j] / scale[s + 1]
                        }
                    }
                }
            }
            guard weight.allSatisfy({ $0 > 1e-8 }) else { return nil }
            var next = p
            for i in 0..<k { next.means[i] = sumZ[i] / weight[i] }
            var sumSq = [Double](repeating: 0, count: k)
            for s in 0..<t {
                for i in 0..<k {
                    let d = z[s] - next.means[i]
                    sumSq[i] += filtered[s * k + i] * beta[s * k + i] * d * d
                }
            }
            for i in 0..<k {
                next.variances[i] = max(varianceFloor, sumSq[i] / weight[i])
                let rowSum = (0..<k).reduce(0.0) { $0 + counts[i * k + $1] }
                for j in 0..<k {
                    next.transition[i * k + j] = rowSum > 0 ? counts[i * k + j] / rowSum : p.transition[i * k + j]
                }
            }
            p = next
            if ll - previous <= 1e-10 * Swift.abs(ll) { break }
            previous = ll
        }
        let final = Regimes.forward(
            z, means: p.means, variances: p.variances, transition: p.transition, k: k, filtered: &filtered)
        return final.isFinite ? (final, p) : nil
    }

    /// BFGS on the exact log-likelihood from an EM result; the EM point if BFGS does not improve it.
    static func polish(_ z: [Double], _ p: Parameters) -> (ll: Double, p: Parameters) {
        let k = p.k
        var filtered = [Double](repeating: 0, count: z.count * k)
        func unpack(_ x: [Double]) -> Parameters? {
            var q = p
            for i in 0..<k {
                q.means[i] = x[i]
                let v = Double.exp(x[k + i])
                guard v >= varianceFloor, v.isFinite else { return nil }
                q.variances[i] = v
            }
            var o = 2 * k
            for i in 0..<k {
                var logits = [Double](repeating: 0, count: k)
                for j in 0..<k where j != i {
                    logits[j] = x[o]
                    o += 1
                }
                let top = logits.max() ?? 0
                let e = logits.map { Double.exp($0 - top) }
                let s = e.reduce(0, +)
                for j in 0..<k { q.transition[i * k + j] = e[j] / s }
            }
            return q
        }
        var x = p.means + p.variances.map { Double.log($0) }
        for i in 0..<k {
            let stay = max(p.transition[i * k + i], 1e-12)
            for j in 0..<k where j != i { x.append(Double.log(max(p.transition[i * k + j], 1e-12) / stay)) }
        }
        func objective(_ x: [Double]) -> Double? {
            guard let q = unpack(x) else { return nil }
            let ll = Regimes.forward(
                z, means: q.means, variances: q.variances, transition: q.transition, k: k, filtered: &filtered)
            return ll.isFinite ? -ll : nil
        }
        let result = BFGS(gradientTolerance: 1e-6, functionTolerance: 1e-15, maxIterations: 300).minimize(start: x) {
            x, g in
            guard let f = objective(x) else { return nil }
            var xx = x
            for i in x.indices {
                let h = 1e-6 * max(1, Swift.abs(x[i]))
                xx[i] = x[i] + h
                guard let up = objective(xx) else { return nil }
                xx[i] = x[i] - h
                guard let down = objective(xx) else { return nil }
                xx[i] = x[i]
                g[i] = (up - down) / (2 * h)
            }
            return f
        }
        let start = objective(x).map { -$0 } ?? -Double.infinity
        if result.value.isFinite, -result.value > start, let q = unpack(result.x) { return (-result.value, q) }
        return (start, p)
    }
}

/// The filter and helpers shared by the model and the fit.
enum Regimes {
    static let logTwoPi = Double.log(2 * Double.pi)

    /// Hamilton filter from the stationary distribution; returns the log-likelihood and writes
    /// the filtered probabilities (t*k).
    static func forward(
        _ r: [Double], means: [Double], variances: [Double], transition: [Double], k: Int,
        filtered: inout [Double]
    ) -> Double {
        var dens: [Double] = []
        var scale: [Double] = []
        return forward(
            r, means: means, variances: variances, transition: transition, k: k, filtered: &filtered,
            densities: &dens, scale: &scale, keep: false)
    }

    /// The same, also keeping the scaled densities `b_t(k) = phi_k(r_t) / e^{m_t}` and the
    /// one-step predictive densities `c_t` (scaled the same way) that the backward pass needs.
    static func forward(
        _ r: [Double], means: [Double], variances: [Double], transition: [Double], k: Int,
        filtered: inout [Double], densities: inout [Double], scale: inout [Double], keep: Bool = true
    ) -> Double {
        var predicted = stationary(transition, k: k)
        let logVar = variances.map { Double.log($0) }
        var ll = 0.0
        var f = [Double](repeating: 0, count: k)
        var b = [Double](repeating: 0, count: k)
        for t in r.indices {
            guard
                let (c, top) = step(
                    r[t], means: means, variances: variances, logVar: logVar, transition: transition,
                    predicted: &predicted, filtered: &f, scaled: &b)
            else { return -.infinity }
            ll += Double.log(c) + top
            for i in 0..<k { filtered[t * k + i] = f[i] }
            if keep {
                for i in 0..<k { densities[t * k + i] = b[i] }
                scale[t] = c
            }
        }
        return ll
    }

    /// One step of the Hamilton filter, the one recursion behind the likelihood, EM and
    /// `FilterState`: from `predicted` = P(s_t | r_..t-1), writes the filtered probabilities,
    /// the densities scaled by `e^-top` into `scaled`, and the next `predicted`; returns the
    /// scaled predictive density `c` and `top` (the log density is `ln c + top`).
    @inline(__always)
    static func step(
        _ r: Double, means: [Double], variances: [Double], logVar: [Double], transition: [Double],
        predicted: inout [Double], filtered: inout [Double], scaled: inout [Double]
    ) -> (c: Double, top: Double)? {
        let k = means.count
        var top = -Double.infinity
        for i in 0..<k {
            let d = r - means[i]
            scaled[i] = -0.5 * (logTwoPi + logVar[i] + d * d / variances[i])
            top = max(top, scaled[i])
        }
        var c = 0.0
        for i in 0..<k {
            scaled[i] = Double.exp(scaled[i] - top)
            c += predicted[i] * scaled[i]
        }
        guard c > 0, c.isFinite else { return nil }
        for i in 0..<k { filtered[i] = predicted[i] * scaled[i] / c }
        for j in 0..<k {
            var s = 0.0
            for i in 0..<k { s += filtered[i] * transition[i * k + j] }
            predicted[j] = s
        }
        return (c, top)
    }

    /// Solves pi P = pi, sum pi = 1 (row-major P): `(P^T - I)` with its last equation
    /// replaced by the sum, inverted; uniform when the chain has no unique stationary law.
    static func stationary(_ p: [Double], k: Int) -> [Double] {
        var a = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k { a[i * k + j] = i == k - 1 ? 1 : p[j * k + i] - (i == j ? 1 : 0) }
        }
        // pi = A^-1 e_{k-1}: the last column of the inverse
        guard let inv = DenseMatrix.inverse(a, n: k) else { return [Double](repeating: 1 / Double(k), count: k) }
        let pi = (0..<k).map { max(0, inv[$0 * k + k - 1]) }
        let s = pi.reduce(0, +)
        return s > 0 && s.isFinite ? pi.map { $0 / s } : [Double](repeating: 1 / Double(k), count: k)
    }
}
