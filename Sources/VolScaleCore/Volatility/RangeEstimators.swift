import RealModule

/// Open, high, low, close prices of consecutive bars (positive, oldest first).
public struct OHLCBars: Sendable, Equatable {
    public let open: [Double]
    public let high: [Double]
    public let low: [Double]
    public let close: [Double]

    /// - Throws: `VolatilityError.invalidBar` for unequal lengths, non-positive prices,
    ///   high below low, or open/close outside [low, high].
    public init(open: [Double], high: [Double], low: [Double], close: [Double]) throws(VolatilityError) {
        guard open.count == high.count, high.count == low.count, low.count == close.count else {
            throw .invalidBar(
                index: min(open.count, high.count, low.count, close.count),
                reason: "open, high, low and close have different lengths")
        }
        for i in open.indices {
            let o = open[i]
            let h = high[i]
            let l = low[i]
            let c = close[i]
            guard o > 0, h > 0, l > 0, c > 0, o.isFinite, h.isFinite, l.isFinite, c.isFinite else {
                throw .invalidBar(index: i, reason: "prices must be positive and finite")
            }
            guard h >= l else { throw .invalidBar(index: i, reason: "high \(h) below low \(l)") }
            guard c >= l && c <= h else {
                throw .invalidBar(index: i, reason: "close \(c) outside [low \(l), high \(h)]")
            }
            guard o >= l && o <= h else {
                throw .invalidBar(index: i, reason: "open \(o) outside [low \(l), high \(h)]")
            }
        }
        self.open = open
        self.high = high
        self.low = low
        self.close = close
    }

    public var count: Int { close.count }

    /// Bars the caller has already checked bar by bar with the same rules (the price-file
    /// readers do as they read, with the file's line in the message): not checked again.
    package init(checkedOpen open: [Double], high: [Double], low: [Double], close: [Double]) {
        self.open = open
        self.high = high
        self.low = low
        self.close = close
    }
}

/// Range-based variance estimators over a window of n bars (per-bar variance, decimal).
///
/// With o, h, l, c the logs of open, high, low, close:
/// - Parkinson (1980): `mean((h - l)^2) / (4 ln 2)`.
/// - Garman-Klass (1980): `mean(0.5 (h - l)^2 - (2 ln 2 - 1)(c - o)^2)`.
/// - Rogers-Satchell (1991): `mean((h - c)(h - o) + (l - c)(l - o))`.
/// - Yang-Zhang (2000): `s2_overnight + k s2_open_to_close + (1 - k) s2_RS`,
///   `k = 0.34 / (1.34 + (n + 1)/(n - 1))`, overnight `o_t - c_{t-1}` and open-to-close
///   `c_t - o_t` as sample variances (ddof 1); each window's bars need the previous close.
public enum RangeEstimator: String, Sendable, CaseIterable, Codable {
    case parkinson
    case garmanKlass = "garman-klass"
    case rogersSatchell = "rogers-satchell"
    case yangZhang = "yang-zhang"

    /// Variance from the `window` bars ending at bar index `end` (inclusive).
    /// Yang-Zhang needs `end - window >= 0` (the close before the first bar).
    public func variance(_ bars: OHLCBars, end: Int, window: Int) -> Double {
        let start = end - window + 1
        let n = Double(window)
        switch self {
        case .parkinson:
            var s = 0.0
            for i in start...end {
                let hl = Double.log(bars.high[i] / bars.low[i])
                s += hl * hl
            }
            return s / n / (4 * Double.log(2.0))
        case .garmanKlass:
            let k = 2 * Double.log(2.0) - 1
            var s = 0.0
            for i in start...end {
                let hl = Double.log(bars.high[i] / bars.low[i])
                let co = Double.log(bars.close[i] / bars.open[i])
                s += 0.5 * hl * hl - k * co * co
            }
            return s / n
        case .rogersSatchell:
            return Self.rogersSatchell(bars, start: start, end: end)
        case .yangZhang:
            var on = [Double]()
            var oc = [Double]()
            on.reserveCapacity(window)
            oc.reserveCapacity(window)
            for i in start...end {
                on.append(Double.log(bars.open[i] / bars.close[i - 1]))
                oc.append(Double.log(bars.close[i] / bars.open[i]))
            }
            let k = 0.34 / (1.34 + (n + 1) / (n - 1))
            return Self.sampleVariance(on) + k * Self.sampleVariance(oc) + (1 - k)
                * Self.rogersSatchell(bars, start: start, end: end)
        }
    }

    static func rogersSatchell(_ bars: OHLCBars, start: Int, end: Int) -> Double {
        var s = 0.0
        for i in start...end {
            let h = Double.log(bars.high[i])
            let l = Double.log(bars.low[i])
            let o = Double.log(bars.open[i])
            let c = Double.log(bars.close[i])
            s += (h - c) * (h - o) + (l - c) * (l - o)
        }
        return s / Double(end - start + 1)
    }

    static func sampleVariance(_ x: [Double]) -> Double {
        let m = x.reduce(0, +) / Double(x.count)
        var s = 0.0
        for v in x { s += (v - m) * (v - m) }
        return s / Double(x.count - 1)
    }

    /// Bars needed before the first full window (Yang-Zhang needs a previous close).
    public var leadingBars: Int { self == .yangZhang ? 1 : 0 }

    /// Full-sample estimate over every usable bar.
    public func fullSample(_ bars: OHLCBars) throws(VolatilityError) -> Double {
        let window = bars.count - leadingBars
        guard window >= 2 else { throw .tooFewObservations(model: rawValue, needed: 2 + leadingBars, got: bars.count) }
        return variance(bars, end: bars.count - 1, window: window)
    }

    /// Rolling estimates aligned to the returns between consecutive bars: the value for
    /// return t (from bar t to bar t+1) is the estimate from the window ending at bar t,
    /// i.e. made before the return was seen; `nil` while the window is not full.
    /// `nextVariance` is the estimate from the window ending at the last bar.
    public func rolling(_ bars: OHLCBars, window: Int) throws(VolatilityError) -> VolatilityPath {
        guard window >= 2 else {
            throw .invalidParameter(name: "window", value: Double(window), reason: "must be at least 2 bars")
        }
        guard bars.count >= window + leadingBars else {
            throw .tooFewObservations(model: rawValue, needed: window + leadingBars, got: bars.count)
        }
        let returns = bars.count - 1
        var out = [Double?](repeating: nil, count: max(returns, 0))
        let firstEnd = window - 1 + leadingBars
        if firstEnd < returns {
            for t in firstEnd..<returns { out[t] = variance(bars, end: t, window: window) }
        }
        return VolatilityPath(variance: out, nextVariance: variance(bars, end: bars.count - 1, window: window))
    }
}
