import Testing
import Foundation
@testable import VolScaleMargin

@Suite struct PortfolioKernelTests {
    /// The kernel against a direct computation: sort the losses, average the worst 1%.
    @Test func matchesDirectComputation() {
        var seed: UInt64 = 3
        func u() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 11) / Double(1 << 53) }
        let scenarios = 500, instruments = 12, width = 4, accounts = 300
        let rows = (0..<(scenarios * instruments)).map { _ in u() * 2 - 1 }
        let standalone = (0..<instruments).map { _ in 0.2 + u() }
        let price = (0..<instruments).map { _ in 10 + 100 * u() }
        let kernel = PortfolioKernel(rows: rows, scenarios: scenarios, standalone: standalone, price: price,
                                     halfSpread: Array(repeating: 0.001, count: instruments), kappaSigma: Array(repeating: 0.02, count: instruments),
                                     adv: Array(repeating: 1e6, count: instruments), confidence: 0.99, maxOffset: 0.4)
        var inst: [Int32] = [], coef: [Double] = []
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
            var floor = 0.0, liq = 0.0
            for j in 0..<width {
                let i = Int(inst[a * width + j]), c = coef[a * width + j]
                for s in 0..<scenarios { loss[s] -= c * rows[i * scenarios + s] }
                floor += abs(c) * standalone[i]
                let n = abs(c) * price[i]
                liq += n * (0.001 + 0.02 * (n / 1e6).squareRoot())
            }
            let worst = loss.sorted(by: >).prefix(5) // 1% of 500
            let es = max(0, worst.reduce(0, +) / 5)
            let expected = max(es + liq, 0.6 * floor)
            #expect(abs(fast[a] - expected) <= 1e-9 * max(1, expected), "account \(a)")
        }
    }
}
