import VolScaleCore
import VolScaleData

/// The filters that need one pass over the prices, fed bar by bar: EWMA, rolling
/// close-to-close and the rolling range estimators. `volscale vol --stream` runs them on the
/// streaming reader in constant memory; the numbers are those of the batch filters
/// (`EWMA.filter`, `RollingVolatility.filter`, `RangeEstimator.rolling`), row for row.
struct OnePassVolatility {
    enum Kind {
        case ewma(EWMA)
        case rolling(RollingVolatility)
        case range(RangeEstimator, window: Int)
    }

    /// A return and its sigma_t^2 (nil while a window fills), with the time of the bar it ends at.
    typealias Emit = (_ time: Int64, _ r: Double, _ variance: Double?) throws -> Void

    let kind: Kind
    private(set) var returns = 0
    /// sigma^2 of the last return (the forecast made before it was seen).
    private(set) var lastVariance: Double?
    private var previousPrice: Double?
    // EWMA: the first 75 returns wait for arch's backcast, then one state
    private var seed: [(Int64, Double)] = []
    private var ewma: EWMA.State?
    // rolling windows: the last returns or bars, oldest first
    private var window: [Double] = []
    private var bars: [(open: Double, high: Double, low: Double, close: Double)] = []

    static let seedLength = EWMA.seedLength

    init(_ kind: Kind) { self.kind = kind }

    mutating func add(
        time: Int64, price: Double, bar: (open: Double, high: Double, low: Double, close: Double)?, _ emit: Emit
    ) throws {
        defer { previousPrice = price }
        if case .range(let est, let w) = kind {
            guard let bar else { throw CommandFailure("\(est.rawValue) needs open, high, low and close columns") }
            if let p0 = previousPrice {
                let r = Double.log(price / p0)
                let v = bars.count == w + est.leadingBars ? try estimate(est) : nil
                try record(time, r, v, emit)
            }
            bars.append(bar)
            if bars.count > w + est.leadingBars { bars.removeFirst() }
            return
        }
        guard let p0 = previousPrice else { return }
        let r = Double.log(price / p0)
        switch kind {
        case .ewma(let model):
            if var state = ewma {
                try record(time, r, state.variance, emit)
                state.update(r, lambda: model.lambda)
                ewma = state
            } else {
                seed.append((time, r))
                if seed.count == Self.seedLength { try startEWMA(model, emit) }
            }
        case .rolling(let model):
            let v = window.count == model.window ? model.variance(of: window, endingAt: model.window) : nil
            try record(time, r, v, emit)
            window.append(r)
            if window.count > model.window { window.removeFirst() }
        case .range:
            break
        }
    }

    /// sigma^2 for the return after the last one; throws as the batch filter does when there
    /// were too few returns.
    mutating func finish(_ emit: Emit) throws -> Double {
        switch kind {
        case .ewma(let model):
            if ewma == nil {
                guard seed.count >= 2 else {
                    throw VolatilityError.tooFewObservations(model: "EWMA", needed: 2, got: seed.count)
                }
                try startEWMA(model, emit)
            }
            return ewma?.variance ?? .nan
        case .rolling(let model):
            guard returns >= model.window else {
                throw VolatilityError.tooFewObservations(
                    model: "close-to-close(\(model.window))", needed: model.window, got: returns)
            }
            return model.variance(of: window, endingAt: model.window)
        case .range(let est, let w):
            guard bars.count == w + est.leadingBars else {
                throw VolatilityError.tooFewObservations(
                    model: est.rawValue, needed: w + est.leadingBars, got: bars.count)
            }
            return try estimate(est)
        }
    }

    private mutating func startEWMA(_ model: EWMA, _ emit: Emit) throws {
        var state = EWMA.State(variance: EWMA.backcast(seed.map { $0.1 * $0.1 }))
        for (t, r) in seed {
            try record(t, r, state.variance, emit)
            state.update(r, lambda: model.lambda)
        }
        seed = []
        ewma = state
    }

    private mutating func record(_ time: Int64, _ r: Double, _ variance: Double?, _ emit: Emit) throws {
        returns += 1
        lastVariance = variance
        try emit(time, r, variance)
    }

    /// The estimate over the bars held: exactly the window (plus Yang-Zhang's previous close).
    private func estimate(_ est: RangeEstimator) throws -> Double {
        let b = try OHLCBars(
            open: bars.map(\.open), high: bars.map(\.high), low: bars.map(\.low), close: bars.map(\.close))
        return try est.fullSample(b)
    }
}
