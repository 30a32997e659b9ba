import Testing

@testable import VolScaleMargin

/// The re-margin kernel computes what the calculator computes: the same equity, initial
/// and maintenance margin and status, to the last bit, for accounts of every kind the
/// kernel takes, with and without published parameter sets; and it leaves to the
/// calculator what it cannot take.
@Suite struct StandardMarginKernelTests {
    static func book(published: Bool) throws -> MarginBook {
        var btc = try AssetRisk(
            name: "BTC", price: 61_234.5, volatility: 0.031, averageDailyVolume: 2e10, spread: 0.0002,
            sizeRule: .squareRoot(base: 0, f: 1e-4), haircutFloor: 0.05, haircutCap: 0.9, impactThreshold: 1e6)
        var eth = try AssetRisk(
            name: "ETH", price: 3_012.25, volatility: 0.042, averageDailyVolume: 1e10, spread: 0.0003,
            sizeRule: .tiers([Tier(from: 0, rate: 0), Tier(from: 1e6, rate: 0.075), Tier(from: 5e6, rate: 0.1)]),
            haircutFloor: 0.08, haircutCap: 0.6, haircutTiers: [Tier(from: 0, rate: 0), Tier(from: 2e6, rate: 0.3)])
        let spx = try AssetRisk(
            name: "SPX", price: 2_506.85, volatility: 0.011, averageDailyVolume: 3e11, spread: 0.0001,
            initialRate: 0.06, maintenanceRate: 0.045)
        let sol = try AssetRisk(
            name: "SOL", price: 150, volatility: 0.06, averageDailyVolume: 1e9,
            sizeRule: .openInterest(base: 0.05, lower: 1e8, upper: 5e8, current: 2e8))
        if published {
            btc.published = PublishedParameters(
                sequence: 41, initialLong: 0.071, initialShort: 0.078, maintenanceLong: 0.0568,
                maintenanceShort: 0.0624, haircutLong: 0.112, haircutShort: 0.127)
            eth.published = PublishedParameters(
                sequence: 43, initialLong: 0.091, initialShort: 0.1, maintenanceLong: 0.0728,
                maintenanceShort: 0.08, haircutLong: 0.15, haircutShort: 0.16)
        }
        return MarginBook(
            assets: [btc, eth, spx, sol, try AssetRisk(name: "USD", price: 1, volatility: 0)],
            instruments: [
                Instrument(symbol: "BTC-PERP", underlying: "BTC", kind: .linear(expiry: nil)),
                Instrument(symbol: "ETH-PERP", underlying: "ETH", kind: .linear(expiry: nil)),
                Instrument(symbol: "SOL-PERP", underlying: "SOL", kind: .linear(expiry: nil), multiplier: 10),
                Instrument(symbol: "SPX-FUT", underlying: "SPX", kind: .linear(expiry: 80.0 / 365), multiplier: 50),
                Instrument(symbol: "BTC-INV", underlying: "BTC", kind: .inverse(expiry: nil), multiplier: 100),
                Instrument(
                    symbol: "BTC-C", underlying: "BTC", kind: .option(type: .call, strike: 70_000, expiry: 30.0 / 365),
                    impliedVolatility: 0.6),
                Instrument(
                    symbol: "BTC-P", underlying: "BTC", kind: .option(type: .put, strike: 50_000, expiry: 30.0 / 365),
                    impliedVolatility: 0.7),
                Instrument(
                    symbol: "ETH-C", underlying: "ETH", kind: .option(type: .call, strike: 3_500, expiry: 7.0 / 365),
                    impliedVolatility: 0.8),
            ])
    }

    struct Draw {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        mutating func pick<T>(_ a: [T]) -> T { a[Int(next() * Double(a.count)) % a.count] }
    }

    /// Random accounts: 0-3 collateral balances (some borrowed, some large enough for the
    /// impact add-on, tiers and cap), 0-6 positions with repeated instruments (netting and
    /// several entries), sizes from tiny to ones that move the size rules.
    static func accounts(_ n: Int, seed: UInt64) -> [Account] {
        var d = Draw(state: seed)
        let symbols = ["BTC-PERP", "ETH-PERP", "SOL-PERP", "SPX-FUT", "BTC-INV", "BTC-C", "BTC-P", "ETH-C"]
        return (0..<n).map { k in
            var collateral: [(asset: String, quantity: Double)] = []
            for asset in ["USD", "BTC", "ETH", "SOL"] where d.next() < 0.5 {
                let scale = d.pick([1.0, 10, 1_000, 100_000])
                collateral.append((asset, (d.next() - 0.2) * scale))
            }
            let positions = (0..<Int(d.next() * 7)).map { _ in
                let s = d.pick(symbols)
                let size = d.pick([0.01, 1, 50, 5_000])
                return Position(
                    instrument: s, quantity: (d.next() * 2 - 1) * size,
                    entryPrice: s.hasSuffix("-C") || s.hasSuffix("-P") ? nil : 100 + d.next() * 70_000)
            }
            return Account(id: "a\(k)", collateral: collateral, positions: positions)
        }
    }

    @Test(arguments: [false, true])
    func kernelEqualsCalculatorToTheBit(published: Bool) throws {
        let book = try Self.book(published: published)
        var calc = MarginCalculator(book: book)
        calc.explaining = false
        let catalogue = MarginCatalogue(book: book)
        let kernel = StandardMarginKernel(calculator: calc, catalogue: catalogue)
        var statuses: [AccountStatus: Int] = [:]
        for account in Self.accounts(3_000, seed: published ? 11 : 12) {
            let compiled = catalogue.compile(account)
            #expect(compiled.kernelEvaluable)
            let f = try #require(kernel.evaluate(compiled))
            let r = try calc.evaluate(account, mode: .standard)
            #expect(
                f.equity == r.equity && f.initialMargin == r.initialMargin && f.maintenanceMargin == r.maintenanceMargin
                    && f.status == r.status,
                "\(account.id): kernel \(f), calculator \(r.equity) \(r.initialMargin) \(r.maintenanceMargin) \(r.status)"
            )
            statuses[f.status, default: 0] += 1
        }
        // the draw reaches every status
        #expect(statuses.count == 3, "\(statuses)")
    }

    @Test func whatTheKernelCannotTakeIsLeftToTheCalculator() throws {
        let catalogue = MarginCatalogue(book: try Self.book(published: false))
        let refused = [
            Account(
                id: "iv", collateral: [],
                positions: [Position(instrument: "BTC-C", quantity: 1, impliedVolatility: 0.9)]),
            Account(
                id: "unknown", collateral: [],
                positions: [Position(instrument: "DOGE-PERP", quantity: 1, entryPrice: 1)]),
            Account(id: "twice", collateral: [("USD", 1), ("USD", 2)], positions: []),
            Account(id: "no entry", collateral: [], positions: [Position(instrument: "BTC-PERP", quantity: 1)]),
            Account(id: "asset", collateral: [("XRP", 1)], positions: []),
        ]
        for a in refused { #expect(!catalogue.compile(a).kernelEvaluable, "\(a.id)") }
    }
}
