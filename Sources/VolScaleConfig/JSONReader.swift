/// A JSON document as read from outside: values with their kinds kept apart (a boolean is
/// never a number), numbers as correctly rounded Doubles, object members in their order.
///
/// Why not Foundation's `JSONSerialization`: it boxes every value (`[String: Any]` of
/// `NSNumber`), costs 20-40 µs for a 10-position account on this machine, cannot tell the
/// boolean `true` from the number 1 on Linux, and rounds some numbers
/// (-0.9999999999999999 became -1). No library in the project's mirror reads JSON without
/// `Codable`'s fixed shapes, and the request decoders need the value's kind to name the
/// field that is wrong.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    /// Members in document order; a repeated key keeps its last value on lookup.
    case object([(key: String, value: JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The member `key` of an object (the last one when repeated); nil otherwise.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    public var number: Double? {
        if case .number(let n) = self { return n }
        return nil
    }
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var array: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var members: [(key: String, value: JSON)]? {
        if case .object(let m) = self { return m }
        return nil
    }
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
    /// An object's members by key (a repeated key: the last one), nil for other kinds.
    public var dictionary: [String: JSON]? {
        guard case .object(let m) = self else { return nil }
        return Dictionary(m.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }
}

/// Reads RFC 8259 JSON from bytes. Errors say what and at which byte offset.
public struct JSONReader {
    public static let maxDepth = 64

    let bytes: UnsafeRawBufferPointer
    var i = 0
    var depth = 0

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RequestError) -> JSON {
        var r = JSONReader(bytes: bytes)
        r.skipSpace()
        let v = try r.value()
        r.skipSpace()
        guard r.i == bytes.count else { throw r.fail("unexpected content after the JSON value") }
        return v
    }

    func fail(_ why: String) -> RequestError { RequestError("", "request body is not valid JSON: \(why) at byte \(i)") }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func value() throws(RequestError) -> JSON {
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case 0x7B: return try object()
        case 0x5B: return try array()
        case 0x22: return .string(try string())
        case 0x74:
            try literal("true")
            return .bool(true)
        case 0x66:
            try literal("false")
            return .bool(false)
        case 0x6E:
            try literal("null")
            return .null
        case 0x2D, 0x30...0x39: return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(RequestError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw fail("unexpected end") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("unexpected character") }
        i += n
    }

    mutating func enter() throws(RequestError) {
        depth += 1
        if depth > Self.maxDepth { throw RequestError("", "JSON nested deeper than \(Self.maxDepth) levels") }
    }

    mutating func object() throws(RequestError) -> JSON {
        try enter()
        i += 1
        var members: [(key: String, value: JSON)] = []
        skipSpace()
        if i < bytes.count, bytes[i] == 0x7D {
            i += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == 0x22 else { throw fail("expected a member name") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == 0x3A else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            members.append((key, try value()))
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == 0x2C {
                i += 1
                continue
            }
            if bytes[i] == 0x7D {
                i += 1
                depth -= 1
                return .object(members)
            }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array() throws(RequestError) -> JSON {
        try enter()
        i += 1
        var items: [JSON] = []
        skipSpace()
        if i < bytes.count, bytes[i] == 0x5D {
            i += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try value())
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            if bytes[i] == 0x2C {
                i += 1
                continue
            }
            if bytes[i] == 0x5D {
                i += 1
                depth -= 1
                return .array(items)
            }
            throw fail("expected ',' or ']'")
        }
    }

    /// A number as the grammar defines it. Exact fast path (Clinger): at most 15 significant
    /// digits and a power of ten up to 10^22 give a correctly rounded quotient or product of
    /// two exact doubles; anything else goes to the standard library's correctly rounded
    /// parser. A number beyond the largest double (1e400) is refused, as Foundation's reader
    /// refuses it: JSON has no infinity.
    mutating func number() throws(RequestError) -> Double {
        let start = i
        var negative = false
        if bytes[i] == 0x2D {
            negative = true
            i += 1
        }
        guard i < bytes.count else { throw fail("unexpected end in a number") }
        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        if bytes[i] == 0x30 {
            i += 1
        } else if (0x31...0x39).contains(bytes[i]) {
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(bytes[i] - 0x30) } else { scale += 1 }
                if mantissa != 0 { digits += 1 }
                i += 1
            }
        } else {
            throw fail("expected a digit")
        }
        if i < bytes.count, bytes[i] == 0x2E {
            i += 1
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("expected a digit after '.'") }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[i] - 0x30)
                    if mantissa != 0 { digits += 1 }
                    scale -= 1
                }
                i += 1
            }
        }
        var exponent = 0
        var exponentOK = true
        if i < bytes.count, bytes[i] == 0x65 || bytes[i] == 0x45 {
            i += 1
            var negExp = false
            if i < bytes.count, bytes[i] == 0x2B || bytes[i] == 0x2D {
                negExp = bytes[i] == 0x2D
                i += 1
            }
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else {
                throw fail("expected a digit in the exponent")
            }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[i] - 0x30) } else { exponentOK = false }
                i += 1
            }
            if negExp { exponent = -exponent }
        }
        let power = scale + exponent
        if exponentOK, digits <= 15, mantissa < (1 << 53), (-22...22).contains(power) {
            var d = Double(mantissa)
            if power < 0 { d /= Self.powersOfTen[-power] } else if power > 0 { d *= Self.powersOfTen[power] }
            return negative ? -d : d
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw fail("number out of range") }
        return d
    }

    /// 10^0 ... 10^22, each exact in a Double.
    static let powersOfTen: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { x, _ in x * 10 } }

    mutating func string() throws(RequestError) -> String {
        i += 1
        let start = i
        // fast path: no escapes; ASCII needs no UTF-8 validation
        var ascii = true
        while i < bytes.count, bytes[i] != 0x22, bytes[i] != 0x5C {
            guard bytes[i] >= 0x20 else { throw fail("control character in a string") }
            if bytes[i] >= 0x80 { ascii = false }
            i += 1
        }
        guard i < bytes.count else { throw fail("unterminated string") }
        var out: [UInt8] = []
        if bytes[i] == 0x22 {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
            i += 1
            if ascii { return String(decoding: raw, as: UTF8.self) }
            guard let s = String(validating: raw, as: UTF8.self) else {
                i -= 1
                throw fail("invalid UTF-8")
            }
            return s
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            if b == 0x22 {
                i += 1
                break
            }
            if b < 0x20 { throw fail("control character in a string") }
            if b != 0x5C {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75 else {
                        throw fail("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw fail("invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
        return s
    }

    mutating func hex4() throws(RequestError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }
}

extension JSON {
    /// The value as compact JSON text, members in their order. Integral numbers within
    /// ±2^53 are written without a fraction, others in Swift's shortest round-trip form;
    /// strings are escaped as RFC 8259 requires.
    public var text: String { String(decoding: utf8, as: UTF8.self) }

    /// The same text as UTF-8 bytes.
    public var utf8: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n):
            if n.isFinite, n == n.rounded(), Swift.abs(n) <= 9_007_199_254_740_992 {
                out.append(contentsOf: String(Int64(n)).utf8)
            } else if n.isFinite {
                out.append(contentsOf: n.description.utf8)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let a):
            out.append(0x5B)
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(0x2C) }
                v.write(to: &out)
            }
            out.append(0x5D)
        case .object(let m):
            out.append(0x7B)
            for (i, kv) in m.enumerated() {
                if i > 0 { out.append(0x2C) }
                Self.writeString(kv.key, to: &out)
                out.append(0x3A)
                kv.value.write(to: &out)
            }
            out.append(0x7D)
        }
    }

    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22:
                out.append(0x5C)
                out.append(0x22)
            case 0x5C:
                out.append(0x5C)
                out.append(0x5C)
            case 0x0A:
                out.append(0x5C)
                out.append(0x6E)
            case 0x0D:
                out.append(0x5C)
                out.append(0x72)
            case 0x09:
                out.append(0x5C)
                out.append(0x74)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}

extension JSON {
    /// The path (`a.b[2].c`) of the first object member, depth first, for which `test(name,
    /// value)` holds; nil when none does.
    public func firstMember(where test: (String, JSON) -> Bool) -> String? {
        func find(_ v: JSON, _ path: String) -> String? {
            if let members = v.members {
                for m in members {
                    let here = path.isEmpty ? m.key : "\(path).\(m.key)"
                    if test(m.key, m.value) { return here }
                    if let f = find(m.value, here) { return f }
                }
            } else if let a = v.array {
                for (i, e) in a.enumerated() { if let f = find(e, "\(path)[\(i)]") { return f } }
            }
            return nil
        }
        return find(self, "")
    }
}
