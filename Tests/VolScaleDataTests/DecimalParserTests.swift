import Testing
import Foundation
@testable import VolScaleData

/// The float parser against the C library's `strtod` (glibc's, correctly rounded), bit for
/// bit. Here a few hundred thousand strings in a debug build; `scripts/check-floats.sh` runs
/// the same comparison on ten million in a release build.
@Suite struct DecimalParserTests {
    static func strtodValue(_ s: String) -> Double? { DecimalSamples.strtodValue(s) }
    static func same(_ a: Double?, _ b: Double?) -> Bool { DecimalSamples.same(a, b) }
    /// Hard cases: halfway points, the largest and smallest doubles, subnormals, more digits
    /// than a UInt64 holds, exponents beyond the table, the Clinger boundary.
    static let edges = [
        "0", "-0", "0.0", "1", "-1", "0.1", "0.2", "0.3", "1.5", "42123.45000000", "9007199254740993", "9007199254740992",
        "9007199254740991", "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9406564584124654e-324",
        "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "1e308", "1e309", "1e-400", "1e400", "123456789012345678901234567890",
        "0.000000000000000000000000000001", "7.0420557077594588669468784357561207962098443483187940792729600000e-81",
        "9007199254740993.0000000000000000001", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124", "1.00000000000000011102230246251565404236316680908203126",
        "1e22", "1e23", "9.999999999999999e22", "123456789012345678e-5", "4503599627370496.5", "4503599627370497.5",
        "1.", ".5", "-.5", "+3", "1e+2", "1E-2", "00001.2500", "1e", "1e+", ".", "-", "", "e5", "1.2.3", "1,5", " 1", "1 ",
        "0x10", "inf", "-Infinity", "NaN", "nan(1)", "1_000",
    ]

    @Test func edgeCasesAgreeWithStrtod() {
        for s in Self.edges {
            let ours = DecimalParser.parse(s)
            // strtod also reads hexadecimal, nan(...) and leading spaces; the parser takes a field
            // already trimmed, and price files hold no hexadecimal: not numbers here
            let expected = s.hasPrefix("0x") || s.hasPrefix("nan(") || s.hasPrefix(" ") ? nil : Self.strtodValue(s)
            #expect(Self.same(ours, expected), "\(s): \(String(describing: ours)) vs strtod \(String(describing: expected))")
        }
    }

    /// Random decimal strings of every shape (`DecimalSamples`).
    @Test func randomStringsAgreeWithStrtod() {
        var samples = DecimalSamples(seed: 20261127)
        var mismatches: [String] = []
        for _ in 0..<300_000 {
            let s = samples.number()
            if !Self.same(DecimalParser.parse(s), Self.strtodValue(s)) { mismatches.append(s) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }
}
