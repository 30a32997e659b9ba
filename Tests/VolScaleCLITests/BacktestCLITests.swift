import ArgumentParser
import Foundation
import Testing
import VolScaleRisk
import VolScaleTestSupport

@testable import VolScaleCLI

@Suite struct BacktestCLITests {

    func render(_ args: [String]) throws -> String { try renderCommand(args) }

    /// The JSON keys other tools read, and their consistency with the CSV.
    @Test func jsonKeysAndCSVAgree() throws {
        let args = [
            "backtest", TestData.data("sp500-daily.csv"), "--method", "fhs", "--measure", "var", "--lookback", "500",
            "--mpor", "2",
        ]
        let j =
            try JSONSerialization.jsonObject(with: Data(try render(args + ["--format", "json"]).utf8)) as! [String: Any]
        for key in [
            "observations", "exceedances", "exceedanceRate", "kupiec", "christoffersen", "trafficLight",
            "procyclicality",
        ] {
            #expect(j[key] != nil, "missing \(key)")
        }
        let k = try #require(j["kupiec"] as? [String: Double])
        #expect(k["statistic"] != nil && k["pValue"] != nil)
        let ch = try #require(j["christoffersen"] as? [String: [String: Double]])
        #expect(ch["independence"]?["pValue"] != nil && ch["conditionalCoverage"]?["statistic"] != nil)
        let tl = try #require(j["trafficLight"] as? [String: Any])
        #expect(tl["green"] is Int && tl["yellow"] is Int && tl["red"] is Int && tl["worst"] is String)
        let p = try #require(j["procyclicality"] as? [String: Double])
        for key in ["peakToTrough", "maxIncrease1", "maxIncrease5", "maxIncrease30", "averageMargin"] {
            #expect(p[key] != nil)
        }

        let csv = try render(args + ["--format", "csv"]).split(separator: "\n")
        #expect(csv.first == "date,margin,loss,exceeded")
        let rows = csv.dropFirst().map { $0.split(separator: ",") }
        #expect(rows.count == j["observations"] as? Int)
        let exceeded = rows.filter { $0[3] == "1" }.count
        #expect(exceeded == j["exceedances"] as? Int)
        // exceeded is exactly loss > margin; margins are positive fractions
        for r in rows {
            let m = Double(r[1])!
            let l = Double(r[2])!
            #expect(m > 0 && m < 1)
            #expect((r[3] == "1") == (l > m))
        }
        // first evaluated bar, by hand: 75 seed returns + 500 lookback, so the first margin is
        // set at bar 575 (after returns 0...574) and dated there; the date read from the file
        let dates = try String(contentsOfFile: TestData.data("sp500-daily.csv"), encoding: .utf8).split(separator: "\n")
            .dropFirst()
            .map { String($0.prefix(10)) }
        #expect(rows.first.map { String($0[0]) } == dates[75 + 500])
    }

    @Test func configRunsSeveralModelsSideBySide() throws {
        let cfg = TestData.root.appendingPathComponent("Tests/Fixtures/margin-small.toml").path
        let j =
            try JSONSerialization.jsonObject(
                with: Data(
                    try render(["backtest", TestData.data("sp500-daily.csv"), "--config", cfg, "--format", "json"]).utf8
                )) as! [String: Any]
        let models = try #require(j["models"] as? [[String: Any]])
        #expect(models.count == 3)
        // each model from its own first bar: warm-ups differ, so do the samples
        #expect(Set(models.map { $0["observations"] as! Int }).count > 1)
        let aligned =
            try JSONSerialization.jsonObject(
                with: Data(
                    try render([
                        "backtest", TestData.data("sp500-daily.csv"), "--config", cfg,
                        "--format", "json", "--same-bars",
                    ]).utf8)) as! [String: Any]
        let same = try #require(aligned["models"] as? [[String: Any]])
        #expect(Set(same.map { $0["observations"] as! Int }).count == 1)  // one common evaluation window
        #expect(Set(same.map { $0["firstDate"] as! String }).count == 1)
        // a model's own results do not depend on the others in the file
        let latest = models.map { $0["firstDate"] as! String }.max()!
        #expect(same[0]["firstDate"] as? String == latest)
    }

    /// Display: a p-value just below 0.05 is not rounded up to one that reads as a pass,
    /// and ordinals are English.
    @Test func pValuesAndOrdinalsReadRight() {
        #expect(Fmt.pValue(0.04992) == "0.0499")
        #expect(Fmt.pValue(0.0504) == "0.050")
        #expect(Fmt.pValue(0.0499999) == "0.0499999")
        #expect(Fmt.pValue(0.5) == "0.500")
        #expect(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112].map(English.ordinal)
                == [
                    "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th",
                    "112th",
                ])
    }

    @Test func reportIsSelfContainedHTMLWithCharts() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volscale-report-\(UUID().uuidString).html"
        ).path
        _ = try render(["backtest", TestData.data("sp500-daily.csv"), "--lookback", "500", "--report", out])
        let html = try String(contentsOfFile: out, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: out)
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 2)  // margin and volatility charts
        #expect(html.contains("<polyline") && html.contains("<circle"))  // paths and exceedance marks
        #expect(html.contains("Kupiec POF") && html.contains("peak-to-trough"))
        #expect(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"))  // no external resources
        #expect(!html.contains("<script"))
    }

    @Test func marginRatesNamesTheBindingControl() throws {
        let cfg = TestData.root.appendingPathComponent("Tests/Fixtures/margin-small.toml").path
        let j =
            try JSONSerialization.jsonObject(
                with: Data(try render(["margin-rates", "--config", cfg, "--format", "json"]).utf8)) as! [String: Any]
        let rates = try #require(j["rates"] as? [[String: Any]])
        #expect(rates.count == 6)
        for r in rates {
            let initial = r["initial"] as! Double
            let mm = r["maintenance"] as! Double
            #expect(initial > 0 && mm > 0 && mm <= initial)
            #expect((r["setBy"] as? String)?.isEmpty == false)
        }
        let buffered = rates.first { ($0["model"] as! String).contains("buffer") && $0["side"] as? String == "long" }
        #expect((buffered?["setBy"] as? String)?.hasPrefix("buffer") == true)
    }

    @Test func badInputIsNamed() throws {
        let cases: [([String], String)] = [
            (
                ["backtest", TestData.data("sp500-daily.csv"), "--lookback", "6000"],
                "lookback = 6000.0: longer than the data (5030 returns)"
            ),
            (
                ["backtest", TestData.data("btcusd-monthly.csv"), "--model", "garch", "--method", "parametric"],
                "needs at least"
            ),
        ]
        for (args, message) in cases {
            do {
                _ = try render(args)
                Issue.record("accepted \(args)")
            } catch {
                #expect("\(error)".contains(message), "got: \(error)")
            }
        }
        let invalid: [([String], String)] = [
            (["backtest", "x.csv", "--confidence", "1.2"], "--confidence must be in (0.5, 1)"),
            (["backtest", "x.csv", "--mpor=-1"], "--mpor must be a positive number of bars"),
            (["backtest", "x.csv", "--config", "c.toml", "--lookback", "10"], "--config declares the models"),
        ]
        for (args, message) in invalid {
            do {
                _ = try VolScaleCommand.parseAsRoot(args)
                Issue.record("accepted \(args)")
            } catch {
                #expect(
                    VolScaleCommand.message(for: error).contains(message), "got: \(VolScaleCommand.message(for: error))"
                )
            }
        }
    }
}
