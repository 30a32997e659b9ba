import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// Markov-switching regimes against statsmodels' MarkovRegression on the S&P 500
/// (scripts/make_fixtures.py, `regimes`).
@Suite struct RegimeTests {
    struct Case {
        let states: Int
        let logLikelihood: Double
        let means: [Double]
        let variances: [Double]
        let transition: [[Double]]
        let pHigh: [Double]
    }

    func cases() throws -> [Case] {
        let f = try TestData.json("regimes-sp500.json")
        return try #require(f["cases"] as? [[String: Any]]).map { c in
            Case(
                states: try #require(c["states"] as? Int), logLikelihood: try #require(c["logLikelihood"] as? Double),
                means: try #require(c["means"] as? [Double]), variances: try #require(c["variances"] as? [Double]),
                transition: try #require(c["transition"] as? [[Double]]), pHigh: try #require(c["pHigh"] as? [Double]))
        }
    }

    /// The filter at statsmodels' parameters gives statsmodels' likelihood and filtered
    /// probabilities: the same model, the same stationary start.
    @Test func filterMatchesStatsmodelsAtItsParameters() throws {
        let r = try TestData.sp500Returns()
        for c in try cases() {
            let model = try MarkovSwitchingModel(means: c.means, variances: c.variances, transition: c.transition)
            let (ll, filtered) = model.filter(r)
            #expect(close(ll, c.logLikelihood, rel: 1e-9), "K=\(c.states): \(ll) vs \(c.logLikelihood)")
            let high = stride(from: c.states - 1, to: filtered.count, by: c.states).map { filtered[$0] }
            let worst = zip(high, c.pHigh).map { Swift.abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-7, "K=\(c.states): filtered probability differs by \(worst)")
        }
    }

    /// The fit: likelihood at least statsmodels' (1e-6 relative), variances within 2%,
    /// transition probabilities within 0.01.
    @Test(arguments: [2, 3]) func fitReachesStatsmodels(states: Int) throws {
        let r = try TestData.sp500Returns()
        let c = try #require(try cases().first { $0.states == states })
        let fit = try MarkovSwitching.fit(r, states: states)
        #expect(
            fit.logLikelihood >= c.logLikelihood - 1e-6 * Swift.abs(c.logLikelihood),
            "K=\(states): \(fit.logLikelihood) vs statsmodels \(c.logLikelihood)")
        for k in 0..<states {
            #expect(
                relativeError(fit.model.variances[k], c.variances[k]) <= 0.02,
                "variance \(k): \(fit.model.variances[k]) vs \(c.variances[k])")
            for j in 0..<states {
                #expect(
                    Swift.abs(fit.model.transition[k][j] - c.transition[k][j]) <= 0.01,
                    "P[\(k)][\(j)]: \(fit.model.transition[k][j]) vs \(c.transition[k][j])")
            }
        }
        // the reported likelihood is the model's own
        #expect(close(fit.model.filter(r).logLikelihood, fit.logLikelihood, rel: 1e-12))
    }

    /// Hand check of one filter step: two states, stationary start, one observation.
    @Test func oneStepByHand() throws {
        let p = [[0.9, 0.1], [0.3, 0.7]]
        let model = try MarkovSwitchingModel(means: [0, 0.01], variances: [1e-4, 4e-4], transition: p)
        // stationary: pi0 = 0.3 / (0.1 + 0.3) = 0.75
        #expect(close(model.stationary[0], 0.75, rel: 1e-14))
        let y = 0.02
        func phi(_ m: Double, _ v: Double) -> Double {
            Foundation.exp(-(y - m) * (y - m) / (2 * v)) / (2 * Double.pi * v).squareRoot()
        }
        let f0 = 0.75 * phi(0, 1e-4)
        let f1 = 0.25 * phi(0.01, 4e-4)
        let (ll, filtered) = model.filter([y])
        #expect(close(ll, Foundation.log(f0 + f1), rel: 1e-13))
        #expect(close(filtered[1], f1 / (f0 + f1), rel: 1e-13))
        // stepped one return at a time, as the history walk does: the same numbers
        var state = MarkovSwitchingModel.FilterState(model)
        let first = state.step(y)
        let logDensity = try #require(first)
        #expect(close(logDensity, ll, rel: 1e-15) && state.filtered == Array(filtered))
        let ys = [0.01, -0.03, 0.002, 0.05, -0.01]
        let whole = model.filter(ys)
        var total = 0.0
        for y in ys {
            let d = state.step(y)
            total += try #require(d)
        }
        let again = model.filter([y] + ys)
        #expect(close(total + logDensity, again.logLikelihood, rel: 1e-14))
        #expect(state.filtered == Array(again.filtered.suffix(2)))
        #expect(whole.filtered.count == 10)
    }

    @Test func invalidModelsAreErrors() {
        #expect(throws: RegimeError.self) { try MarkovSwitchingModel(means: [0], variances: [1], transition: [[1]]) }
        #expect(throws: RegimeError.self) {
            try MarkovSwitchingModel(means: [0, 0], variances: [2, 1], transition: [[1, 0], [0, 1]])
        }
        #expect(throws: RegimeError.self) {
            try MarkovSwitchingModel(means: [0, 0], variances: [1, 2], transition: [[0.5, 0.6], [0, 1]])
        }
        #expect(throws: RegimeError.self) { try MarkovSwitching.fit([0.01, -0.01, 0.02], states: 2) }
        #expect(throws: RegimeError.self) { try MarkovSwitching.fit([Double](repeating: 0.01, count: 100), states: 2) }
    }
}
