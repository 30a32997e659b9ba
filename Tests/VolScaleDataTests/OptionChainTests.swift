import Foundation
import Testing
import VolScaleCore
import VolScaleTestSupport

@testable import VolScaleData

/// The chain reader on the bundled Deribit chain (counts from data/README.md) and on Deribit's
/// book-summary JSON.
@Suite struct OptionChainTests {
    @Test func bundledChainCountsAndPlaceholders() throws {
        let chain = try OptionChainFileReader().read(path: TestData.data("deribit-btc-options-20200521.csv"))
        #expect(chain.options.count == 326)
        #expect(Set(chain.options.map(\.expiry)).count == 7)
        // README: bid_iv 0.0 on 83 rows, ask_iv 500.0 on 49 rows
        #expect(chain.placeholders == 83 + 49)
        #expect(chain.options.allSatisfy { ($0.bidIV ?? 1) > 0 && ($0.askIV ?? 0) < 5 })
        let first = try #require(chain.options.first)
        #expect(first.instrument == "BTC-22MAY20-6000-C")
        #expect(first.expiry == Timestamp.parse("2020-05-22T08:00:00Z"))
        #expect(first.markIV == 1.3423)  // 134.23 percent, read exactly
        // the chain was taken between 23:19:53 and 23:22:35 (README); the marks put it inside
        let asOf = try #require(chain.inferredTimestamp())
        #expect(asOf >= Timestamp.parse("2020-05-21T23:19:53Z")! && asOf <= Timestamp.parse("2020-05-21T23:22:35Z")!)
    }

    @Test func deribitBookSummaryJSON() throws {
        let json = """
            {"jsonrpc":"2.0","result":[
             {"instrument_name":"BTC-26JUN20","mark_price":9100.5,"underlying_price":9100.0,"creation_timestamp":1590103300000},
             {"instrument_name":"BTC-26JUN20-9000-C","bid_price":0.0835,"ask_price":0.0865,"mark_price":0.085,"mark_iv":84.1,
              "underlying_price":9094.47,"open_interest":120.5,"creation_timestamp":1590103297000},
             {"instrument_name":"BTC-5JUN20-8000-P","bid_price":0,"ask_price":0.004,"mark_price":0.0035,"mark_iv":90.2,
              "underlying_price":9089.1,"open_interest":null,"creation_timestamp":1590103298000}
            ]}
            """
        let chain = try OptionChainFileReader().parse(Array(json.utf8), name: "book.json")
        #expect(chain.options.count == 2)  // the future is not an option
        #expect(chain.timestamp == 1_590_103_298_000)
        let c = chain.options[0]
        let p = chain.options[1]
        #expect(c.expiry == Timestamp.parse("2020-06-26T08:00:00Z") && c.strike == 9000 && c.type == .call)
        #expect(
            p.expiry == Timestamp.parse("2020-06-05T08:00:00Z") && p.type == .put && p.bid == nil
                && p.openInterest == nil)
        // IVs from prices: Black-76 on the forward at zero rate reproduces price x forward
        let years = Double(c.expiry - 1_590_103_298_000) / OptionChainSnapshot.millisecondsPerYear
        let q = try #require(chain.smileQuote(c, forward: 9094.47, years: years))
        let bidIV = try #require(q.bid)
        let askIV = try #require(q.ask)
        #expect(
            close(
                Black76.price(forward: 9094.47, strike: 9000, volatility: bidIV, expiry: years, type: .call),
                0.0835 * 9094.47, rel: 1e-12))
        #expect(bidIV < askIV)
        let qp = try #require(chain.smileQuote(p, forward: 9089.1, years: years))
        #expect(qp.bid == nil && qp.ask != nil)
    }

    @Test func badRowsNameLineAndField() throws {
        let header =
            "instrument,expiry,strike,type,bid,ask,mark,mark_iv,bid_iv,ask_iv,underlying_price,open_interest\r\n"
        let good = "BTC-26JUN20-9000-C,2020-06-26T08:00:00Z,9000,call,0.08,0.09,0.085,84,80,88,9094,1\r\n"
        // BOM and CRLF are fine
        let ok = try OptionChainFileReader().parse([0xEF, 0xBB, 0xBF] + Array((header + good).utf8), name: "c.csv")
        #expect(ok.options.count == 1 && ok.options[0].bidIV == 0.8)
        func failure(_ row: String) -> DataError? {
            do {
                _ = try OptionChainFileReader().parse(Array((header + good + row).utf8), name: "c.csv")
                return nil
            } catch { return error }
        }
        #expect(failure("BTC-26JUN20-9000-P,2020-06-26T08:00:00Z,-9000,put,,,,,,,9094,1\r\n")?.line == 3)
        #expect(
            failure("BTC-26JUN20-9000-P,2020-06-26T08:00:00Z,9000,straddle,,,,,,,9094,1\r\n")?.description.contains(
                "type") == true)
        #expect(failure("BTC-26JUN20-9000-P,not-a-date,9000,put,,,,,,,9094,1\r\n")?.line == 3)
        #expect(failure("BTC-26JUN20-9000-P,2020-06-26T08:00:00Z,9000,put,,,,,,,9094\r\n")?.line == 3)
    }

    /// The 30-day model-free index (the DVOL method) from the chain's quotes against an independent
    /// numpy implementation of the white-paper method on the same quotes (scripts/make_fixtures.py dvol).
    @Test func modelFreeIndexFromTheChainMatchesTheWhitePaperMethod() throws {
        let f = try TestData.json("dvol-deribit.json")
        let asOfText = try #require(f["asOf"] as? String)
        let asOf = try #require(Timestamp.parse(asOfText))
        let chain = try OptionChainFileReader().read(path: TestData.data("deribit-btc-options-20200521.csv"))
        let index = try ModelFreeVariance.index(chain.modelFreeQuotes(asOf: asOf), targetDays: 30)
        #expect(close(index.value, try #require(f["index"] as? Double), rel: 1e-12))
        let expiries = try #require(f["expiries"] as? [[String: Any]])
        for (got, want) in zip([index.near, index.next], expiries) {
            #expect(close(got.variance, try #require(want["sigma2"] as? Double), rel: 1e-12))
            #expect(close(got.forward, try #require(want["forward"] as? Double), rel: 1e-12))
            #expect(got.k0 == want["k0"] as? Double)
            #expect(got.optionsUsed == want["optionsUsed"] as? Int)
        }
    }
}
