import Foundation
import Testing
import VolScaleCore
import VolScaleTestSupport

@testable import VolScaleMargin

/// Options margin in the Deribit form: coin-settled P&L by hand, the risk matrix on a short
/// strangle against scipy (scripts/make_fixtures.py options_grid), Deribit's own contingency
/// examples, standard margin by hand, and the volatility-scaled matrix.
@Suite struct OptionsMarginTests {
    /// A flat-volatility surface: SVI with b = 0 has total variance a at every strike.
    func flatMarket(forward: Double, volatility: Double, days: Double) throws -> OptionsMarket {
        let t = days / 365
        let slice = try SurfaceSlice(
            expiry: t, forward: forward, smile: SVISlice(a: volatility * volatility * t, b: 0, rho: 0, m: 0, sigma: 0.1)
        )
        return try OptionsMarket(surface: VolatilitySurface(slices: [slice]), index: forward)
    }

    func option(_ type: OptionType, _ strike: Double, _ q: Double, days: Double, _ s: OptionSettlement = .coin) throws
        -> ContractPosition
    {
        try ContractPosition(
            name: "\(type)-\(strike)", contract: .option(type: type, strike: strike, expiry: days / 365, settlement: s),
            quantity: q)
    }

    /// At almost zero volatility an option is worth its intrinsic value: a coin-settled call
    /// struck at 8000 is worth 1000/9000 coin at 9000 and 2000/10000 at 10000, a gain of
    /// 0.2 - 0.1111 = 0.0889 coin; the USD-settled one gains 1000 USD = 0.1 coin at 10000; an
    /// inverse future of 10000 USD gains 10000 (1/9000 - 1/10000) = 0.1111 coin.
    @Test func coinSettledProfitByHand() throws {
        let market = try flatMarket(forward: 9000, volatility: 1e-6, days: 30)
        let policy = OptionsMarginPolicy()
        let coin = try option(.call, 8000, 1, days: 30)
        let usd = try option(.call, 8000, 1, days: 30, .quote)
        let future = try ContractPosition(
            name: "F", contract: .future(expiry: 30.0 / 365, inverse: true), quantity: 10000)
        let up = 1000.0 / 9000
        #expect(
            close(
                OptionsMargin.pnl([coin], market: market, move: up, shock: 0, policy: policy), 0.2 - 1000.0 / 9000,
                rel: 1e-12))
        #expect(close(OptionsMargin.pnl([usd], market: market, move: up, shock: 0, policy: policy), 0.1, rel: 1e-12))
        #expect(
            close(
                OptionsMargin.pnl([future], market: market, move: up, shock: 0, policy: policy),
                10000 * (1 / 9000.0 - 1 / 10000.0), rel: 1e-12))
        // the same call short, a fall to 7000: worthless, the short keeps its 0.1111 coin
        #expect(
            close(
                OptionsMargin.pnl(
                    [try option(.call, 8000, -1, days: 30)], market: market, move: -2000.0 / 9000, shock: 0,
                    policy: policy),
                1000.0 / 9000, rel: 1e-12))
    }

    @Test func riskMatrixOnAShortStrangleMatchesScipy() throws {
        let f = try TestData.json("options-grid.json")
        let days = try #require(f["days"] as? Double)
        let market = try flatMarket(
            forward: try #require(f["forward"] as? Double), volatility: try #require(f["volatility"] as? Double),
            days: days)
        let positions = [
            try option(.call, 11000, -20, days: days), try option(.put, 7500, -20, days: days),
            try ContractPosition(name: "F", contract: .future(expiry: days / 365, inverse: true), quantity: -7500),
        ]
        let result = OptionsMargin.portfolioMargin(positions, market: market, policy: OptionsMarginPolicy())
        let expected = try #require(f["scenarios"] as? [[String: Any]])
        #expect(result.scenarios.count == expected.count)
        for (got, want) in zip(result.scenarios, expected) {
            #expect(close(got.move, try #require(want["move"] as? Double), rel: 1e-15, abs: 1e-15))
            #expect(got.volatility.rawValue == want["volatility"] as? String)
            #expect(close(got.weight, try #require(want["weight"] as? Double), rel: 1e-15))
            #expect(
                close(got.pnl, try #require(want["pnl"] as? Double), rel: 1e-9, abs: 1e-12),
                "\(got.move) \(got.volatility)")
        }
        #expect(close(result.maintenance, try #require(f["maintenance"] as? Double), rel: 1e-9))
        #expect(close(result.initial, try #require(f["initial"] as? Double), rel: 1e-9))
        #expect(close(result.shortOptionContingency, try #require(f["contingency"] as? Double), rel: 1e-15))
        #expect(result.futuresContingency == 0)
    }

    /// Deribit's documented examples: call +10 and put -20 on one strike is 10 net short, 0.1 coin;
    /// long 100 coins of one future and short 100 of another, 1% of 100 = 1 coin.
    @Test func contingenciesAsDeribitDocumentsThem() throws {
        let market = try flatMarket(forward: 9000, volatility: 0.8, days: 30)
        let options = [try option(.call, 9000, 10, days: 30), try option(.put, 9000, -20, days: 30)]
        #expect(
            close(
                OptionsMargin.portfolioMargin(options, market: market, policy: OptionsMarginPolicy())
                    .shortOptionContingency, 0.1, rel: 1e-15))
        let futures = [
            try ContractPosition(name: "A", contract: .future(expiry: 30.0 / 365, inverse: false), quantity: 100),
            try ContractPosition(name: "B", contract: .future(expiry: nil, inverse: false), quantity: -100),
        ]
        #expect(
            close(
                OptionsMargin.portfolioMargin(futures, market: market, policy: OptionsMarginPolicy())
                    .futuresContingency, 1, rel: 1e-15))
    }

    /// Standard margin by hand: a short call 20% out of the money pays the minimum 0.10 plus its
    /// mark; a short put in the money 0.15 plus its mark; maintenance 0.075 plus the mark.
    @Test func standardMarginOfShortOptionsByHand() throws {
        let f = try TestData.json("options-grid.json")
        let marks = try #require(f["marks"] as? [String: Double])
        let market = try flatMarket(forward: 9000, volatility: 0.8, days: 20)
        let report = try OptionsMargin.evaluate(
            balance: 5,
            positions: [
                try option(.call, 11000, -2, days: 20), try option(.put, 9500, -1, days: 20),
                try option(.put, 7500, 3, days: 20),
            ],
            market: market, policy: OptionsMarginPolicy())
        let call = report.positions[0]
        let put = report.positions[1]
        let long = report.positions[2]
        let callMark = try #require(marks["call-11000"])
        // OTM 2000/9000 = 0.222: max(0.15 - 0.222, 0.10)
        #expect(close(call.initialMargin, 2 * (0.10 + callMark), rel: 1e-12))
        #expect(close(call.maintenanceMargin, 2 * (0.075 + callMark), rel: 1e-12))
        let putMark = put.value / -1
        #expect(close(put.initialMargin, 0.15 + putMark, rel: 1e-12))  // in the money: OTM amount 0
        #expect(long.initialMargin == 0 && long.maintenanceMargin == 0)
        #expect(close(long.value, 3 * (try #require(marks["put-7500"])), rel: 1e-12))
        #expect(close(report.equity, 5 + call.value + put.value + long.value, rel: 1e-15))
    }

    /// At live volatility equal to the calibration the scaled matrix is the fixed one; at twice it,
    /// the range and shocks double; far beyond, the cap holds; a calm market is floored.
    @Test func volatilityScaledMatrix() throws {
        let market = try flatMarket(forward: 9000, volatility: 0.8, days: 20)
        let positions = [try option(.call, 11000, -20, days: 20), try option(.put, 7500, -20, days: 20)]
        let fixed = OptionsMarginPolicy()
        let same = fixed.scaled(by: try VolatilityScaling(live: 0.8, calibration: 0.8))
        #expect(
            same.priceRange == fixed.priceRange && same.volatilityUp == fixed.volatilityUp
                && same.volatilityDown == fixed.volatilityDown)
        #expect(same.extendedMoveWeights == fixed.extendedMoveWeights)
        let a = OptionsMargin.portfolioMargin(positions, market: market, policy: fixed)
        let b = OptionsMargin.portfolioMargin(positions, market: market, policy: same)
        #expect(a.scenarios == b.scenarios && a.maintenance == b.maintenance)
        let doubled = fixed.scaled(by: try VolatilityScaling(live: 1.6, calibration: 0.8))
        #expect(close(doubled.priceRange, 0.32, rel: 1e-15) && close(doubled.volatilityUp, 0.9, rel: 1e-15))
        #expect(doubled.extendedMoveWeights == fixed.extendedMoveWeights)  // the catastrophe table keeps its weights
        #expect(OptionsMargin.portfolioMargin(positions, market: market, policy: doubled).maintenance > a.maintenance)
        #expect(close(fixed.scaled(by: try VolatilityScaling(live: 8, calibration: 0.8)).priceRange, 0.4, rel: 1e-15))
        #expect(
            close(fixed.scaled(by: try VolatilityScaling(live: 0.1, calibration: 0.8)).priceRange, 0.08, rel: 1e-15))
        #expect(throws: OptionsAccountError.self) { try VolatilityScaling(live: 0, calibration: 0.8) }
    }

    @Test func invalidPositionsAndPoliciesAreRefused() throws {
        #expect(throws: OptionsAccountError.self) {
            try ContractPosition(
                name: "x", contract: .option(type: .call, strike: 100, expiry: 0, settlement: .coin), quantity: 1)
        }
        #expect(throws: OptionsAccountError.self) {
            try ContractPosition(name: "x", contract: .future(expiry: nil, inverse: true), quantity: .infinity)
        }
        var p = OptionsMarginPolicy()
        p.priceSteps = 8
        #expect(throws: OptionsAccountError.self) { try p.validate() }
        p = OptionsMarginPolicy()
        p.extendedWeights = [1]
        #expect(throws: OptionsAccountError.self) { try p.validate() }
    }

    /// Historical moves count as their expected shortfall: with 1,000 scenarios at 99% the mean of
    /// the ten largest losses, each the account's P&L at that move with IVs unchanged; the margin
    /// is the larger of it and the matrix's worst weighted loss.
    @Test func historicalMovesCountAsTheirExpectedShortfall() throws {
        let market = try flatMarket(forward: 9000, volatility: 0.8, days: 20)
        let positions = [try option(.call, 11000, -20, days: 20), try option(.put, 7500, -20, days: 20)]
        let moves = (0..<1000).map { 0.06 * sin(Double($0) * 1.7) * cos(Double($0) * 0.31) }
        let h = try HistoricalMoves(moves: moves, labels: moves.indices.map { "d\($0)" })
        let policy = OptionsMarginPolicy()
        let result = OptionsMargin.portfolioMargin(positions, market: market, policy: policy, historical: h)
        let losses = moves.map { -OptionsMargin.pnl(positions, market: market, move: $0, shock: 0, policy: policy) }
            .sorted(by: >)
        let expected = losses.prefix(10).reduce(0, +) / 10
        let part = try #require(result.historical)
        #expect(close(part.expectedShortfall, expected, rel: 1e-12))
        #expect(part.worstLoss == losses[0] && part.count == 1000)
        let matrix = try #require(result.worst).weightedLoss
        #expect(close(result.maintenance, max(matrix, expected) + result.shortOptionContingency, rel: 1e-14))
        // moves that cannot be: refused
        #expect(throws: OptionsAccountError.self) { try HistoricalMoves(moves: [-1.5], labels: ["x"]) }
        #expect(throws: OptionsAccountError.self) { try HistoricalMoves(moves: [0.1, 0.2], labels: ["x"]) }
    }
}
