/// Conversions of numbers that come from outside (files, requests, flags) that cannot trap:
/// a value that is not finite, not whole or outside the range gives nil, never a crash
/// (`Int(x)` traps for x beyond the integer range; `Int64(exactly:)` does not).
public enum Checked {
    /// `x` as an integer when it is whole and within `range`.
    @inlinable
    public static func integer(_ x: Double, in range: ClosedRange<Int>) -> Int? {
        guard x.isFinite, x.rounded(.towardZero) == x, let i = Int(exactly: x), range.contains(i) else { return nil }
        return i
    }

    /// `x` as an Int64 when it is whole and within `range`.
    @inlinable
    public static func integer64(_ x: Double, in range: ClosedRange<Int64>) -> Int64? {
        guard x.isFinite, x.rounded(.towardZero) == x, let i = Int64(exactly: x), range.contains(i) else { return nil }
        return i
    }

    /// `x` rounded to the nearest integer, or nil when that is not an Int (display code).
    @inlinable
    public static func rounded(_ x: Double) -> Int? {
        guard x.isFinite else { return nil }
        return Int(exactly: x.rounded())
    }
}

/// UTC epoch milliseconds as every reader and the engine accept them: 1900-01-01 to
/// 2100-01-01. Bounding them keeps every difference of two timestamps far from Int64
/// overflow; a timestamp outside is an input error, named as such.
public enum EpochMillis {
    public static let range: ClosedRange<Int64> = -2_208_988_800_000...4_102_444_800_000
}
