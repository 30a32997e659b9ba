import Foundation
import Testing
@testable import VolScaleConfig

/// The service's JSON reader: kinds kept apart, numbers correctly rounded, malformed input
/// refused with the byte offset.
@Suite struct JSONReaderTests {
    func parse(_ text: String) throws(RequestError) -> JSON { try Requests.json(Data(text.utf8)) }

    @Test func readsEveryKind() throws {
        let v = try parse(#" { "a": [1, -2.5e3, true, false, null], "b": {"c": "x\"y\\z\u00e9\ud83d\ude00\n"}, "a": 7 } "#)
        #expect(v == .object([
            ("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null])),
            ("b", .object([("c", .string("x\"y\\zé😀\n"))])),
            ("a", .number(7)),
        ]))
        #expect(v["a"] == .number(7)) // a repeated key: the last one, as JSONSerialization
        #expect(v["b"]?["c"]?.string == "x\"y\\zé😀\n")
        #expect(try parse("true").number == nil) // a boolean is not the number 1
        #expect(try parse("1").bool == nil)
    }

    /// Against the standard library's correctly rounded conversion of the same text
    /// (Foundation's reader on Linux gave -1 for the first).
    @Test func numbersAreCorrectlyRounded() throws {
        let texts = ["-0.9999999999999999", "0.1", "5e-324", "2.2250738585072011e-308", "1.7976931348623157e308", "9007199254740993",
                     "1700000000000", "-0", "123456789012345678901234567890", "0.30000000000000004", "1e-400"]
        for t in texts {
            let expected = Double(t)!
            let got = try #require(try parse(t).number)
            #expect(got.bitPattern == expected.bitPattern, "\(t)")
        }
        #expect(try parse("-0.9999999999999999").number! > -1)
        #expect(try parse("1e400").number == .infinity) // out of range: every bound refuses it
    }

    @Test func refusesMalformedInput() {
        let bad = ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "-", "1e", "\"abc", "\"a\\q\"", "\"\\u12G4\"", "\"\\ud800\"",
                   "\"tab\there\"", "tru", "nul", "[1] 2", "{\"a\" 1}", "{1: 2}", "NaN", "Infinity"]
        for text in bad {
            #expect(throws: RequestError.self, "\(text)") { try parse(text) }
        }
        #expect(throws: RequestError.self) { try Requests.json(Data([0x22, 0xFF, 0xFE, 0x22])) } // invalid UTF-8
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        do { _ = try parse(deep); Issue.record("65 levels accepted") } catch {
            #expect(error.reason.contains("deeper than 64"))
        }
        #expect((try? parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))) != nil)
    }
}
