import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCLI

/// `volscale liquidity` and `volscale regimes` on the bundled files against the independent
/// fixtures (numpy, statsmodels): the numbers through the whole path, reader included.
@Suite struct LiquidityRegimesCLITests {
    func output(_ args: [String]) throws -> String { try renderCommand(args) }

    func csvRows(_ text: String) -> [[Substring]] {
        text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    }

    @Test(arguments: [("liquidity-btc.json", "btcusd-daily.csv"), ("liquidity-sp500.json", "sp500-daily.csv")])
    func liquidityCSVMatchesNumpy(_ fixture: String, _ file: String) throws {
        let f = try TestData.json(fixture)
        var args = [
            "liquidity", TestData.data(file), "--window", "\(f["window"] as! Int)",
            "--volume-unit", f["volumeUnit"] as! String, "--format", "csv",
        ]
        if f["overnightAdjusted"] as! Bool { args.append("--overnight-adjusted") }
        let text = try output(args)
        #expect(text.hasPrefix("date,adv,amihud,spread\n"))
        let rows = csvRows(text)
        let dates = f["date"] as! [String]
        let adv = f["adv"] as! [Double]
        let spread = f["spread"] as! [Double]
        let amihud = f["amihud"] as! [Any]
        try #require(rows.count == dates.count)
        var worst = 0.0
        for (i, r) in rows.enumerated() {
            #expect(String(r[0]) == dates[i])
            worst = max(worst, relativeError(Double(r[1])!, adv[i]))
            if let a = amihud[i] as? Double {
                worst = max(worst, relativeError(Double(r[2])!, a))
            } else {
                #expect(r[2].isEmpty)
            }
            worst = max(worst, spread[i] == 0 ? Swift.abs(Double(r[3])!) : relativeError(Double(r[3])!, spread[i]))
        }
        #expect(worst <= 1e-9, "worst relative error \(worst)")
    }

    @Test func liquidityJSONAndTable() throws {
        let text = try output([
            "liquidity", TestData.data("btcusd-daily.csv"), "--volume-unit", "quote", "--format", "json",
        ])
        let j = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(j["window"] as? Int == 20 && j["volumeUnit"] as? String == "quote")
        let series = try #require(j["series"] as? [[String: Any]])
        #expect(series.count == 3540 - 20)
        let latest = try #require(j["latest"] as? [String: Any])
        #expect(latest["date"] as? String == "2024-05-26")
        #expect(Set(latest.keys) == ["date", "adv", "amihud", "spread"])
        let table = try output(["liquidity", TestData.data("btcusd-daily.csv"), "--volume-unit", "quote"])
        #expect(table.contains("spread (bp)") && table.contains("Amihud (per 1M)") && table.contains("2024-05-26"))
    }

    @Test func liquidityNeedsVolumeAndBars() throws {
        for (args, message) in [
            (["liquidity", TestData.data("vix-daily.csv"), "--column", "vix"], "no column 'volume'"),
            (["liquidity", TestData.data("btcusd-monthly.csv"), "--window", "200"], "needs at least 201"),
        ] {
            do {
                _ = try output(args)
                Issue.record("accepted \(args)")
            } catch {
                #expect("\(error)".contains(message), "got: \(error)")
            }
        }
        do {
            _ = try VolScaleCommand.parseAsRoot(["liquidity", "x.csv", "--window", "1"])
            Issue.record("accepted window 1")
        } catch {
            #expect(VolScaleCommand.message(for: error).contains("--window must be at least 2"))
        }
    }

    /// The S&P 500 through `regimes --format csv`: filtered probabilities of the stressed
    /// state as statsmodels computes them at its own optimum (the optima agree to ~1e-6).
    @Test func regimesCSVMatchesStatsmodels() throws {
        let f = try TestData.json("regimes-sp500.json")
        let two = try #require((f["cases"] as? [[String: Any]])?.first { $0["states"] as? Int == 2 })
        let pHigh = try #require(two["pHigh"] as? [Double])
        let text = try output(["regimes", TestData.data("sp500-daily.csv"), "--format", "csv", "--starts", "5"])
        #expect(text.hasPrefix("date,return,p_high\n"))
        let rows = csvRows(text)
        try #require(rows.count == pHigh.count)
        let worst = zip(rows, pHigh).map { Swift.abs(Double($0[2])! - $1) }.max() ?? 1
        #expect(worst <= 1e-3, "p_high differs from statsmodels' by up to \(worst)")
        #expect(rows[0][0] == "1999-01-05")
    }

    @Test func regimesJSONKeys() throws {
        let text = try output(["regimes", TestData.data("btcusd-monthly.csv"), "--format", "json", "--starts", "5"])
        let j = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let variances = try #require(j["variances"] as? [Double])
        #expect(variances.count == 2 && variances[0] <= variances[1])
        let transition = try #require(j["transition"] as? [[Double]])
        for row in transition { #expect(Swift.abs(row.reduce(0, +) - 1) < 1e-12) }
        #expect((j["state"] as? Int).map { (0..<2).contains($0) } == true)
        #expect(j["logLikelihood"] is Double && (j["means"] as? [Double])?.count == 2)
        do {
            _ = try VolScaleCommand.parseAsRoot(["regimes", "x.csv", "--states", "9"])
            Issue.record("accepted 9 states")
        } catch {
            #expect(VolScaleCommand.message(for: error).contains("--states must be between 2 and 6"))
        }
    }

    /// `volscale haircuts`: one row per bar in the range, the same numbers whatever the
    /// range starts at, the regime never lowering a haircut.
    @Test func haircutPathOverARange() throws {
        let args = [
            "haircuts", TestData.data("btcusd-daily.csv"), "--volume-unit", "quote", "--holding", "5e8", "--format",
            "csv",
        ]
        let text = try output(args + ["--from", "2024-04-20"])
        #expect(text.hasPrefix("date,volatility,adv,spread,amihud,p_high,haircut,haircut_calm\n"))
        let rows = csvRows(text)
        #expect(rows.count == 37 && rows.first?[0] == "2024-04-20" && rows.last?[0] == "2024-05-26")
        for r in rows { #expect(Double(r[6])! >= Double(r[7])!, "\(r[0])") }
        let later = csvRows(try output(args + ["--from", "2024-05-10", "--to", "2024-05-20"]))
        #expect(later.count == 11)
        for r in later { #expect(rows.contains(r), "\(r[0]) differs when the range starts later") }
        let json = try output([
            "haircuts", TestData.data("btcusd-daily.csv"), "--volume-unit", "quote", "--from", "2024-05-20", "--format",
            "json",
        ])
        let j = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let series = try #require(j["series"] as? [[String: Any]])
        #expect(
            series.count == 7
                && Set(series[0].keys) == [
                    "date", "volatility", "adv", "spread", "amihud", "pHigh", "haircut", "haircutCalm",
                ])
        do {
            _ = try VolScaleCommand.parseAsRoot(["haircuts", "x.csv", "--stressed-multiplier", "0.5"])
            Issue.record("accepted")
        } catch {
            #expect(VolScaleCommand.message(for: error).contains("--stressed-multiplier must be in [1, 100]"))
        }
    }
}
