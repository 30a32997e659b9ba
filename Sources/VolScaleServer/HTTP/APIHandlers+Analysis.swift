import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime
import VolScaleConfig
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleRisk
import VolScaleStore

extension ServiceAPI {
    // MARK: - Stress and backtest

    func stress(_ input: Operations.Stress.Input) async throws -> Operations.Stress.Output {
        defer { FreedMemory.release() }
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let shock = body.shock.additionalProperties
        guard !shock.isEmpty else {
            throw HTTPError(
                .badRequest, message: "shock: expected {\"ASSET\": move, ...} (simple returns, -0.3 = -30%)")
        }
        let book = state.book
        var given: [String: Double] = [:]
        for (asset, m) in shock.sorted(by: { $0.key < $1.key }) {
            // at most -99.99%: a bound written as a number, not "above -1"
            guard m >= -0.9999, m <= 10 else {
                throw HTTPError(
                    .badRequest,
                    message:
                        "shock.\(asset.prefix(64)): expected a simple return in [-0.9999, 10] (-0.3 = -30%, 10 = +1000%)"
                )
            }
            // well-formed but not in the book: the data cannot serve it
            guard book.assets[asset] != nil else {
                throw HTTPError(.unprocessableContent, message: "shock.\(asset.prefix(64)): unknown asset")
            }
            given[asset] = log(1 + m)
        }
        let rho = body.correlation ?? 0.9
        guard rho >= -1 && rho <= 1 else {
            throw HTTPError(.badRequest, message: "correlation: expected a number in [-1, 1]")
        }
        let mode = body.mode.flatMap { MarginMode(rawValue: $0.rawValue) } ?? .standard
        let accounts = await state.accounts
        // the cascade as `volscale stress` runs it by default: the same stressed correlation
        // carries liquidation impact to the other assets, volatility re-estimated between rounds
        let cascade: CascadeSettings
        do {
            cascade = try CascadeSettings(
                correlation: StressCorrelation.uniform(rho, assets: book.assets.keys.sorted()),
                lambda: EWMA.riskMetricsLambda)
        } catch {
            throw HTTPError(.badRequest, message: "correlation: \(error)")
        }
        let report = StressTest.run(
            book: book, accounts: accounts, mode: mode, shock: StressShock.withCorrelation(given, rho: rho, book: book),
            cascade: cascade)
        // JSON has no infinities or NaN, and a shortfall sent as 0 would be a false all-clear:
        // a figure that is not finite (amounts beyond Double's range) is refused, named
        func finite(_ x: Double, _ field: String) throws -> Double {
            guard x.isFinite else {
                throw HTTPError(
                    .unprocessableContent,
                    message:
                        "\(field): the stress result is not a finite number (\(x)); an account's amounts exceed what can be computed"
                )
            }
            return x
        }
        let rounds = try report.rounds.map { round in
            Components.Schemas.StressRound(
                round: round.round, newlyLiquidatable: round.newlyLiquidatable,
                shortfall: try finite(round.shortfall, "rounds[\(round.round)].shortfall"),
                prices: .init(
                    additionalProperties: try round.prices.mapValues { try finite($0, "rounds[\(round.round)].prices") }
                ))
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        shock: report.shock.label, accounts: report.accounts, liquidatable: report.liquidatable,
                        shortfall: try finite(report.shortfall, "shortfall"), rounds: rounds,
                        failed: report.failed.map(\.description)))))
    }

    /// Walks a margin model forward over the service's price history of one asset (the
    /// bars it has seen) and answers the backtest statistics, keys as `volscale backtest`.
    func backtest(_ input: Operations.Backtest.Input) async throws -> Operations.Backtest.Output {
        guard case .json(let o) = input.body else { throw HTTPError(.unsupportedMediaType) }
        try await requireAsset(o.asset, status: .unprocessableContent)
        // not a number: the generated decoder's 400; a number the model cannot use: 422, as the model's own checks
        func num(_ v: Double?, _ k: String, _ d: Double, _ lo: Double, _ hi: Double, open: Bool = false) throws
            -> Double
        {
            guard let n = v else { return d }
            guard n <= hi, open ? n > lo : n >= lo else {
                throw HTTPError(
                    .unprocessableContent, message: "\(k): expected a number in \(open ? "(" : "[")\(lo), \(hi)]")
            }
            return n
        }
        // the generated enums hold exactly the domain's raw values (the document lists them)
        guard let method = RiskMethod(rawValue: o.method?.rawValue ?? "fhs"),
            let measure = TailMeasure(rawValue: o.measure?.rawValue ?? "es"),
            let side = Side(rawValue: o.side?.rawValue ?? "long")
        else { throw HTTPError(.badRequest, message: "method, measure or side: not a documented value") }
        let lambda = try num(o.lambda, "lambda", EWMA.riskMetricsLambda, 0, 1, open: true)
        let confidence = try num(o.confidence, "confidence", 0.99, 0.5, 0.9999, open: true)
        let mpor = try Self.bounded(o.mpor, "mpor", 1...250) ?? 1
        let lookback = try Self.bounded(o.lookback, "lookback", 10...100_000) ?? 1000
        let testConfidence =
            o.testConfidence == nil ? nil : try num(o.testConfidence, "testConfidence", 0.99, 0.5, 0.9999, open: true)
        let model: MarginModel
        do {
            model = try MarginModel(
                name: "api", volatility: .ewma(lambda: lambda), measure: measure, method: method,
                confidence: confidence, mpor: mpor, lookback: lookback, testConfidence: testConfidence)
        } catch { throw HTTPError(.unprocessableContent, message: error.description) }
        let points = await state.history(o.asset)
        guard points.count > 2 else {
            throw HTTPError(.unprocessableContent, message: "asset \(o.asset) has too little history")
        }
        let returns = (1..<points.count).map { log(points[$0].price / points[$0 - 1].price) }
        let path: MarginPath
        do { path = try MarginEngine.run(model, returns: returns, timestamps: points.dropFirst().map(\.t)) } catch {
            throw HTTPError(.unprocessableContent, message: error.description)
        }
        let r = path.backtest(returns: returns, side: side)
        let p = r.procyclicality
        // a figure that is not defined (no data) is left out, never sent as a number
        func defined(_ x: Double) -> Double? { x.isFinite ? x : nil }
        func stat(_ s: (statistic: Double, pValue: Double)) -> Schemas.TestStatistic {
            .init(statistic: defined(s.statistic), pValue: defined(s.pValue))
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        asset: o.asset, observations: r.observations, exceedances: r.exceedances,
                        exceedanceRate: defined(r.exceedanceRate),
                        kupiec: stat((r.kupiec.statistic, r.kupiec.pValue)),
                        christoffersen: .init(
                            independence: stat((r.independence.statistic, r.independence.pValue)),
                            conditionalCoverage: stat((r.conditionalCoverage.statistic, r.conditionalCoverage.pValue))),
                        trafficLight: .init(
                            green: r.trafficLight.green, yellow: r.trafficLight.yellow, red: r.trafficLight.red,
                            worst: r.trafficLight.worst.rawValue),
                        procyclicality: .init(
                            peakToTrough: defined(p.peakToTrough), maxIncrease1: defined(p.maxIncrease1),
                            maxIncrease5: defined(p.maxIncrease5),
                            maxIncrease30: defined(p.maxIncrease30), averageMargin: defined(p.averageMargin))))))
    }
}
