import Dispatch
import RealModule
import VolScaleCore

/// Log returns of one range of a series, written into their slots (each range by one worker).
private struct ReturnsJob: @unchecked Sendable {
    let close: UnsafeBufferPointer<Double>
    let out: UnsafeMutableBufferPointer<Double>

    func run(_ range: Range<Int>) {
        for i in range { out[i] = Double.log(close[i + 1] / close[i]) }
    }
}

/// A validated price series: strictly increasing UTC timestamps with positive, finite
/// closes, non-negative volumes, columns of one length, and open/high/low when the source
/// has them (`OHLCBars` checks its own). Checked when built; the fields cannot change after.
public struct PriceSeries: Sendable, Equatable {
    /// Where it came from (file name), for messages.
    public let source: String
    /// UTC milliseconds since the Unix epoch, strictly increasing.
    public let timestamps: [Int64]
    /// The price column used for returns (close, or the column the user chose).
    public let close: [Double]
    /// OHLC bars when the source has open, high, low and close.
    public let bars: OHLCBars?
    /// Traded volume per bar (non-negative, in the file's unit: base currency for exchange
    /// klines, quote currency for some vendors), when it was read.
    public let volume: [Double]?

    /// A series from columns, checked row by row.
    /// - Throws: `DataError` naming `source`, the row (1-based, as `line`) and the reason:
    ///   columns of different lengths, a price that is not positive and finite, a volume that
    ///   is negative or not finite, a timestamp not after the one before.
    public init(source: String, timestamps: [Int64], close: [Double], bars: OHLCBars? = nil, volume: [Double]? = nil)
        throws(DataError)
    {
        let n = close.count
        guard timestamps.count == n, bars.map({ $0.count == n }) ?? true, volume.map({ $0.count == n }) ?? true else {
            throw DataError(
                file: source, line: 0,
                kind: .unreadable(
                    "columns of different lengths: \(timestamps.count) timestamps, \(n) prices\(bars.map { ", \($0.count) bars" } ?? "")\(volume.map { ", \($0.count) volumes" } ?? "")"
                ))
        }
        for i in 0..<n {
            func bad(_ reason: BadRowReason) -> DataError {
                DataError(file: source, line: i + 1, kind: .badRow(reason))
            }
            guard close[i].isFinite else { throw bad(.nonFinite(field: "close")) }
            guard close[i] > 0 else { throw bad(.nonPositivePrice(field: "close")) }
            if let v = volume?[i] {
                guard v.isFinite else { throw bad(.nonFinite(field: "volume")) }
                guard v >= 0 else { throw bad(.negativeQuantity(field: "volume")) }
            }
            if i > 0 {
                guard timestamps[i] >= timestamps[i - 1] else { throw bad(.timeBackwards) }
                guard timestamps[i] > timestamps[i - 1] else { throw bad(.duplicateTimestamp) }
            }
        }
        self.init(checked: source, timestamps: timestamps, close: close, bars: bars, volume: volume)
    }

    /// Columns the caller has checked row by row with the same rules (the readers do as they
    /// read, naming the file's line): not checked again.
    init(checked source: String, timestamps: [Int64], close: [Double], bars: OHLCBars?, volume: [Double]?) {
        self.source = source
        self.timestamps = timestamps
        self.close = close
        self.bars = bars
        self.volume = volume
    }

    public var count: Int { close.count }

    /// The first `n` bars (all of them when `n >= count`), with their OHLC bars and volumes.
    public func prefix(_ n: Int) -> PriceSeries {
        let k = max(0, min(n, count))
        let b = bars.map {
            OHLCBars(
                checkedOpen: Array($0.open.prefix(k)), high: Array($0.high.prefix(k)), low: Array($0.low.prefix(k)),
                close: Array($0.close.prefix(k)))
        }
        return PriceSeries(
            checked: source, timestamps: Array(timestamps.prefix(k)), close: Array(close.prefix(k)), bars: b,
            volume: volume.map { Array($0.prefix(k)) })
    }

    /// Log returns `ln(P_t / P_{t-1})`, decimal; `returns[i]` ends at bar `i + 1`. A gap
    /// in time (weekend, outage) is one return: nothing is filled in.
    /// Long series are split between the cores (the logarithms are most of the cost).
    public var returns: [Double] {
        let n = close.count - 1
        guard n > 0 else { return [] }
        return close.withUnsafeBufferPointer { c in
            [Double](unsafeUninitializedCapacity: n) { out, count in
                let job = ReturnsJob(close: c, out: out)
                let parts = n >= 1 << 18 ? 2 : 1
                if parts == 1 {
                    job.run(0..<n)
                } else {
                    DispatchQueue.concurrentPerform(iterations: parts) { k in
                        job.run((n * k / parts)..<(n * (k + 1) / parts))
                    }
                }
                count = n
            }
        }
    }

    /// True when every timestamp is at midnight UTC (daily or coarser data).
    public var isDateOnly: Bool { timestamps.allSatisfy { $0 % 86_400_000 == 0 } }

    /// Label of bar i for output (ISO date, or date-time when intraday).
    public func label(_ i: Int) -> String { Timestamp.format(timestamps[i], dateOnly: isDateOnly) }

    public var sampling: Sampling { Sampling.infer(timestamps) }
}

/// The bar length found in the timestamps and the periods per year used to annualise.
public struct Sampling: Sendable, Equatable {
    /// Median spacing between consecutive timestamps, seconds.
    public var medianSpacing: Double
    /// Human description: "1 day", "1 hour", "1 month", ...
    public var barDescription: String
    /// Periods per year for `sigma_year = sigma_period * sqrt(periodsPerYear)`.
    public var periodsPerYear: Double
    /// Why that number was chosen.
    public var reason: String

    /// Rules: daily bars with weekend bars trade 24/7 -> 365; daily bars on weekdays only
    /// look like equity sessions -> 252; weekly 52; monthly 12; intraday bars -> median
    /// bars per calendar day times 365 (24/7) or 252 (weekdays only).
    public static func infer(_ ts: [Int64]) -> Sampling {
        var acc = SamplingAccumulator()
        for t in ts { acc.add(t) }
        return acc.sampling
    }

    static func infer(count: Int, medianGap median: Double, weekendBars: Int, barsPerDay: [Int]) -> Sampling {
        guard count >= 2 else {
            return Sampling(
                medianSpacing: 0, barDescription: "unknown", periodsPerYear: 252,
                reason: "too few timestamps to tell the bar length; assumed 252 per year")
        }
        let day = 86_400.0
        let trades247 = Double(weekendBars) >= 0.05 * Double(count)
        if median >= 0.9 * day && median <= 1.1 * day {
            return trades247
                ? Sampling(
                    medianSpacing: median, barDescription: "1 day", periodsPerYear: 365,
                    reason: "daily bars including weekends (24/7 market): 365 per year")
                : Sampling(
                    medianSpacing: median, barDescription: "1 day", periodsPerYear: 252,
                    reason: "daily bars on weekdays only (equity sessions): 252 per year")
        }
        if median >= 6 * day && median <= 8 * day {
            return Sampling(
                medianSpacing: median, barDescription: "1 week", periodsPerYear: 52, reason: "weekly bars: 52 per year")
        }
        if median >= 27 * day && median <= 32 * day {
            return Sampling(
                medianSpacing: median, barDescription: "1 month", periodsPerYear: 12,
                reason: "monthly bars: 12 per year")
        }
        if median >= 88 * day && median <= 93 * day {
            return Sampling(
                medianSpacing: median, barDescription: "1 quarter", periodsPerYear: 4,
                reason: "quarterly bars: 4 per year")
        }
        if median < 0.9 * day {
            let counts = barsPerDay.sorted()
            let perDay = Double(counts[counts.count / 2])
            let days = trades247 ? 365.0 : 252.0
            return Sampling(
                medianSpacing: median, barDescription: describe(median), periodsPerYear: perDay * days,
                reason:
                    "\(describe(median)) bars, median \(Int(perDay)) per day, \(trades247 ? "including weekends: 365" : "weekdays only: 252") days per year"
            )
        }
        let ppy = 365.25 * day / median
        return Sampling(
            medianSpacing: median, barDescription: describe(median), periodsPerYear: ppy,
            reason: "irregular \(describe(median)) spacing: 365.25 days / median spacing")
    }

    static func describe(_ seconds: Double) -> String {
        let units: [(Double, String)] = [(86_400, "day"), (3600, "hour"), (60, "minute"), (1, "second")]
        for (size, name) in units where seconds >= size {
            let v = seconds / size
            let r = (v * 100).rounded() / 100
            let text = r == r.rounded() ? String(Int(r)) : String(r)
            return "\(text) \(name)\(r == 1 ? "" : "s")"
        }
        return "\(Int((seconds * 1000).rounded())) ms"
    }
}

/// What `Sampling` needs, gathered one timestamp at a time (the streaming reader cannot
/// keep every timestamp): the gaps as a histogram (runs of equal gaps cost one entry),
/// bars per calendar day and bars on weekends. Timestamps must be strictly increasing.
public struct SamplingAccumulator: Sendable {
    private var gaps: [Int64: Int] = [:]
    private var runGap: Int64 = 0
    private var runLength = 0
    private var last: Int64?
    private var day = Int64.min
    private var dayCount = 0
    private var barsPerDay: [Int] = []
    private var weekendBars = 0
    public private(set) var count = 0

    public init() {}

    public mutating func add(_ t: Int64) {
        count += 1
        if let last {
            let gap = t - last
            if gap == runGap && runLength > 0 {
                runLength += 1
            } else {
                if runLength > 0 { gaps[runGap, default: 0] += runLength }
                runGap = gap
                runLength = 1
            }
        }
        last = t
        let d = t >= 0 ? t / 86_400_000 : (t - 86_399_999) / 86_400_000
        if d == day {
            dayCount += 1
        } else {
            closeDay()
            day = d
            dayCount = 1
        }
    }

    private mutating func closeDay() {
        guard dayCount > 0 else { return }
        barsPerDay.append(dayCount)
        let w = Timestamp.weekday(milliseconds: day * 86_400_000)
        if w == 0 || w == 6 { weekendBars += dayCount }
    }

    public var sampling: Sampling {
        var copy = self
        copy.closeDay()
        if copy.runLength > 0 { copy.gaps[copy.runGap, default: 0] += copy.runLength }
        // the median of the sorted gaps, element (n - 1) / 2 ... as gaps[gaps.count / 2]
        let n = count - 1
        var median = 0.0
        if n > 0 {
            var seen = 0
            for (gap, c) in copy.gaps.sorted(by: { $0.key < $1.key }) {
                seen += c
                if seen > n / 2 {
                    median = Double(gap) / 1000
                    break
                }
            }
        }
        return Sampling.infer(
            count: count, medianGap: median, weekendBars: copy.weekendBars, barsPerDay: copy.barsPerDay)
    }
}
