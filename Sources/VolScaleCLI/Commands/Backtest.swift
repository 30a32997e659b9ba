import ArgumentParser
import Foundation
import VolScaleConfig
import VolScaleCore
import VolScaleData
import VolScaleRisk

extension VolScaleCommand {
    /// `volscale backtest FILE ...`
    public struct BacktestCommand: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "backtest",
            abstract: "Walk margin models forward through a price history and test their coverage.",
            discussion: """
                Timing: the margin set at the close of bar t (information up to t) covers the loss over (t, t+h],
                h = --mpor bars; nothing after t is used. Losses of a unit position: long 1 - exp(R), short exp(R) - 1,
                R the h-bar log return; margins and losses are positive decimal fractions of notional.
                Confidence is coverage (0.99). The first 75 returns are the EWMA seed window and are not used as
                scenarios; evaluation starts once the lookback is full.

                Tests (each model, one side): exceedances and rate; Kupiec POF (chi-square 1); Christoffersen
                independence (chi-square 1) and conditional coverage (chi-square 2); Basel traffic light over every
                rolling 250-bar window (zones from the binomial: at 99% green 0-4, yellow 5-9, red 10+);
                procyclicality (Murphy, Vasios and Vause 2014): peak-to-trough max/min, largest 1-, 5-, 30-bar
                relative increase, average margin. With h > 1 losses overlap and exceedances cluster by construction.

                One model from the flags, or several from --config (TOML, see examples/sp500-margin.toml). Each model is
                evaluated from its own first bar (its warm-up: EWMA seed, lookback, first GARCH fit); --same-bars
                evaluates all of them on the same bars, from the latest first bar, for a side-by-side comparison.
                JSON: one object for one model, {"models": [...]} for several, each with observations, exceedances,
                exceedanceRate, kupiec, christoffersen, trafficLight, procyclicality.
                CSV: date,margin,loss,exceeded (a leading model column when several models run).
                """
        )

        public enum VolModel: String, ExpressibleByArgument, CaseIterable, Sendable {
            case ewma, garch, gjr
            case closeToClose = "close-to-close"
        }

        @Argument(help: "Price file (CSV with header, kline CSV or JSON lines).") public var file: String
        @Option(help: "TOML file declaring one or more margin models (exclusive with the model flags).") public
            var config: String?
        @Option(help: "Volatility model: ewma, garch, gjr or close-to-close.") public var model: VolModel?
        @Option(help: "Risk measure: var or es.") public var measure: TailMeasure?
        @Option(help: "parametric, historical or fhs (filtered historical simulation).") public var method: RiskMethod?
        @Option(help: "Coverage, e.g. 0.99.") public var confidence: Double?
        @Option(help: "Coverage at which exceedances are tested (default: --confidence; e.g. 0.99 for ES at 0.975).")
        public var testConfidence: Double?
        @Option(help: "Margin period of risk in bars, 1 to 250 (with --config: overrides every model's).") public
            var mpor: Int?
        @Option(help: "Scenario lookback in bars (historical, fhs), 2 to 1000000.") public var lookback: Int?
        @Option(help: "EWMA lambda.") public var lambda: Double?
        @Option(help: "Parametric distribution: normal or t (t needs garch/gjr to fit nu).") public var dist:
            InnovationDistribution?
        @Option(help: "Which position to test: long or short.") public var side: Side = .long
        @Option(help: "Output format: table, json or csv.") public var format: OutputFormat = .table
        @Option(help: "Write a self-contained HTML report to this path.") public var report: String?
        @Flag(help: "Evaluate every model of --config on the same bars (from the latest first bar).") public
            var sameBars = false
        @OptionGroup public var data: DataOptions

        public init() {}

        var modelFlagsGiven: Bool {
            model != nil || measure != nil || method != nil || confidence != nil || testConfidence != nil
                || lookback != nil || lambda != nil || dist != nil
        }

        public func validate() throws {
            try data.validatePeriods()
            if config != nil && modelFlagsGiven {
                throw ValidationError(
                    "--config declares the models: drop --model/--measure/--method/--confidence/--test-confidence/--lookback/--lambda/--dist (only --mpor may override it)"
                )
            }
            if let c = confidence, !(c > 0.5 && c < 1) {
                throw ValidationError("--confidence must be in (0.5, 1), got \(c)")
            }
            if let h = mpor, !(1...250).contains(h) {
                throw ValidationError("--mpor must be a positive number of bars, at most 250; got \(h)")
            }
            if let l = lookback, !(2...1_000_000).contains(l) {
                throw ValidationError("--lookback must be at least 2 bars and at most 1000000; got \(l)")
            }
            if let l = lambda, !(l > 0 && l < 1) {
                throw ValidationError("--lambda: expected a number in (0, 1), got \(l)")
            }
        }

        /// The models to run, from the config or the flags.
        func models() throws -> (models: [MarginModel], config: MarginConfig?) {
            if let config {
                do {
                    var c = try MarginConfig.load(path: config)
                    if let h = mpor { c.models = try c.models.map { try $0.with(mpor: h) } }
                    return (c.models, c)
                } catch let e as ConfigError {
                    throw CommandFailure(e.description)
                } catch { throw CommandFailure("\(config): \(error)") }
            }
            let vol: VolatilitySpec
            switch model ?? .ewma {
            case .ewma: vol = .ewma(lambda: lambda ?? EWMA.riskMetricsLambda)
            case .garch:
                vol = .garch(asymmetric: false, distribution: dist ?? .normal, refitEvery: 250, minimumFit: 500)
            case .gjr: vol = .garch(asymmetric: true, distribution: dist ?? .normal, refitEvery: 250, minimumFit: 500)
            case .closeToClose: vol = .closeToClose(window: 20)
            }
            if dist == .studentT, case .ewma = vol {
                throw CommandFailure("--dist t needs --model garch or gjr (nu is fitted)")
            }
            let meth = method ?? .fhs
            let meas = measure ?? .expectedShortfall
            let name = "\(vol.label) \(meth.rawValue.uppercased())-\(meas.rawValue.uppercased())"
            do {
                let m = try MarginModel(
                    name: name, volatility: vol, measure: meas, method: meth,
                    useFittedNu: dist == .studentT, confidence: confidence ?? 0.99, mpor: mpor ?? 1,
                    lookback: lookback ?? 1000, testConfidence: testConfidence)
                return ([m], nil)
            } catch { throw CommandFailure(error.description) }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let (models, config) = try models()
            let series = try data.series(file)
            let returns = series.returns
            let timestamps = Array(series.timestamps.dropFirst())
            let sampling = data.sampling(for: series)
            let implied = try config?.implied.map {
                try $0.aligned(to: series, periodsPerYear: sampling.periodsPerYear)
            }
            var paths: [MarginPath] = []
            for m in models {
                do {
                    paths.append(try MarginEngine.run(m, returns: returns, timestamps: timestamps, implied: implied))
                } catch {
                    throw CommandFailure("\(file): \(error.description)")
                }
            }
            // Each model is evaluated from its own first bar, so that its statistics do not
            // depend on which other models share the file; --same-bars aligns them.
            let from = sameBars ? paths.map(\.startIndex).max() : nil
            let results = paths.map { $0.backtest(returns: returns, side: side, from: from) }
            let view = BacktestView(
                series: series, sampling: sampling, results: results, paths: paths, side: side,
                configPath: config?.path)
            if let report {
                do {
                    try ReportHTML.render(view).write(toFile: report, atomically: true, encoding: .utf8)
                } catch { throw CommandFailure("\(report): cannot write the report: \(error.localizedDescription)") }
                if format == .table { printError("report written to \(report)") }
            }
            switch format {
            case .json: return view.json().rendered() + "\n"
            case .csv: return view.csv()
            case .table: return view.table() + (report.map { "\nReport: \($0)\n" } ?? "")
            }
        }
    }
}

extension TailMeasure: ExpressibleByArgument {}
extension RiskMethod: ExpressibleByArgument {}
extension Side: ExpressibleByArgument {}
