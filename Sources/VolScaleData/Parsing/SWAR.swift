/// Eight ASCII bytes at a time (SIMD within a register), for the readers' fast paths: the
/// length of a run of digits and its value without a loop per byte. Little-endian loads: the
/// first byte of the text is the lowest byte of the word.
enum SWAR {
    /// The eight bytes at `p`, unaligned.
    @inline(__always)
    static func load(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
    }

    /// How many of the first bytes of `x` are ASCII digits before the first that is not (0...8).
    ///
    /// Per byte, `d = b - '0'` is a digit when `d < 10`; `d + 0x76` sets the high bit exactly
    /// when `d >= 10` (for `d < 0x80`), and `d`'s own high bit covers the rest. Borrows and
    /// carries only run upwards from a byte that is not a digit, so the lowest flagged byte
    /// is always exact, and only it is used.
    @inline(__always)
    static func digitCount(_ x: UInt64) -> Int {
        let d = x &- 0x3030_3030_3030_3030
        let flags = ((d &+ 0x7676_7676_7676_7676) | d) & 0x8080_8080_8080_8080
        return flags == 0 ? 8 : flags.trailingZeroBitCount >> 3
    }

    /// The value of the first `n` bytes of `x` (1...8), which must be digits.
    ///
    /// The digits are shifted to the top of the word, so that the bytes after them fall out
    /// and zeros (leading zero digits) come in below; then pairs, quads and the two halves
    /// are combined with three multiplications (Lemire, "Number Parsing at a Gigabyte per
    /// Second", 2021, §8).
    @inline(__always)
    static func value(_ x: UInt64, digits n: Int) -> UInt64 {
        var v = (x &- 0x3030_3030_3030_3030) << UInt64(8 * (8 - n))
        v = v &* 10 &+ (v >> 8)
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        let mul1: UInt64 = 100 + (1_000_000 << 32)
        let mul2: UInt64 = 1 + (10_000 << 32)
        return ((v & mask) &* mul1 &+ ((v >> 16) & mask) &* mul2) >> 32
    }

    /// Powers of ten that a `UInt64` holds exactly, 10^0 ... 10^19.
    static let powersOfTen: [UInt64] = (0...19).map { k in (0..<k).reduce(UInt64(1)) { acc, _ in acc * 10 } }
}

extension DecimalParser {
    /// The readers' fast path for the usual price: 1 to 7 integer digits, optionally a point
    /// and up to 7 fraction digits (`30000.12`, `0.0001234`, `7`), unsigned, no exponent;
    /// nil for anything else, which then goes through `parseLeading`. Needs 17 readable bytes
    /// from `p` (`count >= 17`), since it loads eight bytes on each side of the point.
    ///
    /// Returns the value and how many bytes it took, like `parseLeading`, and the same value
    /// bit for bit: the digits form an exact integer `w < 10^14 < 2^53`, and `w / 10^m` with
    /// an exact power of ten is Clinger's fast path, rounded once. The caller checks what
    /// follows (a separator or a line end), as with `parseLeading`.
    @inline(__always)
    package static func parseShortDecimal(_ p: UnsafePointer<UInt8>, _ count: Int) -> (Double, Int)? {
        guard count >= 17 else { return nil }
        let x = SWAR.load(p)
        let n = SWAR.digitCount(x)
        guard n > 0 && n < 8 else { return nil }
        let whole = SWAR.value(x, digits: n)
        guard p[n] == 0x2E else { return (Double(whole), n) }
        let f = SWAR.load(p + n + 1)
        let m = SWAR.digitCount(f)
        guard m < 8 else { return nil }
        if m == 0 { return (Double(whole), n + 1) }
        let w = whole &* SWAR.powersOfTen[m] &+ SWAR.value(f, digits: m)
        return (Double(w) / exactPowersOfTen[m], n + 1 + m)
    }
}
