/// Unconstrained quasi-Newton minimiser (BFGS with an inverse-Hessian update and a
/// backtracking Armijo line search).
///
/// The objective returns `nil` (or a non-finite value) for points outside the feasible
/// region; the line search then shortens the step, so constraints that are inactive at
/// the optimum (e.g. GARCH persistence < 1) can be expressed that way. Constraints that
/// may be active (non-negativity) are handled by the caller's reparameterisation.
public struct BFGS: Sendable {
    /// Stop when the largest absolute gradient component falls below this.
    public var gradientTolerance: Double = 1e-7
    /// Stop when the relative decrease of the objective over an iteration falls below this
    /// for three iterations in a row.
    public var functionTolerance: Double = 1e-14
    public var maxIterations: Int = 500

    public init(gradientTolerance: Double = 1e-7, functionTolerance: Double = 1e-14, maxIterations: Int = 500) {
        self.gradientTolerance = gradientTolerance
        self.functionTolerance = functionTolerance
        self.maxIterations = maxIterations
    }

    public struct Result: Sendable {
        public var x: [Double]
        public var value: Double
        public var gradient: [Double]
        public var iterations: Int
        public var evaluations: Int
        public var converged: Bool
        public var message: String
    }

    /// Minimises `f`, which writes the gradient into its second argument and returns the
    /// value, or `nil` where the point is infeasible.
    /// - Parameter initialInverseHessian: row-major n*n starting approximation of the
    ///   inverse Hessian (e.g. the inverse outer product of gradients for a likelihood);
    ///   a scaled identity when nil.
    /// - Parameter value: the objective alone, when it is much cheaper than with its gradient
    ///   (numerical derivatives): the line search then tries points by value and takes the
    ///   gradient only at the point it accepts. Without it every trial point gets a gradient.
    public func minimize(
        start: [Double],
        initialInverseHessian: [Double]? = nil,
        value: (([Double]) -> Double?)? = nil,
        _ f: (_ x: [Double], _ gradient: inout [Double]) -> Double?
    ) -> Result {
        let n = start.count
        var x = start
        var g = [Double](repeating: 0, count: n)
        var evaluations = 1
        guard let f0 = f(x, &g), f0.isFinite else {
            return Result(
                x: x, value: .nan, gradient: g, iterations: 0, evaluations: 1,
                converged: false, message: "objective is not finite at the starting point")
        }
        var fx = f0
        // Inverse Hessian, row major, scaled identity to start.
        var h = [Double](repeating: 0, count: n * n)
        let g0 = g.reduce(0) { max($0, abs($1)) }
        let scale = g0 > 0 ? min(1, 1 / g0) : 1
        if let h0 = initialInverseHessian, h0.count == n * n, h0.allSatisfy(\.isFinite) {
            h = h0
        } else {
            for i in 0..<n { h[i * n + i] = scale }
        }
        let rescaleFirst = initialInverseHessian == nil
        var smallDecrease = 0
        var xNew = x
        var gNew = g
        var direction = [Double](repeating: 0, count: n)
        for iteration in 1...maxIterations {
            if g.reduce(0, { max($0, abs($1)) }) < gradientTolerance {
                return Result(
                    x: x, value: fx, gradient: g, iterations: iteration - 1,
                    evaluations: evaluations, converged: true, message: "gradient below tolerance")
            }
            var slope = 0.0
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s -= h[i * n + j] * g[j] }
                direction[i] = s
                slope += s * g[i]
            }
            if slope >= 0 {
                // Not a descent direction: restart from steepest descent.
                for i in 0..<n { for j in 0..<n { h[i * n + j] = i == j ? scale : 0 } }
                for i in 0..<n { direction[i] = -scale * g[i] }
                slope = -scale * g.reduce(0) { $0 + $1 * $1 }
            }
            var step = 1.0
            var accepted = false
            var fNew = fx
            for _ in 0..<60 {
                for i in 0..<n { xNew[i] = x[i] + step * direction[i] }
                evaluations += 1
                if let value {
                    if let v = value(xNew), v.isFinite, v <= fx + 1e-4 * step * slope,
                        let withGradient = f(xNew, &gNew), withGradient.isFinite
                    {
                        fNew = withGradient
                        accepted = true
                        break
                    }
                } else if let v = f(xNew, &gNew), v.isFinite, v <= fx + 1e-4 * step * slope {
                    fNew = v
                    accepted = true
                    break
                }
                step *= 0.5
            }
            if !accepted {
                let converged = g.reduce(0, { max($0, abs($1)) }) < gradientTolerance * 1e3
                return Result(
                    x: x, value: fx, gradient: g, iterations: iteration, evaluations: evaluations,
                    converged: converged, message: "line search could not decrease the objective")
            }
            // BFGS update of the inverse Hessian.
            var s = [Double](repeating: 0, count: n)
            var y = [Double](repeating: 0, count: n)
            var sy = 0.0
            for i in 0..<n {
                s[i] = xNew[i] - x[i]
                y[i] = gNew[i] - g[i]
                sy += s[i] * y[i]
            }
            let yy = y.reduce(0) { $0 + $1 * $1 }
            if rescaleFirst && iteration == 1 && sy > 0 && yy > 0 {
                // Shanno-Phua: rescale the initial inverse Hessian to the curvature just seen.
                let gamma = sy / yy
                for i in 0..<n { for j in 0..<n { h[i * n + j] = i == j ? gamma : 0 } }
            }
            if sy > 1e-12 * (s.reduce(0) { $0 + $1 * $1 }).squareRoot() * yy.squareRoot() {
                var hy = [Double](repeating: 0, count: n)
                var yhy = 0.0
                for i in 0..<n {
                    var acc = 0.0
                    for j in 0..<n { acc += h[i * n + j] * y[j] }
                    hy[i] = acc
                    yhy += y[i] * acc
                }
                let rho = 1 / sy
                let c = (1 + yhy * rho) * rho
                for i in 0..<n {
                    for j in 0..<n {
                        h[i * n + j] += c * s[i] * s[j] - rho * (hy[i] * s[j] + s[i] * hy[j])
                    }
                }
            }
            let decrease = fx - fNew
            x = xNew
            g = gNew
            let previous = fx
            fx = fNew
            if decrease <= functionTolerance * max(1, abs(previous)) {
                smallDecrease += 1
                if smallDecrease >= 3 {
                    return Result(
                        x: x, value: fx, gradient: g, iterations: iteration, evaluations: evaluations,
                        converged: true, message: "relative decrease below tolerance")
                }
            } else {
                smallDecrease = 0
            }
        }
        return Result(
            x: x, value: fx, gradient: g, iterations: maxIterations, evaluations: evaluations,
            converged: false, message: "iteration limit reached")
    }
}
