import VolScaleCore
import VolScaleData
import VolScaleRisk

/// What `volscale backtest` shows, in each format.
struct BacktestView {
    var series: PriceSeries
    var sampling: Sampling
    var results: [BacktestResult]
    var paths: [MarginPath]
    var side: Side
    var configPath: String?

    /// Label of the bar at which the margin for return index t was set (the bar ending it).
    func label(_ t: Int) -> String { series.label(t + 1) }

    func json(_ r: BacktestResult) -> JSONValue {
        .object([
            ("name", .string(r.model.name)),
            ("side", .string(r.side.rawValue)),
            ("confidence", .number(r.model.confidence)),
            ("testConfidence", .number(r.model.testConfidence ?? r.model.confidence)),
            ("mpor", .integer(r.model.mpor)),
            ("measure", .string(r.model.measure.rawValue)),
            ("method", .string(r.model.method.rawValue)),
            ("volatility", .string(r.model.volatility.label)),
            ("lookback", .integer(r.model.lookback)),
            ("firstDate", .string(r.indices.first.map(label) ?? "")),
            ("lastDate", .string(r.indices.last.map(label) ?? "")),
            ("observations", .integer(r.observations)),
            ("exceedances", .integer(r.exceedances)),
            ("exceedanceRate", .number(r.exceedanceRate)),
            (
                "testSample",
                .object([
                    ("observations", .integer(r.testObservations)), ("exceedances", .integer(r.testExceedances)),
                    (
                        "rule",
                        .string(
                            r.model.mpor > 1
                                ? "every \(English.ordinal(r.model.mpor)) publication (non-overlapping loss windows)"
                                : "every publication")
                    ),
                ])
            ),
            ("kupiec", stat(r.kupiec)),
            (
                "christoffersen",
                .object([("independence", stat(r.independence)), ("conditionalCoverage", stat(r.conditionalCoverage))])
            ),
            (
                "trafficLight",
                .object([
                    ("green", .integer(r.trafficLight.green)), ("yellow", .integer(r.trafficLight.yellow)),
                    ("red", .integer(r.trafficLight.red)), ("worst", .string(r.trafficLight.worst.rawValue)),
                    ("window", .integer(r.trafficLight.window)),
                    ("maxExceedances", .integer(r.trafficLight.maxExceedances)),
                ])
            ),
            (
                "procyclicality",
                .object([
                    ("peakToTrough", .number(r.procyclicality.peakToTrough)),
                    ("maxIncrease1", .number(r.procyclicality.maxIncrease1)),
                    ("maxIncrease5", .number(r.procyclicality.maxIncrease5)),
                    ("maxIncrease30", .number(r.procyclicality.maxIncrease30)),
                    ("averageMargin", .number(r.procyclicality.averageMargin)),
                ])
            ),
            (
                "binding",
                .object(
                    BindingControl.allCases.compactMap { b in r.bindingShares[b].map { (b.rawValue, .number($0)) } })
            ),
            ("notes", .array(r.notes.map { .string($0) })),
        ])
    }

    func stat(_ s: TestStatistic) -> JSONValue {
        .object([("statistic", .number(s.statistic)), ("pValue", .number(s.pValue))])
    }

    func json() -> JSONValue {
        let header: [(String, JSONValue)] = [
            ("source", .string(series.source)),
            ("units", .string("margins and losses: positive decimal fractions of notional; rates per publication")),
        ]
        if results.count == 1, case .object(let pairs) = json(results[0]) {
            return .object(header + pairs)
        }
        return .object(header + [("models", .array(results.map(json)))])
    }

    func csv() -> String {
        let several = results.count > 1
        var out = several ? "model,date,margin,loss,exceeded\n" : "date,margin,loss,exceeded\n"
        for r in results {
            for k in 0..<r.observations {
                if several { out += "\(csvField(r.model.name))," }
                out +=
                    "\(label(r.indices[k])),\(JSONValue.format(r.margins[k])),\(JSONValue.format(r.losses[k])),\(r.exceeded[k] ? 1 : 0)\n"
            }
        }
        return out
    }

    func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    func table() -> String {
        var lines: [String] = []
        let first = results.first
        lines.append(
            "Backtest  \(series.source): \(series.count) prices, \(series.label(0)) to \(series.label(series.count - 1)); \(side.rawValue) side"
        )
        if let first {
            lines.append(
                "          evaluated \(first.indices.first.map(label) ?? "") to \(first.indices.last.map(label) ?? ""); margins cover the next MPOR; losses and margins in % of notional"
            )
        }
        if let configPath { lines.append("Config    \(configPath)") }
        lines.append("")
        var t = TextTable(
            [
                "model", "conf", "test", "h", "obs", "exc", "rate", "Kupiec p", "Ind p", "CC p", "traffic light g/y/r",
                "worst",
                "peak/trough", "max 1d", "max 5d", "max 30d", "avg margin",
            ],
            rightAligned: Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16]))
        for r in results {
            let p = r.procyclicality
            t.add([
                r.model.name, Fmt.fixed(r.model.confidence, 3),
                Fmt.fixed(r.model.testConfidence ?? r.model.confidence, 3), "\(r.model.mpor)", "\(r.observations)",
                "\(r.exceedances)",
                Fmt.percent(r.exceedanceRate, 2), pv(r.kupiec), pv(r.independence), pv(r.conditionalCoverage),
                "\(r.trafficLight.green)/\(r.trafficLight.yellow)/\(r.trafficLight.red)", r.trafficLight.worst.rawValue,
                Fmt.fixed(p.peakToTrough, 2), Fmt.percent(p.maxIncrease1, 1), Fmt.percent(p.maxIncrease5, 1),
                Fmt.percent(p.maxIncrease30, 1), Fmt.percent(p.averageMargin, 2),
            ])
        }
        lines.append(t.render())
        lines.append("")
        lines.append("  p-values below 0.05 reject correct coverage (Kupiec), independence (Ind) or both (CC).")
        for r in results where !r.notes.isEmpty {
            for n in r.notes { lines.append("  \(r.model.name): \(n)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func pv(_ s: TestStatistic) -> String { Fmt.pValue(s.pValue) + (s.rejects() ? "*" : "") }
}
