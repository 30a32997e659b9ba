import ArgumentParser
import VolScaleCore
import VolScaleData
import VolScaleMargin

extension VolScaleCommand {
    /// `volscale haircuts FILE`
    public struct Haircuts: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "haircuts",
            abstract:
                "The haircut a venue would have charged on a holding, bar by bar, with and without the liquidity regime.",
            discussion: """
                At each bar, from the bars up to it only: daily volatility (EWMA forecast, --lambda), ADV and
                Corwin-Schultz spread over --window bars, p = the expected share of the liquidation horizon in the
                high-variance regime (two-state Markov-switching filter; the model fitted on the last 1,000 returns,
                refitted every 63 bars), and the haircut
                of a long holding of --holding (quote currency): expected shortfall over the liquidation horizon plus half
                the spread, the impact add-on, a longer horizon when the holding exceeds --participation x ADV x horizon,
                and liquidity costs x (1 + (M - 1) p) with M = --stressed-multiplier. haircut_calm is the same with M = 1.
                The first value needs 250 returns. Volatilities, spreads, probabilities and haircuts are decimal.
                csv: date,volatility,adv,spread,amihud,p_high,haircut,haircut_calm (p_high: that share). html: the charts.
                """
        )

        @Argument(help: "Price file with open, high, low, close and volume.") public var file: String
        @Option(help: "Holding value, quote currency.") public var holding: Double = 1e7
        @Option(help: "base (volume x close is the dollar volume) or quote.") public var volumeUnit: VolumeUnit = .base
        @Option(help: "Bars per liquidity window.") public var window: Int = 20
        @Option(help: "EWMA decay for the volatility.") public var lambda: Double = EWMA.riskMetricsLambda
        @Option(help: "Liquidity cost multiplier in the high-variance regime (>= 1).") public var stressedMultiplier:
            Double = 2
        @Option(help: "Share of ADV sold per day.") public var participation: Double = 0.1
        @Option(help: "Liquidation horizon, days.") public var horizon: Int = 2
        @Option(help: "Coverage of the expected shortfall, in (0.5, 1).") public var confidence: Double = 0.99
        @Option(help: "Only bars from this date (the history before it is still used).") public var from: String?
        @Option(help: "Only bars up to this date.") public var to: String?
        @Option(help: "Output format: table, json, csv or html.") public var format: ReportFormat = .table
        @OptionGroup public var data: DataOptions

        public enum ReportFormat: String, ExpressibleByArgument, CaseIterable, Sendable { case table, json, csv, html }

        public init() {}

        public func validate() throws {
            try data.validatePeriods()
            if !(holding > 0 && holding.isFinite) { throw ValidationError("--holding must be a positive amount") }
            if window < 2 { throw ValidationError("--window must be at least 2") }
            if !(lambda > 0 && lambda < 1) { throw ValidationError("--lambda must be strictly between 0 and 1") }
            if !(stressedMultiplier >= 1 && stressedMultiplier <= 100) {
                throw ValidationError("--stressed-multiplier must be in [1, 100]")
            }
            if !(participation > 0 && participation <= 1) { throw ValidationError("--participation must be in (0, 1]") }
            if !(1...250).contains(horizon) { throw ValidationError("--horizon must be 1 to 250 days") }
            if !(confidence > 0.5 && confidence < 1) { throw ValidationError("--confidence must be in (0.5, 1)") }
            for (name, d) in [("--from", from), ("--to", to)] where d != nil && Timestamp.parse(d ?? "") == nil {
                throw ValidationError("\(name) is not a date: \(d ?? "")")
            }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let series = try data.series(file, volume: true)
            guard let bars = series.bars, let dv = series.dollarVolume(volumeUnit) else {
                throw CommandFailure("\(file): needs open, high, low, close and volume columns")
            }
            let settings: MarginSettings
            do {
                settings = try MarginSettings(
                    confidence: confidence, liquidationHorizon: horizon, participation: participation,
                    stressedLiquidityMultiplier: stressedMultiplier)
            } catch { throw CommandFailure("\(error)") }  // (validate() checked the flags' ranges)
            let lo = from.flatMap(Timestamp.parse) ?? .min
            let hi = to.flatMap(Timestamp.parse) ?? .max
            let first = series.timestamps.firstIndex { $0 >= lo } ?? series.count
            let history: HaircutHistory
            do {
                history = try HaircutHistory.walk(
                    high: bars.high, low: bars.low, close: bars.close, dollarVolume: dv, holdingValue: holding,
                    asset: try AssetRisk(name: file, price: 1, volatility: 0), settings: settings,
                    liquidityWindow: window, lambda: lambda, firstIndex: first)
            } catch {
                throw CommandFailure("\(file): \(error)")
            }
            let points = history.points.filter {
                series.timestamps[$0.index] >= lo && series.timestamps[$0.index] <= hi
            }
            guard !points.isEmpty else {
                throw CommandFailure("\(file): no bar with a haircut in the range (the first needs 250 returns)")
            }
            switch format {
            case .csv:
                var s = "date,volatility,adv,spread,amihud,p_high,haircut,haircut_calm\n"
                for p in points {
                    s +=
                        [
                            series.label(p.index), JSONValue.format(p.volatility), JSONValue.format(p.adv),
                            JSONValue.format(p.spread),
                            p.amihud.map(JSONValue.format) ?? "", JSONValue.format(p.stressedProbability),
                            JSONValue.format(p.haircut),
                            JSONValue.format(p.calmHaircut),
                        ].joined(separator: ",") + "\n"
                }
                return s
            case .json:
                return JSONValue.object([
                    ("file", .string(file)), ("holding", .number(holding)),
                    ("volumeUnit", .string(volumeUnit.rawValue)),
                    ("stressedMultiplier", .number(stressedMultiplier)), ("participation", .number(participation)),
                    ("horizonDays", .integer(horizon)), ("confidence", .number(confidence)),
                    ("refits", .array(history.refits.map { .string(series.label($0)) })),
                    (
                        "series",
                        .array(
                            points.map { p in
                                .object([
                                    ("date", .string(series.label(p.index))), ("volatility", .number(p.volatility)),
                                    ("adv", .number(p.adv)),
                                    ("spread", .number(p.spread)), ("amihud", .num(p.amihud)),
                                    ("pHigh", .number(p.stressedProbability)),
                                    ("haircut", .number(p.haircut)), ("haircutCalm", .number(p.calmHaircut)),
                                ])
                            })
                    ),
                ]).rendered() + "\n"
            case .html:
                return html(series, points)
            case .table:
                var t = TextTable(
                    ["date", "vol/day", "ADV", "spread (bp)", "p(stressed)", "haircut", "calm haircut"],
                    rightAligned: Set(1...6))
                let step = max(1, points.count / 24)
                for (k, p) in points.enumerated() where k % step == 0 || k == points.count - 1 {
                    t.add([
                        series.label(p.index), Fmt.percent(p.volatility, 2), Fmt.sig(p.adv, 4),
                        Fmt.fixed(p.spread * 1e4, 1),
                        Fmt.percent(p.stressedProbability, 1), Fmt.percent(p.haircut, 2), Fmt.percent(p.calmHaircut, 2),
                    ])
                }
                return
                    "Haircut of a \(Fmt.sig(holding, 4)) holding of \(file), every \(step) bar\(step == 1 ? "" : "s"); "
                    + "liquidity costs x(1 + \(Fmt.sig(stressedMultiplier - 1, 3)) p) in the stressed regime\n\n"
                    + t.render() + "\n"
            }
        }

        func html(_ series: PriceSeries, _ points: [HaircutHistory.Point]) -> String {
            let dates = points.map { series.label($0.index) }
            func chart(_ title: String, _ lines: [(String, [Double], String)]) -> String {
                let legend =
                    lines.count > 1
                    ? "<div class=legend>"
                        + lines.map { "<span><i class=sw style=background:\($0.2)></i>\($0.0)</span>" }.joined()
                        + "</div>" : ""
                return "<h3>\(title)</h3>" + legend
                    + ReportHTML.lineChart(lines.map { ($0.1, $0.2, 1.4) }, dates: dates, dots: [])
            }
            var body = "<h1>Haircuts that follow liquidity</h1>\n"
            body +=
                "<p class=sub>\(ReportHTML.esc(file)): a long holding of \(Fmt.sig(holding, 4)) (quote currency), \(dates.first ?? "") to \(dates.last ?? ""). "
            body += "Every value at a date uses the bars up to that date only.</p>\n<section>"
            body += chart(
                "Haircut (expected shortfall \(Fmt.fixed(confidence * 100, 1))% over \(horizon) days + liquidity)",
                [
                    (
                        "with the liquidity regime (x\(Fmt.sig(stressedMultiplier, 3)) when stressed)",
                        points.map(\.haircut), "#d92d20"
                    ),
                    ("liquidity as in calm markets", points.map(\.calmHaircut), "#2563eb"),
                ])
            body += chart(
                "Expected share of the \(horizon)-day horizon in the high-variance regime (Hamilton filter)",
                [("p", points.map(\.stressedProbability), "#6b4fbb")])
            body += chart("Corwin-Schultz spread, \(window)-bar mean", [("spread", points.map(\.spread), "#0e7490")])
            body += chart(
                "Amihud illiquidity: price move per 1B of quote currency traded, \(window)-bar mean",
                [("amihud", points.map { ($0.amihud ?? .nan) * 1e9 }, "#a16207")])
            body += chart(
                "Daily volatility (EWMA \(Fmt.sig(lambda, 3)))", [("volatility", points.map(\.volatility), "#475066")])
            body += "</section>"
            return """
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8"><title>VolScale haircuts</title>
                <style>
                body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2330;margin:24px auto;max-width:980px;padding:0 20px;background:#fafbfc}
                h1{font-size:22px;margin:0 0 4px}h3{font-size:13px;margin:14px 0 4px;color:#475066;text-transform:uppercase;letter-spacing:.04em}
                .sub{color:#5a6275;margin:0 0 12px}section{background:#fff;border:1px solid #e3e6ec;border-radius:8px;padding:10px 18px;margin:14px 0}
                .legend span{display:inline-block;margin-right:14px;color:#475066}.sw{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:5px}
                svg text{font-size:10px;fill:#6a7284}
                </style></head><body>
                \(body)
                <p class=sub>Generated by volscale haircuts. Spread: Corwin and Schultz (2012); illiquidity: Amihud (2002); regimes: Hamilton (1989), two states with their own mean and variance.</p>
                </body></html>

                """
        }
    }
}
