import RealModule
import VolScaleCore

/// The volatility model behind a margin model.
public enum VolatilitySpec: Sendable, Equatable, Codable {
    /// RiskMetrics EWMA, zero mean, seeded as `arch`.
    case ewma(lambda: Double)
    /// GARCH(1,1) or GJR (asymmetric), refitted on all data up to the evaluation bar every
    /// `refitEvery` bars (no look-ahead), first fitted once `minimumFit` returns exist.
    case garch(asymmetric: Bool, distribution: InnovationDistribution, refitEvery: Int, minimumFit: Int)
    /// Close-to-close rolling sample standard deviation.
    case closeToClose(window: Int)

    public var label: String {
        switch self {
        case .ewma(let l): return "EWMA(\(l))"
        case .garch(let a, let d, _, _): return (a ? "GJR" : "GARCH") + (d == .studentT ? "-t" : "")
        case .closeToClose(let w): return "close-to-close(\(w))"
        }
    }
}

/// Where the stressed observations of the stressed-weighting tool come from.
public enum StressedPeriod: Sendable, Equatable, Codable {
    /// The window of `bars` returns with the highest realised volatility among the data
    /// seen so far (re-found at every bar, so a backtest never looks ahead).
    case worstWindow(bars: Int)
    /// A user-named window of UTC milliseconds [start, end]; used only once it lies
    /// entirely in the past of the evaluation bar.
    case dates(start: Int64, end: Int64)
}

/// Maintenance requirement rule.
public enum MaintenanceRule: Sendable, Equatable, Codable {
    /// A fraction of the initial requirement, in (0, 1].
    case fractionOfInitial(Double)
    /// The same risk measure at a lower confidence, never above initial.
    case confidence(Double)
}

/// Anti-procyclicality tools (EMIR RTS 153/2013 Art. 28) and further controls. All
/// rates are decimal fractions of the margin (0.25 = 25%). `nil` means the tool is off.
/// Built valid: the initialiser checks every value on its own; what depends on the model
/// (a window longer than the MPOR, a maintenance confidence below the model's) is checked
/// when a `MarginModel` is built with these controls.
public struct MarginControls: Sendable, Equatable {
    /// Buffer b >= 0.25: charge (1 + b) m in calm markets; when the model margin m rises,
    /// the charged margin is held at the previous publication (rebuilt at most
    /// `bufferRebuildRate` per publication) but never below m: the buffer is drawn down.
    public let buffer: Double?
    /// Largest relative rise per publication while a drawn-down buffer is rebuilt
    /// (0: the charge rises only when m exceeds it).
    public let bufferRebuildRate: Double
    /// Weight in [0.25, 1) of the stressed-period scenarios in the scenario set.
    public let stressedWeight: Double?
    public let stressedPeriod: StressedPeriod
    /// Floor at the margin from an unfiltered historical simulation over this many bars
    /// (2520 = 10 years of daily bars), or all history available when shorter.
    public let floorLookback: Int?
    /// Largest relative rise / fall per publication (speed limits, each direction).
    public let speedLimitUp: Double?
    public let speedLimitDown: Double?
    /// Exponential smoothing weight on the previous publication, in [0, 1).
    public let smoothing: Double?
    /// The floor binds at this fraction of the unfiltered historical-simulation margin
    /// (1: the Art. 28 c floor itself; 0.5: half the through-the-cycle margin, a backstop
    /// against a filter that reads a calm spell as the norm). In (0, 1].
    public let floorFraction: Double
    /// Scales the model margin by a multiplier steered by the model's own past exceedances
    /// (see `CoverageCalibration`). Off when nil.
    public let calibration: CoverageCalibration?
    /// Rise limit over a window: a publication is at most (1 + `riseLimit`) times the lowest
    /// of the previous `riseBars` publications, so no `riseBars`-bar rise exceeds
    /// `riseLimit` (0.5 over 5 bars: at most +50% in any five bars), however the model jumps.
    public let riseLimit: Double?
    public let riseBars: Int
    /// Corridor: every publication within a factor `corridor` of every earlier one (each is
    /// at most `corridor` times the lowest so far and at least the highest so far divided by
    /// it), so the peak-to-trough ratio of the whole path never exceeds `corridor`.
    public let corridor: Double?
    /// Absolute floor and cap on the rate (decimal fraction of notional); the cap above
    /// the floor.
    public let hardFloor: Double?
    public let hardCap: Double?
    public let maintenance: MaintenanceRule

    /// Every tool off; maintenance at 80% of initial.
    public static let none = MarginControls()

    private init() {
        (buffer, bufferRebuildRate, stressedWeight, stressedPeriod, floorLookback) = (
            nil, 0, nil, .worstWindow(bars: 250), nil
        )
        (speedLimitUp, speedLimitDown, smoothing, floorFraction, calibration) = (nil, nil, nil, 1, nil)
        (riseLimit, riseBars, corridor, hardFloor, hardCap, maintenance) = (
            nil, 5, nil, nil, nil, .fractionOfInitial(0.8)
        )
    }

    /// Throws `.invalidControl` naming the configuration key of the first value out of range.
    public init(
        buffer: Double? = nil, bufferRebuildRate: Double = 0, stressedWeight: Double? = nil,
        stressedPeriod: StressedPeriod = .worstWindow(bars: 250), floorLookback: Int? = nil,
        speedLimitUp: Double? = nil, speedLimitDown: Double? = nil, smoothing: Double? = nil,
        floorFraction: Double = 1, calibration: CoverageCalibration? = nil, riseLimit: Double? = nil,
        riseBars: Int = 5, corridor: Double? = nil, hardFloor: Double? = nil, hardCap: Double? = nil,
        maintenance: MaintenanceRule = .fractionOfInitial(0.8)
    ) throws(MarginModelError) {
        func bad(_ field: String, _ value: Double, _ reason: String) -> MarginModelError {
            .invalidControl(field: field, value: value, reason: reason)
        }
        let maxWindow = MarginModel.maxWindow
        if let b = buffer {
            guard b >= 0.25 && b.isFinite else { throw bad("buffer", b, "EMIR Art. 28 requires at least 0.25") }
        }
        guard bufferRebuildRate >= 0 && bufferRebuildRate.isFinite else {
            throw bad("buffer_rebuild_rate", bufferRebuildRate, "must be >= 0")
        }
        if let w = stressedWeight {
            guard w >= 0.25 && w < 1 else {
                throw bad("stressed_weight", w, "EMIR Art. 28 requires at least 0.25 (and below 1)")
            }
        }
        switch stressedPeriod {
        case .worstWindow(let bars):
            guard bars >= 2 && bars <= maxWindow else {
                throw bad("stressed_window", Double(bars), "must be 2 to \(maxWindow) bars")
            }
        case .dates(let s, let e):
            guard e > s else { throw bad("stressed_period", Double(e), "end must be after start") }
        }
        if let f = floorLookback {
            guard f >= 2 && f <= maxWindow else {
                throw bad("floor_lookback", Double(f), "must be 2 to \(maxWindow) bars")
            }
        }
        if let u = speedLimitUp {
            guard u >= 0.05 && u.isFinite else {
                throw bad(
                    "speed_limit_up", u, "must be at least 0.05 per bar (or off): a smaller limit freezes every rate")
            }
        }
        if let d = speedLimitDown {
            guard d > 0 && d < 1 else { throw bad("speed_limit_down", d, "must be in (0, 1)") }
        }
        if let s = smoothing { guard s >= 0 && s < 1 else { throw bad("smoothing", s, "must be in [0, 1)") } }
        guard floorFraction > 0 && floorFraction <= 1 else {
            throw bad("floor_fraction", floorFraction, "must be in (0, 1]")
        }
        if let r = riseLimit { guard r > 0 && r.isFinite else { throw bad("rise_limit", r, "must be positive") } }
        guard riseBars >= 1 && riseBars <= maxWindow else {
            throw bad("rise_bars", Double(riseBars), "must be 1 to \(maxWindow)")
        }
        if let k = corridor { guard k > 1 && k.isFinite else { throw bad("corridor", k, "must exceed 1") } }
        if let f = hardFloor { guard f >= 0 && f.isFinite else { throw bad("hard_floor", f, "must be >= 0") } }
        if let cap = hardCap {
            guard cap > 0 && cap > (hardFloor ?? 0) else {
                throw bad("hard_cap", cap, "must be positive and above hard_floor")
            }
        }
        switch maintenance {
        case .fractionOfInitial(let f):
            guard f > 0 && f <= 1 else { throw bad("maintenance_fraction", f, "must be in (0, 1]") }
        case .confidence(let a):
            guard a > 0.5 && a < 1 else { throw bad("maintenance_confidence", a, "must be in (0.5, confidence)") }
        }
        (self.buffer, self.bufferRebuildRate, self.stressedWeight, self.stressedPeriod) = (
            buffer, bufferRebuildRate, stressedWeight, stressedPeriod
        )
        (self.floorLookback, self.speedLimitUp, self.speedLimitDown, self.smoothing) = (
            floorLookback, speedLimitUp, speedLimitDown, smoothing
        )
        (self.floorFraction, self.calibration, self.riseLimit, self.riseBars) = (
            floorFraction, calibration, riseLimit, riseBars
        )
        (self.corridor, self.hardFloor, self.hardCap, self.maintenance) = (corridor, hardFloor, hardCap, maintenance)
    }
}

/// Calibration from trailing coverage, as Basel's backtesting multiplier but smooth and in
/// both directions: the margin is the model margin times k_t. After each publication's
/// horizon has passed, its exceedance e (1 when the realised loss exceeded it, else 0) is
/// known; the trailing rate q <- (1 - a) q + a e with a = 1 - 2^(-1/halfLife), and
/// k <- clamp(k exp(gain (q - target)), minimum, maximum). k starts at 1 and q at the
/// target. Only losses already realised enter: k at bar t uses publications up to t - h.
public struct CoverageCalibration: Sendable, Equatable {
    /// Exceedance rate aimed at, as a fraction in (0, 1) (0.009 = 0.9% of publications).
    public let target: Double
    /// Half-life of the trailing exceedance rate, 1 to 1,000,000 publications.
    public let halfLife: Double
    /// Log-change of k per publication per unit of (trailing rate - target), in (0, 100].
    public let gain: Double
    /// Bounds on k: minimum in (0, 1], maximum in [1, 100].
    public let minimum: Double
    public let maximum: Double

    /// Throws `.invalidControl` naming the configuration key of the first value out of range.
    public init(target: Double, halfLife: Double, gain: Double, minimum: Double, maximum: Double)
        throws(MarginModelError)
    {
        func bad(_ field: String, _ value: Double, _ reason: String) -> MarginModelError {
            .invalidControl(field: field, value: value, reason: reason)
        }
        guard target > 0 && target < 1 else {
            throw bad("calibration_target", target, "must be an exceedance rate in (0, 1)")
        }
        guard halfLife >= 1 && halfLife <= 1_000_000 else {
            throw bad("calibration_half_life", halfLife, "must be 1 to 1000000 publications")
        }
        guard gain > 0 && gain <= 100 else { throw bad("calibration_gain", gain, "must be in (0, 100]") }
        guard minimum > 0 && minimum <= 1 else { throw bad("calibration_min", minimum, "must be in (0, 1]") }
        guard maximum >= 1 && maximum <= 100 else { throw bad("calibration_max", maximum, "must be in [1, 100]") }
        (self.target, self.halfLife, self.gain, self.minimum, self.maximum) = (target, halfLife, gain, minimum, maximum)
    }

    /// The running state: the trailing exceedance rate and the multiplier.
    public struct State: Sendable, Equatable {
        public private(set) var rate: Double
        public private(set) var multiplier = 1.0

        public init(_ c: CoverageCalibration) { rate = c.target }

        /// A state as a checkpoint stored it.
        init(rate: Double, multiplier: Double) { (self.rate, self.multiplier) = (rate, multiplier) }

        /// Absorbs one publication's outcome, once its horizon has passed.
        public mutating func observe(exceeded: Bool, _ c: CoverageCalibration) {
            let a = 1 - Double.exp2(-1 / c.halfLife)
            rate = (1 - a) * rate + a * (exceeded ? 1 : 0)
            multiplier = min(max(multiplier * Double.exp(c.gain * (rate - c.target)), c.minimum), c.maximum)
        }
    }
}

/// A complete margin model: volatility model + risk measure + confidence + MPOR +
/// lookback + controls, optionally blended with an implied volatility series. Built valid:
/// the initialiser checks every field and how the controls fit the model.
public struct MarginModel: Sendable, Equatable {
    public let name: String
    public let volatility: VolatilitySpec
    public let measure: TailMeasure
    public let method: RiskMethod
    /// Parametric only: Student-t degrees of freedom (> 2); `nil` with a GARCH-t model uses
    /// the fitted nu, otherwise normal.
    public let nu: Double?
    public let useFittedNu: Bool
    /// Coverage, e.g. 0.99.
    public let confidence: Double
    /// Margin period of risk in bars.
    public let mpor: Int
    /// Scenario window in bars (historical and FHS).
    public let lookback: Int
    public let controls: MarginControls
    /// Coverage at which backtests count exceedances (Kupiec, Christoffersen, traffic
    /// light); `nil` means `confidence`. An ES margin at 97.5% is tested at 99%, the
    /// Basel FRTB pairing (ES 97.5% ~ VaR 99% under normality).
    public let testConfidence: Double?
    /// Weight w of the implied volatility blend `max(sigma_realised, w sigma_implied)`;
    /// `nil` when no implied series is used.
    public let impliedWeight: Double?
    /// GARCH/GJR only: each refit uses the last `fitWindow` returns (a rolling estimation
    /// window, in bars); `nil` fits on every return so far (an expanding window, whose live
    /// state grows with the venue's age).
    public let fitWindow: Int?

    /// Largest MPOR, in bars.
    public static let maxBars = 250
    /// Largest window (lookback, refit, estimation window, control windows), in bars.
    public static let maxWindow = 1_000_000

    /// Throws `.invalidField` naming the model, the field and the reason.
    public init(
        name: String, volatility: VolatilitySpec, measure: TailMeasure, method: RiskMethod,
        nu: Double? = nil, useFittedNu: Bool = false, confidence: Double, mpor: Int, lookback: Int,
        controls: MarginControls = .none, impliedWeight: Double? = nil, testConfidence: Double? = nil,
        fitWindow: Int? = nil
    ) throws(MarginModelError) {
        func bad(_ field: String, _ value: Double, _ why: String) -> MarginModelError {
            .invalidField(model: name, field: field, value: value, reason: why)
        }
        guard confidence > 0.5 && confidence < 1 else {
            throw bad("confidence", confidence, "must be in (0.5, 1), e.g. 0.99")
        }
        if let tc = testConfidence {
            guard tc > 0.5 && tc < 1 else { throw bad("test_confidence", tc, "must be in (0.5, 1)") }
        }
        guard mpor >= 1 else { throw bad("mpor", Double(mpor), "must be a positive number of bars") }
        // upper bounds: far beyond any real use, they keep index arithmetic far from overflow
        guard mpor <= Self.maxBars else { throw bad("mpor", Double(mpor), "must be at most \(Self.maxBars) bars") }
        guard lookback >= 2 else { throw bad("lookback", Double(lookback), "must be at least 2 bars") }
        guard lookback <= Self.maxWindow else {
            throw bad("lookback", Double(lookback), "must be at most \(Self.maxWindow) bars")
        }
        if method != .parametric, lookback < mpor + 1 { throw bad("lookback", Double(lookback), "must exceed mpor") }
        if method != .parametric, Int(Double(lookback) * (1 - confidence)) < 1 {
            throw bad("lookback", Double(lookback), "too short for the confidence: fewer than one scenario in the tail")
        }
        switch volatility {
        case .ewma(let l): guard l > 0 && l < 1 else { throw bad("lambda", l, "must be in (0, 1)") }
        case .garch(_, _, let refit, let minFit):
            guard refit >= 1 && refit <= Self.maxWindow else {
                throw bad("refit_every", Double(refit), "must be 1 to \(Self.maxWindow) bars")
            }
            guard minFit <= Self.maxWindow else {
                throw bad("minimum_fit", Double(minFit), "must be at most \(Self.maxWindow)")
            }
            guard minFit >= GARCHModel.minimumObservations else {
                throw bad("minimum_fit", Double(minFit), "must be at least \(GARCHModel.minimumObservations)")
            }
        case .closeToClose(let w):
            guard w >= 2 else { throw bad("window", Double(w), "must be at least 2") }
            guard w <= Self.maxWindow else { throw bad("window", Double(w), "must be at most \(Self.maxWindow)") }
        }
        if let nu { guard nu > 2 else { throw bad("nu", nu, "must exceed 2") } }
        // the controls checked their own values when built; here, how they fit the model
        if case .worstWindow(let bars) = controls.stressedPeriod, controls.stressedWeight != nil {
            guard bars >= mpor + 1 else { throw bad("stressed_window", Double(bars), "must exceed mpor") }
        }
        if let f = controls.floorLookback {
            guard f > mpor else { throw bad("floor_lookback", Double(f), "must exceed mpor") }
        }
        if case .confidence(let a) = controls.maintenance {
            guard a < confidence else { throw bad("maintenance_confidence", a, "must be in (0.5, confidence)") }
        }
        if let w = impliedWeight {
            guard w > 0 && w.isFinite else { throw bad("implied_weight", w, "must be positive") }
        }
        (self.name, self.volatility, self.measure, self.method, self.nu, self.useFittedNu) = (
            name, volatility, measure, method, nu, useFittedNu
        )
        (self.confidence, self.mpor, self.lookback, self.controls) = (confidence, mpor, lookback, controls)
        if let w = fitWindow {
            guard case .garch(_, _, _, let minFit) = volatility else {
                throw bad("fit_window", Double(w), "applies to garch and gjr volatility only")
            }
            guard w >= minFit && w <= Self.maxWindow else {
                throw bad("fit_window", Double(w), "must be minimum_fit (\(minFit)) to \(Self.maxWindow) bars")
            }
        }
        (self.impliedWeight, self.testConfidence, self.fitWindow) = (impliedWeight, testConfidence, fitWindow)
    }

    /// This model with some fields replaced, checked again as a new model.
    public func with(
        name: String? = nil, volatility: VolatilitySpec? = nil, mpor: Int? = nil, lookback: Int? = nil,
        controls: MarginControls? = nil, impliedWeight: Double?? = nil
    ) throws(MarginModelError) -> MarginModel {
        try MarginModel(
            name: name ?? self.name, volatility: volatility ?? self.volatility, measure: measure, method: method,
            nu: nu,
            useFittedNu: useFittedNu, confidence: confidence, mpor: mpor ?? self.mpor,
            lookback: lookback ?? self.lookback,
            controls: controls ?? self.controls, impliedWeight: impliedWeight ?? self.impliedWeight,
            testConfidence: testConfidence, fitWindow: fitWindow)
    }
}

/// Why a margin model cannot run.
public enum MarginModelError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidField(model: String, field: String, value: Double, reason: String)
    case tooFewObservations(model: String, needed: Int, got: Int)
    case volatility(model: String, VolatilityError)
    /// A control's value out of range, found when the control was built (before any model
    /// holds it): the configuration key, the value, why.
    case invalidControl(field: String, value: Double, reason: String)

    public var description: String {
        switch self {
        case .invalidField(let model, let field, let value, let reason):
            return "model '\(model)': \(field) = \(value): \(reason)"
        case .tooFewObservations(let model, let needed, let got):
            return
                "model '\(model)': needs at least \(needed) returns (lookback, warm-up and MPOR), the data has \(got)"
        case .volatility(let model, let e): return "model '\(model)': \(e)"
        case .invalidControl(let field, let value, let reason): return "\(field) = \(value): \(reason)"
        }
    }
}
