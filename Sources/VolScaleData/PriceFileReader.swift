import Foundation
import VolScaleCore

/// Reads price series from the formats exchanges and data vendors publish.
///
/// - CSV with a header: a date/time column (`date`, `timestamp`, `time`, `datetime`,
///   `open_time` or `ts`) and `close` (or `price`, or the column named by `column`);
///   with `open`, `high`, `low`, `close` the bars are kept for range estimators.
/// - Headerless exchange kline CSV (the Binance public archive layout): open time in
///   epoch ms or us, open, high, low, close, volume, then anything.
/// - JSON lines of ticks: `{"ts": ..., "price": ...}` (`timestamp`/`time` and `close`
///   are accepted too; ts as epoch number or ISO string).
///
/// A bad row (empty, a field empty or not a number, non-positive price, high < low, close
/// or open outside [low, high], time going backwards, duplicate timestamp) is an error
/// naming file, line and reason; with `skipBadRows` it is skipped and counted instead.
public struct PriceFileReader: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case auto, csv, kline, jsonl
    }

    public var format: Format
    /// Price column to use instead of `close` (CSV with header only).
    public var column: String?
    public var skipBadRows: Bool

    public init(format: Format = .auto, column: String? = nil, skipBadRows: Bool = false) {
        self.format = format
        self.column = column
        self.skipBadRows = skipBadRows
    }

    public struct Output: Sendable {
        public var series: PriceSeries
        public var skipped: SkipReport
    }

    /// Reads a file; `path == "-"` reads standard input.
    public func read(path: String) throws(DataError) -> Output {
        let name = path == "-" ? "<stdin>" : path
        let text: String
        do {
            if path == "-" {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                text = String(decoding: data, as: UTF8.self)
            } else {
                text = try String(contentsOfFile: path, encoding: .utf8)
            }
        } catch {
            throw DataError(file: name, line: 0, kind: .unreadable(Self.describe(error)))
        }
        return try parse(text, name: name)
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadInapplicableStringEncodingError { return "not UTF-8 text" }
        return ns.localizedDescription
    }

    /// Parses file contents; `name` is used in messages.
    public func parse(_ text: String, name: String) throws(DataError) -> Output {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        // A final newline does not make an empty row.
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let first = lines.first(where: { !$0.isEmpty }) else {
            throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: 0))
        }
        var fmt = format
        if fmt == .auto {
            let trimmed = first.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("{") {
                fmt = .jsonl
            } else if let f = trimmed.split(separator: ",").first, Double(f) != nil {
                fmt = .kline
            } else {
                fmt = .csv
            }
        }
        var builder = SeriesBuilder(name: name, skipBadRows: skipBadRows)
        switch fmt {
        case .csv, .auto: try parseHeaderCSV(lines, into: &builder)
        case .kline: try parseKline(lines, into: &builder)
        case .jsonl: try parseJSONLines(lines, into: &builder)
        }
        return try builder.finish()
    }

    static let timeColumns = ["date", "timestamp", "time", "datetime", "open_time", "ts"]

    private func parseHeaderCSV(_ lines: [Substring], into b: inout SeriesBuilder) throws(DataError) {
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")).lowercased() }
        guard let tCol = Self.timeColumns.lazy.compactMap({ header.firstIndex(of: $0) }).first else {
            throw DataError(file: b.name, line: 1, kind: .missingColumn("date", available: header))
        }
        let priceName = column?.lowercased() ?? (header.contains("close") ? "close" : "price")
        guard let pCol = header.firstIndex(of: priceName) else {
            throw DataError(file: b.name, line: 1, kind: .missingColumn(priceName, available: header))
        }
        var ohlc: (Int, Int, Int, Int)?
        if let o = header.firstIndex(of: "open"), let h = header.firstIndex(of: "high"),
           let l = header.firstIndex(of: "low"), let c = header.firstIndex(of: "close") {
            ohlc = (o, h, l, c)
            b.hasOHLC = true
        }
        for i in 1..<lines.count {
            let lineNo = i + 1
            let line = lines[i]
            if line.trimmingCharacters(in: .whitespaces).isEmpty { try b.reject(lineNo, .emptyRow); continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
            guard f.count == header.count else { try b.reject(lineNo, .wrongFieldCount(expected: header.count, got: f.count)); continue }
            do {
                let t = try Self.timestamp(f[tCol], field: header[tCol])
                if let (o, h, l, c) = ohlc {
                    let open = try Self.price(f[o], field: "open"), high = try Self.price(f[h], field: "high")
                    let low = try Self.price(f[l], field: "low"), close = try Self.price(f[c], field: "close")
                    let price = pCol == c ? close : try Self.price(f[pCol], field: priceName)
                    try b.append(lineNo, t, price: price, bar: (open, high, low, close))
                } else {
                    try b.append(lineNo, t, price: try Self.price(f[pCol], field: priceName))
                }
            } catch let reason as BadRowReason {
                try b.reject(lineNo, reason)
            } catch let error as DataError {
                throw error
            } catch {
                throw DataError(file: b.name, line: lineNo, kind: .unreadable("\(error)"))
            }
        }
    }

    private func parseKline(_ lines: [Substring], into b: inout SeriesBuilder) throws(DataError) {
        b.hasOHLC = true
        for (i, line) in lines.enumerated() {
            let lineNo = i + 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { try b.reject(lineNo, .emptyRow); continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 6 else { try b.reject(lineNo, .wrongFieldCount(expected: 6, got: f.count)); continue }
            do {
                let t = try Self.timestamp(f[0], field: "open_time")
                let open = try Self.price(f[1], field: "open"), high = try Self.price(f[2], field: "high")
                let low = try Self.price(f[3], field: "low"), close = try Self.price(f[4], field: "close")
                try b.append(lineNo, t, price: close, bar: (open, high, low, close))
            } catch let reason as BadRowReason {
                try b.reject(lineNo, reason)
            } catch let error as DataError {
                throw error
            } catch {
                throw DataError(file: b.name, line: lineNo, kind: .unreadable("\(error)"))
            }
        }
    }

    private func parseJSONLines(_ lines: [Substring], into b: inout SeriesBuilder) throws(DataError) {
        for (i, line) in lines.enumerated() {
            let lineNo = i + 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { try b.reject(lineNo, .emptyRow); continue }
            let object: [String: Any]
            do {
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    try b.reject(lineNo, .invalidJSON("not an object"))
                    continue
                }
                object = o
            } catch let e as DataError {
                throw e
            } catch {
                try b.reject(lineNo, .invalidJSON("cannot parse"))
                continue
            }
            do {
                guard let tKey = ["ts", "timestamp", "time"].first(where: { object[$0] != nil }) else { throw BadRowReason.emptyField("ts") }
                guard let pKey = [column ?? "price", "close"].first(where: { object[$0] != nil }) else { throw BadRowReason.emptyField(column ?? "price") }
                let t = try Self.timestamp(Self.text(object[tKey]), field: tKey)
                try b.append(lineNo, t, price: try Self.price(Self.text(object[pKey]), field: pKey))
            } catch let reason as BadRowReason {
                try b.reject(lineNo, reason)
            } catch let error as DataError {
                throw error
            } catch {
                throw DataError(file: b.name, line: lineNo, kind: .unreadable("\(error)"))
            }
        }
    }

    static func text(_ v: Any?) -> String {
        switch v {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: return ""
        }
    }

    static func timestamp(_ s: String, field: String) throws -> Int64 {
        if s.isEmpty { throw BadRowReason.emptyField(field) }
        guard let t = Timestamp.parse(s) else { throw BadRowReason.badTimestamp(s) }
        return t
    }

    static func price(_ s: String, field: String) throws -> Double {
        if s.isEmpty { throw BadRowReason.emptyField(field) }
        guard let v = Double(s) else { throw BadRowReason.nonNumeric(field: field, value: s) }
        guard v.isFinite else { throw BadRowReason.nonFinite(field: field) }
        guard v > 0 else { throw BadRowReason.nonPositivePrice(field: field) }
        return v
    }
}

/// Accumulates accepted rows, enforces ordering, and either throws or counts rejects.
struct SeriesBuilder {
    let name: String
    let skipBadRows: Bool
    var hasOHLC = false
    var timestamps: [Int64] = []
    /// The price used for returns; barClose is the bar's own close (they differ when the
    /// user picks another column, e.g. adj_close).
    var price: [Double] = []
    var open: [Double] = [], high: [Double] = [], low: [Double] = [], barClose: [Double] = []
    var skipped = SkipReport()

    init(name: String, skipBadRows: Bool) {
        self.name = name
        self.skipBadRows = skipBadRows
    }

    mutating func reject(_ line: Int, _ reason: BadRowReason) throws(DataError) {
        let error = DataError(file: name, line: line, kind: .badRow(reason))
        guard skipBadRows else { throw error }
        skipped.record(error, reason: reason)
    }

    mutating func append(_ line: Int, _ t: Int64, price p: Double, bar: (open: Double, high: Double, low: Double, close: Double)? = nil) throws(DataError) {
        if let bar {
            if bar.high < bar.low { try reject(line, .highBelowLow); return }
            if bar.close < bar.low || bar.close > bar.high { try reject(line, .closeOutsideRange); return }
            if bar.open < bar.low || bar.open > bar.high { try reject(line, .openOutsideRange); return }
        }
        if let last = timestamps.last {
            if t < last { try reject(line, .timeBackwards); return }
            if t == last { try reject(line, .duplicateTimestamp); return }
        }
        timestamps.append(t)
        price.append(p)
        if let bar {
            open.append(bar.open)
            high.append(bar.high)
            low.append(bar.low)
            barClose.append(bar.close)
        }
    }

    func finish() throws(DataError) -> PriceFileReader.Output {
        guard price.count >= 2 else { throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: price.count)) }
        var bars: OHLCBars?
        if hasOHLC && open.count == price.count {
            // every bar was validated on the way in, so this cannot fail
            bars = try? OHLCBars(open: open, high: high, low: low, close: barClose)
        }
        return .init(series: PriceSeries(source: name, timestamps: timestamps, close: price, bars: bars), skipped: skipped)
    }
}
