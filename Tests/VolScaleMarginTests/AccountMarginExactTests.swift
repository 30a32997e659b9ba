import Foundation
import Testing
import VolScaleCore
import VolScaleMargin
import VolScaleTestSupport

/// Standard and portfolio margin to the last digits, against the rules written out
/// independently with scipy (`scripts/make_fixtures.py account_margin`): the options' grid
/// losses, the linear positions' ES rate, the account's worst weighted grid loss, the liquidity
/// add-ons and the offset floor.
@Suite struct AccountMarginExactTests {
    static func book(_ f: [String: Any]) throws -> MarginBook {
        let price = try #require(f["price"] as? Double)
        let sigma = try #require(f["volatility"] as? Double)
        let adv = try #require(f["adv"] as? Double)
        let spread = try #require(f["spread"] as? Double)
        let settings = try MarginSettings(
            confidence: try #require(f["confidence"] as? Double), mpor: try #require(f["mpor"] as? Int),
            kappa: try #require(f["kappa"] as? Double), maxOffset: try #require(f["maxOffset"] as? Double))
        var instruments: [Instrument] = []
        for (symbol, any) in try #require(f["instruments"] as? [String: [String: Any]]) {
            switch any["kind"] as? String {
            case "perpetual":
                instruments.append(Instrument(symbol: symbol, underlying: "BTC", kind: .linear(expiry: nil)))
            case let kind?:
                let strike = try #require(any["strike"] as? Double)
                let days = try #require(any["expiryDays"] as? Double)
                instruments.append(
                    Instrument(
                        symbol: symbol, underlying: "BTC",
                        kind: .option(type: kind == "call" ? .call : .put, strike: strike, expiry: days / 365),
                        impliedVolatility: try #require(any["iv"] as? Double)))
            case nil: Issue.record("instrument \(symbol) without a kind")
            }
        }
        return MarginBook(
            assets: [
                try AssetRisk(name: "BTC", price: price, volatility: sigma, averageDailyVolume: adv, spread: spread),
                try AssetRisk.settlement("USD"),
            ],
            instruments: instruments, settings: settings)
    }

    @Test func standardAndPortfolioMarginMatchTheWrittenOutRules() throws {
        let f = try TestData.json("account-margin.json")
        let book = try Self.book(f)
        let calculator = MarginCalculator(book: book)
        let price = try #require(f["price"] as? Double)
        let accounts = try #require(f["accounts"] as? [String: [String: Any]])
        #expect(accounts.count == 3)
        for (name, expected) in accounts.sorted(by: { $0.key < $1.key }) {
            let positions = try #require(expected["positions"] as? [[String: Any]]).map { p in
                Position(
                    instrument: p["instrument"] as? String ?? "", quantity: p["quantity"] as? Double ?? .nan,
                    entryPrice: price)
            }
            let account = Account(id: name, collateral: [("USD", 1_000_000)], positions: positions)
            let standard = try calculator.evaluate(account, mode: .standard)
            let portfolio = try calculator.evaluate(account, mode: .portfolio)
            let s = try #require(expected["standard"] as? [String: Any])
            let p = try #require(expected["portfolio"] as? [String: Any])
            for (got, key, table) in [
                (standard.initialMargin, "initial", s), (standard.maintenanceMargin, "maintenance", s),
                (portfolio.initialMargin, "initial", p), (portfolio.maintenanceMargin, "maintenance", p),
            ] {
                let want = try #require(table[key] as? Double)
                #expect(relativeError(got, want) <= 1e-12, "\(name) \(key): \(got) against \(want)")
            }
        }
    }
}
