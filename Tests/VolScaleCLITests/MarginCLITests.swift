import ArgumentParser
import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCLI

@Suite struct MarginCLITests {
    static let book = TestData.root.appendingPathComponent("examples/book.toml").path
    /// The example accounts plus two broken ones (a duplicate id, an unknown instrument): each
    /// is refused by name and the others are margined.
    static let accounts = TestData.root.appendingPathComponent("Tests/Fixtures/accounts-with-errors.json").path

    func json(_ args: [String]) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(try renderCommand(args).utf8)) as! [String: Any]
    }

    @Test func marginJSONPerAccountAndFailures() throws {
        for mode in ["standard", "portfolio"] {
            let j = try json([
                "margin", "--config", Self.book, "--accounts", Self.accounts, "--mode", mode, "--format", "json",
                "--explain",
            ])
            let accounts = try #require(j["accounts"] as? [[String: Any]])
            #expect(accounts.count == 6)
            for a in accounts {
                for key in ["accountId", "equity", "initialMargin", "maintenanceMargin", "status", "explanation"] {
                    #expect(a[key] != nil, "\(key)")
                }
            }
            let byId = Dictionary(uniqueKeysWithValues: accounts.map { ($0["accountId"] as! String, $0) })
            #expect((byId["alice-hedged"]?["initialMargin"] as? Double ?? 1) < 1e-9)
            #expect(byId["erin-levered"]?["status"] as? String == "liquidatable")
            let failed = try #require(j["failed"] as? [[String: String]])
            #expect(
                failed.map { $0["error"]! }.sorted() == [
                    "account 'gina-typo': id: duplicate account id",
                    "account 'gina-typo': positions[0].instrument: unknown instrument 'SOL-PERP'",
                ])
        }
        let std = try json(["margin", "--config", Self.book, "--accounts", Self.accounts, "--format", "json"])
        let pm = try json([
            "margin", "--config", Self.book, "--accounts", Self.accounts, "--mode", "portfolio", "--format", "json",
        ])
        func im(_ j: [String: Any], _ id: String) -> Double {
            ((j["accounts"] as! [[String: Any]]).first { $0["accountId"] as? String == id }!["initialMargin"] as! Double)
        }
        #expect(im(pm, "carol-pair") < im(std, "carol-pair"))  // diversified pair
        #expect(im(pm, "carol-pair") >= 0.5 * im(std, "carol-pair") - 1e-9)
    }

    @Test func stressCascadeReport() throws {
        let j = try json([
            "stress", "--config", Self.book, "--accounts", Self.accounts, "--shock", "BTC=-30%", "--format", "json",
        ])
        let rounds = try #require(j["rounds"] as? [[String: Any]])
        #expect((rounds.last?["newlyLiquidatable"] as? [String])?.isEmpty == true)
        #expect((j["liquidatable"] as? Int ?? 0) >= 1)
        let moves = try #require(j["moves"] as? [String: Double])
        #expect(abs(moves["BTC"]! - log(0.7)) < 1e-12)
        // the losses are paid by the fund, then by deleveraging, and what is left is reported
        let fund = try json([
            "stress", "--config", Self.book, "--accounts", Self.accounts, "--shock", "BTC=-30%", "--insurance-fund",
            "5000",
            "--format", "json",
        ])
        let paid = try #require(fund["insurancePaid"] as? Double)
        let adl = try #require(fund["deleveraged"] as? Double)
        let uncovered = try #require(fund["uncovered"] as? Double)
        let shortfall = try #require(fund["shortfall"] as? Double)
        #expect(shortfall > 5000 && paid == 5000)
        #expect(abs(paid + adl + uncovered - shortfall) < 1e-6 * shortfall)
        let r1 = try #require((fund["rounds"] as? [[String: Any]])?.first)
        #expect(r1["insuranceFund"] as? Double == 0)
        #expect((r1["volatility"] as? [String: Double])?["BTC"] == 0.03)
        // round 2 sees BTC's volatility re-estimated from the 30% fall
        let r2 = try #require((fund["rounds"] as? [[String: Any]])?.dropFirst().first)
        let v2 = try #require((r2["volatility"] as? [String: Double])?["BTC"])
        #expect(abs(v2 - (0.94 * 0.03 * 0.03 + 0.06 * log(0.7) * log(0.7)).squareRoot()) < 1e-12)
        let hist = try json([
            "stress", "--config", Self.book, "--accounts", Self.accounts, "--shock-date", "2008-10-15", "--format",
            "json",
        ])
        let hm = try #require(hist["moves"] as? [String: Double])
        #expect(hm.keys.sorted() == ["SPX"] && hm["SPX"]! < -0.09)  // the S&P fell 9.0% on 15 Oct 2008
    }

    @Test func badPriceFileIsNamed() throws {
        let prices = FileManager.default.temporaryDirectory.appendingPathComponent("p-\(UUID().uuidString).csv").path
        try "asset,price\nBTC,abc\n".write(toFile: prices, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: prices) }
        do {
            _ = try json([
                "margin", "--config", Self.book, "--accounts", Self.accounts, "--prices", prices, "--format", "json",
            ])
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains(": line 2: price 'abc' is not a positive number"), "\(error)")
        }
    }
}
