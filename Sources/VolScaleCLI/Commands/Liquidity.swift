import ArgumentParser
import VolScaleCore
import VolScaleData

extension VolumeUnit: ExpressibleByArgument {}

extension VolScaleCommand {
    /// `volscale liquidity FILE`
    public struct Liquidity: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "liquidity",
            abstract:
                "Liquidity measured from OHLC bars with volume: dollar volume, Amihud illiquidity, Corwin-Schultz spread.",
            discussion: """
                Over a trailing window of N bars, the value on a date using bars up to that date:
                  adv      average dollar volume per bar (quote currency): volume x close with --volume-unit base,
                           the volume itself with --volume-unit quote (Yahoo's BTC-USD and ETH-USD volumes are in USD)
                  amihud   Amihud (2002): mean of |r| / dollar volume, r the decimal log return of the bar;
                           bars with zero volume are left out, empty when none in the window traded
                  spread   Corwin-Schultz (2012) effective spread from two-bar high-low ranges, decimal
                           (0.001 = 10 bp); negative two-bar estimates set to zero, then averaged over the window;
                           --overnight-adjusted shifts a bar's range by a gap from the previous close first
                           (for markets that close; off by default)
                The first value is at bar N (N bars, each with a predecessor).
                """
        )

        @Argument(help: "Price file with open, high, low, close and volume.") public var file: String
        @Option(help: "Bars per window (at least 2).") public var window: Int = 20
        @Option(help: "base (volume x close is the dollar volume) or quote (volume is already in the quote currency).")
        public var volumeUnit: VolumeUnit = .base
        @Flag(help: "Corwin-Schultz overnight adjustment (for markets that close between bars).")
        public var overnightAdjusted = false
        @Option(help: "Output format: table, json or csv.") public var format: OutputFormat = .table
        @OptionGroup public var data: DataOptions

        public init() {}

        public func validate() throws {
            try data.validatePeriods()
            if window < 2 { throw ValidationError("--window must be at least 2, got \(window)") }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let series = try data.series(file, volume: true)
            let points: [LiquidityPoint]
            do {
                points = try series.liquidity(
                    LiquidityWindow(window: window, overnightAdjusted: overnightAdjusted), unit: volumeUnit)
            } catch {
                throw CommandFailure("\(file): \(error)")
            }
            guard !points.isEmpty else {
                throw CommandFailure(
                    "\(file): \(series.count) bars, a window of \(window) needs at least \(window + 1)")
            }
            switch format {
            case .csv:
                var s = "date,adv,amihud,spread\n"
                for p in points {
                    s +=
                        "\(series.label(p.index)),\(JSONValue.format(p.adv)),\(p.amihud.map(JSONValue.format) ?? ""),\(JSONValue.format(p.spread))\n"
                }
                return s
            case .json:
                let rows: [JSONValue] = points.map { p in
                    .object([
                        ("date", .string(series.label(p.index))), ("adv", .number(p.adv)), ("amihud", .num(p.amihud)),
                        ("spread", .number(p.spread)),
                    ])
                }
                return JSONValue.object([
                    ("file", .string(file)),
                    ("bars", .integer(series.count)),
                    ("window", .integer(window)),
                    ("volumeUnit", .string(volumeUnit.rawValue)),
                    ("overnightAdjusted", .bool(overnightAdjusted)),
                    (
                        "units",
                        .object([
                            ("adv", .string("quote currency per bar")),
                            ("amihud", .string("decimal return per unit of quote currency")),
                            ("spread", .string("decimal")),
                        ])
                    ),
                    ("latest", rows[rows.count - 1]),
                    ("series", .array(rows)),
                ]).rendered() + "\n"
            case .table:
                return table(series, points)
            }
        }

        func table(_ series: PriceSeries, _ points: [LiquidityPoint]) -> String {
            func quantile(_ xs: [Double], _ q: Double) -> Double {
                let s = xs.sorted()
                return s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))]
            }
            let adv = points.map(\.adv)
            let amihud = points.compactMap(\.amihud)
            let spread = points.map(\.spread)
            var t = TextTable(["measure", "latest", "median", "5%", "95%", "max"], rightAligned: [1, 2, 3, 4, 5])
            func row(_ name: String, _ latest: Double?, _ xs: [Double], _ f: (Double) -> String) {
                guard !xs.isEmpty else {
                    t.add([name, "-", "-", "-", "-", "-"])
                    return
                }
                t.add([
                    name, latest.map(f) ?? "-", f(quantile(xs, 0.5)), f(quantile(xs, 0.05)), f(quantile(xs, 0.95)),
                    f(xs.max() ?? 0),
                ])
            }
            let last = points[points.count - 1]
            row("ADV (quote/bar)", last.adv, adv) { Fmt.sig($0, 4) }
            row("Amihud (per 1M)", last.amihud.map { $0 * 1e6 }, amihud.map { $0 * 1e6 }) { Fmt.sig($0, 4) }
            row("spread (bp)", last.spread * 1e4, spread.map { $0 * 1e4 }) { Fmt.fixed($0, 1) }
            var head = "Liquidity of \(file): \(points.count) windows of \(window) bars, "
            head += "\(series.label(points[0].index)) to \(series.label(last.index))\n"
            head +=
                "volume in the \(volumeUnit == .base ? "base currency (x close = dollar volume)" : "quote currency")"
            head += overnightAdjusted ? ", spread with the overnight adjustment" : ""
            head += "; Amihud per 1M of quote currency traded\n\n"
            var recent = TextTable(["date", "ADV", "Amihud (per 1M)", "spread (bp)"], rightAligned: [1, 2, 3])
            for p in points.suffix(5) {
                recent.add([
                    series.label(p.index), Fmt.sig(p.adv, 4), p.amihud.map { Fmt.sig($0 * 1e6, 4) } ?? "-",
                    Fmt.fixed(p.spread * 1e4, 1),
                ])
            }
            return head + t.render() + "\n\nLast five:\n" + recent.render() + "\n"
        }
    }
}
