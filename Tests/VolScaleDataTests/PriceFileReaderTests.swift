import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleData

@Suite struct PriceFileReaderTests {
    let reader = PriceFileReader()

    /// A series built from columns is checked as the readers check files: each failure
    /// names the row and the reason.
    @Test func seriesFromColumnsIsValidated() throws {
        let t: [Int64] = [1000, 2000, 3000]
        let ok = try PriceSeries(source: "mem", timestamps: t, close: [1, 2, 3], volume: [0, 1, 2])
        #expect(ok.returns.count == 2)
        let cases: [([Int64], [Double], [Double]?, DataError.Kind, Int)] = [
            (t, [1, -2, 3], nil, .badRow(.nonPositivePrice(field: "close")), 2),
            (t, [1, .nan, 3], nil, .badRow(.nonFinite(field: "close")), 2),
            ([1000, 3000, 2000], [1, 2, 3], nil, .badRow(.timeBackwards), 3),
            ([1000, 1000, 2000], [1, 2, 3], nil, .badRow(.duplicateTimestamp), 2),
            (t, [1, 2, 3], [1, -1, 0], .badRow(.negativeQuantity(field: "volume")), 2),
            (t, [1, 2, 3], [1, .infinity, 0], .badRow(.nonFinite(field: "volume")), 2),
        ]
        for (times, close, volume, kind, row) in cases {
            #expect(throws: DataError(file: "mem", line: row, kind: kind)) {
                try PriceSeries(source: "mem", timestamps: times, close: close, volume: volume)
            }
        }
        #expect(throws: DataError.self) { try PriceSeries(source: "mem", timestamps: [1, 2], close: [1, 2, 3]) }
    }

    static var dataDirectory: URL { TestData.root.appendingPathComponent("data") }

    @Test func readsTheSP500File() throws {
        let out = try reader.read(path: Self.dataDirectory.appendingPathComponent("sp500-daily.csv").path)
        #expect(out.series.count == 5031)
        #expect(out.series.returns.count == 5030)
        #expect(out.series.bars != nil)
        #expect(out.series.label(0) == "1999-01-04")
        #expect(out.series.close.first == 1228.099976)
        let s = out.series.sampling
        #expect(s.periodsPerYear == 252 && s.barDescription == "1 day")
        #expect(s.reason.contains("weekdays only"))
    }

    @Test func hourlyFXAndMonthlyBitcoinSampling() throws {
        let fx = try reader.read(path: Self.dataDirectory.appendingPathComponent("eurusd-hourly.csv").path).series
        #expect(fx.sampling.barDescription == "1 hour")
        #expect(fx.sampling.periodsPerYear == 24 * 252)
        #expect(fx.label(0) == "2017-04-19T09:00:00Z")
        let btc = try reader.read(path: Self.dataDirectory.appendingPathComponent("btcusd-monthly.csv").path).series
        #expect(btc.sampling.periodsPerYear == 12)
    }

    @Test func cryptoDailyWithWeekendsIs365() throws {
        // 10 consecutive calendar days including a weekend, epoch milliseconds
        let start: Int64 = 1_704_067_200_000  // 2024-01-01
        var text = "timestamp,close\n"
        for d in 0..<10 { text += "\(start + Int64(d) * 86_400_000),\(100 + d)\n" }
        let s = try reader.parse(text, name: "btc.csv").series
        #expect(s.sampling.periodsPerYear == 365)
        #expect(s.sampling.reason.contains("24/7"))
        #expect(s.label(1) == "2024-01-02")
    }

    @Test func binanceKlineMillisecondsAndMicroseconds() throws {
        let ms = """
            1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68,1704070799999,53957248.97,47134,682.58,28964118.82,0
            1704070800000,42475.23,42775.00,42431.65,42613.56,1196.37,1704074399999,50968010.58,45556,605.25,25781930.37,0
            1704074400000,42613.57,42638.41,42500.00,42581.09,685.19,1704077999999,29175018.38,31112,312.03,13286391.45,0
            """
        let a = try reader.parse(ms, name: "BTCUSDT-1h.csv").series
        #expect(a.count == 3 && a.bars != nil)
        #expect(a.label(0) == "2024-01-01T00:00:00Z")
        #expect(a.sampling.barDescription == "1 hour")
        let us = ms.replacingOccurrences(of: "1704067200000,", with: "1704067200000000,")
            .replacingOccurrences(of: "1704070800000,", with: "1704070800000000,")
            .replacingOccurrences(of: "1704074400000,", with: "1704074400000000,")
        let b = try reader.parse(us, name: "BTCUSDT-1h.csv").series
        #expect(b.timestamps == a.timestamps)
    }

    /// Volumes on request: the `volume` column, the sixth kline field, `volume`/`qty`/`size`
    /// in JSON lines; zero is a volume, a negative one is a bad row, no column is an error.
    @Test func volumesWhenAsked() throws {
        let withVolume = PriceFileReader(volume: true)
        let csv = "date,open,high,low,close,volume\n2024-01-01,1,2,1,1.5,10\n2024-01-02,1.5,2,1,1.2,0\n"
        #expect(try withVolume.parse(csv, name: "v.csv").series.volume == [10, 0])
        #expect(try reader.parse(csv, name: "v.csv").series.volume == nil)
        let kline = "1704067200000,1,2,1,1.5,1271.68,x\n1704070800000,1.5,2,1,1.2,685.19,y\n"
        #expect(try withVolume.parse(kline, name: "k.csv").series.volume == [1271.68, 685.19])
        let jsonl = "{\"ts\": 1, \"price\": 2, \"qty\": 0.5}\n{\"ts\": 2, \"price\": 3, \"qty\": 1.5}\n"
        #expect(try withVolume.parse(jsonl, name: "t.jsonl").series.volume == [0.5, 1.5])
        do {
            _ = try withVolume.parse("date,close\n2024-01-01,1\n2024-01-02,2\n", name: "nv.csv")
            Issue.record("accepted a file without volume")
        } catch {
            #expect(error.description.contains("no column 'volume'"), "\(error)")
        }
        do {
            _ = try withVolume.parse(csv.replacingOccurrences(of: ",0\n", with: ",-3\n"), name: "neg.csv")
            Issue.record("accepted a negative volume")
        } catch {
            #expect(
                error.description == "neg.csv:3: field 'volume' is negative (use --skip-bad-rows to skip such rows)",
                "\(error)")
        }
    }

    @Test func jsonLinesOfTicks() throws {
        let text = """
            {"ts": 1704067200000, "price": 100.5}
            {"ts": "2024-01-01T00:00:01.500Z", "price": 100.7}
            {"ts": 1704067203, "price": 100.6}
            """
        let s = try reader.parse(text, name: "ticks.jsonl").series
        #expect(s.timestamps == [1_704_067_200_000, 1_704_067_201_500, 1_704_067_203_000])
        #expect(s.close == [100.5, 100.7, 100.6])
    }

    @Test func isoDateTimesWithOffsets() {
        #expect(Timestamp.parse("2024-01-01T02:00:00+02:00") == 1_704_067_200_000)
        #expect(Timestamp.parse("2024-01-01 00:00") == 1_704_067_200_000)
        #expect(Timestamp.parse("2024-02-30") == nil)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.weekday(milliseconds: 1_704_067_200_000) == 1)  // Monday
    }

    // MARK: bad rows: each names file, line and reason

    static let badCases: [(String, String)] = [
        ("date,close\n2024-01-01,100\n2024-01-02,\n2024-01-03,101\n", "prices.csv:3: field 'close' is empty"),
        ("date,close\n2024-01-01,100\n2024-01-02,abc\n", "prices.csv:3: field 'close' is not a number: 'abc'"),
        ("date,close\n2024-01-01,100\n2024-01-02,-5\n", "prices.csv:3: field 'close' is not a positive price"),
        ("date,close\n2024-01-01,100\n2024-01-02,0\n", "prices.csv:3: field 'close' is not a positive price"),
        (
            "date,open,high,low,close\n2024-01-01,100,101,99,100\n2024-01-02,100,98,99,99\n",
            "prices.csv:3: high below low"
        ),
        (
            "date,open,high,low,close\n2024-01-01,100,101,99,100\n2024-01-02,100,101,99,102\n",
            "prices.csv:3: close outside [low, high]"
        ),
        ("date,close\n2024-01-02,100\n2024-01-01,101\n", "prices.csv:3: timestamp earlier than the previous row's"),
        ("date,close\n2024-01-01,100\n2024-01-01,101\n", "prices.csv:3: duplicate timestamp"),
        ("date,close\n2024-01-01,100\n\n2024-01-03,101\n", "prices.csv:3: empty row"),
        ("date,close\n2024-01-01,100\n2024-13-01,101\n", "prices.csv:3: unreadable timestamp '2024-13-01'"),
        ("date,close\n2024-01-01,100\n2024-01-02,101,7\n", "prices.csv:3: expected 2 fields, found 3"),
        ("date,close\n2024-01-01,100\n2024-01-02,nan\n", "prices.csv:3: field 'close' is not finite"),
    ]

    @Test(arguments: 0..<12)
    func badRowsAreErrorsThatNameFileLineAndReason(_ i: Int) {
        let (text, message) = Self.badCases[i]
        do {
            _ = try reader.parse(text, name: "prices.csv")
            Issue.record("accepted a bad file: \(message)")
        } catch {
            #expect(error.description.hasPrefix(message), "got: \(error.description)")
        }
    }

    @Test func badKlineAndJSONRows() {
        let kline = "1704067200000,1,2,0.5,1.5,10\n1704070800000,1,2,0.5\n"
        do {
            _ = try reader.parse(kline, name: "k.csv")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("k.csv:2: expected 6 fields, found 4"))
        }
        let jsonl = "{\"ts\": 1704067200000, \"price\": 100}\n{\"ts\": 1704067260000, \"price\": 100.5\n"
        do {
            _ = try reader.parse(jsonl, name: "t.jsonl")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("t.jsonl:2: invalid JSON: cannot parse"))
        }
        let missing = "{\"ts\": 1704067200000, \"price\": 100}\n{\"ts\": 1704067260000}\n"
        do {
            _ = try reader.parse(missing, name: "t.jsonl")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("t.jsonl:2: field 'price' is empty"))
        }
    }

    @Test func skipBadRowsCountsByReason() throws {
        let text =
            "date,close\n2024-01-01,100\n2024-01-02,\n2024-01-03,\n2024-01-04,-1\n2024-01-04,101\n2024-01-05,102\n2024-01-05,103\n"
        let out = try PriceFileReader(skipBadRows: true).parse(text, name: "p.csv")
        #expect(out.series.close == [100, 101, 102])
        let expected: [String: Int] = [
            "empty field 'close'": 2, "non-positive price in 'close'": 1, "duplicate timestamp": 1,
        ]
        #expect(out.skipped.counts == expected)
        #expect(out.skipped.lines.first == "2 rows skipped: empty field 'close'")
        #expect(out.skipped.examples.first?.line == 3)
    }

    @Test func missingColumnListsWhatIsThere() {
        let expected = DataError(file: "p.csv", line: 1, kind: .missingColumn("price", available: ["date", "open"]))
        #expect(throws: expected) { _ = try reader.parse("date,open\n2024-01-01,1\n", name: "p.csv") }
        let vix = DataError(file: "p.csv", line: 1, kind: .missingColumn("vix", available: ["date", "close"]))
        #expect(throws: vix) {
            _ = try PriceFileReader(column: "vix").parse("date,close\n2024-01-01,1\n2024-01-02,1\n", name: "p.csv")
        }
    }

    /// The official VIX file has empty values on some days: an error by default, counted
    /// when skipped.
    @Test func chosenColumnIsUsedForReturns() throws {
        let path = Self.dataDirectory.appendingPathComponent("vix-daily.csv").path
        #expect(throws: DataError.self) { _ = try PriceFileReader(column: "vix").read(path: path) }
        let out = try PriceFileReader(column: "vix", skipBadRows: true).read(path: path)
        #expect(out.series.close.first == 13.76)
        #expect(out.skipped.total > 0 && out.skipped.counts.keys.allSatisfy { $0 == "empty field 'vix'" })
        #expect(out.series.count + out.skipped.total == 1305)
    }

    @Test func missingFileIsAClearError() {
        do {
            _ = try reader.read(path: "/nonexistent/x.csv")
            Issue.record("no error")
        } catch {
            #expect(error.description == "/nonexistent/x.csv: cannot read: no such file")
        }
    }

    @Test func alignmentKeepsCommonTimestampsAndCountsDrops() throws {
        let a = try reader.parse(
            "date,close\n2024-01-01,100\n2024-01-02,110\n2024-01-03,121\n2024-01-04,100\n", name: "a"
        ).series
        let b = try reader.parse("date,close\n2024-01-01,10\n2024-01-03,12\n2024-01-04,11\n", name: "b").series
        let al = AlignedReturns([a, b])
        #expect(al.dropped == [1, 0])
        #expect(al.returns.count == 2)
        #expect(abs(al.returns[0][0] - log(121.0 / 100)) < 1e-15)  // the gap is one return
        #expect(abs(al.returns[0][1] - log(12.0 / 10)) < 1e-15)
    }

    @Test func optionChainReaderGroupsExpiries() throws {
        let text =
            "days,strike,call_bid,call_ask,put_bid,put_ask\n9,900,10,11,5,6\n37,900,20,21,15,16\n9,910,6,7,9,10\n"
        let chains = try OptionChainReader(defaultRate: 0.01).parse(text, name: "chain.csv")
        let expiries: [Double] = [9.0 / 365, 37.0 / 365]
        #expect(chains.map(\.expiry) == expiries)
        #expect(chains[0].quotes.count == 2 && chains[0].rate == 0.01)
        let header = ["days", "strike", "call_bid", "call_ask", "put_bid", "put_ask"]
        let missingRate = DataError(file: "chain.csv", line: 1, kind: .missingColumn("rate", available: header))
        #expect(throws: missingRate) {
            _ = try OptionChainReader().parse(text, name: "chain.csv")
        }
    }
}
