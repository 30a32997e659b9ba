import ArgumentParser
import Foundation
import VolScaleConfig
import VolScaleCore
import VolScaleData
import VolScaleRisk

extension VolScaleCommand {
    /// `volscale margin-rates --config FILE`
    public struct MarginRates: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "margin-rates",
            abstract: "Today's initial and maintenance margin rates per asset and side, and why each has its value.",
            discussion: """
                Runs each [[asset]] of the config through its models up to the last bar of its price file and
                prints the rates published at that close: decimal fractions of notional (0.05 = 5%) for a unit long
                and a unit short position, covering the next MPOR. 'set by' names the control that bound: model,
                historical floor, buffer (full / drawn down / exhausted), smoothing, speed limit, rise limit, corridor, hard floor or cap.
                """
        )

        @Option(help: "TOML config with [[model]] and [[asset]] tables.") public var config: String
        @Option(help: "Output format: table or json.") public var format: OutputFormat = .table
        @Flag(help: "Skip bad rows in the asset files (counts are reported).") public var skipBadRows = false

        public init() {}

        public func validate() throws {
            if format == .csv { throw ValidationError("margin-rates prints table or json") }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        struct Row {
            var asset: String, model: String, date: String, side: Side
            var initial: Double, maintenance: Double, modelMargin: Double, binding: BindingControl
            var sigma: Double, annualised: Double, impliedBound: Bool
        }

        public func render() throws -> String {
            let cfg: MarginConfig
            do { cfg = try MarginConfig.load(path: config) } catch { throw CommandFailure(error.description) }
            guard !cfg.assets.isEmpty else {
                throw CommandFailure("\(config): no [[asset]] entries to publish rates for")
            }
            var rows: [Row] = []
            for asset in cfg.assets {
                let out: PriceFileReader.Output
                do {
                    out = try PriceFileReader(column: asset.column, skipBadRows: skipBadRows).read(path: asset.file)
                } catch {
                    throw CommandFailure("asset '\(asset.name)': \(error.description)")
                }
                for line in out.skipped.lines { printError("asset '\(asset.name)': \(line)") }
                let series = out.series
                var sampling = series.sampling
                if let p = cfg.periodsPerYear { sampling.periodsPerYear = p }
                let implied = try cfg.implied.map {
                    try $0.aligned(to: series, periodsPerYear: sampling.periodsPerYear)
                }
                let models = asset.models.isEmpty ? cfg.models : cfg.models.filter { asset.models.contains($0.name) }
                for m in models {
                    let path: MarginPath
                    do {
                        path = try MarginEngine.run(
                            m, returns: series.returns, timestamps: Array(series.timestamps.dropFirst()),
                            implied: implied)
                    } catch { throw CommandFailure("asset '\(asset.name)': \(error.description)") }
                    let k = path.count - 1
                    for side in Side.allCases {
                        let sp = path.side(side)
                        rows.append(
                            Row(
                                asset: asset.name, model: m.name, date: series.label(series.count - 1), side: side,
                                initial: sp.margin[k], maintenance: sp.maintenance[k], modelMargin: sp.modelMargin[k],
                                binding: sp.binding[k], sigma: path.sigma[k],
                                annualised: path.sigma[k] * sampling.periodsPerYear.squareRoot(),
                                impliedBound: path.impliedBound[k]))
                    }
                }
            }
            if format == .json {
                return JSONValue.object([
                    ("config", .string(config)),
                    ("units", .string("rates: decimal fractions of notional over the MPOR; sigma per period, decimal")),
                    (
                        "rates",
                        .array(
                            rows.map { r in
                                .object([
                                    ("asset", .string(r.asset)), ("model", .string(r.model)), ("asOf", .string(r.date)),
                                    ("side", .string(r.side.rawValue)), ("initial", .number(r.initial)),
                                    ("maintenance", .number(r.maintenance)), ("modelMargin", .number(r.modelMargin)),
                                    ("setBy", .string(r.binding.rawValue)), ("sigma", .number(r.sigma)),
                                    ("annualizedVolatility", .number(r.annualised)),
                                    ("impliedBound", .bool(r.impliedBound)),
                                ])
                            })
                    ),
                ]).rendered() + "\n"
            }
            var t = TextTable(
                [
                    "asset", "model", "as of", "side", "initial", "maintenance", "model margin", "set by",
                    "volatility (ann.)",
                ],
                rightAligned: [4, 5, 6, 8])
            for r in rows {
                t.add([
                    r.asset, r.model, r.date, r.side.rawValue, Fmt.percent(r.initial, 3), Fmt.percent(r.maintenance, 3),
                    Fmt.percent(r.modelMargin, 3), r.binding.rawValue,
                    Fmt.percent(r.annualised, 2) + (r.impliedBound ? " (implied)" : ""),
                ])
            }
            return "Margin rates from \(config) (decimal fractions of notional, shown in %)\n\n" + t.render() + "\n"
        }
    }
}
