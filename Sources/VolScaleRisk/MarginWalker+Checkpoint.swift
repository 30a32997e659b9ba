import VolScaleCore

extension MarginWalker {
    /// A walker's state as stored: what its windows still reach (`retention`), its GARCH
    /// fit, both sides' path and calibration state, the sorted scenario and floor windows, the
    /// stressed period and its copied scenarios. Its size is bounded by the model's windows
    /// (except a GARCH/GJR model without `fitWindow`, whose returns are all kept). JSON-safe:
    /// an unknown forecast (NaN) is stored as null, an infinite extreme as absent; every other
    /// number round-trips exactly, so a walker continued from it steps bit for bit as the one
    /// that wrote it.
    public struct Checkpoint: Sendable, Equatable, Codable {
        /// The model it belongs to: a walker of another model cannot continue from it.
        public var model: MarginModel
        /// Index of the first kept return (and timestamp), forecast, residual, h-bar sum of
        /// residuals and of returns.
        public var from: Int
        public var varianceFrom: Int
        public var residualsFrom: Int
        public var residualSumsFrom: Int
        public var returnSumsFrom: Int
        /// Returns absorbed so far.
        public var count: Int
        public var returns: [Double]
        public var timestamps: [Int64]
        /// Forecasts from `from` (one more than the returns once known); null while unknown.
        public var variance: [Double?]
        public var nu: [Double?]
        public var residuals: [Double]
        public var residualSums: [Double]
        public var returnSums: [Double]
        public var garch: GARCHState?
        public var long: SideCheckpoint
        public var short: SideCheckpoint
        /// The scenario and floor windows, ascending.
        public var window: [Double]
        public var floorWindow: [Double]
        public var floorRange: [Int]?
        public var stressedWindow: [Int]?
        /// The stressed scenarios: their h-bar sum indices [lower, upper) and values.
        public var stressedRange: [Int]?
        public var stressedValues: [Double]?
        public var namedFirst: Int?
        public var namedLast: Int?
        /// Whether the named period was taken, and its range when it held enough returns.
        public var namedTaken: Bool
        public var namedRange: [Int]?
        public var fits: Int
        public var rollingSS: Double
        public var bestSS: Double

        public struct GARCHState: Sendable, Equatable, Codable {
            public var parameters: GARCHParameters
            public var variance: Double
            public var fittedAt: Int
        }

        public struct SideCheckpoint: Sendable, Equatable, Codable {
            public var recent: [Double]
            public var highest: Double?
            public var lowest: Double?
            public var calibrationRate: Double?
            public var calibrationMultiplier: Double?
        }
    }

    /// The state as stored (see `Checkpoint`).
    public var checkpoint: Checkpoint {
        let keep = retention
        func side(_ s: Side) -> Checkpoint.SideCheckpoint {
            let st = sides[s]
            let h = st?.history
            return .init(
                recent: h?.recent ?? [], highest: h.flatMap { $0.highest.isFinite ? $0.highest : nil },
                lowest: h.flatMap { $0.lowest.isFinite ? $0.lowest : nil }, calibrationRate: st?.calibration?.rate,
                calibrationMultiplier: st?.calibration?.multiplier)
        }
        let r = returns.suffix(from: keep.returns)
        let v = variance.suffix(from: keep.variance)
        let zs = z.suffix(from: keep.residuals)
        let zsums = zh.suffix(from: keep.residualSums)
        let rsums = rh.suffix(from: keep.returnSums)
        return Checkpoint(
            model: model, from: r.base, varianceFrom: v.base, residualsFrom: zs.base, residualSumsFrom: zsums.base,
            returnSumsFrom: rsums.base, count: returns.endIndex, returns: r.items,
            timestamps: timestamps.suffix(from: keep.returns).items, variance: v.items.map { $0.isNaN ? nil : $0 },
            nu: nuAt.suffix(from: keep.variance).items, residuals: zs.items, residualSums: zsums.items,
            returnSums: rsums.items,
            garch: garch.map { .init(parameters: $0.params, variance: $0.s2, fittedAt: $0.fittedAt) },
            long: side(.long), short: side(.short), window: window.values, floorWindow: floorWindow.values,
            floorRange: floorRange.map { [$0.lowerBound, $0.upperBound] },
            stressedWindow: stressedWindow.map { [$0.start, $0.end] },
            stressedRange: stressedScenarios.map { [$0.range.lowerBound, $0.range.upperBound] },
            stressedValues: stressedScenarios?.values, namedFirst: namedFirst, namedLast: namedLast,
            namedTaken: namedStressed != nil,
            namedRange: (namedStressed ?? nil).map { [$0.lowerBound, $0.upperBound] },
            fits: fits, rollingSS: rollingSS, bestSS: bestSS)
    }

    /// Continues a walker of `model` from a checkpoint. Throws when the checkpoint belongs to
    /// another model or does not hold together (a stored state edited or cut).
    public init(model: MarginModel, checkpoint c: Checkpoint, live: Bool = true) throws(MarginModelError) {
        try self.init(model: model, live: live)
        func bad(_ reason: String) -> MarginModelError {
            .invalidField(model: model.name, field: "checkpoint", value: Double(c.count), reason: reason)
        }
        guard c.model == model else { throw bad("written by another model ('\(c.model.name)')") }
        let n = c.count
        let sums = max(n - model.mpor + 1, 0)
        let varianceEnd = c.varianceFrom + c.variance.count
        guard c.from >= 0, c.from + c.returns.count == n, c.timestamps.count == c.returns.count,
            c.residualsFrom >= 0, c.residualsFrom + c.residuals.count == n, c.nu.count == c.variance.count,
            c.varianceFrom >= 0, varianceEnd == n || varianceEnd == n + 1 || (varianceEnd == 0 && n < firstValid),
            c.residualSumsFrom >= 0, c.residualSumsFrom + c.residualSums.count == sums,
            c.returnSumsFrom >= 0, c.returnSumsFrom + c.returnSums.count == sums
        else { throw bad("its parts do not hold together") }
        returns = Trail(base: c.from, items: c.returns)
        timestamps = Trail(base: c.from, items: c.timestamps)
        variance = Trail(base: c.varianceFrom, items: c.variance.map { $0 ?? .nan })
        nuAt = Trail(base: c.varianceFrom, items: c.nu)
        z = Trail(base: c.residualsFrom, items: c.residuals)
        zh = Trail(base: c.residualSumsFrom, items: c.residualSums)
        rh = Trail(base: c.returnSumsFrom, items: c.returnSums)
        garch = c.garch.map { ($0.parameters, $0.variance, $0.fittedAt) }
        for (s, cs) in [(Side.long, c.long), (.short, c.short)] {
            guard var st = sides[s] else { continue }
            st.history = PublicationHistory(
                keep: st.history.keep, recent: cs.recent, highest: cs.highest ?? -.infinity,
                lowest: cs.lowest ?? .infinity)
            if st.calibration != nil, let rate = cs.calibrationRate, let k = cs.calibrationMultiplier {
                st.calibration = CoverageCalibration.State(rate: rate, multiplier: k)
            }
            sides[s] = st
        }
        window = SortedWindow(sorted: c.window)
        floorWindow = SortedWindow(sorted: c.floorWindow)
        if let r = c.floorRange, r.count == 2, r[0] <= r[1] { floorRange = r[0]...r[1] }
        if let w = c.stressedWindow, w.count == 2 { stressedWindow = (w[0], w[1]) }
        if let r = c.stressedRange, r.count == 2, r[0] <= r[1], let v = c.stressedValues, v.count == r[1] - r[0] {
            stressedScenarios = (r[0]..<r[1], v)
        }
        namedFirst = c.namedFirst
        namedLast = c.namedLast
        if c.namedTaken {
            namedStressed = .some(c.namedRange.flatMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0]..<$0[1] : nil })
        }
        fits = c.fits
        rollingSS = c.rollingSS
        bestSS = c.bestSS
    }
}
