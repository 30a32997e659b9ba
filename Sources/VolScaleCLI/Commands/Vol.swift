import ArgumentParser
import Foundation
import VolScaleCore
import VolScaleData

extension VolScaleCommand {
    /// `volscale vol FILE --model ...`
    public struct Vol: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "vol",
            abstract: "Estimate a volatility model on a price file.",
            discussion: """
                Units and conventions:
                  returns       log returns ln(P_t/P_{t-1}), decimal (0.01 = 1%)
                  sigma_t       per-period standard deviation for return t, forecast with information up to t-1
                  annualised    sigma * sqrt(periods per year); periods per year are inferred from the bar
                                length (daily with weekends 365, daily weekdays 252, ...) unless --periods-per-year
                  parameters    decimal units: mu per period, omega per-period variance; alpha, gamma, beta unitless
                  log-likelihood  of the decimal returns (arch's percent-scale value + n ln 100)

                Models:
                  close-to-close   rolling sample standard deviation over --window returns (ddof 1)
                  ewma             RiskMetrics, zero mean, --lambda (default 0.94) or --halflife, seeded as arch
                  garch, gjr       GARCH(1,1) / GJR-GARCH(1,1,1), --mean constant|zero, --dist normal|t|skewt, exact MLE
                  egarch           EGARCH(1,1,1) as arch (log variance; omega is its intercept for decimal returns),
                                   same options; forecasts one step ahead only (arch simulates beyond)
                  skewt            Hansen's skewed t: parameters nu (arch's eta) and skew (arch's lambda)
                  parkinson, garman-klass, rogers-satchell, yang-zhang
                                   range estimators over --window bars (needs open, high, low, close)

                Streaming (--stream): ewma, close-to-close and the rolling range estimators read the file block
                by block in constant memory (files larger than memory, standard input, .gz, .zip); CSV rows are
                written as they are computed. Numbers are those of the batch run. The bar length is inferred from
                every timestamp as in a batch run; dates print without a time when the first block's bars are all at
                midnight UTC.

                Output (--format):
                  json   model, observations, parameters, logLikelihood, volatility {last, next, annualized}, forecast
                  csv    date,return,volatility: one row per return; volatility = sigma_t (empty while a window fills)
                  table  for people
                """
        )

        public enum Model: String, ExpressibleByArgument, CaseIterable, Sendable {
            case closeToClose = "close-to-close"
            case ewma, garch, gjr, egarch
            case parkinson
            case garmanKlass = "garman-klass"
            case rogersSatchell = "rogers-satchell"
            case yangZhang = "yang-zhang"
        }

        @Argument(
            help: "Price file: CSV with header, exchange kline CSV, or JSON lines of ticks ('-' for standard input).")
        public var file: String

        @Option(help: "Volatility model: \(Model.allCases.map(\.rawValue).joined(separator: ", ")).")
        public var model: Model = .ewma

        /// The law of the standardised residuals of a GARCH-family fit.
        public enum Distribution: String, ExpressibleByArgument, CaseIterable, Sendable {
            case normal, t, skewt
        }

        @Option(
            help:
                "Innovation distribution for garch/gjr/egarch: normal, t (standardised Student's t) or skewt (Hansen's skewed t)."
        )
        public var dist: Distribution?

        @Option(help: "Mean model for garch/gjr/egarch: constant (mu estimated) or zero.")
        public var mean: MeanModel?

        @Option(help: "EWMA decay factor in (0, 1); default 0.94.")
        public var lambda: Double?

        @Option(help: "EWMA half-life in bars (alternative to --lambda).")
        public var halflife: Double?

        @Option(help: "Window in returns (close-to-close) or bars (range estimators); default 20.")
        public var window: Int?

        @Flag(help: "Range estimators: one estimate over the whole sample instead of a rolling window.")
        public var fullSample = false

        @Flag(help: "Read the file in constant memory (ewma, close-to-close and rolling range estimators).")
        public var stream = false

        @Flag(help: "Close-to-close: zero-mean sqrt(mean(r^2)) instead of the sample standard deviation.")
        public var zeroMean = false

        @Option(help: "Forecast horizon in periods for the variance forecast path, 1 to 10000.")
        public var horizon: Int = 1

        @Option(help: "Output format: table, json or csv.")
        public var format: OutputFormat = .table

        @OptionGroup public var data: DataOptions

        public init() {}

        public func validate() throws {
            try data.validatePeriods()
            let isGARCH = model == .garch || model == .gjr || model == .egarch
            if !isGARCH && dist != nil { throw ValidationError("--dist applies to garch, gjr and egarch only") }
            if !isGARCH && mean != nil {
                throw ValidationError("--mean applies to garch, gjr and egarch only (ewma is zero-mean)")
            }
            if model == .egarch && horizon > 1 {
                throw ValidationError(
                    "--horizon: egarch has an analytic forecast one step ahead only (arch simulates beyond)")
            }
            if model != .ewma && (lambda != nil || halflife != nil) {
                throw ValidationError("--lambda and --halflife apply to ewma only")
            }
            if lambda != nil && halflife != nil { throw ValidationError("give --lambda or --halflife, not both") }
            if let l = lambda, !(l > 0 && l < 1) {
                throw ValidationError("--lambda must be strictly between 0 and 1, got \(l)")
            }
            if let h = halflife, !(h > 0 && h.isFinite) {
                throw ValidationError("--halflife must be a positive number of bars, got \(h)")
            }
            if let w = window {
                if w < 2 { throw ValidationError("--window must be at least 2, got \(w)") }
                if isGARCH || model == .ewma {
                    throw ValidationError("--window applies to close-to-close and range estimators only")
                }
            }
            if fullSample && !isRange { throw ValidationError("--full-sample applies to range estimators only") }
            if zeroMean && model != .closeToClose {
                throw ValidationError("--zero-mean applies to close-to-close only")
            }
            if !(1...10_000).contains(horizon) {
                throw ValidationError("--horizon: expected 1 to 10000 periods, got \(horizon)")
            }
            if fullSample && format == .csv {
                throw ValidationError("--full-sample gives one number: use --format table or json")
            }
            if stream && (isGARCH || fullSample) {
                throw ValidationError(
                    "--stream applies to ewma, close-to-close and rolling range estimators (\(isGARCH ? "a GARCH fit needs the whole sample" : "--full-sample needs every bar"))"
                )
            }
        }

        var isRange: Bool { [.parkinson, .garmanKlass, .rogersSatchell, .yangZhang].contains(model) }

        public func run() throws {
            if stream {
                var out = StandardOutput()
                try renderStreaming { try out.append($0) }
                try out.flush()
            } else {
                try StandardOutput.write(try render())
            }
        }

        /// The command's complete standard output.
        public func render() throws -> String {
            let loaded = try data.load(file)
            let report = try estimate(loaded.series)
            var out: String
            switch format {
            case .json: out = report.json(skipped: loaded.skipped).rendered() + "\n"
            case .csv: out = report.csv()
            case .table: out = report.table(skipped: loaded.skipped)
            }
            if format != .table && !loaded.skipped.isEmpty {
                for line in loaded.skipped.lines { printError(line) }
            }
            return out
        }

        /// The one-pass filter of an ewma, close-to-close or range model, its description and parameters.
        func onePass() throws -> (OnePassVolatility.Kind, String, [(String, Double)]) {
            do {
                switch model {
                case .ewma:
                    let e =
                        try halflife.map { h throws(VolatilityError) in try EWMA(halfLife: h) }
                        ?? EWMA(lambda: lambda ?? EWMA.riskMetricsLambda)
                    return (
                        .ewma(e),
                        "EWMA (RiskMetrics), zero mean, lambda \(Fmt.sig(e.lambda, 6)), half-life \(Fmt.fixed(e.halfLife, 2)) bars, seeded as arch",
                        [("lambda", e.lambda)]
                    )
                case .closeToClose:
                    let w = window ?? 20
                    return (
                        .rolling(try RollingVolatility(window: w, demean: !zeroMean)),
                        "close-to-close, rolling \(w) returns, \(zeroMean ? "zero mean" : "sample standard deviation (ddof 1)")",
                        [("window", Double(w))]
                    )
                case .parkinson, .garmanKlass, .rogersSatchell, .yangZhang:
                    guard let est = RangeEstimator(rawValue: model.rawValue) else {
                        throw CommandFailure("unknown model \(model.rawValue)")
                    }
                    let w = window ?? 20
                    return (.range(est, window: w), "\(model.rawValue), rolling \(w) bars", [("window", Double(w))])
                case .garch, .gjr, .egarch:
                    throw CommandFailure("\(model.rawValue) needs the whole sample")
                }
            } catch let e as VolatilityError {
                throw CommandFailure("\(file): \(e.description)")
            }
        }

        /// `--stream`: the file block by block in constant memory; `write` gets the output in
        /// pieces (CSV rows as they are computed).
        public func renderStreaming(_ write: @escaping (String) throws -> Void) throws {
            let (kind, description, parameters) = try onePass()
            var filter = OnePassVolatility(kind)
            var sampling = SamplingAccumulator()
            var first: Int64?
            var last: Int64 = 0
            var dateOnly: Bool?
            let csv = format == .csv
            if csv { try write(VolReport.csvHeader) }
            let needsBars: Bool
            if case .range = kind { needsBars = true } else { needsBars = false }
            let emit: OnePassVolatility.Emit = { time, r, v in
                if csv { try write(VolReport.csvRow(Timestamp.format(time, dateOnly: dateOnly ?? false), r, v)) }
            }
            let skipped: SkipReport
            do {
                skipped = try data.reader.stream(path: file) { block in
                    if dateOnly == nil { dateOnly = block.timestamps.allSatisfy { $0 % 86_400_000 == 0 } }
                    if needsBars && !block.hasBars {
                        throw CommandFailure("\(file): \(model.rawValue) needs open, high, low and close columns")
                    }
                    let closes = block.barClose
                    for i in 0..<block.count {
                        let t = block.timestamps[i]
                        sampling.add(t)
                        if first == nil { first = t }
                        last = t
                        try filter.add(
                            time: t, price: block.price[i],
                            bar: needsBars ? (block.open[i], block.high[i], block.low[i], closes[i]) : nil, emit)
                    }
                }
            } catch let e as DataError {
                throw CommandFailure(e.description)
            }
            let next: Double
            do { next = try filter.finish(emit) } catch let e as VolatilityError {
                throw CommandFailure("\(file): \(e.description)")
            }
            if csv {
                for line in skipped.lines { printError(line) }
                return
            }
            let label = { (t: Int64) in Timestamp.format(t, dateOnly: dateOnly ?? false) }
            var r = VolReport(
                command: model.rawValue,
                data: .init(
                    source: file == "-" ? "<stdin>" : file, prices: sampling.count, first: label(first ?? 0),
                    last: label(last)),
                sampling: data.sampling(sampling.sampling))
            r.description = description
            r.parameters = parameters
            r.lastVariance = filter.lastVariance
            r.nextVariance = next
            r.forecast = Array(repeating: next, count: horizon)
            if format == .json {
                try write(r.json(skipped: skipped).rendered() + "\n")
                for line in skipped.lines { printError(line) }
            } else {
                try write(r.table(skipped: skipped))
            }
        }

        /// A GARCH-family fit: GARCH and GJR with the normal or Student's t through the analytic
        /// kernel (`GARCHModel`), everything else through the composite (`ARCHModel`).
        func fitGARCHFamily(_ returns: [Double]) throws(VolatilityError) -> FamilyFit {
            let meanModel = mean ?? .constant
            let distribution = dist ?? .normal
            if model != .egarch && distribution != .skewt {
                let m = GARCHModel(
                    mean: meanModel, volatility: .init(asymmetric: model == .gjr),
                    distribution: distribution == .t ? .studentT : .normal)
                let fit = try m.fit(returns)
                return FamilyFit(
                    description: m.name, names: m.parameterNames, values: fit.parameterVector,
                    errors: fit.standardErrorVector,
                    logLikelihood: fit.logLikelihood, aic: fit.aic, bic: fit.bic, variance: fit.conditionalVariance,
                    next: fit.nextVariance, forecast: { fit.forecastVariance(horizon: $0) },
                    converged: fit.converged, iterations: fit.iterations)
            }
            func composite<P: VolatilityProcess>(_ process: P) throws(VolatilityError) -> ARCHFit {
                switch distribution {
                case .normal:
                    return try ARCHModel(mean: meanModel, volatility: process, distribution: StandardizedNormal()).fit(
                        returns)
                case .t:
                    return try ARCHModel(mean: meanModel, volatility: process, distribution: StandardizedStudentT())
                        .fit(returns)
                case .skewt:
                    return try ARCHModel(mean: meanModel, volatility: process, distribution: SkewedStudentT()).fit(
                        returns)
                }
            }
            let fit =
                model == .egarch ? try composite(EGARCH()) : try composite(GARCHProcess(asymmetric: model == .gjr))
            return FamilyFit(
                description: fit.description, names: fit.parameterNames, values: fit.parameters,
                errors: fit.standardErrors,
                logLikelihood: fit.logLikelihood, aic: fit.aic, bic: fit.bic, variance: fit.conditionalVariance,
                next: fit.nextVariance, forecast: { fit.forecastVariance(horizon: $0) ?? [] },
                converged: fit.converged, iterations: fit.iterations)
        }

        func estimate(_ series: PriceSeries) throws -> VolReport {
            let sampling = data.sampling(for: series)
            let returns = series.returns
            var r = VolReport(command: model.rawValue, series: series, sampling: sampling, returns: returns)
            do {
                switch model {
                case .garch, .gjr, .egarch:
                    try r.apply(fitGARCHFamily(returns), horizon: horizon)
                case .ewma:
                    let (kind, description, parameters) = try onePass()
                    r.description = description
                    r.parameters = parameters
                    guard case .ewma(let e) = kind else { break }
                    if format == .csv {
                        r.apply(try e.filter(returns), constantForecast: horizon)
                    } else {
                        // json and table print no path
                        let (last, next) = try e.lastAndNext(returns)
                        r.lastVariance = last
                        r.nextVariance = next
                        r.forecast = Array(repeating: next, count: horizon)
                    }
                case .closeToClose:
                    let w = window ?? 20
                    let path = try RollingVolatility(window: w, demean: !zeroMean).filter(returns)
                    r.description =
                        "close-to-close, rolling \(w) returns, \(zeroMean ? "zero mean" : "sample standard deviation (ddof 1)")"
                    r.parameters = [("window", Double(w))]
                    r.apply(path, constantForecast: horizon)
                case .parkinson, .garmanKlass, .rogersSatchell, .yangZhang:
                    guard let bars = series.bars else {
                        throw CommandFailure(
                            "\(series.source): \(model.rawValue) needs open, high, low and close columns")
                    }
                    let est = RangeEstimator(rawValue: model.rawValue)!
                    if fullSample {
                        let v = try est.fullSample(bars)
                        r.description = "\(model.rawValue), full sample of \(bars.count - est.leadingBars) bars"
                        r.variance = []
                        r.nextVariance = v
                        r.lastVariance = v
                        r.forecast = Array(repeating: v, count: horizon)
                    } else {
                        let w = window ?? 20
                        let path = try est.rolling(bars, window: w)
                        r.description = "\(model.rawValue), rolling \(w) bars"
                        r.parameters = [("window", Double(w))]
                        r.apply(path, constantForecast: horizon)
                    }
                }
            } catch let e as VolatilityError {
                throw CommandFailure("\(series.source): \(e.description)")
            }
            return r
        }
    }
}

/// Writes a line to standard error.
package func printError(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

extension InnovationDistribution: ExpressibleByArgument {}

/// What `vol` reports of a GARCH-family fit, whichever model fitted it.
struct FamilyFit {
    let description: String
    let names: [String]
    let values: [Double]
    let errors: [Double]?
    let logLikelihood, aic, bic: Double
    let variance: [Double]
    let next: Double
    let forecast: (Int) -> [Double]
    let converged: Bool
    let iterations: Int
}

extension VolReport {
    mutating func apply(_ fit: FamilyFit, horizon: Int) {
        description = fit.description
        parameters = zip(fit.names, fit.values).map { ($0, $1) }
        standardErrors = fit.errors.map { Dictionary(uniqueKeysWithValues: zip(fit.names, $0)) } ?? [:]
        logLikelihood = fit.logLikelihood
        aic = fit.aic
        bic = fit.bic
        variance = fit.variance.map { Optional($0) }
        nextVariance = fit.next
        forecast = fit.forecast(horizon)
        if !fit.converged {
            notes.append("warning: optimiser stopped before full convergence after \(fit.iterations) iterations")
        }
    }
}
extension MeanModel: ExpressibleByArgument {}
