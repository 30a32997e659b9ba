import ArgumentParser
import VolScaleCore
import VolScaleData

extension VolScaleCommand {
    /// `volscale regimes FILE`
    public struct RegimesCommand: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "regimes",
            abstract:
                "Calm and stressed regimes: a Markov-switching model of returns (Hamilton filter, maximum likelihood).",
            discussion: """
                r_t | state k ~ N(mean_k, variance_k), the state a Markov chain started from its stationary distribution
                (as statsmodels' MarkovRegression with switching variance). Fitted by EM from several starting points
                (fixed seed: the same result on every run) and polished by BFGS on the exact likelihood.
                Units: decimal log returns per bar; means and variances per bar; states in ascending variance, so the
                last is the stressed one; transition row i = probabilities of the next state given state i.
                json: logLikelihood, means, variances, transition, state (of the last bar), and more.
                csv: date,return,p_high with p_high the filtered probability (data up to that bar) of the
                highest-variance state.
                """
        )

        @Argument(help: "Price file.") public var file: String
        @Option(help: "Number of states, 2 to 6.") public var states: Int = 2
        @Option(help: "Starting points for the likelihood search.") public var starts: Int = 20
        @Option(help: "Output format: table, json or csv.") public var format: OutputFormat = .table
        @OptionGroup public var data: DataOptions

        public init() {}

        public func validate() throws {
            try data.validatePeriods()
            if !(2...6).contains(states) { throw ValidationError("--states must be between 2 and 6, got \(states)") }
            if !(1...500).contains(starts) {
                throw ValidationError("--starts must be between 1 and 500, got \(starts)")
            }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let series = try data.series(file)
            let returns = series.returns
            let fit: MarkovSwitchingFit
            do { fit = try MarkovSwitching.fit(returns, states: states, starts: starts) } catch {
                throw CommandFailure("\(file): \(error)")
            }
            let model = fit.model
            let (_, filtered) = model.filter(returns)
            let k = model.states
            let last = Array(filtered.suffix(k))
            let state = last.indices.max { last[$0] < last[$1] } ?? 0
            let ppy = data.sampling(for: series).periodsPerYear
            let stationary = model.stationary
            let duration = (0..<k).map { i in model.transition[i][i] < 1 ? 1 / (1 - model.transition[i][i]) : .infinity
            }
            switch format {
            case .csv:
                var s = "date,return,p_high\n"
                for t in returns.indices {
                    s +=
                        "\(series.label(t + 1)),\(JSONValue.format(returns[t])),\(JSONValue.format(filtered[t * k + k - 1]))\n"
                }
                return s
            case .json:
                return JSONValue.object([
                    ("file", .string(file)),
                    ("observations", .integer(returns.count)),
                    ("states", .integer(k)),
                    ("logLikelihood", .number(fit.logLikelihood)),
                    ("means", .array(model.means.map { .number($0) })),
                    ("variances", .array(model.variances.map { .number($0) })),
                    ("transition", .array(model.transition.map { .array($0.map { .number($0) }) })),
                    ("state", .integer(state)),
                    ("lastProbabilities", .array(last.map { .number($0) })),
                    ("stationary", .array(stationary.map { .number($0) })),
                    ("expectedDurationBars", .array(duration.map { .num($0.isFinite ? $0 : nil) })),
                    ("annualizedVolatility", .array(model.variances.map { .number(($0 * ppy).squareRoot()) })),
                    ("periodsPerYear", .number(ppy)),
                    ("starts", .integer(fit.starts)),
                    ("startsNearBest", .integer(fit.startsNearBest)),
                ]).rendered() + "\n"
            case .table:
                var t = TextTable(
                    [
                        "state", "mean/bar", "vol/bar", "annualised vol", "long-run share", "expected stay (bars)",
                        "now",
                    ],
                    rightAligned: Set(1...6))
                for i in 0..<k {
                    let name = i == 0 ? "\(i) calm" : i == k - 1 ? "\(i) stressed" : "\(i)"
                    t.add([
                        name, Fmt.percent(model.means[i], 4), Fmt.percent(model.variances[i].squareRoot(), 3),
                        Fmt.percent((model.variances[i] * ppy).squareRoot(), 1), Fmt.percent(stationary[i], 1),
                        duration[i].isFinite ? Fmt.fixed(duration[i], 1) : "forever", Fmt.percent(last[i], 1),
                    ])
                }
                var p = TextTable(["from \\ to"] + (0..<k).map { "\($0)" }, rightAligned: Set(1...k))
                for i in 0..<k { p.add(["\(i)"] + model.transition[i].map { Fmt.fixed($0, 4) }) }
                var head = "Regimes of \(file): \(k) states on \(returns.count) returns, "
                head += "log-likelihood \(Fmt.fixed(fit.logLikelihood, 3)) "
                head += "(\(fit.startsNearBest) of \(fit.starts) starts came within 0.5 of it)\n"
                head += "the last bar (\(series.label(series.count - 1))) is most likely in state \(state)\n\n"
                return head + t.render() + "\n\nTransition probabilities:\n" + p.render() + "\n"
            }
        }
    }
}
