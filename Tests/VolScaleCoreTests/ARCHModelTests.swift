import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCore

/// The composite `ARCHModel` (a process and a distribution as protocols) against arch's
/// EGARCH and SkewStudent on the S&P 500 (fixtures: `scripts/make_fixtures.py arch_composed`),
/// with the tolerances GARCHTests holds GARCH to: log-likelihood at least arch's less 1e-6
/// relative, alpha/gamma/beta within 2e-3, omega and mu within 2% (EGARCH's omega within
/// 0.01 absolute: it is a log), nu within 1%, skew within 5e-3, conditional volatility within
/// 1e-3 relative after 50 returns, robust standard errors of the process and distribution
/// parameters within 10%.
@Suite struct ARCHModelTests {
    static func fit(_ name: String, _ returns: [Double]) throws -> ARCHFit {
        switch name {
        case "egarch-normal":
            return try ARCHModel(volatility: EGARCH(), distribution: StandardizedNormal()).fit(returns)
        case "egarch-t": return try ARCHModel(volatility: EGARCH(), distribution: StandardizedStudentT()).fit(returns)
        case "egarch-skewt": return try ARCHModel(volatility: EGARCH(), distribution: SkewedStudentT()).fit(returns)
        case "garch-skewt":
            return try ARCHModel(volatility: GARCHProcess(), distribution: SkewedStudentT()).fit(returns)
        default:
            return try ARCHModel(volatility: GARCHProcess(asymmetric: true), distribution: SkewedStudentT()).fit(
                returns)
        }
    }

    @Test(arguments: ["egarch-normal", "egarch-t", "egarch-skewt", "garch-skewt", "gjr-skewt"])
    func matchesArch(_ name: String) throws {
        let ref = try TestData.json(name + ".json")
        let returns = try TestData.sp500Returns()
        let fit = try Self.fit(name, returns)
        let refLL = try #require(ref["logLikelihood"] as? Double)
        #expect(
            fit.logLikelihood >= refLL - 1e-6 * Swift.abs(refLL), "\(name): logL \(fit.logLikelihood) vs arch \(refLL)")
        let p = try #require(ref["parameters"] as? [String: Double])
        #expect(Set(fit.parameterNames) == Set(p.keys), "\(name): \(fit.parameterNames) vs \(p.keys.sorted())")
        for (key, value) in p {
            let ours = try #require(fit[key])
            switch key {
            case "alpha", "gamma", "beta":
                #expect(Swift.abs(ours - value) <= 2e-3, "\(name) \(key) \(ours) vs \(value)")
            case "omega" where name.hasPrefix("egarch"):
                #expect(Swift.abs(ours - value) <= 0.01, "\(name) omega \(ours) vs \(value)")
            case "omega", "mu": #expect(close(ours, value, rel: 0.02), "\(name) \(key) \(ours) vs \(value)")
            case "nu": #expect(close(ours, value, rel: 0.01), "\(name) nu \(ours) vs \(value)")
            default: #expect(Swift.abs(ours - value) <= 5e-3, "\(name) \(key) \(ours) vs \(value)")
            }
        }
        let refVol = try #require(ref["conditionalVolatility"] as? [Double])
        let vol = fit.conditionalVolatility
        #expect(vol.count == refVol.count)
        var worst = 0.0
        for t in 50..<min(vol.count, refVol.count) { worst = max(worst, relativeError(vol[t], refVol[t])) }
        #expect(worst <= 1e-3, "\(name): worst conditional volatility relative error \(worst)")
        let refF = try #require(ref["varianceForecast"] as? [Double])
        let f = try #require(fit.forecastVariance(horizon: 1))
        #expect(relativeError(f[0], refF[0]) <= 2e-3, "\(name) forecast \(f[0]) vs \(refF[0])")

        let refSE = try #require(ref["standardErrors"] as? [String: Double])
        let se = try #require(fit.standardErrors)
        // mu's is not compared: arch gives 3.2e-5 for EGARCH with the normal, a third of what it
        // gives for every other model here (ours 9.0e-5, against arch's 1.0e-4 to 1.1e-4 elsewhere);
        // omega's depends on the scale conversion (GARCHTests compares it for GARCH)
        for (i, key) in fit.parameterNames.enumerated()
        where key != "omega" && key != "mu" && Swift.abs(p[key] ?? 1) > 1e-4 {
            #expect(close(se[i], refSE[key]!, rel: 0.1), "\(name) se(\(key)) \(se[i]) vs \(refSE[key]!)")
        }
    }

    /// The composite with the GARCH process and the normal law is the model `GARCHModel`
    /// fits with analytic derivatives: same optimum, same path.
    @Test func compositeGARCHEqualsTheAnalyticKernel() throws {
        let returns = try TestData.sp500Returns()
        let composite = try ARCHModel(volatility: GARCHProcess(asymmetric: true), distribution: StandardizedStudentT())
            .fit(returns)
        let analytic = try GARCHModel(volatility: .init(asymmetric: true), distribution: .studentT).fit(returns)
        #expect(Swift.abs(composite.logLikelihood - analytic.logLikelihood) <= 1e-6 * Swift.abs(analytic.logLikelihood))
        #expect(composite.parameterNames == analytic.model.parameterNames)
        for (a, b) in zip(composite.parameters, analytic.parameterVector) {
            #expect(Swift.abs(a - b) <= 2e-3 * max(Swift.abs(b), 1e-3))
        }
        #expect(relativeError(composite.nextVariance, analytic.nextVariance) <= 1e-3)
    }

    /// The skewed t with skew 0 is Student's t; its density integrates to 1 with mean 0 and
    /// variance 1 for any skew (trapezoid on a wide grid).
    @Test func skewedTIsAStandardizedDensity() throws {
        let t = StandardizedStudentT()
        let skewed = SkewedStudentT()
        let c0 = try #require(skewed.constants([7, 0]))
        let ct = try #require(t.constants([7]))
        for z in [-3.0, -0.5, 0, 0.7, 4] {
            #expect(
                Swift.abs(skewed.logDensity(c0, residual: z, variance: 1) - t.logDensity(ct, residual: z, variance: 1))
                    <= 1e-12)
        }
        for skew in [-0.6, -0.1, 0.3] {
            let c = try #require(skewed.constants([6, skew]))
            var m0 = 0.0
            var m1 = 0.0
            var m2 = 0.0
            let h = 0.001
            for i in -60_000...60_000 {
                let z = Double(i) * h
                let f = Foundation.exp(skewed.logDensity(c, residual: z, variance: 1)) * h
                m0 += f
                m1 += z * f
                m2 += z * z * f
            }
            #expect(Swift.abs(m0 - 1) <= 1e-4, "mass \(m0) at skew \(skew)")
            #expect(Swift.abs(m1) <= 1e-4, "mean \(m1) at skew \(skew)")
            #expect(Swift.abs(m2 - 1) <= 5e-3, "variance \(m2) at skew \(skew)")
        }
    }

    @Test func egarchHasNoAnalyticForecastBeyondOneStep() throws {
        let fit = try ARCHModel(volatility: EGARCH(), distribution: StandardizedNormal()).fit(
            try TestData.sp500Returns())
        #expect(fit.forecastVariance(horizon: 1) == [fit.nextVariance])
        #expect(fit.forecastVariance(horizon: 2) == nil)
    }

    @Test func tooFewObservationsNamesTheProcess() {
        #expect(throws: VolatilityError.tooFewObservations(model: "EGARCH(1,1,1)", needed: 100, got: 10)) {
            try ARCHModel(volatility: EGARCH(), distribution: SkewedStudentT()).fit(Array(repeating: 0.01, count: 10))
        }
    }
}
