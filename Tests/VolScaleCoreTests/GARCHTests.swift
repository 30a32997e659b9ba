import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// GARCH and GJR against the Python `arch` package on the S&P 500 (fixtures from
/// scripts/make_fixtures.py). Required: log-likelihood >= arch's - 1e-6 relative,
/// alpha/beta/gamma within 2e-3, conditional volatility within 1e-3 relative after 50.
@Suite struct GARCHTests {
    static let cases: [(String, GARCHModel)] = [
        ("garch-normal", GARCHModel(mean: .constant, volatility: .init(asymmetric: false), distribution: .normal)),
        ("garch-t", GARCHModel(mean: .constant, volatility: .init(asymmetric: false), distribution: .studentT)),
        ("gjr-normal", GARCHModel(mean: .constant, volatility: .init(asymmetric: true), distribution: .normal)),
        ("gjr-t", GARCHModel(mean: .constant, volatility: .init(asymmetric: true), distribution: .studentT)),
        ("garch-zero-normal", GARCHModel(mean: .zero, volatility: .init(asymmetric: false), distribution: .normal)),
    ]

    @Test(arguments: 0..<5)
    func matchesArch(_ index: Int) throws {
        let (name, model) = Self.cases[index]
        let ref = try TestData.json(name + ".json")
        let returns = try TestData.sp500Returns()
        #expect(returns.count == ref["observations"] as? Int)
        let fit = try model.fit(returns)
        let refLL = try #require(ref["logLikelihood"] as? Double)
        #expect(
            fit.logLikelihood >= refLL - 1e-6 * Swift.abs(refLL), "\(name): logL \(fit.logLikelihood) vs arch \(refLL)")
        let p = try #require(ref["parameters"] as? [String: Double])
        #expect(
            Swift.abs(fit.parameters.alpha - p["alpha"]!) <= 2e-3,
            "\(name) alpha \(fit.parameters.alpha) vs \(p["alpha"]!)")
        #expect(
            Swift.abs(fit.parameters.beta - p["beta"]!) <= 2e-3, "\(name) beta \(fit.parameters.beta) vs \(p["beta"]!)")
        if let g = p["gamma"] { #expect(Swift.abs(fit.parameters.gamma - g) <= 2e-3, "\(name) gamma") }
        if let mu = p["mu"] {
            #expect(close(fit.parameters.mu, mu, rel: 0.02), "\(name) mu \(fit.parameters.mu) vs \(mu)")
        }
        #expect(
            close(fit.parameters.omega, p["omega"]!, rel: 0.02),
            "\(name) omega \(fit.parameters.omega) vs \(p["omega"]!)")
        if let nu = p["nu"] { #expect(close(fit.parameters.nu ?? 0, nu, rel: 0.01), "\(name) nu") }

        let refVol = try #require(ref["conditionalVolatility"] as? [Double])
        let vol = fit.conditionalVolatility
        #expect(vol.count == refVol.count)
        var worst = 0.0
        for t in 50..<vol.count { worst = max(worst, relativeError(vol[t], refVol[t])) }
        #expect(worst <= 1e-3, "\(name): worst conditional volatility relative error \(worst)")

        // Multi-step forecasts follow the same recursion as arch.
        let refF = try #require(ref["varianceForecast"] as? [Double])
        let f = fit.forecastVariance(horizon: refF.count)
        for (a, b) in zip(f, refF) { #expect(relativeError(a, b) <= 2e-3, "\(name) forecast \(a) vs \(b)") }

        // Information criteria: arch reports them on the percent scale.
        let k = Double(model.parameterNames.count)
        let refAIC = try #require(ref["aicPercent"] as? Double)
        let n = Double(returns.count)
        let ourAICPercent = fit.aic + 2 * n * Foundation.log(100)
        #expect(Swift.abs(ourAICPercent - refAIC) <= 1e-5 * Swift.abs(refAIC) + 2e-2, "\(name) AIC")
        #expect(close(fit.bic - fit.aic, k * Foundation.log(n) - 2 * k, rel: 1e-12))

        // Robust standard errors from a numerical Hessian: agree with arch's to a few percent
        // (skip parameters at a boundary, where both are unreliable).
        let refSE = try #require(ref["standardErrors"] as? [String: Double])
        let se = try #require(fit.standardErrors)
        for (key, value) in [("alpha", se.alpha), ("beta", se.beta), ("omega", se.omega)] where (p[key] ?? 1) > 1e-4 {
            #expect(close(value, refSE[key]!, rel: 0.1), "\(name) se(\(key)) \(value) vs \(refSE[key]!)")
        }
    }

    @Test func tooFewObservationsNamesTheModel() {
        #expect(throws: VolatilityError.tooFewObservations(model: "GARCH(1,1)", needed: 100, got: 10)) {
            try GARCHModel().fit(Array(repeating: 0.01, count: 10))
        }
    }

    @Test func nonFiniteReturnIsRejectedWithItsIndex() {
        var r = (0..<200).map { sin(Double($0)) * 0.01 }
        r[17] = .nan
        #expect(throws: VolatilityError.nonFiniteReturn(index: 17)) { try GARCHModel().fit(r) }
    }

    @Test func forecastConvergesToUnconditionalVariance() throws {
        let fit = try GARCHModel().fit(try TestData.sp500Returns())
        let f = fit.forecastVariance(horizon: 5000)
        #expect(close(f.last!, fit.parameters.unconditionalVariance, rel: 1e-6))
        #expect(f.first == fit.nextVariance)
    }
}
