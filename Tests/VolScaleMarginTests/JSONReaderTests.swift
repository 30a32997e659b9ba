import Foundation
import Testing

@testable import VolScaleConfig

/// The service's JSON reader: kinds kept apart, numbers correctly rounded, malformed input
/// refused with the byte offset.
@Suite struct JSONReaderTests {
    func parse(_ text: String) throws(RequestError) -> JSON { try Requests.json(Data(text.utf8)) }

    @Test func readsEveryKind() throws {
        let v = try parse(
            #" { "a": [1, -2.5e3, true, false, null], "b": {"c": "x\"y\\z\u00e9\ud83d\ude00\n"}, "a": 7 } "#)
        #expect(
            v
                == .object([
                    ("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null])),
                    ("b", .object([("c", .string("x\"y\\zé😀\n"))])),
                    ("a", .number(7)),
                ]))
        #expect(v["a"] == .number(7))  // a repeated key: the last one, as JSONSerialization
        #expect(v["b"]?["c"]?.string == "x\"y\\zé😀\n")
        #expect(try parse("true").number == nil)  // a boolean is not the number 1
        #expect(try parse("1").bool == nil)
    }

    /// Against the standard library's correctly rounded conversion of the same text
    /// (Foundation's reader on Linux gave -1 for the first).
    @Test func numbersAreCorrectlyRounded() throws {
        let texts = [
            "-0.9999999999999999", "0.1", "5e-324", "2.2250738585072011e-308", "1.7976931348623157e308",
            "9007199254740993",
            "1700000000000", "-0", "123456789012345678901234567890", "0.30000000000000004", "1e-400",
        ]
        for t in texts {
            let expected = Double(t)!
            let got = try #require(try parse(t).number)
            #expect(got.bitPattern == expected.bitPattern, "\(t)")
        }
        #expect(try parse("-0.9999999999999999").number! > -1)
        // out of range: JSON has no infinity (Foundation refuses it too)
        #expect(throws: RequestError.self) { try parse("1e400") }
        #expect(try parse("1e-400").number == 0)  // underflow rounds to zero, as strtod
    }

    /// The exact fast path and the fallback against the standard library on 20,000 random
    /// decimal texts (1-20 digits, a decimal point anywhere, exponents -30...30).
    @Test func randomNumbersMatchTheStandardLibrary() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % n
        }
        for _ in 0..<20_000 {
            let count = Int(next(20)) + 1
            var text = next(2) == 0 ? "-" : ""
            var body = String(Int(next(9)) + 1)
            for _ in 1..<count { body += String(next(10)) }
            let point = Int(next(UInt64(count + 1)))
            if point > 0 && point < count { body.insert(".", at: body.index(body.startIndex, offsetBy: point)) }
            text += body
            if next(3) == 0 { text += "e\(Int(next(61)) - 30)" }
            let got = try #require(try parse(text).number)
            #expect(got.bitPattern == Double(text)!.bitPattern, "\(text)")
        }
    }

    @Test func refusesMalformedInput() {
        let bad = [
            "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "-", "1e", "\"abc", "\"a\\q\"", "\"\\u12G4\"",
            "\"\\ud800\"",
            "\"tab\there\"", "tru", "nul", "[1] 2", "{\"a\" 1}", "{1: 2}", "NaN", "Infinity",
        ]
        for text in bad {
            #expect(throws: RequestError.self, "\(text)") { try parse(text) }
        }
        #expect(throws: RequestError.self) { try Requests.json(Data([0x22, 0xFF, 0xFE, 0x22])) }  // invalid UTF-8
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        do {
            _ = try parse(deep)
            Issue.record("65 levels accepted")
        } catch {
            #expect(error.reason.contains("deeper than 64"))
        }
        #expect((try? parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))) != nil)
    }

    /// The writer's text reads back as the same value (escapes, non-ASCII, numbers at the
    /// edges of the integral form), and matches Foundation's encoder on the same strings.
    @Test func writtenTextReadsBackTheSame() throws {
        let strings = ["plain", "quote \" and \\ backslash", "line\nbreak\ttab\r", "\u{1}\u{1f}\u{7f}", "é 🚀 中文", ""]
        let numbers: [Double] = [
            0, -0.0, 1, -1, 0.1, 1e-300, 1.7976931348623157e308, 9_007_199_254_740_992, 9_007_199_254_740_994, -2.5e15,
            123456.789,
        ]
        let value = JSON.object([
            ("s", .array(strings.map(JSON.string))), ("n", .array(numbers.map(JSON.number))),
            ("b", .bool(true)), ("z", .null), ("o", .object([("k", .array([]))])),
        ])
        #expect(try parse(value.text) == value)
        for s in strings {
            let foundation = String(decoding: try JSONEncoder().encode([s]), as: UTF8.self)
            #expect(try parse(foundation) == parse(JSON.array([.string(s)]).text))
        }
    }

    /// Lines of a quotes file (`volscale ingest`): the time as epoch s/ms/us or ISO 8601 under
    /// `ts` or `timestamp`, other fields allowed; what is wrong is named, never a trap (a
    /// time of 1e300 used to be converted with `Int64(...)`).
    @Test func quoteLinesAreCheckedLikeRequests() throws {
        let ms: Int64 = 1_700_000_000_000
        for line in [
            #"{"asset":"BTC","source":"a","ts":1700000000,"price":1}"#,
            #"{"asset":"BTC","source":"a","ts":1700000000000,"price":1,"volume":3}"#,
            #"{"asset":"BTC","source":"a","timestamp":1700000000000000,"price":1}"#,
            #"{"asset":"BTC","source":"a","ts":"2023-11-14T22:13:20Z","price":1}"#,
        ] {
            let q = try Requests.quoteLine(Substring(line))
            #expect(q.timestamp == ms && q.price == 1 && q.asset == "BTC", "\(line)")
        }
        let bad: [(String, String)] = [
            (#"{"asset":"BTC","source":"a","ts":1e300,"price":1}"#, "ts"),
            (#"{"asset":"BTC","source":"a","ts":"yesterday","price":1}"#, "ts"),
            (#"{"asset":"BTC","source":"a","price":1}"#, "timestamp"),
            (#"{"asset":"BTC","source":"a","ts":1700000000,"price":-1}"#, "price"),
            (#"{"asset":"","source":"a","ts":1700000000,"price":1}"#, "asset"),
            (#"[1,2]"#, ""),
            (#"{"asset":"BTC""#, ""),
        ]
        for (line, field) in bad {
            #expect(throws: RequestError.self, "\(line)") { try Requests.quoteLine(Substring(line)) }
            do { _ = try Requests.quoteLine(Substring(line)) } catch {
                #expect(error.field == field || (field.isEmpty && !error.reason.isEmpty), "\(line): \(error)")
            }
        }
    }
}
