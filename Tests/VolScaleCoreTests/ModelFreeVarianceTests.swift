import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

@Suite struct ModelFreeVarianceTests {
    /// The CBOE white paper's own option chain (data/vix-whitepaper-chain.csv).
    static func whitePaperChains() throws -> [ExpiryQuotes] {
        let text = try String(
            contentsOf: TestData.root.appendingPathComponent("data").appendingPathComponent("vix-whitepaper-chain.csv"),
            encoding: .utf8)
        var byDays: [Int: [StrikeQuote]] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map { Double($0)! }
            byDays[Int(f[1]), default: []].append(
                StrikeQuote(strike: f[2], callBid: f[3], callAsk: f[4], putBid: f[5], putAsk: f[6]))
        }
        return byDays.map { ExpiryQuotes(expiry: Double($0.key) / 365, rate: 0.0038, quotes: $0.value) }
    }

    @Test func whitePaperChainMatchesIndependentImplementation() throws {
        let ref = try TestData.json("vix-whitepaper.json")
        let index = try ModelFreeVariance.index(try Self.whitePaperChains())
        #expect(close(index.value, ref["index"] as! Double, rel: 1e-12), "index \(index.value)")
        let expiries = try #require(ref["expiries"] as? [[String: Any]])
        for (ours, theirs) in zip([index.near, index.next], expiries) {
            #expect(close(ours.variance, theirs["sigma2"] as! Double, rel: 1e-12))
            #expect(close(ours.forward, theirs["forward"] as! Double, rel: 1e-14))
            #expect(ours.k0 == theirs["k0"] as! Double)
            #expect(ours.optionsUsed == theirs["optionsUsed"] as! Int)
        }
    }

    /// A chain priced with Black-76 at a flat 60% volatility: the index recovers 60 up to
    /// strike discretisation, and agrees with numpy exactly.
    @Test func flatVolatilityChainRecoversTheVolatility() throws {
        let ref = try TestData.json("vix-flat.json")
        let rows = try #require(ref["chain"] as? [[String: Double]])
        let rate = ref["rate"] as! Double
        var chains: [ExpiryQuotes] = []
        for days in [23.0, 37.0] {
            let q = rows.filter { $0["days"] == days }.map {
                StrikeQuote(
                    strike: $0["strike"]!, callBid: $0["call"]!, callAsk: $0["call"]!, putBid: $0["put"]!,
                    putAsk: $0["put"]!)
            }
            chains.append(ExpiryQuotes(expiry: days / 365, rate: rate, quotes: q))
        }
        let index = try ModelFreeVariance.index(chains)
        #expect(close(index.value, ref["indexFromNumpy"] as! Double, rel: 1e-11))
        #expect(Swift.abs(index.value - 60) < 0.1, "index \(index.value)")
    }

    @Test func missingBracketIsAnError() throws {
        let chains = try Self.whitePaperChains().filter { $0.expiry > 30.0 / 365 }
        #expect(throws: ModelFreeVarianceError.self) { try ModelFreeVariance.index(chains) }
    }
}
