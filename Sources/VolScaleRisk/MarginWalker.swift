import RealModule
import VolScaleCore

/// A margin model stepped one return at a time: what `MarginEngine.run` computes over a
/// whole history, computed as the returns arrive (the live engine's policy runner). Fed the
/// same returns, it produces the same rates, bit for bit (replay equals batch; a test holds
/// them equal): the same volatility forecasts (EWMA seeded as arch once 75 returns exist;
/// GARCH/GJR refitted on all returns so far on the model's schedule), the same scenario
/// windows, stressed periods, floor and controls.
///
/// `MarginEngine.run` is this walker fed a whole history. Live (`live: true`), close-to-close
/// volatility is refused; the implied-volatility blend takes the implied volatility known at
/// each bar (the live engine's latest from an option chain).
///
/// Memory is bounded by the model's windows (`retained`): the returns, residuals and h-bar
/// sums are kept back as far as the scenario window, the floor, the stressed window and the
/// GARCH fit window reach, and forgotten before; the stressed scenarios are copied when they
/// are found. A GARCH/GJR model without `fitWindow` refits on every return so far, so its
/// returns are all kept. `checkpoint` is that bounded state, from which `init(model:checkpoint:)`
/// continues bit for bit.
public struct MarginWalker: Sendable {
    public let model: MarginModel

    /// One publication: the per-period volatility and each side's rates.
    public struct Step: Sendable, Equatable {
        public var sigma: Double
        /// Whether the implied volatility bound sigma.
        public var impliedBound: Bool
        public var long: SideRate
        public var short: SideRate
        public func side(_ s: Side) -> SideRate { s == .long ? long : short }
    }
    public struct SideRate: Sendable, Equatable {
        /// Risk measure before the controls, the rate after them, maintenance, and which control set it.
        public var model: Double
        public var margin: Double
        public var maintenance: Double
        public var binding: BindingControl
    }

    var returns = Trail<Double>()
    var timestamps = Trail<Int64>()
    /// variance[i]: forecast for return i made before it (NaN while unknown); one longer than returns once known.
    var variance = Trail<Double>()
    var nuAt = Trail<Double?>()
    /// Standardised residuals (by t) and the h-bar sums of residuals and of returns (by t - h + 1).
    var z = Trail<Double>(), zh = Trail<Double>(), rh = Trail<Double>()
    let firstValid: Int
    let start: Int
    // GARCH state
    var garch: (params: GARCHParameters, s2: Double, fittedAt: Int)?
    // walk state
    /// Per side: its earlier publications (for the path controls) and the calibration state.
    struct SideState: Sendable {
        var history: PublicationHistory
        var calibration: CoverageCalibration.State?
    }
    var sides: [Side: SideState]
    var window = SortedWindow(), floorWindow = SortedWindow()
    var floorRange: ClosedRange<Int>?
    var stressedCache: (range: Range<Int>, k: Int, low: [Double], high: [Double])?
    var stressedWindow: (start: Int, end: Int)?
    /// The stressed scenarios (h-bar sums of returns) of the current stressed period, copied
    /// when it is found: (range of h-bar sum indices, values).
    var stressedScenarios: (range: Range<Int>, values: [Double])?
    /// The named stressed period: the first bar at or after its start and the last at or
    /// before its end, seen so far; its scenarios once it is in the past (nil inside: too short).
    var namedFirst: Int?, namedLast: Int?
    var namedStressed: Range<Int>??
    /// GARCH/GJR fits so far.
    public internal(set) var fits = 0
    var rollingSS = 0.0, bestSS = -1.0
    var low: [Double] = [], high: [Double] = [], sLow: [Double] = [], sHigh: [Double] = []
    let fixedFactors: (quantile: Double, es: Double)
    let maintenanceAlpha: Double?
    let fixedMaintenanceFactors: (quantile: Double, es: Double)?

    public init(model: MarginModel, live: Bool = true) throws(MarginModelError) {
        switch model.volatility {
        case .ewma: firstValid = MarginEngine.ewmaWarmUp
        case .garch(_, _, _, let minimumFit): firstValid = minimumFit
        case .closeToClose(let window):
            if live {
                throw .invalidField(
                    model: model.name, field: "volatility", value: 0,
                    reason: "close-to-close volatility is not available live (ewma, garch or gjr)")
            }
            firstValid = window
        }
        self.model = model
        let side = SideState(
            history: PublicationHistory(keep: max(model.controls.riseBars, model.mpor)),
            calibration: model.controls.calibration.map { CoverageCalibration.State($0) })
        sides = [.long: side, .short: side]
        start = model.method != .parametric ? firstValid + model.lookback - 1 : firstValid
        fixedFactors = ParametricTail.factors(confidence: model.confidence, nu: model.nu)
        if case .confidence(let a) = model.controls.maintenance { maintenanceAlpha = a } else { maintenanceAlpha = nil }
        fixedMaintenanceFactors = maintenanceAlpha.map { ParametricTail.factors(confidence: $0, nu: model.nu) }
    }

    /// Returns absorbed so far.
    public var count: Int { returns.endIndex }

    /// The first index of each kept sequence that a later step may still read (one more
    /// kept as a margin); everything before it is forgotten. `returns` (and `timestamps`):
    /// the MPOR's h-bar sums, the stressed window's rolling sum of squares, the GARCH fit
    /// window and the rolling volatility window, or every return while an EWMA is not yet
    /// seeded or a GARCH refits on all of them. `variance` (and `nu`): the latest forecast.
    /// `residuals`: the MPOR. `residualSums`: the FHS scenario window. `returnSums`: the
    /// historical scenario window, the floor, the stressed window (copied when found) and
    /// the named stressed period from its first bar until it is taken.
    struct Retention {
        var returns: Int, variance: Int, residuals: Int, residualSums: Int, returnSums: Int
    }

    var retention: Retention {
        let n = returns.endIndex
        let h = model.mpor
        let weighted = model.method != .parametric && model.controls.stressedWeight != nil
        var r = n - h + 1
        if weighted, case .worstWindow(let bars) = model.controls.stressedPeriod { r = min(r, n - bars) }
        if let w = model.fitWindow { r = min(r, n + 1 - w) }
        if case .closeToClose(let window) = model.volatility { r = min(r, n + 1 - window) }
        if n < firstValid { r = 0 }
        if case .garch = model.volatility, model.fitWindow == nil { r = 0 }
        var zh = self.zh.endIndex
        var rh = n - h + 1
        switch model.method {
        case .fhs: zh = n - model.lookback
        case .historical: rh = min(rh, n - model.lookback)
        case .parametric: break
        }
        if let fl = model.controls.floorLookback { rh = min(rh, max(0, n - fl), floorRange?.lowerBound ?? rh) }
        if weighted, case .worstWindow(let bars) = model.controls.stressedPeriod { rh = min(rh, n - bars + 1) }
        if watchesNamedPeriod, namedStressed == nil, let first = namedFirst { rh = min(rh, first) }
        func kept(_ i: Int) -> Int { max(i - 1, 0) }
        return Retention(
            returns: kept(r), variance: kept(n), residuals: kept(n - h + 1), residualSums: kept(zh),
            returnSums: kept(rh))
    }

    /// Whether the named stressed period is watched (a scenario method with a stressed weight).
    var watchesNamedPeriod: Bool {
        guard model.method != .parametric, model.controls.stressedWeight != nil else { return false }
        if case .dates = model.controls.stressedPeriod { return true }
        return false
    }

    /// Forgets what no later step reads (amortised: see `Trail.forget`).
    mutating func forgetOld() {
        let keep = retention
        returns.forget(before: keep.returns)
        timestamps.forget(before: keep.returns)
        variance.forget(before: keep.variance)
        nuAt.forget(before: keep.variance)
        z.forget(before: keep.residuals)
        zh.forget(before: keep.residualSums)
        rh.forget(before: keep.returnSums)
    }

    /// One GARCH/GJR variance update with return r.
    @inline(__always)
    static func garchStep(_ p: GARCHParameters, _ r: Double, _ s2: Double) -> Double {
        GARCHProcess.step(
            omega: p.omega, alpha: p.alpha, gamma: p.gamma, beta: p.beta, variance: s2, residual: r - p.mu)
    }

    /// Absorbs return `r` (decimal log return) of the bar ending at `timestamp` (UTC ms);
    /// returns the rates set at its close, or nil while the model is warming up.
    /// - Parameter implied: per-period implied volatility known at that close.
    public mutating func step(_ r: Double, timestamp: Int64, implied: Double? = nil) throws(MarginModelError) -> Step? {
        guard r.isFinite else {
            throw .invalidField(model: model.name, field: "return", value: r, reason: "not finite")
        }
        returns.append(r)
        timestamps.append(timestamp)
        let t = returns.endIndex - 1
        if watchesNamedPeriod, case .dates(let s, let e) = model.controls.stressedPeriod {
            if namedFirst == nil && timestamp >= s { namedFirst = t }
            if timestamp <= e { namedLast = t }
        }
        try forecast(t)
        let h = model.mpor
        // residual and the h-bar sums ending at t
        z.append(t >= firstValid ? returns[t] / variance[t].squareRoot() : 0)
        if t - h + 1 >= 0 {
            let j = t - h + 1
            var a = 0.0
            var b = 0.0
            for i in j..<(j + h) {
                a += z[i]
                b += returns[i]
            }
            zh.append(a)
            rh.append(b)
        }
        let out = walk(t, implied: implied)
        forgetOld()
        return out
    }

    /// variance[t + 1], the forecast after return t.
    mutating func forecast(_ t: Int) throws(MarginModelError) {
        switch model.volatility {
        case .ewma(let lambda):
            if t + 1 < firstValid { return }
            if t + 1 == firstValid {
                // arch's seed over the first 75 returns, then the recursion over them
                // (nothing is forgotten before the seed: the trails start at 0)
                var state = EWMA.State(
                    variance: EWMA.backcast(returns.items.prefix(EWMA.seedLength).map { $0 * $0 }))
                variance = Trail()
                for x in returns.items {
                    variance.append(state.variance)
                    state.update(x, lambda: lambda)
                }
                variance.append(state.variance)
                nuAt = Trail(base: 0, items: [Double?](repeating: nil, count: variance.endIndex))
            } else {
                var state = EWMA.State(variance: variance[t])
                state.update(returns[t], lambda: lambda)
                variance.append(state.variance)
                nuAt.append(nil)
            }
        case .garch(let asymmetric, let distribution, let refitEvery, let minimumFit):
            while variance.endIndex < t + 1 {
                variance.append(.nan)
                nuAt.append(nil)
            }
            if t + 1 < minimumFit { return }
            if t + 1 == minimumFit || (t + 1 - minimumFit) % refitEvery == 0 {
                let spec = GARCHModel(
                    mean: .constant, volatility: .init(asymmetric: asymmetric), distribution: distribution)
                let fit: GARCHFit
                // every return so far (kept from 0), or the last `fitWindow` of them
                let sample = Array(returns[max(0, t + 1 - (model.fitWindow ?? t + 1))...t])
                do { fit = try spec.fit(sample) } catch { throw .volatility(model: model.name, error) }
                fits += 1
                garch = (fit.parameters, fit.nextVariance, t + 1)
                variance.append(fit.nextVariance)
                nuAt.append(fit.parameters.nu)
            } else if let g = garch {
                let s2 = Self.garchStep(g.params, returns[t], variance[t])
                garch?.s2 = s2
                variance.append(s2)
                nuAt.append(g.params.nu)
            }
        case .closeToClose(let window):
            while variance.endIndex < t + 1 {
                variance.append(.nan)
                nuAt.append(nil)
            }
            if t + 1 < window { return }
            let rolling: RollingVolatility
            do { rolling = try RollingVolatility(window: window) } catch { throw .volatility(model: model.name, error) }
            variance.append(rolling.variance(of: Array(returns[(t + 1 - window)...t]), endingAt: window))
            nuAt.append(nil)
        }
    }
}
