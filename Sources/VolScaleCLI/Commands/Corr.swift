import ArgumentParser
import Foundation
import VolScaleCore
import VolScaleData

extension VolScaleCommand {
    /// `volscale corr FILE...`
    public struct Corr: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "corr",
            abstract: "Correlation of several price series on their common timestamps.",
            discussion: """
                Returns are decimal log returns between consecutive timestamps present in every file; rows of a
                file whose timestamp is missing elsewhere are dropped (counted and reported), never filled.
                Methods:
                  ewma          S_t = lambda S_{t-1} + (1 - lambda) r r' (zero mean), seeded like arch's EWMA; the
                                forecast for the next period
                  sample        sample covariance (ddof 1) over all aligned returns
                  ledoit-wolf   sample covariance shrunk toward constant correlation (Ledoit-Wolf 2004); use when
                                the window is short relative to the number of assets
                Volatilities are per period, decimal, and annualised with the first file's periods per year.
                """
        )

        public enum Method: String, ExpressibleByArgument, CaseIterable, Sendable {
            case ewma, sample
            case ledoitWolf = "ledoit-wolf"
        }

        @Argument(help: "Two or more price files.") public var files: [String]
        @Option(help: "ewma, sample or ledoit-wolf.") public var method: Method = .ewma
        @Option(help: "EWMA decay factor in (0, 1).") public var lambda: Double = EWMA.riskMetricsLambda
        @Option(help: "Use only the last N aligned returns.") public var window: Int?
        @Option(help: "Output format: table or json.") public var format: OutputFormat = .table
        @OptionGroup public var data: DataOptions

        public init() {}

        public func validate() throws {
            try data.validatePeriods()
            if files.count < 2 { throw ValidationError("give at least two files") }
            if format == .csv { throw ValidationError("corr prints table or json") }
            if !(lambda > 0 && lambda < 1) {
                throw ValidationError("--lambda must be strictly between 0 and 1, got \(lambda)")
            }
            if let w = window, w < 3 { throw ValidationError("--window must be at least 3") }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            var series: [PriceSeries] = []
            for f in files { series.append(try data.series(f)) }
            let aligned = AlignedReturns(series)
            var returns = aligned.returns
            if let w = window { returns = Array(returns.suffix(w)) }
            let cov: SymmetricMatrix
            var shrinkage: Double?
            do {
                switch method {
                case .ewma: cov = try EWMACovariance(lambda: lambda).nextCovariance(returns)
                case .sample: cov = try sampleCovariance(returns)
                case .ledoitWolf:
                    let lw = try LedoitWolf().estimate(returns)
                    cov = lw.covariance
                    shrinkage = lw.shrinkage
                }
            } catch {
                throw CommandFailure("aligned returns of \(files.joined(separator: ", ")): \(error)")
            }
            let corr = cov.correlation
            let ppy = data.sampling(for: series[0]).periodsPerYear
            let names = files.map { ($0 as NSString).lastPathComponent }
            let vols = (0..<cov.dimension).map { cov[$0, $0].squareRoot() }
            if format == .json {
                var obj: [(String, JSONValue)] = [
                    ("method", .string(method.rawValue)),
                    ("assets", .array(files.map { .string($0) })),
                    ("observations", .integer(returns.count)),
                    ("dropped", .object(zip(files, aligned.dropped).map { ($0, .integer($1)) })),
                ]
                if method == .ewma { obj.append(("lambda", .number(lambda))) }
                if let shrinkage { obj.append(("shrinkage", .number(shrinkage))) }
                obj += [
                    ("correlation", .array(corr.rows.map { .array($0.map { .number($0) }) })),
                    ("covariance", .array(cov.rows.map { .array($0.map { .number($0) }) })),
                    ("volatility", .array(vols.map { .number($0) })),
                    ("annualizedVolatility", .array(vols.map { .number($0 * ppy.squareRoot()) })),
                    ("periodsPerYear", .number(ppy)),
                ]
                return JSONValue.object(obj).rendered() + "\n"
            }
            var t = TextTable([""] + names, rightAligned: Set(1...names.count))
            for i in 0..<names.count { t.add([names[i]] + corr.rows[i].map { Fmt.fixed($0, 4) }) }
            var v = TextTable(["asset", "dropped rows", "vol per period", "annualised"], rightAligned: [1, 2, 3])
            for i in 0..<names.count {
                v.add([
                    names[i], "\(aligned.dropped[i])", Fmt.percent(vols[i]), Fmt.percent(vols[i] * ppy.squareRoot(), 2),
                ])
            }
            var head = "Correlation (\(method.rawValue)\(method == .ewma ? ", lambda \(Fmt.sig(lambda, 4))" : ""))"
            head += " on \(returns.count) aligned returns"
            if let shrinkage { head += "; shrinkage intensity \(Fmt.fixed(shrinkage, 4))" }
            return head + "\n\n" + t.render() + "\n\n" + v.render() + "\n"
        }
    }
}
