import VolScaleCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Correctly rounded decimal-to-`Double` conversion on bytes, for price files.
///
/// Three tiers, each exact where it answers:
/// 1. Clinger's fast path: at most 19 significant digits, mantissa <= 2^53 and a decimal
///    exponent within ±22, so that one IEEE multiplication or division by an exactly
///    representable power of ten rounds once, correctly. Nearly every price takes it.
/// 2. Eisel-Lemire (Lemire 2021, "Number Parsing at a Gigabyte per Second", §5-6): the
///    mantissa times a 128-bit approximation of 5^q; it answers only when the product
///    decides the rounding, otherwise it declines.
/// 3. The C library's `strtod` for what the first two decline (more than 19 significant
///    digits that the truncated mantissa cannot settle, near-halfway cases).
///
/// Grammar (the whole field must match; no surrounding spaces): `[+-]?` then digits with at
/// most one `.` (at least one digit), then optionally `[eE][+-]?digits`; or `inf`,
/// `infinity`, `nan` in any case, optionally signed. Hexadecimal floats are not accepted.
/// `volscale-bench floatcheck 10000000` (release build) compares it with `strtod` on ten
/// million random strings; `DecimalParserTests` on a few hundred thousand.
public enum DecimalParser {
    /// Parses bytes `[p, p + count)`; nil when they are not a number in the grammar above.
    @inlinable
    public static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? {
        guard count > 0 else { return nil }
        guard let (v, n) = parseLeading(p, count) else {
            // not digits: inf, infinity, nan
            var i = 0
            var negative = false
            if p[0] == 0x2D || p[0] == 0x2B {
                negative = p[0] == 0x2D
                i = 1
            }
            guard i >= count || (p[i] &- 0x30 >= 10 && p[i] != 0x2E) else { return nil }
            return special(p, count, from: i, negative: negative)
        }
        return n == count ? v : nil
    }

    /// The number at the start of `[p, p + count)` and how many bytes it takes (the file
    /// readers' fast path: the field ends where the number does). nil when the bytes do not
    /// start with digits, or the exponent has none.
    @inlinable
    public static func parseLeading(_ p: UnsafePointer<UInt8>, _ count: Int) -> (Double, Int)? {
        guard count > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == 0x2D || p[0] == 0x2B {
            negative = p[0] == 0x2D
            i = 1
        }
        // the common case first: all digits fit in 19, so w is exact whatever leading zeros
        var w: UInt64 = 0
        let intStart = i
        while i < count {
            let d = p[i] &- 0x30
            guard d < 10 else { break }
            w = w &* 10 &+ UInt64(d)
            i += 1
        }
        var digits = i - intStart
        var exponent = 0
        if i < count && p[i] == 0x2E {
            i += 1
            let fracStart = i
            while i < count {
                let d = p[i] &- 0x30
                guard d < 10 else { break }
                w = w &* 10 &+ UInt64(d)
                i += 1
            }
            digits += i - fracStart
            exponent = -(i - fracStart)
        }
        guard digits > 0 else { return nil }
        if i < count && (p[i] == 0x65 || p[i] == 0x45) {
            i += 1
            var expNegative = false
            if i < count && (p[i] == 0x2D || p[i] == 0x2B) {
                expNegative = p[i] == 0x2D
                i += 1
            }
            var e = 0
            let expStart = i
            while i < count {
                let d = p[i] &- 0x30
                guard d < 10 else { break }
                if e < 100_000 { e = e * 10 + Int(d) }
                i += 1
            }
            guard i > expStart else { return nil }
            exponent += expNegative ? -e : e
        }
        let length = i
        var truncated = false
        if digits > 19 {
            // more digits than a UInt64 holds: keep the first 19 significant ones
            (w, exponent, truncated) = significant(p, length, exponent: exponent)
        }
        if w == 0 { return (negative ? -0.0 : 0.0, length) }
        if !truncated && w <= 1 << 53 && exponent >= -22 && exponent <= 22 {
            let m = Double(w)
            let v = exponent < 0 ? m / exactPowersOfTen[-exponent] : m * exactPowersOfTen[exponent]
            return (negative ? -v : v, length)
        }
        if let v = eiselLemire(exponent, w, negative: negative) {
            if !truncated { return (v, length) }
            // the digits lie in [w, w + 1) * 10^exponent: settled when both ends round alike
            if w < UInt64.max, let upper = eiselLemire(exponent, w + 1, negative: negative), upper == v {
                return (v, length)
            }
        }
        return strtodFallback(p, length).map { ($0, length) }
    }

    /// The first 19 significant digits as an integer, the decimal exponent that goes with
    /// them (`exponent` is the one for all the digits), and whether non-zero digits were cut.
    @usableFromInline
    static func significant(_ p: UnsafePointer<UInt8>, _ count: Int, exponent: Int) -> (UInt64, Int, Bool) {
        var w: UInt64 = 0
        var taken = 0
        var dropped = 0
        var truncated = false
        var i = 0
        if p[0] == 0x2D || p[0] == 0x2B { i = 1 }
        while i < count {
            let c = p[i]
            if c == 0x2E {
                i += 1
                continue
            }
            let d = c &- 0x30
            guard d < 10 else { break }
            if taken == 0 && d == 0 {
                // a leading zero
            } else if taken < 19 {
                w = w &* 10 &+ UInt64(d)
                taken += 1
            } else {
                dropped += 1
                if d != 0 { truncated = true }
            }
            i += 1
        }
        return (w, exponent + dropped, truncated)
    }

    /// Parses a string (tests, and text that is already a `String`).
    public static func parse(_ text: some StringProtocol) -> Double? {
        var bytes = Array(text.utf8)
        let n = bytes.count
        return bytes.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return nil }
            return parse(UnsafePointer(base), n)
        }
    }

    @usableFromInline
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// `inf`, `infinity`, `nan` (any case) after the sign.
    @usableFromInline
    static func special(_ p: UnsafePointer<UInt8>, _ count: Int, from start: Int, negative: Bool) -> Double? {
        let rest = count - start
        guard rest == 3 || rest == 8 else { return nil }
        var word = [UInt8]()
        for k in start..<count { word.append(p[k] | 0x20) }
        switch String(decoding: word, as: UTF8.self) {
        case "inf", "infinity": return negative ? -.infinity : .infinity
        case "nan": return .nan
        default: return nil
        }
    }

    @usableFromInline
    static func strtodFallback(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buf -> Double? in
            guard let base = buf.baseAddress else { return nil }
            for k in 0..<count { base[k] = CChar(bitPattern: p[k]) }
            base[count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(base, &end)
            guard let end, end - base == count else { return nil }
            return v
        }
    }

    /// Eisel-Lemire for `w * 10^q` (w != 0); nil when the 128-bit product cannot decide the
    /// rounding (the caller falls back). Overflow gives infinity and underflow zero.
    @usableFromInline
    static func eiselLemire(_ q: Int, _ w0: UInt64, negative: Bool) -> Double? {
        let sign: UInt64 = negative ? 1 << 63 : 0
        if q < PowersOfFive.smallestExponent { return Double(bitPattern: sign) }
        if q > PowersOfFive.largestExponent { return Double(bitPattern: sign | 0x7FF << 52) }
        let lz = w0.leadingZeroBitCount
        let w = w0 << UInt64(lz)
        let index = 2 * (q - PowersOfFive.smallestExponent)
        var (hi, lo) = w.multipliedFullWidth(by: PowersOfFive.table[index])
        // 52 explicit bits + 3: one more word only when the low bits of the first are all ones
        let mask: UInt64 = UInt64.max >> 55
        if hi & mask == mask {
            let second = w.multipliedFullWidth(by: PowersOfFive.table[index + 1]).high
            let (sum, carry) = lo.addingReportingOverflow(second)
            lo = sum
            if carry { hi &+= 1 }
        }
        // the approximation of w * 5^q may be one short of a carry: only exact when 5^q fits
        if lo == UInt64.max && !(q >= -27 && q <= 55) { return nil }
        let upperBit = Int(hi >> 63)
        let shift = UInt64(upperBit + 64 - 52 - 3)
        var mantissa = hi >> shift
        // floor(log2(10^q)) + 63 via 217706 / 2^16 ≈ log2(10), exact over the table's range
        var power2 = (((152_170 + 65_536) * q) >> 16) + 63 + upperBit - lz + 1023
        if power2 <= 0 {
            if -power2 + 1 >= 64 { return Double(bitPattern: sign) }
            mantissa >>= UInt64(-power2 + 1)
            mantissa += mantissa & 1
            mantissa >>= 1
            power2 = mantissa >= (1 << 52) ? 1 : 0
            return Double(bitPattern: sign | UInt64(power2) << 52 | mantissa)
        }
        // exactly halfway between two doubles: round to even
        if lo <= 1 && q >= -4 && q <= 23 && mantissa & 3 == 1 && mantissa << shift == hi {
            mantissa &= ~1
        }
        mantissa += mantissa & 1
        mantissa >>= 1
        if mantissa >= (2 << 52) {
            mantissa = 1 << 52
            power2 += 1
        }
        mantissa &= ~(1 << 52)
        if power2 >= 0x7FF { return Double(bitPattern: sign | 0x7FF << 52) }
        return Double(bitPattern: sign | UInt64(power2) << 52 | mantissa)
    }
}

/// Random decimal strings of every shape for checking the parser against `strtod`: 1 to 25
/// significant digits, a decimal point anywhere (or none), exponents from -330 to 310 or
/// within Clinger's ±22, signs. Deterministic (SplitMix64) so that a failure reproduces;
/// used by the tests and by `volscale-bench floatcheck`.
package struct DecimalSamples {
    private var generator: SplitMix64

    package init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    package mutating func next() -> UInt64 { generator.next() }

    package mutating func number() -> String {
        var s = ""
        if next() % 4 == 0 { s += "-" }
        let digits = 1 + Int(next() % 25)
        let point = Int(next() % UInt64(digits + 2)) - 1
        for i in 0..<digits {
            if i == point { s += "." }
            s += String(next() % 10)
        }
        switch next() % 3 {
        case 0: s += "e\(Int(next() % 641) - 330)"
        case 1: s += "e\(Int(next() % 45) - 22)"
        default: break
        }
        return s
    }

    /// `strtod`'s reading of the whole string, nil when it stops early or reads nothing.
    package static func strtodValue(_ s: String) -> Double? {
        s.withCString { p -> Double? in
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(p, &end)
            guard let end, end - UnsafeMutablePointer(mutating: p) == s.utf8.count, !s.isEmpty else { return nil }
            return v
        }
    }

    /// Equal bit for bit (any NaN equals any NaN), or both nil.
    package static func same(_ a: Double?, _ b: Double?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let x?, let y?): return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        default: return false
        }
    }
}
