import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleData

/// The byte readers at the border: RFC 4180 CSV, line endings, byte-order marks, NUL bytes,
/// compressed files, and the three ways of reading one file (whole on one core, whole on
/// several, streamed block by block) giving the same rows and the same errors.
@Suite struct ByteReaderTests {
    let reader = PriceFileReader()

    static var root: URL { TestData.root }
    static func archive(_ name: String) -> String {
        root.appendingPathComponent("Tests/Fixtures/archives/\(name)").path
    }

    static let lf =
        "date,open,high,low,close\n2024-01-01,100,101,99,100.5\n2024-01-02,100.5,102,100,101.25\n2024-01-03,101.25,101.5,98,99\n"

    func rows(_ text: String, _ r: PriceFileReader = PriceFileReader()) throws -> PriceSeries {
        try r.parse(text, name: "p.csv").series
    }

    @Test func crlfAndLoneCRReadAsLF() throws {
        let expected = try rows(Self.lf)
        #expect(expected.count == 3)
        #expect(try rows(Self.lf.replacingOccurrences(of: "\n", with: "\r\n")) == expected)
        #expect(try rows(Self.lf.replacingOccurrences(of: "\n", with: "\r")) == expected)
        // no line break after the last row
        #expect(try rows(String(Self.lf.dropLast())) == expected)
        // blank lines at the end are not rows
        #expect(try rows(Self.lf + "\r\n\n  \n") == expected)
    }

    @Test func byteOrderMarkIsSkipped() throws {
        #expect(try rows("\u{FEFF}" + Self.lf) == rows(Self.lf))
        let utf16: [UInt8] = [0xFF, 0xFE, 0x64, 0x00]
        do {
            _ = try utf16.withUnsafeBytes { try reader.parse(bytes: $0, name: "w.csv") }
            Issue.record("accepted UTF-16")
        } catch {
            #expect("\(error)".contains("UTF-16"))
        }
    }

    @Test func quotedFieldsAsRFC4180() throws {
        let text = [
            "\"date\",\"close\",\"note\"",
            "\"2024-01-01\",\"1000.5\",\"up, strongly\"",
            "2024-01-02,\"1001.5\",\"he said \"\"sell\"\"\"",
            "2024-01-03,1002.5,\"two",
            "lines\"",
            "2024-01-04, 1003.5 ,plain",
        ].joined(separator: "\n")
        let s = try rows(text)
        #expect(s.close == [1000.5, 1001.5, 1002.5, 1003.5])
        // a bad row after the quoted line break is named by its physical line
        let bad = text + "\n2024-01-05,x,y\n"
        do {
            _ = try rows(bad)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("p.csv:7: field 'close' is not a number: 'x'"), "\(error)")
        }
        do {
            _ = try rows("date,close\n2024-01-01,1\n2024-01-02,\"2\n")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("p.csv:3: a quoted field has no closing quote"), "\(error)")
        }
        do {
            _ = try rows("date,close\n2024-01-01,1\n2024-01-02,\"2\"x\n")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("p.csv:3: text after the closing quote"), "\(error)")
        }
    }

    @Test func nulInsideAFieldIsAnErrorThatShowsIt() {
        do {
            _ = try rows("date,close\n2024-01-01,100\n2024-01-02,100\u{0} 99\n")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("p.csv:3: field 'close' is not a number: '100\\u{0} 99'"), "\(error)")
        }
        do {
            _ = try rows("date,close\n2024-01-01\u{0},100\n2024-01-02,101\n")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("p.csv:2: unreadable timestamp '2024-01-01\\u{0}'"), "\(error)")
        }
    }

    @Test func zipAndGzipArchivesReadAsThePlainFile() throws {
        let plain = try reader.read(path: Self.archive("BTCUSD-1d-klines.csv")).series
        #expect(plain.count == 400 && plain.bars != nil)
        #expect(plain.close.first == 457.334015)
        for name in ["BTCUSD-1d-klines.zip", "BTCUSD-1d-klines.csv.gz", "BTCUSD-1d-klines-two-members.csv.gz"] {
            let s = try reader.read(path: Self.archive(name)).series
            #expect(
                s.timestamps == plain.timestamps && s.close == plain.close && s.bars == plain.bars
                    && s.volume == plain.volume, "\(name)")
            var streamed: [Double] = []
            _ = try reader.stream(path: Self.archive(name), blockBytes: 1000) { streamed += $0.price }
            #expect(streamed == plain.close, "\(name) streamed")
        }
        do {
            _ = try reader.read(path: Self.archive("two-files.zip"))
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("must hold exactly one price file"), "\(error)")
        }
        let gz = try Data(contentsOf: URL(fileURLWithPath: Self.archive("BTCUSD-1d-klines.csv.gz")))
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volscale-truncated-\(UUID()).csv.gz")
        try gz.prefix(gz.count / 2).write(to: truncated)
        defer { try? FileManager.default.removeItem(at: truncated) }
        do {
            _ = try reader.read(path: truncated.path)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("ends early"), "\(error)")
        }
    }

    /// A file big enough to be parsed in parts on several cores, with bad rows, a row out of
    /// order right where a part may start, CRLF endings: the parallel parse, the streamed one
    /// (with blocks of a few hundred bytes, so records are cut everywhere) and the rows the
    /// test writes agree, with and without skipping.
    @Test func partsAndStreamingAgreeWithEachOther() throws {
        var text = "timestamp,open,high,low,close\r\n"
        var expected: [Double] = []
        let start: Int64 = 1_704_067_200_000
        let n = 120_000
        for i in 0..<n {
            let t = start + Int64(i) * 60_000
            let c = 100 + Double(i % 1000) / 100
            if i % 9_973 == 17 {
                text += "\(t),abc,1,1,1\r\n"
            } else if i == n / 2 {
                // earlier than the row before: rejected, wherever the parts are cut
                text += "\(t - 120_000),\(c),\(c),\(c),\(c)\r\n"
            } else {
                text += "\(t),\(c),\(c + 0.5),\(c - 0.5),\(c)\r\n"
                expected.append(c)
            }
        }
        #expect(text.utf8.count > 4 << 20)
        let skipping = PriceFileReader(skipBadRows: true)
        let whole = try skipping.parse(text, name: "big.csv")
        #expect(whole.series.close == expected)
        #expect(whole.skipped.counts["non-numeric field 'open'"] == (0..<n).filter { $0 % 9_973 == 17 }.count)
        #expect(whole.skipped.counts["time going backwards"] == 1)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-big-\(UUID()).csv")
        try Data(text.utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        var streamed: [Double] = []
        let skipped = try skipping.stream(path: path.path, blockBytes: 700) { streamed += $0.price }
        #expect(streamed == expected)
        #expect(skipped.counts == whole.skipped.counts)
        #expect(skipped.examples.map(\.line) == whole.skipped.examples.map(\.line))
        // volumes (here the close again, in a sixth column) follow their rows through the parts
        let withVolume = text.replacingOccurrences(
            of: "timestamp,open,high,low,close\r\n", with: "timestamp,open,high,low,close,volume\r\n"
        )
        .split(separator: "\r\n", omittingEmptySubsequences: false).enumerated()
        .map { i, line in i == 0 || line.isEmpty ? String(line) : line + "," + (line.split(separator: ",").last ?? "") }
        .joined(separator: "\r\n")
        var volumeReader = skipping
        volumeReader.volume = true
        #expect(try volumeReader.parse(withVolume, name: "big-volume.csv").series.volume == expected)
        // without skipping, all three name the same first bad row
        let firstBad = 2 + (0..<n).first { $0 % 9_973 == 17 }!
        for attempt in 0..<2 {
            do {
                if attempt == 0 {
                    _ = try reader.parse(text, name: path.path)
                } else {
                    _ = try reader.stream(path: path.path, blockBytes: 700) { _ in }
                }
                Issue.record("accepted")
            } catch let e as DataError {
                #expect(e.line == firstBad, "\(e)")
            }
        }
    }

    @Test func jsonLinesOnBytes() throws {
        let text =
            "{\"ts\": 1704067200000, \"price\": 100.5, \"meta\": {\"venue\": \"x\", \"tags\": [1, \"}\"]}}\r\n"
            + "{\"price\": \"100.7\", \"ts\": \"2024-01-01T00:00:01.500Z\"}\n\n"
        let s = try rows(text)
        #expect(s.close == [100.5, 100.7])
        for (bad, reason) in [
            ("{\"ts\": 1, \"price\": 1", "invalid JSON"), ("{\"ts\": 1 \"price\": 1}", "invalid JSON"),
            ("{\"ts\": \"a\u{0}\", \"price\": 1}", "invalid JSON"),
            ("{\"ts\": 1704067300000, \"price\": null}", "field 'price' is empty"),
        ] {
            do {
                _ = try rows("{\"ts\": 1704067200000, \"price\": 1}\n" + bad + "\n")
                Issue.record("accepted \(bad)")
            } catch {
                #expect("\(error)".hasPrefix("p.csv:2: \(reason)"), "\(error)")
            }
        }
    }

    @Test func epochAndISOTimesOnBytes() {
        #expect(Timestamp.parse("1704067200") == 1_704_067_200_000)
        #expect(Timestamp.parse("1704067200000") == 1_704_067_200_000)
        #expect(Timestamp.parse("1704067200000000") == 1_704_067_200_000)
        #expect(Timestamp.parse("1704067200000000000") == 1_704_067_200_000)
        #expect(Timestamp.parse("1704067200.25") == 1_704_067_200_250)
        #expect(Timestamp.parse("2024-01-01T00:00:00.2506Z") == 1_704_067_200_251)
        #expect(Timestamp.parse("2024-01-01T00:00:00.") == nil)
        #expect(Timestamp.parse("99999999999999999999") == nil)
        #expect(Timestamp.parse("2024-01-01T00:00+24:00") == nil)
        // outside 1900-2100 (EpochMillis.range) for ISO too
        #expect(Timestamp.parse("2200-01-01") == nil)
        var times = TimeParser()
        let text = Array("2200-01-01 00:00".utf8)
        #expect(text.withUnsafeBufferPointer { times.parse($0.baseAddress!, $0.count) } == nil)
    }
}
