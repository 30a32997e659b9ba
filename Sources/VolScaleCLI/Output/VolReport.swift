import VolScaleCore
import VolScaleData

/// Everything `volscale vol` reports, rendered as JSON, CSV or a table.
struct VolReport {
    var command: String
    var description = ""
    var data: DataSummary
    var sampling: Sampling
    /// The whole series and its returns, for the CSV path (empty when streamed).
    var series: PriceSeries?
    var returns: [Double] = []
    /// Parameters in decimal units, in display order.
    var parameters: [(String, Double)] = []
    var standardErrors: [String: Double] = [:]
    var logLikelihood: Double?
    var aic: Double?
    var bic: Double?
    /// sigma2_t per return (nil while a window fills).
    var variance: [Double?] = []
    var nextVariance: Double = .nan
    /// Set for full-sample estimates that have no path.
    var lastVariance: Double?
    /// Variance forecasts for steps 1...h.
    var forecast: [Double] = []
    var notes: [String] = []

    init(command: String, series: PriceSeries, sampling: Sampling, returns: [Double]) {
        self.command = command
        self.data = DataSummary(series)
        self.series = series
        self.sampling = sampling
        self.returns = returns
    }

    init(command: String, data: DataSummary, sampling: Sampling) {
        self.command = command
        self.data = data
        self.sampling = sampling
    }

    /// What the input was: its name, how many prices and returns, its first and last bars.
    struct DataSummary {
        var source: String
        var prices: Int
        var first: String
        var last: String
        var returns: Int { max(prices - 1, 0) }

        init(source: String, prices: Int, first: String, last: String) {
            self.source = source
            self.prices = prices
            self.first = first
            self.last = last
        }

        init(_ series: PriceSeries) {
            self.init(
                source: series.source, prices: series.count, first: series.label(0),
                last: series.label(series.count - 1))
        }
    }

    /// A filter's path with a flat forecast (EWMA and rolling estimators forecast the same
    /// variance at every horizon).
    mutating func apply(_ path: VolatilityPath, constantForecast horizon: Int) {
        variance = path.variance
        nextVariance = path.nextVariance
        forecast = Array(repeating: path.nextVariance, count: horizon)
    }

    /// sigma of the last return (the forecast made before it was seen).
    var last: Double? {
        if let v = lastVariance { return v.squareRoot() }
        return variance.last.flatMap { $0 }.map { $0.squareRoot() }
    }
    var next: Double { nextVariance.squareRoot() }
    var annualize: Double { sampling.periodsPerYear.squareRoot() }

    static let units: [String: String] = [
        "mu": "decimal per period", "omega": "decimal^2 per period", "alpha": "", "gamma": "", "beta": "",
        "nu": "degrees of freedom", "lambda": "", "window": "bars", "skew": "(-1, 1), negative: heavier left tail",
    ]

    /// The unit of a parameter in this report: EGARCH's omega is the intercept of a log variance.
    func unit(_ name: String) -> String {
        name == "omega" && command == "egarch" ? "ln(decimal^2) intercept" : Self.units[name] ?? ""
    }

    func json(skipped: SkipReport) -> JSONValue {
        var obj: [(String, JSONValue)] = [
            ("model", .string(command)),
            ("description", .string(description)),
            ("source", .string(data.source)),
            ("observations", .integer(data.returns)),
            ("firstDate", .string(data.first)),
            ("lastDate", .string(data.last)),
            (
                "sampling",
                .object([
                    ("bar", .string(sampling.barDescription)),
                    ("periodsPerYear", .number(sampling.periodsPerYear)),
                    ("reason", .string(sampling.reason)),
                ])
            ),
            ("parameters", .object(parameters.map { ($0.0, .number($0.1)) })),
        ]
        if !standardErrors.isEmpty {
            obj.append(
                (
                    "standardErrors",
                    .object(parameters.compactMap { p in standardErrors[p.0].map { (p.0, JSONValue.number($0)) } })
                ))
        }
        if let ll = logLikelihood {
            obj.append(("logLikelihood", .number(ll)))
            obj.append(("aic", .num(aic)))
            obj.append(("bic", .num(bic)))
        }
        obj.append(
            (
                "volatility",
                .object([
                    ("last", .num(last)),
                    ("next", .number(next)),
                    ("annualized", .number(next * annualize)),
                    ("units", .string("last and next per period, decimal; annualized = next * sqrt(periodsPerYear)")),
                ])
            ))
        obj.append(
            (
                "forecast",
                .array(
                    forecast.enumerated().map { i, v in
                        .object([
                            ("step", .integer(i + 1)), ("variance", .number(v)),
                            ("volatility", .number(v.squareRoot())),
                            ("annualized", .number(v.squareRoot() * annualize)),
                        ])
                    })
            ))
        if !skipped.isEmpty {
            obj.append(
                ("skippedRows", .object(skipped.counts.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) }))
            )
        }
        if !notes.isEmpty { obj.append(("notes", .array(notes.map { .string($0) }))) }
        return .object(obj)
    }

    func csv() -> String {
        var out = Self.csvHeader
        guard let series else { return out }
        out.reserveCapacity(returns.count * 48)
        let dateOnly = series.isDateOnly
        for (i, r) in returns.enumerated() {
            out += Self.csvRow(
                Timestamp.format(series.timestamps[i + 1], dateOnly: dateOnly), r,
                i < variance.count ? variance[i] : nil)
        }
        return out
    }

    static let csvHeader = "date,return,volatility\n"

    /// One row: the bar the return ends at, the return, sigma_t (empty while a window fills).
    static func csvRow(_ label: String, _ r: Double, _ variance: Double?) -> String {
        "\(label),\(JSONValue.format(r)),\(variance.map { JSONValue.format($0.squareRoot()) } ?? "")\n"
    }

    func table(skipped: SkipReport) -> String {
        var lines: [String] = []
        lines.append("Model     \(description)")
        lines.append(
            "Data      \(data.source): \(data.prices) prices, \(data.first) to \(data.last), \(data.returns) log returns"
        )
        lines.append(
            "Sampling  \(sampling.barDescription) bars; \(Fmt.sig(sampling.periodsPerYear, 6)) periods per year (\(sampling.reason))"
        )
        for line in skipped.lines { lines.append("Skipped   \(line)") }
        if !parameters.isEmpty {
            lines.append("")
            var t = TextTable(["parameter", "estimate", "std. error", "units"], rightAligned: [1, 2])
            for (name, value) in parameters {
                t.add([name, Fmt.sig(value, 6), standardErrors[name].map { Fmt.sig($0, 4) } ?? "", unit(name)])
            }
            lines.append(t.render())
        }
        if let ll = logLikelihood {
            lines.append("")
            lines.append("  log-likelihood  \(Fmt.fixed(ll, 4))  (decimal returns)")
            if let aic, let bic { lines.append("  AIC / BIC       \(Fmt.fixed(aic, 4)) / \(Fmt.fixed(bic, 4))") }
        }
        lines.append("")
        var v = TextTable(["volatility", "per period", "annualised"], rightAligned: [1, 2])
        if let last { v.add(["last return (sigma_n)", Fmt.percent(last), Fmt.percent(last * annualize, 2)]) }
        v.add(["next return (sigma_n+1)", Fmt.percent(next), Fmt.percent(next * annualize, 2)])
        if forecast.count > 1 {
            for (i, f) in forecast.enumerated().dropFirst() {
                v.add(["step \(i + 1)", Fmt.percent(f.squareRoot()), Fmt.percent(f.squareRoot() * annualize, 2)])
            }
        }
        lines.append(v.render())
        lines.append("  (percent of price; annualised = per period * sqrt(\(Fmt.sig(sampling.periodsPerYear, 6))))")
        for n in notes { lines.append(n) }
        return lines.joined(separator: "\n") + "\n"
    }
}
