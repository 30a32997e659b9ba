import VolScaleCore

/// Timestamp parsing and formatting in UTC milliseconds since the Unix epoch, without
/// Foundation's formatters (hand-rolled because they are slow and locale-dependent).
public enum Timestamp {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The proleptic Gregorian date of a day number (days since 1970-01-01).
    public static func civil(days z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// 0 = Sunday ... 6 = Saturday.
    public static func weekday(milliseconds: Int64) -> Int {
        let d = Int((milliseconds >= 0 ? milliseconds : milliseconds - 86_399_999) / 86_400_000)
        return ((d + 4) % 7 + 7) % 7
    }

    /// Parses an ISO 8601 date (`2019-01-04`), date-time (`2019-01-04 09:30`,
    /// `2019-01-04T09:30:00.250Z`, `...+02:00`), or an epoch number whose magnitude tells
    /// the unit: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds,
    /// else nanoseconds (fractional seconds allowed).
    public static func parse<S: StringProtocol>(_ text: S) -> Int64? {
        var bytes = Array(text.utf8)
        let n = bytes.count
        return bytes.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return nil }
            return parse(UnsafePointer(base), n)
        }
    }

    /// The same on bytes `[p, p + count)`, as the file readers call it.
    public static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int64? {
        guard count > 0 else { return nil }
        if count >= 10, p[4] == UInt8(ascii: "-") {
            return parseISO(p, count)
        }
        let first = p[0]
        guard first == UInt8(ascii: "-") || (first >= 48 && first <= 57) else { return nil }
        // an integer (the common case: epoch ms or us) without going through Double
        var i = first == UInt8(ascii: "-") ? 1 : 0
        var v: Int64 = 0
        // up to 18 digits cannot overflow; longer numbers take the Double path
        var integral = i < count && count - i <= 18
        while integral && i < count {
            let d = p[i] &- 48
            guard d < 10 else {
                integral = false
                break
            }
            v = v &* 10 &+ Int64(d)
            i += 1
        }
        if integral { return epochMillis(magnitude: v, negative: first == UInt8(ascii: "-")) }
        guard let value = DecimalParser.parse(p, count) else { return nil }
        return epochMillis(value)
    }

    /// An epoch time given as a number, its unit told by its size as for integers (below
    /// 10^11 seconds, below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds),
    /// in milliseconds rounded to the nearest; nil when not finite or outside
    /// `EpochMillis.range` (never a trap, e.g. for 1e300).
    public static func epochMillis(_ value: Double) -> Int64? {
        guard value.isFinite else { return nil }
        let a = Swift.abs(value)
        let ms: Double
        if a < 1e11 {
            ms = value * 1000
        } else if a < 1e14 {
            ms = value
        } else if a < 1e17 {
            ms = value / 1000
        } else {
            ms = value / 1e6
        }
        return Checked.integer64(ms.rounded(), in: EpochMillis.range)
    }

    /// An integer epoch time in milliseconds, its unit told by its size: below 10^11 seconds,
    /// below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds; nil outside
    /// `EpochMillis.range`. `magnitude` has at most 18 digits.
    @inline(__always)
    static func epochMillis(magnitude a: Int64, negative: Bool) -> Int64? {
        let signed = negative ? -a : a
        if a < 100_000_000_000 { return Checked.integer64(Double(signed) * 1000, in: EpochMillis.range) }
        if a < 100_000_000_000_000 { return EpochMillis.range.contains(signed) ? signed : nil }
        if a < 100_000_000_000_000_000 {
            return Checked.integer64((Double(signed) / 1000).rounded(), in: EpochMillis.range)
        }
        return Checked.integer64((Double(signed) / 1e6).rounded(), in: EpochMillis.range)
    }

    /// The decimal number in `p[from..<from + len]` (all digits, within `count`), or nil.
    @inline(__always)
    static func digits(_ p: UnsafePointer<UInt8>, _ from: Int, _ len: Int, count: Int) -> Int? {
        guard from + len <= count else { return nil }
        var v = 0
        for i in from..<(from + len) {
            let c = p[i] &- 48
            guard c < 10 else { return nil }
            v = v * 10 + Int(c)
        }
        return v
    }

    /// Midnight UTC of `YYYY-MM-DD` in `p[0..<10]`, in milliseconds; nil when not a valid date.
    static func parseDate(_ p: UnsafePointer<UInt8>) -> Int64? {
        func num(_ from: Int, _ len: Int) -> Int? { digits(p, from, len, count: 10) }
        guard let y = num(0, 4), p[4] == UInt8(ascii: "-"), let mo = num(5, 2), p[7] == UInt8(ascii: "-"),
            let d = num(8, 2), (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        let dn = days(year: y, month: mo, day: d)
        guard civil(days: dn) == (y, mo, d) else { return nil }
        return Int64(dn) * 86_400_000
    }

    private static func parseISO(_ b: UnsafePointer<UInt8>, _ count: Int) -> Int64? {
        guard var ms = parseDate(b) else { return nil }
        guard let time = parseTimeOfDay(b, count) else { return nil }
        ms += time
        return EpochMillis.range.contains(ms) ? ms : nil
    }

    /// The part after the date (`""`, `T09:30`, ` 09:30:00.250Z`, `...+02:00`) of an ISO
    /// date-time in `b[0..<count]`, as milliseconds to add to midnight (the offset
    /// subtracted); nil when malformed.
    static func parseTimeOfDay(_ b: UnsafePointer<UInt8>, _ count: Int) -> Int64? {
        func num(_ from: Int, _ len: Int) -> Int? { digits(b, from, len, count: count) }
        if count == 10 { return 0 }
        guard b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
            let hh = num(11, 2), count > 13, b[13] == UInt8(ascii: ":"), let mm = num(14, 2),
            hh < 24, mm < 60
        else { return nil }
        var ms = Int64(hh * 3_600_000 + mm * 60_000)
        var i = 16
        if i < count, b[i] == UInt8(ascii: ":") {
            guard let ss = num(i + 1, 2), ss < 61 else { return nil }
            ms += Int64(ss * 1000)
            i += 3
            if i < count, b[i] == UInt8(ascii: ".") {
                i += 1
                // milliseconds, rounded half up on the fourth digit; further digits ignored
                var frac = 0
                var digits = 0
                var next = 0
                while i < count, b[i] >= 48, b[i] <= 57 {
                    if digits < 3 { frac = frac * 10 + Int(b[i] - 48) } else if digits == 3 { next = Int(b[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                for _ in Swift.min(digits, 3)..<3 { frac *= 10 }
                ms += Int64(frac + (next >= 5 ? 1 : 0))
            }
        }
        if i == count { return ms }
        if b[i] == UInt8(ascii: "Z"), i + 1 == count { return ms }
        if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "+") ? 1 : -1
            guard let oh = num(i + 1, 2), oh < 24 else { return nil }
            var om = 0
            if i + 3 < count {
                let j = b[i + 3] == UInt8(ascii: ":") ? i + 4 : i + 3
                guard let m = num(j, 2), m < 60, j + 2 == count else { return nil }
                om = m
            } else if i + 3 != count {
                return nil
            }
            return ms - sign * Int64(oh * 3_600_000 + om * 60_000)
        }
        return nil
    }

    /// `2019-01-04` when the time is midnight UTC and `dateOnly`, else
    /// `2019-01-04T09:30:00Z` (milliseconds shown only when present).
    public static func format(_ ms: Int64, dateOnly: Bool) -> String {
        let dayMs: Int64 = 86_400_000
        let day = Int(ms >= 0 ? ms / dayMs : (ms - dayMs + 1) / dayMs)
        let (y, m, d) = civil(days: day)
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        let date = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
        if dateOnly { return date }
        let rem = Int(ms - Int64(day) * dayMs)
        var out = date + "T\(pad(rem / 3_600_000, 2)):\(pad(rem / 60_000 % 60, 2)):\(pad(rem / 1000 % 60, 2))"
        if rem % 1000 != 0 { out += ".\(pad(rem % 1000, 3))" }
        return out + "Z"
    }
}
