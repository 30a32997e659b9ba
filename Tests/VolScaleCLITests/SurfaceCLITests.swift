import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCLI

/// `volscale surface` on the bundled Deribit chain: the output contract of issue 14 and the
/// quality bars (90% of two-sided quotes inside bid-ask, no static arbitrage).
@Suite struct SurfaceCLITests {
    let chain = TestData.data("deribit-btc-options-20200521.csv")

    @Test func jsonMeetsTheBarsOnTheBundledChain() throws {
        let out = try renderCommand(["surface", chain, "--format", "json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(json["arbitrageFree"] as? Bool == true)
        #expect(json["asOfSource"] as? String == "marks")
        let expiries = try #require(json["expiries"] as? [[String: Any]])
        #expect(expiries.count == 7)
        var twoSided = 0
        var within = 0.0
        for e in expiries {
            let n = try #require(e["twoSided"] as? Int)
            let share = try #require(e["withinBidAsk"] as? Double)
            twoSided += n
            within += share * Double(n)
            for key in ["expiry", "forward", "points", "rmse", "svi", "markError"] { #expect(e[key] != nil, "\(key)") }
            #expect(try #require(e["rmse"] as? Double) < 6)  // volatility points
        }
        #expect(twoSided > 150)
        #expect(within / Double(twoSided) >= 0.9)
        #expect(close(try #require(json["withinBidAsk"] as? Double), within / Double(twoSided), rel: 1e-12))
        // surface prices against the marks: a tenth of the worst is within a few ticks (0.0005 BTC)
        let marks = try #require(json["markError"] as? [String: Any])
        #expect(try #require(marks["medianAbs"] as? Double) < 0.001)
    }

    @Test func csvHasOneRowPerOptionWithDecimalVolatilities() throws {
        let out = try renderCommand(["surface", chain, "--format", "csv", "--as-of", "2020-05-21T23:21:00Z"])
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "expiry,strike,type,bid_iv,ask_iv,fitted_iv")
        #expect(lines.count == 327)
        // BTC-22MAY20-9000-C: bid_iv 81.03, ask_iv 98.0 percent in the chain
        let row = try #require(lines.first { $0.hasPrefix("2020-05-22T08:00:00Z,9000,call,") })
        let f = row.split(separator: ",", omittingEmptySubsequences: false)
        #expect(f[3] == "0.8103" && f[4] == "0.98")
        #expect((Double(f[5]) ?? 0) > 0.5 && (Double(f[5]) ?? 9) < 1.5)
        // the placeholder bid IV of 0 on BTC-22MAY20-6000-C is empty, not 0
        let placeholder = try #require(lines.first { $0.hasPrefix("2020-05-22T08:00:00Z,6000,call,") })
        #expect(placeholder.split(separator: ",", omittingEmptySubsequences: false)[3].isEmpty)
    }

    @Test func unreadableChainIsAnErrorNamingTheFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-empty-chain.csv").path
        try "strike,type\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try renderCommand(["surface", path]) }
        do { _ = try renderCommand(["surface", path]) } catch {
            #expect("\(error)".contains("volscale-empty-chain.csv"))
        }
    }

    /// `volscale options` on the example account: the scaled matrix equals the fixed one when the
    /// live volatility is the calibration level; Greeks add up; standard margin is the sum of the
    /// positions'.
    @Test func optionsAccountOnTheBundledChain() throws {
        let account = TestData.path("examples/options-account.toml")
        let out = try renderCommand(["options", account, "--chain", chain, "--format", "json", "--volatility", "0.8"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let fixed = try #require(json["portfolioFixed"] as? [String: Any])
        let scaled = try #require(json["portfolioScaled"] as? [String: Any])
        #expect(fixed["maintenance"] as? Double == scaled["maintenance"] as? Double)
        #expect((try #require(json["scaling"] as? [String: Any]))["ratio"] as? Double == 1)
        let positions = try #require(json["positions"] as? [[String: Any]])
        #expect(positions.count == 5)
        var delta = 0.0
        var im = 0.0
        for p in positions {
            delta += try #require((p["greeksCoin"] as? [String: Any])?["delta"] as? Double)
            im += try #require(p["standardInitial"] as? Double)
        }
        let total = try #require(json["greeksCoin"] as? [String: Any])
        #expect(close(try #require(total["delta"] as? Double), delta, rel: 1e-12, abs: 1e-12))
        #expect(close(try #require((json["standard"] as? [String: Any])?["initial"] as? Double), im, rel: 1e-12))
        // the hedge: the condor's coin delta is offset to within 0.1 coin by the future
        #expect(abs(delta) < 0.1)
        // without --volatility the chain's model-free index drives the scaled matrix
        let live = try renderCommand(["options", account, "--chain", chain, "--format", "json"])
        let liveJSON = try #require(try JSONSerialization.jsonObject(with: Data(live.utf8)) as? [String: Any])
        let scaling = try #require(liveJSON["scaling"] as? [String: Any])
        #expect(scaling["liveSource"] as? String == "the chain's 30-day model-free index")
        #expect(
            close(try #require(scaling["ratio"] as? Double), try #require(scaling["live"] as? Double) / 0.8, rel: 1e-12)
        )
    }

    @Test func optionsAccountErrorsNameTheEntry() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-options-bad.toml").path
        try "balance = 1\n[[position]]\ninstrument = \"BTC-26JUN20-9000\"\nquantity = 1\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try renderCommand(["options", path, "--chain", chain])
            Issue.record("accepted a bad instrument")
        } catch {
            #expect("\(error)".contains("[[position]] #1") && "\(error)".contains("BTC-26JUN20-9000"))
        }
        try "balance = 1\n[options]\nprice_range = 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try renderCommand(["options", path, "--chain", chain])
            Issue.record("accepted a price range of 200%")
        } catch {
            #expect("\(error)".contains("price_range"))
        }
    }

    /// Historical moves use only bars that ended by the chain's moment: the history rewritten
    /// after 2020-05-21 (prices doubled) gives the same margin; the history cut before it does not.
    @Test func historicalMovesUseNoBarAfterTheChain() throws {
        let account = TestData.path("examples/options-account.toml")
        let original = try String(contentsOfFile: TestData.data("btcusd-daily.csv"), encoding: .utf8)
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for i in 1..<lines.count where lines[i] >= "2020-05-21" && !lines[i].isEmpty {
            var f = lines[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for j in 1..<f.count { if let v = Double(f[j]) { f[j] = String(v * 2) } }
            lines[i] = f.joined(separator: ",")
        }
        let changed = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-btc-future-changed.csv")
            .path
        try lines.joined(separator: "\n").write(toFile: changed, atomically: true, encoding: .utf8)
        func historical(_ file: String) throws -> [String: Any] {
            let out = try renderCommand([
                "options", account, "--chain", chain, "--format", "json", "--volatility", "0.8", "--history", file,
            ])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
            return try #require((json["portfolioFixed"] as? [String: Any])?["historical"] as? [String: Any])
        }
        let a = try historical(TestData.data("btcusd-daily.csv"))
        let b = try historical(changed)
        #expect(a["expectedShortfall"] as? Double == b["expectedShortfall"] as? Double)
        #expect(a["worst"] as? String == "2020-03-12" && a["scenarios"] as? Int == 1000)
    }
}
