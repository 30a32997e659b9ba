import Foundation
import Testing
import VolScaleCore
import VolScaleTestSupport

@testable import VolScaleMargin

@Suite struct PortfolioKernelTests {
    /// The kernel against a direct computation: sort the losses, average the worst 1%.
    @Test func matchesDirectComputation() {
        var seed: UInt64 = 3
        func u() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(1 << 53)
        }
        let scenarios = 500
        let instruments = 12
        let width = 4
        let accounts = 300
        let rows = (0..<(scenarios * instruments)).map { _ in u() * 2 - 1 }
        let standalone = (0..<instruments).map { _ in 0.2 + u() }
        let price = (0..<instruments).map { _ in 10 + 100 * u() }
        let kernel = PortfolioKernel(
            rows: rows, scenarios: scenarios, standalone: standalone, price: price,
            halfSpread: Array(repeating: 0.001, count: instruments),
            kappaSigma: Array(repeating: 0.02, count: instruments),
            adv: Array(repeating: 1e6, count: instruments), confidence: 0.99, maxOffset: 0.4)
        var inst: [Int32] = []
        var coef: [Double] = []
        for _ in 0..<accounts {
            for _ in 0..<width {
                inst.append(Int32(Int(u() * Double(instruments))))
                coef.append(u() < 0.2 ? 0 : (u() * 20 - 10))
            }
        }
        let fast = kernel.requirements(instrument: inst, coefficient: coef, width: width)
        let serial = kernel.requirements(instrument: inst, coefficient: coef, width: width, threads: 1)
        #expect(fast == serial)
        for a in 0..<accounts {
            var loss = [Double](repeating: 0, count: scenarios)
            var floor = 0.0
            var liq = 0.0
            for j in 0..<width {
                let i = Int(inst[a * width + j])
                let c = coef[a * width + j]
                for s in 0..<scenarios { loss[s] -= c * rows[i * scenarios + s] }
                floor += abs(c) * standalone[i]
                let n = abs(c) * price[i]
                liq += n * (0.001 + 0.02 * (n / 1e6).squareRoot())
            }
            let worst = loss.sorted(by: >).prefix(5)  // 1% of 500
            let es = max(0, worst.reduce(0, +) / 5)
            let expected = max(es + liq, 0.6 * floor)
            #expect(abs(fast[a] - expected) <= 1e-9 * max(1, expected), "account \(a)")
        }
    }

    /// An account naming an instrument the kernel does not have gets NaN (no read outside the
    /// matrix); the accounts around it are unaffected.
    @Test func unknownInstrumentsGiveNaN() {
        let kernel = PortfolioKernel(
            rows: [0.01, -0.02, 0.03, -0.01], scenarios: 2, standalone: [0.1, 0.2], price: [100, 50],
            halfSpread: [0, 0], kappaSigma: [0, 0], adv: [1e9, 1e9], confidence: 0.5, maxOffset: 0.5)
        let r = kernel.requirements(
            instrument: [0, 1, 2, 0, -1, 1], coefficient: [1, 1, 1, 1, 1, 1], width: 2, threads: 1)
        // account 0: losses -(0.01 + 0.03), -(-0.02 - 0.01) = (-0.04, 0.03); the worst half, 0.03,
        // is below the floor 0.5 x (0.1 + 0.2) = 0.15, which binds
        #expect(r.count == 3 && r[1].isNaN && r[2].isNaN)
        #expect(abs(r[0] - 0.15) < 1e-15, "\(r[0])")
    }

    /// The kernel built from a book (`MarginCalculator.portfolioKernel`) gives the calculator's
    /// portfolio margin: joint scenarios, the risk grid, side-dependent stand-alone floors,
    /// the regime multiplier and the impact threshold, for random accounts of perpetuals and
    /// options on two underlyings.
    @Test func equalsTheCalculatorsPortfolioMargin() throws {
        var seed: UInt64 = 11
        func u() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(1 << 53)
        }
        func gauss() -> Double { (-2 * log(max(u(), 1e-300))).squareRoot() * cos(2 * Double.pi * u()) }
        let settings = try MarginSettings(stressedLiquidityMultiplier: 2, maxOffset: 0.3)
        var btc = try AssetRisk(
            name: "BTC", price: 60_000, volatility: 0.03, averageDailyVolume: 2e8, spread: 0.0004, impactThreshold: 1e5)
        btc.stressedProbability = 0.3
        let eth = try AssetRisk(
            name: "ETH", price: 3_000, volatility: 0.04, averageDailyVolume: 1e8, spread: 0.0006, initialRate: 0.1)
        var instruments = [
            Instrument(symbol: "BTC-PERP", underlying: "BTC", kind: .linear(expiry: nil)),
            Instrument(symbol: "ETH-PERP", underlying: "ETH", kind: .linear(expiry: nil), multiplier: 0.1),
        ]
        for (a, p) in [("BTC", 60_000.0), ("ETH", 3_000.0)] {
            for (type, m, iv) in [(OptionType.call, 1.1, 0.6), (.put, 0.9, 0.7), (.call, 1.3, 0.65)] {
                instruments.append(
                    Instrument(
                        symbol: "\(a)-\(type.rawValue)-\(m)", underlying: a,
                        kind: .option(type: type, strike: p * m, expiry: 20.0 / 365), impliedVolatility: iv))
            }
        }
        var returns: [Double] = []
        for k in 0..<400 {
            let f = gauss()
            // a crash every hundred dates (beyond the grid's 4 sigma), so that the scenarios bind too
            returns +=
                k % 100 == 7 ? [-0.2, -0.25] : [0.03 * (0.8 * f + 0.6 * gauss()), 0.04 * (0.8 * f + 0.6 * gauss())]
        }
        let book = MarginBook(
            assets: [btc, eth, try AssetRisk.settlement("USD")], instruments: instruments, settings: settings,
            scenarios: JointScenarios(assets: ["BTC", "ETH"], returns: returns, labels: (0..<400).map { "s\($0)" }))
        var calculator = MarginCalculator(book: book)
        calculator.liquidationPrices = false  // (a bisection per account; the margin is the same)
        let symbols = instruments.map(\.symbol)
        let kernel = try calculator.portfolioKernel(symbols)
        let width = 4
        let accounts = 200
        var slots: [Int32] = []
        var coefficients: [Double] = []
        var expected: [Double] = []
        var bounds: [String] = []
        for a in 0..<accounts {
            var chosen: [Int] = []
            while chosen.count < 1 + a % width {
                let i = Int(u() * Double(symbols.count))
                if !chosen.contains(i) { chosen.append(i) }
            }
            var positions: [Position] = []
            for j in 0..<width {
                guard j < chosen.count else {
                    slots.append(0)
                    coefficients.append(0)
                    continue
                }
                let inst = instruments[chosen[j]]
                let q = ((u() * 2 - 1) * 40).rounded() + 0.5
                positions.append(
                    Position(instrument: inst.symbol, quantity: q, entryPrice: book.assets[inst.underlying]?.price))
                slots.append(Int32(chosen[j]))
                coefficients.append(inst.isOption ? q : q * inst.multiplier)
            }
            let account = Account(id: "a\(a)", collateral: [("USD", 1e6)], positions: positions)
            let result = try calculator.evaluate(account, mode: .portfolio)
            expected.append(result.initialMargin)
            bounds.append(result.explanation.children.first { $0.label == "portfolio margin" }?.detail ?? "")
        }
        let got = kernel.requirements(instrument: slots, coefficient: coefficients, width: width)
        for a in 0..<accounts {
            #expect(
                got[a] == expected[a],
                "account \(a): kernel \(got[a]), calculator \(expected[a]) (\(bounds[a]))")
        }
        // every part of the rule sets some account's margin: the offset floor, the grid and the scenarios
        for part in ["offset limit", "grid + liquidity", "historical scenarios + liquidity"] {
            #expect(bounds.contains { $0.contains(part) }, "no account set by \(part)")
        }
        #expect(throws: MarginCalculator.KernelRefusal.noScenarios) {
            try MarginCalculator(book: MarginBook(assets: [btc], instruments: instruments, settings: settings))
                .portfolioKernel(["BTC-PERP"])
        }
        #expect(throws: MarginCalculator.KernelRefusal.unsupported(symbol: "DOGE-PERP", reason: "not in the book")) {
            try calculator.portfolioKernel(["DOGE-PERP"])
        }
    }
}
