/// A field's bytes within the buffer: `[start, end)`, quotes removed, surrounding spaces
/// and tabs trimmed; `escaped` when a quoted field holds a doubled quote (`""`).
struct FieldRange {
    var start = 0
    var end = 0
    var quoted = false
    var escaped = false
    var isEmpty: Bool { end <= start }
}

/// Splits bytes into records and fields as RFC 4180 defines CSV: fields separated by
/// commas, a field in double quotes may hold commas, line breaks and doubled quotes;
/// records end at CRLF, LF or a lone CR. Lenient where files in the wild need it: spaces and
/// tabs around a field are not part of it. Works on a raw buffer, allocates nothing.
struct RecordScanner {
    let p: UnsafePointer<UInt8>
    let end: Int
    /// No more bytes will follow `end`: a record cut by `end` is complete.
    let final: Bool
    /// Start of the next record.
    var position: Int
    /// Line (1-based, relative) where the next record starts.
    var line: Int

    struct Record {
        /// Fields in the record (all of them, though only the first `fields.count` are stored).
        var fieldCount: Int
        /// Line where the record starts.
        var line: Int
        /// Nothing but spaces or tabs.
        var blank: Bool
        /// A quoting error in the record.
        var malformed: BadRowReason?
    }

    static let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D, space: UInt8 = 0x20,
        tab: UInt8 = 0x09

    /// The next record, its first fields stored in `fields`; nil when no complete record is
    /// left (then `position` is where the incomplete one starts).
    mutating func next(_ fields: UnsafeMutableBufferPointer<FieldRange>) -> Record? {
        guard position < end else { return nil }
        var i = position
        var lines = 0
        var k = 0
        var blank = true
        var malformed: BadRowReason?
        while true {
            var fs = i
            while fs < end && (p[fs] == Self.space || p[fs] == Self.tab) { fs += 1 }
            var field = FieldRange()
            if fs < end && p[fs] == Self.quote {
                blank = false
                var j = fs + 1
                var escaped = false
                var closed = false
                while j < end {
                    let c = p[j]
                    if c == Self.quote {
                        if j + 1 < end && p[j + 1] == Self.quote {
                            escaped = true
                            j += 2
                            continue
                        }
                        if j + 1 >= end && !final { return nil }  // a doubled quote may follow
                        closed = true
                        break
                    }
                    if c == Self.lf || (c == Self.cr && !(j + 1 < end && p[j + 1] == Self.lf)) { lines += 1 }
                    j += 1
                }
                if !closed {
                    guard final else { return nil }
                    malformed = malformed ?? .unterminatedQuote
                    field = FieldRange(start: fs + 1, end: end, quoted: true, escaped: escaped)
                    i = end
                } else {
                    field = FieldRange(start: fs + 1, end: j, quoted: true, escaped: escaped)
                    i = j + 1
                    while i < end && (p[i] == Self.space || p[i] == Self.tab) { i += 1 }
                    if i < end && p[i] != Self.comma && p[i] != Self.lf && p[i] != Self.cr {
                        malformed = malformed ?? .textAfterQuote
                        while i < end && p[i] != Self.comma && p[i] != Self.lf && p[i] != Self.cr { i += 1 }
                        field.end = i
                    }
                }
            } else {
                var j = fs
                while j < end {
                    let c = p[j]
                    if c == Self.comma || c == Self.lf || c == Self.cr { break }
                    j += 1
                }
                var fe = j
                while fe > fs && (p[fe - 1] == Self.space || p[fe - 1] == Self.tab) { fe -= 1 }
                if fe > fs { blank = false }
                field = FieldRange(start: fs, end: fe)
                i = j
            }
            if k < fields.count { fields[k] = field }
            k += 1
            if i < end && p[i] == Self.comma {
                blank = false
                i += 1
                continue
            }
            if i >= end {
                guard final else { return nil }
                position = end
                break
            }
            if p[i] == Self.lf {
                position = i + 1
            } else {
                // CR: CRLF or a lone CR; at the end of a buffer that more bytes follow, wait
                if i + 1 < end {
                    position = p[i + 1] == Self.lf ? i + 2 : i + 1
                } else {
                    guard final else { return nil }
                    position = i + 1
                }
            }
            lines += 1
            break
        }
        let record = Record(fieldCount: k, line: line, blank: blank && k == 1, malformed: malformed)
        line += lines
        return record
    }

    /// True when only spaces, tabs and line breaks are left after `position`.
    func onlyBlankLinesLeft() -> Bool {
        var i = position
        while i < end {
            let c = p[i]
            guard c == Self.space || c == Self.tab || c == Self.lf || c == Self.cr else { return false }
            i += 1
        }
        return true
    }

    /// The field's text for messages and header names: doubled quotes undone, control
    /// characters shown as `\u{..}` so that a NUL cannot hide in an error message.
    static func text(_ p: UnsafePointer<UInt8>, _ f: FieldRange, limit: Int = 80) -> String {
        var bytes: [UInt8] = []
        var i = f.start
        while i < f.end && bytes.count < limit {
            let c = p[i]
            if f.escaped && c == quote && i + 1 < f.end && p[i + 1] == quote { i += 1 }
            if c < 0x20 || c == 0x7F {
                bytes += Array("\\u{\(String(c, radix: 16))}".utf8)
            } else {
                bytes.append(c)
            }
            i += 1
        }
        var s = String(decoding: bytes, as: UTF8.self)
        if i < f.end { s += "…" }
        return s
    }
}
