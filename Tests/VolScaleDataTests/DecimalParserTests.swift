import Foundation
import Testing

@testable import VolScaleData

/// The float parser against the C library's `strtod` (glibc's, correctly rounded), bit for
/// bit. Here a few hundred thousand strings in a debug build; `volscale-bench floatcheck 10000000` runs
/// the same comparison on ten million in a release build.
@Suite struct DecimalParserTests {
    static func strtodValue(_ s: String) -> Double? { DecimalSamples.strtodValue(s) }
    static func same(_ a: Double?, _ b: Double?) -> Bool { DecimalSamples.same(a, b) }
    /// Hard cases: halfway points, the largest and smallest doubles, subnormals, more digits
    /// than a UInt64 holds, exponents beyond the table, the Clinger boundary.
    static let edges = [
        "0", "-0", "0.0", "1", "-1", "0.1", "0.2", "0.3", "1.5", "42123.45000000", "9007199254740993",
        "9007199254740992",
        "9007199254740991", "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9406564584124654e-324",
        "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "1e308", "1e309", "1e-400", "1e400", "123456789012345678901234567890",
        "0.000000000000000000000000000001", "7.0420557077594588669468784357561207962098443483187940792729600000e-81",
        "9007199254740993.0000000000000000001", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "1e22", "1e23", "9.999999999999999e22", "123456789012345678e-5", "4503599627370496.5", "4503599627370497.5",
        "1.", ".5", "-.5", "+3", "1e+2", "1E-2", "00001.2500", "1e", "1e+", ".", "-", "", "e5", "1.2.3", "1,5", " 1",
        "1 ",
        "0x10", "inf", "-Infinity", "NaN", "nan(1)", "1_000",
    ]

    @Test func edgeCasesAgreeWithStrtod() {
        for s in Self.edges {
            let ours = DecimalParser.parse(s)
            // strtod also reads hexadecimal, nan(...) and leading spaces; the parser takes a field
            // already trimmed, and price files hold no hexadecimal: not numbers here
            let expected = s.hasPrefix("0x") || s.hasPrefix("nan(") || s.hasPrefix(" ") ? nil : Self.strtodValue(s)
            #expect(
                Self.same(ours, expected), "\(s): \(String(describing: ours)) vs strtod \(String(describing: expected))"
            )
        }
    }

    /// Random decimal strings of every shape (`DecimalSamples`).
    @Test func randomStringsAgreeWithStrtod() {
        var samples = DecimalSamples(seed: 20_261_127)
        var mismatches: [String] = []
        for _ in 0..<300_000 {
            let s = samples.number()
            if !Self.same(DecimalParser.parse(s), Self.strtodValue(s)) { mismatches.append(s) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    /// The readers' eight-bytes-at-a-time path for short prices (`parseShortDecimal`): for
    /// every count of integer digits (0 to 8) and fraction digits (none, 0 to 8), followed by
    /// each kind of byte a record can hold, it either declines or gives `strtod`'s value of
    /// the number it read, bit for bit, and the length `parseLeading` gives.
    @Test func shortDecimalsAgreeWithStrtod() {
        var rng = DecimalSamples(seed: 7)
        var checked = 0
        var taken = 0
        var mismatches: [String] = []
        for whole in 0...8 {
            for fraction in -1...8 {
                for follow in [",", "\n", "\r\n", "e5", ".5", "0", "\"", "-", "\u{0}", "\u{FF}"] {
                    for _ in 0..<300 {
                        var number = String((0..<whole).map { _ in Character(String(rng.next() % 10)) })
                        if fraction >= 0 {
                            number += "." + String((0..<fraction).map { _ in Character(String(rng.next() % 10)) })
                        }
                        let text = number + follow + ",1234567890123456789,"
                        var bytes = Array(text.utf8)
                        let short = bytes.withUnsafeMutableBufferPointer { b in
                            DecimalParser.parseShortDecimal(b.baseAddress!, b.count)
                        }
                        // taken exactly when the runs of digits are 1-7 before the point and 0-7 after it
                        let extra = follow == "0" ? 1 : 0
                        let integerRun = whole + (fraction < 0 ? extra : 0)
                        let fractionRun = fraction + extra
                        let expectTaken = (1...7).contains(integerRun) && (fraction < 0 || fractionRun <= 7)
                        checked += 1
                        if (short != nil) != expectTaken { mismatches.append("taken: " + text) }
                        guard let (v, n) = short else { continue }
                        taken += 1
                        let read = String(decoding: bytes[0..<n], as: UTF8.self)
                        let leading = bytes.withUnsafeMutableBufferPointer { b in
                            DecimalParser.parseLeading(b.baseAddress!, b.count)
                        }
                        let agrees =
                            Self.same(v, Self.strtodValue(read))
                            && (follow == "e5" || leading.map { $0.1 == n && Self.same($0.0, v) } ?? false)
                        if !agrees { mismatches.append(text) }
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
        #expect(taken > checked / 2, "\(taken) of \(checked) taken")
    }

    /// Fewer than 17 readable bytes: declined, never read past the end.
    @Test func shortDecimalNeedsSeventeenBytes() {
        var bytes = Array("30000.12,30000.1".utf8)
        let r = bytes.withUnsafeMutableBufferPointer { b in DecimalParser.parseShortDecimal(b.baseAddress!, b.count) }
        #expect(r == nil)
        bytes.append(0x2C)
        let s = bytes.withUnsafeMutableBufferPointer { b in DecimalParser.parseShortDecimal(b.baseAddress!, b.count) }
        #expect(s?.0 == 30000.12 && s?.1 == 8)
    }
}
