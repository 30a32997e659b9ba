import Dispatch
import VolScaleCore

/// Where the columns of a price file are, found from its first record.
struct PriceLayout: Sendable {
    enum Kind: Sendable { case header, kline, jsonl }
    var kind: Kind
    /// Fields per record: exactly this many with a header, at least this many for klines.
    var fieldCount: Int
    var time: Int
    var timeName: String
    var price: Int
    var priceName: String
    /// open, high, low, close field indices when the file has bars.
    var ohlc: (open: Int, high: Int, low: Int, close: Int)?
    /// The volume field, read only when the caller asks for volumes.
    var volume: Int?
    /// JSON lines: the keys tried for the time and for the price, in order.
    var timeKeys: [String] = []
    var priceKeys: [String] = []
    var volumeKeys: [String] = []

    /// True when the price column is the bar's close, so one column serves both.
    var priceIsClose: Bool { ohlc.map { $0.close == price } ?? false }
    var hasBars: Bool { ohlc != nil }
}

/// A run of accepted rows in columns, with what was rejected on the way: the unit that a
/// chunk of a file parses into, that the parallel reader concatenates and the streaming
/// reader hands on. Row-local checks and the time order within the block are done here;
/// line numbers are relative to the block's first line until `offsetLines` fixes them.
public struct PriceBlock: Sendable {
    /// UTC epoch milliseconds, strictly increasing.
    public internal(set) var timestamps: [Int64] = []
    /// The price used for returns (close, or the chosen column).
    public internal(set) var price: [Double] = []
    /// Bars, when the file has open/high/low/close; `close` is empty when it is `price`.
    public internal(set) var open: [Double] = []
    public internal(set) var high: [Double] = []
    public internal(set) var low: [Double] = []
    var close: [Double] = []
    /// Traded volume per row (non-negative, in the file's unit), when the reader was asked for it.
    public internal(set) var volume: [Double] = []
    public internal(set) var skipped = SkipReport()
    /// The first bad row when rows are not skipped (parsing stopped there).
    var error: DataError?
    /// Physical lines consumed.
    var lines = 0

    let name: String
    let skipBadRows: Bool
    /// True when the rows have open, high, low and close.
    public let hasBars: Bool
    /// True when the rows carry a volume.
    public let hasVolume: Bool
    let separateClose: Bool

    init(name: String, skipBadRows: Bool, layout: PriceLayout, capacity: Int) {
        self.name = name
        self.skipBadRows = skipBadRows
        self.hasBars = layout.hasBars
        self.hasVolume = layout.volume != nil
        self.separateClose = layout.hasBars && !layout.priceIsClose
        timestamps.reserveCapacity(capacity)
        price.reserveCapacity(capacity)
        if hasBars {
            open.reserveCapacity(capacity)
            high.reserveCapacity(capacity)
            low.reserveCapacity(capacity)
            if separateClose { close.reserveCapacity(capacity) }
        }
        if hasVolume { volume.reserveCapacity(capacity) }
    }

    public var count: Int { timestamps.count }
    var lastTime: Int64? { timestamps.last }

    /// The bar closes (the price column when that is the close).
    public var barClose: [Double] { separateClose ? close : price }

    /// Records a bad row; false when parsing must stop (rows are not being skipped).
    mutating func reject(_ line: Int, _ reason: BadRowReason) -> Bool {
        let e = DataError(file: name, line: line, kind: .badRow(reason))
        guard skipBadRows else {
            if error == nil { error = e }
            return false
        }
        skipped.record(e, reason: reason)
        return true
    }

    /// Appends a row after the bar and time-order checks; false when parsing must stop.
    mutating func append(
        _ line: Int, _ t: Int64, price p: Double, open o: Double, high h: Double, low l: Double, close c: Double,
        volume v: Double = 0, previous: Int64?
    ) -> Bool {
        if hasBars {
            if h < l { return reject(line, .highBelowLow) }
            if c < l || c > h { return reject(line, .closeOutsideRange) }
            if o < l || o > h { return reject(line, .openOutsideRange) }
        }
        if let last = timestamps.last ?? previous {
            if t < last { return reject(line, .timeBackwards) }
            if t == last { return reject(line, .duplicateTimestamp) }
        }
        timestamps.append(t)
        price.append(p)
        if hasBars {
            open.append(o)
            high.append(h)
            low.append(l)
            if separateClose { close.append(c) }
        }
        if hasVolume { volume.append(v) }
        return true
    }

    /// Appends the staged rows (already checked) in bulk and empties the stage.
    mutating func append(staged s: inout RowStage) {
        guard s.count > 0 else { return }
        let n = s.count
        timestamps.append(contentsOf: UnsafeBufferPointer(start: s.time, count: n))
        price.append(contentsOf: UnsafeBufferPointer(start: s.price, count: n))
        if hasBars {
            open.append(contentsOf: UnsafeBufferPointer(start: s.open, count: n))
            high.append(contentsOf: UnsafeBufferPointer(start: s.high, count: n))
            low.append(contentsOf: UnsafeBufferPointer(start: s.low, count: n))
            if separateClose { close.append(contentsOf: UnsafeBufferPointer(start: s.close, count: n)) }
        }
        if hasVolume { volume.append(contentsOf: UnsafeBufferPointer(start: s.volume, count: n)) }
        s.count = 0
    }

    /// Moves line numbers from block-relative to file lines.
    mutating func offsetLines(by n: Int) {
        guard n != 0 else { return }
        error?.line += n
        skipped.examples = skipped.examples.map {
            var e = $0
            e.line += n
            return e
        }
    }

    /// Appends blocks that follow this one in the file (their lines already offset), one
    /// column per worker: the copies, and the page faults of the rows they add, are most of
    /// a merge. Same result as appending them one by one.
    mutating func append(contentsOf blocks: [PriceBlock]) {
        /// The columns while the workers append: each worker touches one property only.
        final class Columns: @unchecked Sendable {
            var timestamps: [Int64], price: [Double], open: [Double], high: [Double], low: [Double], close: [Double],
                volume: [Double]
            init(_ b: PriceBlock) {
                (timestamps, price, open, high, low, close, volume) = (
                    b.timestamps, b.price, b.open, b.high, b.low, b.close, b.volume
                )
            }
        }
        let c = Columns(self)
        // the class holds the only references, so the appends happen in place
        (timestamps, price, open, high, low, close, volume) = ([], [], [], [], [], [], [])
        DispatchQueue.concurrentPerform(iterations: 7) { k in
            for b in blocks {
                switch k {
                case 0: c.timestamps += b.timestamps
                case 1: c.price += b.price
                case 2: c.open += b.open
                case 3: c.high += b.high
                case 4: c.low += b.low
                case 5: c.close += b.close
                default: c.volume += b.volume
                }
            }
        }
        (timestamps, price, open, high, low, close, volume) = (
            c.timestamps, c.price, c.open, c.high, c.low, c.close, c.volume
        )
        for b in blocks {
            skipped.merge(b.skipped)
            lines += b.lines
            if error == nil { error = b.error }
        }
    }

    /// Empties the columns, keeping their storage (the streaming reader reuses a block).
    mutating func removeRows() {
        timestamps.removeAll(keepingCapacity: true)
        price.removeAll(keepingCapacity: true)
        open.removeAll(keepingCapacity: true)
        high.removeAll(keepingCapacity: true)
        low.removeAll(keepingCapacity: true)
        close.removeAll(keepingCapacity: true)
        volume.removeAll(keepingCapacity: true)
    }
}

extension SkipReport {
    /// Adds another report's counts and examples (up to five).
    mutating func merge(_ other: SkipReport) {
        for (k, v) in other.counts { counts[k, default: 0] += v }
        for e in other.examples where examples.count < 5 { examples.append(e) }
    }
}

/// Rows of the fast path gathered in fixed buffers, so that the columns grow by bulk copies
/// instead of one checked append per value.
struct RowStage {
    static let capacity = 1024
    let time = UnsafeMutablePointer<Int64>.allocate(capacity: capacity)
    let price = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    let open = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    let high = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    let low = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    let close = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    let volume = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
    var count = 0

    @inline(__always)
    mutating func add(_ row: FastRecord.Row) {
        time[count] = row.time
        price[count] = row.price
        open[count] = row.open
        high[count] = row.high
        low[count] = row.low
        close[count] = row.close
        volume[count] = row.volume
        count += 1
    }

    func deallocate() {
        time.deallocate()
        price.deallocate()
        open.deallocate()
        high.deallocate()
        low.deallocate()
        close.deallocate()
        volume.deallocate()
    }
}
