import RealModule

/// Liquidity measured from bars: traded value, price impact and the effective spread, over a
/// trailing window of bars. The value at bar t uses bars up to and including t only.
///
/// - `adv`: average dollar volume per bar, mean of `volume * close` (or of the volume when
///   it is already in the quote currency) over the last `window` bars. Per bar, not per
///   day, on intraday bars.
/// - `amihud`: Amihud (2002) illiquidity, mean over the last `window` bars of
///   `|r_t| / dollarVolume_t`, with `r_t = ln(C_t / C_{t-1})` the decimal log return
///   ending at bar t (the product's return everywhere; Amihud used simple returns, which
///   differ by r^2/2). Bars without volume have no defined ratio and are left out of the
///   mean; nil when no bar in the window traded.
/// - `spread`: Corwin and Schultz (2012) high-low spread, decimal (0.001 = 10 bp), the mean
///   over the last `window` two-bar estimates of
///   `S = 2 (e^a - 1) / (1 + e^a)`, `a = (sqrt(2b) - sqrt(b)) / (3 - 2 sqrt 2) - sqrt(g / (3 - 2 sqrt 2))`,
///   `b = ln(H_{t-1}/L_{t-1})^2 + ln(H_t/L_t)^2`, `g = ln(max(H_{t-1},H_t) / min(L_{t-1},L_t))^2`;
///   negative two-bar estimates are set to zero before averaging, as the paper does. With
///   `overnightAdjusted`, bar t's high and low are first shifted by the gap between bar
///   t-1's close and bar t's range (the paper's adjustment for prices that move while the
///   market is closed; off by default, crypto markets do not close).
///
/// A value needs `window` bars with a predecessor: the first is at bar index `window`.
public struct LiquidityWindow: Sendable, Equatable {
    /// Bars per window, at least 2.
    public let window: Int
    public let overnightAdjusted: Bool

    public init(window: Int, overnightAdjusted: Bool = false) throws(LiquidityError) {
        guard window >= 2 else { throw .invalidWindow(window) }
        self.window = window
        self.overnightAdjusted = overnightAdjusted
    }
}

/// The three measures at one bar.
public struct LiquidityPoint: Sendable, Equatable {
    /// Index of the bar in the input.
    public let index: Int
    /// Average dollar volume per bar (quote currency).
    public let adv: Double
    /// Mean |log return| per unit of dollar volume; nil when no bar in the window traded.
    public let amihud: Double?
    /// Corwin-Schultz effective spread, decimal.
    public let spread: Double
}

public enum LiquidityError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidWindow(Int)
    case lengthMismatch(String)
    case invalidBar(index: Int, reason: String)
    case missingInput(String)

    public var description: String {
        switch self {
        case .invalidWindow(let w): return "the liquidity window must be at least 2 bars, got \(w)"
        case .lengthMismatch(let why): return "liquidity inputs differ in length: \(why)"
        case .invalidBar(let i, let why): return "bar \(i): \(why)"
        case .missingInput(let why): return why
        }
    }
}

/// One bar as the liquidity measures need it.
public struct LiquidityBar: Sendable, Equatable {
    public let high: Double
    public let low: Double
    public let close: Double
    /// Traded value in the quote currency (volume times close for a base-currency volume).
    public let dollarVolume: Double

    /// Checked: positive prices with `low <= close <= high`, a finite non-negative dollar volume.
    public init(high: Double, low: Double, close: Double, dollarVolume: Double) throws(LiquidityError) {
        guard low > 0, high.isFinite, low <= high, close >= low, close <= high else {
            throw .invalidBar(
                index: -1, reason: "needs 0 < low <= close <= high, got high \(high), low \(low), close \(close)")
        }
        guard dollarVolume.isFinite, dollarVolume >= 0 else {
            throw .invalidBar(index: -1, reason: "dollar volume must be finite and non-negative, got \(dollarVolume)")
        }
        self.high = high
        self.low = low
        self.close = close
        self.dollarVolume = dollarVolume
    }
}

/// The measures updated one bar at a time in O(1): the batch command and the live engine
/// step the same tracker, so a value does not depend on how the bars arrived.
public struct LiquidityTracker: Sendable {
    public let settings: LiquidityWindow
    private var previous: LiquidityBar?
    private var bars = 0
    private var dollarVolume: WindowSum
    private var impact: WindowSum
    /// 1 where the bar traded, so that the Amihud mean counts only those.
    private var traded: WindowSum
    private var spread: WindowSum

    public init(_ settings: LiquidityWindow) {
        self.settings = settings
        dollarVolume = WindowSum(settings.window)
        impact = WindowSum(settings.window)
        traded = WindowSum(settings.window)
        spread = WindowSum(settings.window)
    }

    /// Adds the next bar; the measures at it once `window` bars with a predecessor are in.
    public mutating func add(_ bar: LiquidityBar) -> LiquidityPoint? {
        defer {
            previous = bar
            bars += 1
        }
        guard let prev = previous else { return nil }
        dollarVolume.add(bar.dollarVolume)
        let r = Double.log(bar.close / prev.close)
        let trades = bar.dollarVolume > 0
        impact.add(trades ? Swift.abs(r) / bar.dollarVolume : 0)
        traded.add(trades ? 1 : 0)
        spread.add(Self.corwinSchultz(prev, bar, overnightAdjusted: settings.overnightAdjusted))
        guard dollarVolume.isFull else { return nil }
        let w = Double(settings.window)
        let n = traded.sum.rounded()
        return LiquidityPoint(
            index: bars, adv: dollarVolume.sum / w, amihud: n > 0 ? impact.sum / n : nil,
            spread: spread.sum / w)
    }

    static let k = 3 - 2 * 2.0.squareRoot()

    /// The two-bar Corwin-Schultz estimate, floored at zero.
    public static func corwinSchultz(_ a: LiquidityBar, _ b: LiquidityBar, overnightAdjusted: Bool) -> Double {
        var h2 = b.high
        var l2 = b.low
        if overnightAdjusted {
            if l2 > a.close {
                h2 -= l2 - a.close
                l2 = a.close
            } else if h2 < a.close {
                l2 += a.close - h2
                h2 = a.close
            }
        }
        let r1 = Double.log(a.high / a.low)
        let r2 = Double.log(h2 / l2)
        let beta = r1 * r1 + r2 * r2
        let g = Double.log(max(a.high, h2) / min(a.low, l2))
        let gamma = g * g
        let alpha = ((2 * beta).squareRoot() - beta.squareRoot()) / k - (gamma / k).squareRoot()
        let e = Double.exp(alpha)
        return max(0, 2 * (e - 1) / (1 + e))
    }

    /// Every bar's measures, from columns (one per bar, same length).
    public static func measures(
        high: [Double], low: [Double], close: [Double], dollarVolume: [Double],
        settings: LiquidityWindow
    ) throws(LiquidityError) -> [LiquidityPoint] {
        let n = close.count
        guard high.count == n, low.count == n, dollarVolume.count == n else {
            throw .lengthMismatch("high \(high.count), low \(low.count), close \(n), volume \(dollarVolume.count)")
        }
        var tracker = LiquidityTracker(settings)
        var out: [LiquidityPoint] = []
        out.reserveCapacity(max(0, n - settings.window))
        for i in 0..<n {
            let bar: LiquidityBar
            do throws(LiquidityError) {
                bar = try LiquidityBar(high: high[i], low: low[i], close: close[i], dollarVolume: dollarVolume[i])
            } catch {
                if case .invalidBar(_, let why) = error { throw .invalidBar(index: i, reason: why) }
                throw error
            }
            if let p = tracker.add(bar) { out.append(p) }
        }
        return out
    }
}

/// A sum over the last `count` values, kept in O(1) per value. A running sum loses the
/// digits of a large value once it leaves the window, so the sum is recomputed from the
/// window whenever the value leaving is more than half the sum, and every `count` steps
/// in any case: the result stays within a few `count` ulps of the direct sum.
struct WindowSum: Sendable {
    private var values: [Double]
    private var next = 0
    private(set) var filled = 0
    private(set) var sum = 0.0
    private var sinceExact = 0

    init(_ count: Int) { values = [Double](repeating: 0, count: count) }

    var isFull: Bool { filled == values.count }

    mutating func add(_ x: Double) {
        let old = values[next]
        values[next] = x
        next = next + 1 == values.count ? 0 : next + 1
        if filled < values.count { filled += 1 }
        sinceExact += 1
        if old > 0.5 * sum || sinceExact >= values.count {
            sum = 0
            for v in values { sum += v }
            sinceExact = 0
        } else {
            sum += x - old
        }
    }
}
