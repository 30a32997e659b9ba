import Foundation
import VolScaleCore

/// Reads price series from the formats exchanges and data vendors publish.
///
/// - CSV with a header: a date/time column (`date`, `timestamp`, `time`, `datetime`,
///   `open_time` or `ts`) and `close` (or `price`, or the column named by `column`);
///   with `open`, `high`, `low`, `close` the bars are kept for range estimators.
/// - Headerless exchange kline CSV (the Binance public archive layout): open time in
///   epoch s, ms, us or ns, open, high, low, close, volume, then anything.
/// - JSON lines of ticks: `{"ts": ..., "price": ...}` (`timestamp`/`time` and `close`
///   are accepted too; ts as epoch number or ISO string).
///
/// CSV as RFC 4180 defines it (quotes, CRLF, a byte-order mark), read as bytes; a file may
/// be gzip-compressed or a zip archive holding one file. `read` gives the whole series in
/// columns (parsed on every core), `stream` gives it block by block in constant memory.
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
    /// Read the traded volume too (`volume` column; the sixth kline field; `volume`, `qty` or
    /// `size` in JSON lines). A file without one is an error; a negative volume is a bad row,
    /// zero is accepted.
    public var volume: Bool

    public init(format: Format = .auto, column: String? = nil, skipBadRows: Bool = false, volume: Bool = false) {
        self.format = format
        self.column = column
        self.skipBadRows = skipBadRows
        self.volume = volume
    }

    public struct Output: Sendable {
        public var series: PriceSeries
        public var skipped: SkipReport
    }

    /// Reads a file; `path == "-"` reads standard input. Plain files are memory-mapped and
    /// parsed on every core; `.gz` files and zip archives holding one file are inflated first.
    public func read(path: String) throws(DataError) -> Output {
        let name = path == "-" ? "<stdin>" : path
        do {
            return try ByteSource.withContents(path: path, name: name) { bytes in try parse(bytes: bytes, name: name) }
        } catch let e as DataError {
            throw e
        } catch {
            throw DataError(file: name, line: 0, kind: .unreadable("\(error)"))
        }
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadInapplicableStringEncodingError {
            return "not UTF-8 text"
        }
        return ns.localizedDescription
    }

    /// Parses file contents; `name` is used in messages.
    public func parse(_ text: String, name: String) throws(DataError) -> Output {
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { b in Result { () throws(DataError) in try parse(bytes: b, name: name) } }
        return try result.get()
    }

    /// Parses the bytes of a whole file.
    public func parse(bytes: UnsafeRawBufferPointer, name: String) throws(DataError) -> Output {
        guard let raw = bytes.baseAddress, bytes.count > 0 else {
            throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: 0))
        }
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let head = try Head(p, count: bytes.count, reader: self, name: name, final: true)
        let block = Self.parseParallel(
            p, from: head.bodyStart, to: bytes.count, layout: head.layout, name: name,
            skipBadRows: skipBadRows, lineOffset: head.lines)
        if let e = block.error { throw e }
        return try Self.output(block, name: name)
    }

    static func output(_ block: PriceBlock, name: String) throws(DataError) -> Output {
        guard block.count >= 2 else {
            throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: block.count))
        }
        // every bar was checked on the way in (PriceBlock.append), with the same rules
        let bars =
            block.hasBars
            ? OHLCBars(checkedOpen: block.open, high: block.high, low: block.low, close: block.barClose) : nil
        return Output(
            series: PriceSeries(
                checked: name, timestamps: block.timestamps, close: block.price, bars: bars,
                volume: block.hasVolume ? block.volume : nil),
            skipped: block.skipped)
    }

    /// Reads a file in constant memory: `body` gets the accepted rows block by block, in
    /// file order (each block's arrays are reused after `body` returns). For files larger
    /// than memory and for the one-pass filters. Returns what was skipped.
    public func stream(path: String, blockBytes: Int = 4 << 20, _ body: (PriceBlock) throws -> Void) throws
        -> SkipReport
    {
        let name = path == "-" ? "<stdin>" : path
        var parser = StreamParser(reader: self, name: name, blockBytes: blockBytes)
        try ByteSource.chunks(path: path, name: name) { chunk in try parser.feed(chunk, body) }
        try parser.finish(body)
        return parser.skipped
    }

    /// The streaming reader over bytes in memory (gzip data is inflated), cut into chunks
    /// of `chunkSize`: the same path as a file or a pipe, for tests and the fuzz target.
    public func stream(
        bytes: UnsafeRawBufferPointer, name: String, blockBytes: Int = 4 << 20, chunkSize: Int = 1 << 20,
        _ body: (PriceBlock) throws -> Void
    ) throws -> SkipReport {
        var parser = StreamParser(reader: self, name: name, blockBytes: blockBytes)
        let inflater = ByteSource.kind(of: Array(bytes.prefix(2))) == .gzip ? try Inflater(name: name) : nil
        var offset = 0
        while offset < bytes.count {
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(offset + max(chunkSize, 1), bytes.count)])
            if let inflater {
                try inflater.inflate(chunk) { try parser.feed($0, body) }
            } else {
                try parser.feed(chunk, body)
            }
            offset += chunk.count
        }
        try inflater?.finish()
        try parser.finish(body)
        return parser.skipped
    }

    static let timeColumns = ["date", "timestamp", "time", "datetime", "open_time", "ts"]

    /// The parts split at line breaks for parsing on several cores: 2 MiB at least each, one
    /// per core; a header CSV with quotes is parsed in one part (a quoted field may hold a
    /// line break, so a line break is not known to end a record without reading from the start).
    static func parseParallel(
        _ p: UnsafePointer<UInt8>, from start: Int, to end: Int, layout: PriceLayout, name: String,
        skipBadRows: Bool, lineOffset: Int
    ) -> PriceBlock {
        let parser = BlockParser(layout: layout, name: name, skipBadRows: skipBadRows)
        let size = end - start
        var parts = 1
        if size >= 4 << 20 {
            let cores = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16))
            parts = max(1, min(cores, size / (2 << 20)))
        }
        if parts > 1 && layout.kind == .header && memchr(p + start, 0x22, size) != nil { parts = 1 }
        var bounds = [start]
        for k in 1..<max(parts, 1) {
            var b = max(start + size * k / parts, bounds[k - 1])
            while b < end && p[b - 1] != RecordScanner.lf { b += 1 }
            bounds.append(b)
        }
        bounds.append(end)
        let job = PartParser(p: p, bounds: bounds, parser: parser, layout: layout, name: name, skipBadRows: skipBadRows)
        if parts == 1 {
            var block = job.part(0, previous: nil)
            block.offsetLines(by: lineOffset)
            return block
        }
        let results = UnsafeMutableBufferPointer<PriceBlock?>.allocate(capacity: parts)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let slots = Slots(results: results)
        DispatchQueue.concurrentPerform(iterations: parts) { k in
            slots.results[k] = job.part(k, previous: nil)
        }
        guard var merged = results[0] else {
            return PriceBlock(name: name, skipBadRows: skipBadRows, layout: layout, capacity: 0)
        }
        results[0] = nil
        merged.offsetLines(by: lineOffset)
        var lineBase = lineOffset + merged.lines
        var following: [PriceBlock] = []
        var last = merged.lastTime
        var failed = merged.error != nil
        for k in 1..<parts where !failed {
            guard var part = results[k] else { continue }
            // a part's first row was checked against nothing: when it does not follow the rows
            // before, parse the part again knowing them (only with rows out of order)
            if let last, let first = part.timestamps.first, first <= last {
                part = job.part(k, previous: last)
            }
            part.offsetLines(by: lineBase)
            lineBase += part.lines
            last = part.lastTime ?? last
            failed = part.error != nil
            following.append(part)
            results[k] = nil
        }
        merged.append(contentsOf: following)
        return merged
    }
}

/// One part of the parallel parse: parts are separated by line breaks, each parsed into its
/// own block by one worker. (Unchecked Sendable: the workers only read the buffer, which
/// outlives them, and each writes its own slot.)
private struct PartParser: @unchecked Sendable {
    let p: UnsafePointer<UInt8>
    let bounds: [Int]
    let parser: BlockParser
    let layout: PriceLayout
    let name: String
    let skipBadRows: Bool

    func part(_ k: Int, previous: Int64?) -> PriceBlock {
        // the first part reserves room for the whole file, so the others append to it in place
        // (reserved pages that are never written cost no memory)
        let to = k == 0 ? bounds[bounds.count - 1] : bounds[k + 1]
        var block = PriceBlock(
            name: name, skipBadRows: skipBadRows, layout: layout,
            capacity: BlockParser.capacity(p, from: bounds[k], to: to))
        _ = parser.parse(
            p, from: bounds[k], to: bounds[k + 1], final: true, endsFile: k == bounds.count - 2,
            previous: previous, into: &block)
        return block
    }
}

private struct Slots: @unchecked Sendable {
    let results: UnsafeMutableBufferPointer<PriceBlock?>
}

/// The start of a file: byte-order mark, leading blank lines, and the header record (or
/// the first record, for klines and JSON lines), which give the layout.
struct Head {
    var layout: PriceLayout
    /// Where the rows start.
    var bodyStart: Int
    /// Lines before `bodyStart`.
    var lines: Int

    /// nil from the streaming reader when the first record is not complete yet (`final` false).
    init(_ p: UnsafePointer<UInt8>, count: Int, reader: PriceFileReader, name: String, final: Bool) throws(DataError) {
        guard let head = try Self.find(p, count: count, reader: reader, name: name, final: final) else {
            throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: 0))
        }
        self = head
    }

    private init(layout: PriceLayout, bodyStart: Int, lines: Int) {
        self.layout = layout
        self.bodyStart = bodyStart
        self.lines = lines
    }

    /// The head, nil when there is no complete first record yet (or no record at all when final).
    static func find(
        _ p: UnsafePointer<UInt8>, count: Int, reader: PriceFileReader, name: String,
        final: Bool
    ) throws(DataError) -> Head? {
        let column = reader.column
        var start = 0
        if count >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { start = 3 }
        if count >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF)) {
            throw DataError(file: name, line: 0, kind: .unknownFormat("UTF-16 text; save the file as UTF-8"))
        }
        var scanner = RecordScanner(p: p, end: count, final: final, position: start, line: 1)
        var fields = [FieldRange](repeating: FieldRange(), count: 256)
        var recordStart = start
        var record: RecordScanner.Record?
        while true {
            recordStart = scanner.position
            guard let r = fields.withUnsafeMutableBufferPointer({ scanner.next($0) }) else { return nil }
            if !r.blank {
                record = r
                break
            }
        }
        guard let record else { return nil }
        let lineBefore = record.line - 1
        var kind = reader.format
        let first = fields[0]
        if kind == .auto {
            var s = recordStart
            while s < count && (p[s] == RecordScanner.space || p[s] == RecordScanner.tab) { s += 1 }
            if s < count && p[s] == 0x7B {
                kind = .jsonl
            } else if !first.quoted, DecimalParser.parse(p + first.start, first.end - first.start) != nil {
                kind = .kline
            } else {
                kind = .csv
            }
        }
        switch kind {
        case .jsonl:
            let price = column ?? "price"
            var layout = PriceLayout(
                kind: .jsonl, fieldCount: 0, time: 0, timeName: "ts", price: 0, priceName: price, ohlc: nil,
                timeKeys: ["ts", "timestamp", "time"], priceKeys: [price, "close"],
                volumeKeys: reader.volume ? ["volume", "qty", "size"] : [])
            layout.volume = reader.volume ? 0 : nil
            return Head(layout: layout, bodyStart: recordStart, lines: lineBefore)
        case .kline:
            let layout = PriceLayout(
                kind: .kline, fieldCount: 6, time: 0, timeName: "open_time", price: 4, priceName: "close",
                ohlc: (1, 2, 3, 4), volume: reader.volume ? 5 : nil)
            return Head(layout: layout, bodyStart: recordStart, lines: lineBefore)
        case .csv, .auto:
            guard record.fieldCount <= fields.count else {
                throw DataError(
                    file: name, line: record.line,
                    kind: .unknownFormat("more than \(fields.count) columns in the header"))
            }
            let header = (0..<record.fieldCount).map { RecordScanner.text(p, fields[$0], limit: 200).lowercased() }
            guard let tCol = PriceFileReader.timeColumns.lazy.compactMap({ header.firstIndex(of: $0) }).first else {
                throw DataError(file: name, line: record.line, kind: .missingColumn("date", available: header))
            }
            let priceName = column?.lowercased() ?? (header.contains("close") ? "close" : "price")
            guard let pCol = header.firstIndex(of: priceName) else {
                throw DataError(file: name, line: record.line, kind: .missingColumn(priceName, available: header))
            }
            var ohlc: (Int, Int, Int, Int)?
            if let o = header.firstIndex(of: "open"), let h = header.firstIndex(of: "high"),
                let l = header.firstIndex(of: "low"), let c = header.firstIndex(of: "close")
            {
                ohlc = (o, h, l, c)
            }
            var volume: Int?
            if reader.volume {
                guard let v = header.firstIndex(of: "volume") else {
                    throw DataError(file: name, line: record.line, kind: .missingColumn("volume", available: header))
                }
                volume = v
            }
            let layout = PriceLayout(
                kind: .header, fieldCount: record.fieldCount, time: tCol, timeName: header[tCol],
                price: pCol, priceName: priceName, ohlc: ohlc, volume: volume)
            return Head(layout: layout, bodyStart: scanner.position, lines: scanner.line - 1)
        }
    }
}

/// The streaming reader's state: bytes carried over between chunks, the layout once the
/// head is read, the last time accepted, the line count so far.
struct StreamParser {
    let reader: PriceFileReader
    let name: String
    let blockBytes: Int
    var buffer: [UInt8] = []
    var head: Head?
    var block: PriceBlock?
    var lines = 0
    var last: Int64?
    var skipped = SkipReport()
    var rows = 0
    /// A record longer than this is an error, not a reason to use all memory.
    static let longestRecord = 64 << 20

    init(reader: PriceFileReader, name: String, blockBytes: Int) {
        self.reader = reader
        self.name = name
        self.blockBytes = blockBytes
        buffer.reserveCapacity(blockBytes * 2)
    }

    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ body: (PriceBlock) throws -> Void) throws {
        buffer.append(contentsOf: chunk)
        if buffer.count >= blockBytes { try drain(final: false, body) }
    }

    mutating func finish(_ body: (PriceBlock) throws -> Void) throws {
        try drain(final: true, body)
        guard rows >= 2 else { throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: rows)) }
    }

    private mutating func drain(final: Bool, _ body: (PriceBlock) throws -> Void) throws {
        let consumed = try buffer.withUnsafeBytes { raw throws -> Int in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                if final { throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: rows)) }
                return 0
            }
            var start = 0
            if head == nil {
                guard let h = try Head.find(base, count: raw.count, reader: reader, name: name, final: final) else {
                    if final { throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: 0)) }
                    if raw.count > Self.longestRecord {
                        throw DataError(file: name, line: 1, kind: .unknownFormat("no line break in the first 64 MiB"))
                    }
                    return 0
                }
                head = h
                lines = h.lines
                start = h.bodyStart
                block = PriceBlock(
                    name: name, skipBadRows: reader.skipBadRows, layout: h.layout, capacity: raw.count / 40 + 16)
            }
            guard let layout = head?.layout, var b = block else { return 0 }
            block = nil
            b.removeRows()
            b.skipped = SkipReport()
            b.lines = 0
            let parser = BlockParser(layout: layout, name: name, skipBadRows: reader.skipBadRows)
            let stop = parser.parse(
                base, from: start, to: raw.count, final: final, endsFile: final, previous: last, into: &b)
            b.offsetLines(by: lines)
            if let e = b.error { throw e }
            if !final && stop == start && raw.count - start > Self.longestRecord {
                throw DataError(file: name, line: lines + 1, kind: .unknownFormat("a record longer than 64 MiB"))
            }
            lines += b.lines
            last = b.lastTime ?? last
            rows += b.count
            skipped.merge(b.skipped)
            if b.count > 0 { try body(b) }
            block = b
            return stop
        }
        if consumed > 0 { buffer.removeFirst(consumed) }
    }
}
