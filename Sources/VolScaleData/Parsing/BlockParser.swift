import VolScaleCore

/// Turns the records of a byte range into a `PriceBlock`: one pass, no `String` per field,
/// numbers through `DecimalParser`, times through `TimeParser`.
struct BlockParser {
    let layout: PriceLayout
    let name: String
    let skipBadRows: Bool

    /// Parses the records in `p[start..<end]`, whose first line is line 1 of the block, and
    /// returns where it stopped: the start of an incomplete record, or `end`.
    /// - Parameters:
    ///   - final: no more bytes follow `end` for this range (a cut record is complete).
    ///   - endsFile: `end` is the end of the file, so blank lines there are not rows.
    ///   - previous: the last accepted time before this range, for the order check.
    func parse(
        _ p: UnsafePointer<UInt8>, from start: Int, to end: Int, final: Bool, endsFile: Bool,
        previous: Int64?, into block: inout PriceBlock
    ) -> Int {
        switch layout.kind {
        case .header, .kline:
            return parseCSV(p, from: start, to: end, final: final, endsFile: endsFile, previous: previous, into: &block)
        case .jsonl:
            return parseJSONLines(
                p, from: start, to: end, final: final, endsFile: endsFile, previous: previous, into: &block)
        }
    }

    /// A row estimate for reserving columns: bytes over the shortest of the first 64 lines,
    /// plus an eighth. Generous on purpose: a column that outgrows its reservation is copied
    /// whole (and its pages touched twice), while reserved pages never written cost nothing.
    static func capacity(_ p: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Int {
        var i = start
        var shortest = Int.max
        for _ in 0..<64 where i < end {
            let lineStart = i
            while i < end && i - lineStart < 4096 && p[i] != RecordScanner.lf { i += 1 }
            i += 1
            shortest = min(shortest, i - lineStart)
        }
        let rows = (end - start) / max(8, shortest == Int.max ? 8 : shortest)
        return rows + rows / 8 + 16
    }

    private func parseCSV(
        _ p: UnsafePointer<UInt8>, from start: Int, to end: Int, final: Bool, endsFile: Bool,
        previous: Int64?, into b: inout PriceBlock
    ) -> Int {
        var scanner = RecordScanner(p: p, end: end, final: final, position: start, line: 1)
        let stored = FastRecord.storedFields(layout)
        var storage = [FieldRange](repeating: FieldRange(), count: max(stored, 1))
        var times = TimeParser()
        let priceIsClose = layout.priceIsClose
        var stage = RowStage()
        defer { stage.deallocate() }
        return storage.withUnsafeMutableBufferPointer { fields -> Int in
            let fast = FastRecord(layout: layout)
            defer { b.append(staged: &stage) }
            while true {
                let before = scanner.position
                // the common record first; anything unusual goes through the general scanner,
                // which also words the error
                if let row = fast.parse(p, at: before, end: end, final: final, times: &times) {
                    scanner.position = row.next
                    scanner.line += 1
                    b.lines = scanner.line - 1
                    // a good row is staged and appended in bulk; a bad one goes through
                    // `append`, which names the reason
                    let last = stage.count > 0 ? stage.time[stage.count - 1] : b.lastTime ?? previous
                    let barOK =
                        !b.hasBars
                        || (row.high >= row.low && row.close >= row.low && row.close <= row.high
                            && row.open >= row.low && row.open <= row.high)
                    if barOK && (last.map { row.time > $0 } ?? true) {
                        stage.add(row)
                        if stage.count == RowStage.capacity { b.append(staged: &stage) }
                        continue
                    }
                    b.append(staged: &stage)
                    if !b.append(
                        scanner.line - 1, row.time, price: row.price, open: row.open, high: row.high, low: row.low,
                        close: row.close, volume: row.volume, previous: previous)
                    {
                        return scanner.position
                    }
                    continue
                }
                b.append(staged: &stage)
                guard let record = scanner.next(fields) else { return scanner.position }
                let line = record.line
                if record.blank {
                    // blank lines at the end of the file are not rows; elsewhere they are
                    if scanner.onlyBlankLinesLeft() {
                        if endsFile {
                            b.lines = scanner.line - 1
                            return end
                        }
                        if !final { return before }
                    }
                    b.lines = scanner.line - 1
                    if !b.reject(line, .emptyRow) { return scanner.position }
                    continue
                }
                b.lines = scanner.line - 1
                if let m = record.malformed {
                    if !b.reject(line, m) { return scanner.position }
                    continue
                }
                if layout.kind == .header ? record.fieldCount != layout.fieldCount : record.fieldCount < 6 {
                    let expected = layout.kind == .header ? layout.fieldCount : 6
                    if !b.reject(line, .wrongFieldCount(expected: expected, got: record.fieldCount)) {
                        return scanner.position
                    }
                    continue
                }
                do throws(BadRowReason) {
                    let tf = fields[layout.time]
                    if tf.isEmpty { throw .emptyField(layout.timeName) }
                    guard let t = times.parse(p + tf.start, tf.end - tf.start) else {
                        throw .badTimestamp(RecordScanner.text(p, tf))
                    }
                    var ok: Bool
                    let volume =
                        try layout.volume.map { v throws(BadRowReason) in try number(p, fields[v], "volume", zero: true)
                        } ?? 0
                    if let (o, h, l, c) = layout.ohlc {
                        let open = try number(p, fields[o], "open")
                        let high = try number(p, fields[h], "high")
                        let low = try number(p, fields[l], "low")
                        let close = try number(p, fields[c], "close")
                        let price = priceIsClose ? close : try number(p, fields[layout.price], layout.priceName)
                        ok = b.append(
                            line, t, price: price, open: open, high: high, low: low, close: close, volume: volume,
                            previous: previous)
                    } else {
                        let price = try number(p, fields[layout.price], layout.priceName)
                        ok = b.append(
                            line, t, price: price, open: 0, high: 0, low: 0, close: 0, volume: volume,
                            previous: previous)
                    }
                    if !ok { return scanner.position }
                } catch {
                    if !b.reject(line, error) { return scanner.position }
                }
            }
        }
    }

    /// A positive, finite price from a field (or, with `zero`, a non-negative quantity).
    @inline(__always)
    private func number(_ p: UnsafePointer<UInt8>, _ f: FieldRange, _ name: String, zero: Bool = false)
        throws(BadRowReason) -> Double
    {
        if f.isEmpty { throw .emptyField(name) }
        var s = f.start
        var e = f.end
        if f.quoted {
            while s < e && (p[s] == RecordScanner.space || p[s] == RecordScanner.tab) { s += 1 }
            while e > s && (p[e - 1] == RecordScanner.space || p[e - 1] == RecordScanner.tab) { e -= 1 }
        }
        guard let v = DecimalParser.parse(p + s, e - s) else {
            throw .nonNumeric(field: name, value: RecordScanner.text(p, f))
        }
        guard v.isFinite else { throw .nonFinite(field: name) }
        if zero {
            guard v >= 0 else { throw .negativeQuantity(field: name) }
        } else {
            guard v > 0 else { throw .nonPositivePrice(field: name) }
        }
        return v
    }

    // MARK: - JSON lines

    private func parseJSONLines(
        _ p: UnsafePointer<UInt8>, from start: Int, to end: Int, final: Bool, endsFile: Bool,
        previous: Int64?, into b: inout PriceBlock
    ) -> Int {
        var i = start
        var line = 0
        var times = TimeParser()
        while i < end {
            var j = i
            while j < end && p[j] != RecordScanner.lf { j += 1 }
            if j == end && !final { return i }
            line += 1
            b.lines = line
            var e = j
            if e > i && p[e - 1] == RecordScanner.cr { e -= 1 }
            let next = j < end ? j + 1 : end
            var s = i
            while s < e && (p[s] == RecordScanner.space || p[s] == RecordScanner.tab) { s += 1 }
            if s == e {
                var rest = next
                while rest < end
                    && (p[rest] == RecordScanner.space || p[rest] == RecordScanner.tab || p[rest] == RecordScanner.lf
                        || p[rest] == RecordScanner.cr)
                { rest += 1 }
                if rest == end {
                    if endsFile { return end }
                    if !final { return i }
                }
                if !b.reject(line, .emptyRow) { return next }
                i = next
                continue
            }
            do throws(BadRowReason) {
                guard
                    let object = JSONLineScanner(p: p, start: s, end: e).fields(
                        layout.timeKeys + layout.priceKeys + layout.volumeKeys)
                else {
                    throw .invalidJSON("cannot parse")
                }
                let nt = layout.timeKeys.count
                guard let tIndex = (0..<nt).first(where: { object[$0] != nil }), let tv = object[tIndex] else {
                    throw .emptyField(layout.timeKeys[0])
                }
                let np = nt + layout.priceKeys.count
                guard let pIndex = (nt..<np).first(where: { object[$0] != nil }), let pv = object[pIndex] else {
                    throw .emptyField(layout.priceKeys[0])
                }
                let tName = layout.timeKeys[tIndex]
                let pName = layout.priceKeys[pIndex - nt]
                if tv.isEmpty { throw .emptyField(tName) }
                guard let t = times.parse(p + tv.start, tv.end - tv.start) else {
                    throw .badTimestamp(RecordScanner.text(p, tv))
                }
                let price = try number(p, pv, pName)
                var volume = 0.0
                if b.hasVolume {
                    guard let vIndex = (np..<object.count).first(where: { object[$0] != nil }), let vv = object[vIndex]
                    else {
                        throw .emptyField(layout.volumeKeys[0])
                    }
                    volume = try number(p, vv, layout.volumeKeys[vIndex - np], zero: true)
                }
                if !b.append(
                    line, t, price: price, open: 0, high: 0, low: 0, close: 0, volume: volume, previous: previous)
                {
                    return next
                }
            } catch {
                if !b.reject(line, error) { return next }
            }
            i = next
        }
        return end
    }
}

/// One record of the usual shape read in a single pass: no quotes, no spaces, the time and
/// prices valid, ended by LF or CRLF. nil sends the record to the general scanner (which
/// reads it again and names what is wrong), so this path only ever accepts.
struct FastRecord {
    struct Row {
        var next: Int
        var time: Int64
        var price: Double
        var open = 0.0, high = 0.0, low = 0.0, close = 0.0, volume = 0.0
    }

    /// What each of the first fields is.
    enum Role { case skip, time, price, open, high, low, close, volume }
    let roles: [Role]
    /// Header files have exactly `roles.count` fields; klines at least one more after them.
    let exact: Bool

    /// Fields read from each record: all of them with a header; for klines up to the close,
    /// or the volume when it is wanted.
    static func storedFields(_ layout: PriceLayout) -> Int {
        layout.kind == .kline ? (layout.volume == nil ? 5 : 6) : layout.fieldCount
    }

    init(layout: PriceLayout) {
        var roles = [Role](repeating: .skip, count: Self.storedFields(layout))
        if let (o, h, l, c) = layout.ohlc {
            roles[o] = .open
            roles[h] = .high
            roles[l] = .low
            roles[c] = .close
        }
        if let v = layout.volume { roles[v] = .volume }
        if !layout.priceIsClose { roles[layout.price] = .price }
        roles[layout.time] = .time
        self.roles = roles
        exact = layout.kind == .header
    }

    /// The high bit of each byte of `x` equal to `byte` (SWAR; bytes above a match may be
    /// flagged falsely, the lowest flag never is).
    @inline(__always)
    static func flag(_ x: UInt64, _ byte: UInt8) -> UInt64 {
        let v = x ^ (UInt64(byte) &* 0x0101_0101_0101_0101)
        return (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
    }

    @inline(__always)
    func parse(_ p: UnsafePointer<UInt8>, at start: Int, end: Int, final: Bool, times: inout TimeParser) -> Row? {
        var i = start
        var row = Row(next: 0, time: 0, price: 0)
        let last = roles.count - 1
        for k in 0...last {
            switch roles[k] {
            case .skip:
                while i < end {
                    let c = p[i]
                    if c == 0x2C || c == 0x0A || c == 0x0D { break }
                    if c == 0x22 { return nil }
                    i += 1
                }
            case .time:
                // epoch milliseconds (klines): 12 to 15 digits, two loads
                if i + 16 <= end {
                    let a = SWAR.load(p + i)
                    if SWAR.digitCount(a) == 8 {
                        let b = SWAR.load(p + i + 8)
                        let n = SWAR.digitCount(b)
                        if n >= 4 && n < 8 && p[i + 8 + n] == 0x2C {
                            let v = SWAR.value(a, digits: 8) &* SWAR.powersOfTen[n] &+ SWAR.value(b, digits: n)
                            guard let t = Timestamp.epochMillis(magnitude: Int64(v), negative: false) else {
                                return nil
                            }
                            row.time = t
                            i += 8 + n
                            break
                        }
                    }
                }
                let s = i
                while i < end && p[i] != 0x2C && p[i] != 0x0A && p[i] != 0x0D { i += 1 }
                guard i > s, p[s] != 0x22, p[s] != 0x20, p[i - 1] != 0x20, let t = times.parse(p + s, i - s) else {
                    return nil
                }
                row.time = t
            case .volume:
                guard
                    let (v, n) = DecimalParser.parseShortDecimal(p + i, end - i)
                        ?? DecimalParser.parseLeading(p + i, end - i),
                    v >= 0, v.isFinite
                else { return nil }
                i += n
                row.volume = v
            default:
                guard
                    let (v, n) = DecimalParser.parseShortDecimal(p + i, end - i)
                        ?? DecimalParser.parseLeading(p + i, end - i),
                    v > 0, v.isFinite
                else { return nil }
                i += n
                switch roles[k] {
                case .open: row.open = v
                case .high: row.high = v
                case .low: row.low = v
                case .close:
                    row.close = v
                    row.price = v
                default: row.price = v
                }
            }
            if k < last || !exact {
                guard i < end, p[i] == 0x2C else { return nil }
                i += 1
            }
        }
        if !exact {
            // klines: the rest of the line, which must not hold quotes or a lone CR; eight
            // bytes at a time (the lowest flagged byte of the SWAR test is exact)
            while i + 8 <= end {
                let x = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let m = Self.flag(x, 0x0A) | Self.flag(x, 0x0D) | Self.flag(x, 0x22)
                if m != 0 {
                    i += m.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            while i < end {
                let c = p[i]
                if c == 0x0A || c == 0x0D { break }
                if c == 0x22 { return nil }
                i += 1
            }
        }
        if i == end {
            guard final else { return nil }
            row.next = end
        } else if p[i] == 0x0A {
            row.next = i + 1
        } else if i + 1 < end && p[i] == 0x0D && p[i + 1] == 0x0A {
            row.next = i + 2
        } else {
            return nil
        }
        return row
    }
}

/// Times with the date part remembered: minute and second bars repeat one date for
/// thousands of rows, so the calendar arithmetic runs once per day.
struct TimeParser {
    private var key0: UInt64 = 0
    private var key1: UInt16 = 0
    private var day: Int64 = 0
    private var cached = false

    mutating func parse(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        guard n >= 10, p[4] == 0x2D else { return Timestamp.parse(p, n) }
        let raw = UnsafeRawPointer(p)
        let a = raw.loadUnaligned(as: UInt64.self)
        let b = raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        if !(cached && a == key0 && b == key1) {
            guard let d = Timestamp.parseDate(p) else { return nil }
            key0 = a
            key1 = b
            day = d
            cached = true
        }
        guard let tod = Timestamp.parseTimeOfDay(p, n) else { return nil }
        let t = day + tod
        return EpochMillis.range.contains(t) ? t : nil
    }
}

/// The values of chosen keys in one line of JSON holding an object. Strings, numbers,
/// `true`/`false`/`null`; nested objects and arrays are skipped. Enough of JSON to reject
/// what is not JSON (unbalanced braces, raw control characters in strings, missing
/// separators), not a general parser: the service's request bodies go through Foundation's.
struct JSONLineScanner {
    let p: UnsafePointer<UInt8>
    let start: Int
    let end: Int

    /// For each key, the value's bytes (inside the quotes for a string; empty for `null`),
    /// or nil when the key is absent; nil altogether when the line is not a JSON object.
    func fields(_ keys: [String]) -> [FieldRange?]? {
        var out = [FieldRange?](repeating: nil, count: keys.count)
        let wanted = keys.map { Array($0.utf8) }
        var i = start
        func ws() { while i < end && (p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0D || p[i] == 0x0A) { i += 1 } }
        /// A string starting at i (on the quote); its content range; i after the closing quote.
        func string() -> FieldRange? {
            guard i < end, p[i] == 0x22 else { return nil }
            i += 1
            let s = i
            var escaped = false
            while i < end {
                let c = p[i]
                if c == 0x22 {
                    i += 1
                    return FieldRange(start: s, end: i - 1, quoted: true, escaped: escaped)
                }
                if c < 0x20 { return nil }
                if c == 0x5C {
                    escaped = true
                    i += 2
                    continue
                }
                i += 1
            }
            return nil
        }
        /// Skips a nested object or array.
        func nested() -> Bool {
            var depth = 0
            while i < end {
                let c = p[i]
                if c == 0x22 {
                    guard string() != nil else { return false }
                    continue
                }
                if c == 0x7B || c == 0x5B {
                    depth += 1
                } else if c == 0x7D || c == 0x5D {
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                }
                i += 1
            }
            return false
        }
        ws()
        guard i < end, p[i] == 0x7B else { return nil }
        i += 1
        ws()
        if i < end && p[i] == 0x7D {
            i += 1
        } else {
            while true {
                ws()
                guard let key = string() else { return nil }
                ws()
                guard i < end, p[i] == 0x3A else { return nil }
                i += 1
                ws()
                guard i < end else { return nil }
                var value: FieldRange
                let c = p[i]
                if c == 0x22 {
                    guard let v = string() else { return nil }
                    value = v
                } else if c == 0x7B || c == 0x5B {
                    guard nested() else { return nil }
                    value = FieldRange(start: i, end: i)
                } else {
                    let s = i
                    while i < end, p[i] != 0x2C, p[i] != 0x7D, p[i] != 0x20, p[i] != 0x09 { i += 1 }
                    guard i > s else { return nil }
                    let token = String(decoding: UnsafeBufferPointer(start: p + s, count: i - s), as: UTF8.self)
                    if token == "null" {
                        value = FieldRange(start: s, end: s)
                    } else if token == "true" || token == "false" {
                        value = FieldRange(start: s, end: i)
                    } else {
                        guard
                            token.utf8.allSatisfy({
                                ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2B || $0 == 0x2E || $0 == 0x65
                                    || $0 == 0x45
                            })
                        else { return nil }
                        value = FieldRange(start: s, end: i)
                    }
                }
                let keyLength = key.end - key.start
                for (n, w) in wanted.enumerated() where out[n] == nil && w.count == keyLength {
                    if (0..<keyLength).allSatisfy({ p[key.start + $0] == w[$0] }) { out[n] = value }
                }
                ws()
                guard i < end else { return nil }
                if p[i] == 0x2C {
                    i += 1
                    continue
                }
                if p[i] == 0x7D {
                    i += 1
                    break
                }
                return nil
            }
        }
        ws()
        return i == end ? out : nil
    }
}
