import ArgumentParser
import VolScaleCore
import VolScaleData

extension VolScaleCommand {
    /// `volscale surface CHAIN`
    public struct Surface: RenderingCommand {
        public static let configuration = CommandConfiguration(
            commandName: "surface",
            abstract: "Fit an arbitrage-free implied-volatility surface (SVI per expiry) to an option chain.",
            discussion: """
                Input: a chain CSV as data/deribit-btc-options-20200521.csv (instrument, expiry, strike, type, bid, ask,
                mark, mark_iv, bid_iv, ask_iv, underlying_price, open_interest; prices in coin, IVs in percent), or the
                JSON of Deribit's public/get_book_summary_by_currency (bid/ask IVs then come from inverting the prices).
                Deribit's placeholders are missing values: a bid IV of 0 (no bid above intrinsic) and an ask IV of 500.
                Each expiry: raw SVI in total variance w(k), k = ln(K/F), F the median underlying_price of the expiry,
                fitted to bid/ask IVs of calls and puts (weights 1/half-spread; one-sided quotes as bounds), with
                penalties against butterfly arbitrage (Gatheral's g(k) >= 0) and calendar arbitrage (w not below the
                earlier expiry's). Time: --as-of, else the source's time stamp, else inferred from marks and mark IVs.
                csv: expiry,strike,type,bid_iv,ask_iv,fitted_iv per option (decimal; empty where there is no usable
                quote). json: per expiry expiry, forward, points, rmse (vol points, fitted vs mid), withinBidAsk,
                SVI parameters and the error of surface prices against the chain's marks; arbitrageFree for the whole.
                html: the smile of each expiry against bid and ask IVs.
                """
        )

        @Argument(help: "Option chain file (CSV or Deribit book-summary JSON; .gz and .zip too).") public var file:
            String
        @Option(
            help: "The chain's moment, ISO 8601 UTC (default: the source's time stamp, else inferred from the marks).")
        public var asOf: String?
        @Option(help: "Output format: table, json, csv or html.") public var format: ReportFormat = .table

        public enum ReportFormat: String, ExpressibleByArgument, CaseIterable, Sendable { case table, json, csv, html }

        public init() {}

        public func validate() throws {
            if let a = asOf, Timestamp.parse(a) == nil {
                throw ValidationError("--as-of is not an ISO 8601 time: '\(a)'")
            }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let fitted = try SurfaceReport(file: file, asOf: asOf)
            switch format {
            case .csv: return fitted.csv()
            case .json: return fitted.json().rendered() + "\n"
            case .table: return fitted.table()
            case .html: return fitted.html()
            }
        }
    }
}

/// A chain, its fitted surface and everything the outputs print.
struct SurfaceReport {
    /// Deribit's option price tick, coin.
    static let tick = 0.0005
    let chain: OptionChainSnapshot
    let asOf: Int64
    let asOfSource: String
    let expiries: [Int64]
    let fit: SurfaceFit
    let arbitrage: SurfaceArbitrage
    /// Per expiry (all of `expiries`): the smile input.
    let inputs: [Int64: SmileInput]
    /// The slice of each expiry that was fitted (index in `fit.surface.slices`).
    let sliceOf: [Int64: Int]
    /// Surface price minus mark (coin) and surface IV minus mark IV (vol points), per expiry.
    let markErrors: [Int64: (price: [Double], iv: [Double])]

    init(file: String, asOf given: String?) throws {
        do { chain = try OptionChainFileReader().read(path: file) } catch { throw CommandFailure(error.located) }
        if let g = given, let t = Timestamp.parse(g) {
            (asOf, asOfSource) = (t, "option")
        } else if let t = chain.timestamp {
            (asOf, asOfSource) = (t, "source")
        } else if let t = chain.inferredTimestamp() {
            (asOf, asOfSource) = (t, "marks")
        } else {
            throw CommandFailure(
                "\(file): the chain has no time stamp and no marks with mark IVs to infer one; give --as-of")
        }
        let smiles: [(expiry: Int64, input: SmileInput)]
        do {
            smiles = try chain.smileInputs(asOf: asOf)
            guard !smiles.isEmpty else { throw SurfaceError.noSlices }
            fit = try SurfaceFitter.fit(smiles.map(\.input))
        } catch { throw CommandFailure("\(file): \(error)") }
        expiries = smiles.map(\.expiry)
        inputs = Dictionary(uniqueKeysWithValues: smiles.map { ($0.expiry, $0.input) })
        sliceOf = Dictionary(uniqueKeysWithValues: fit.sliceInputs.enumerated().map { (smiles[$1].expiry, $0) })
        arbitrage = fit.surface.arbitrage(over: fit.checkRange)
        var errors: [Int64: (price: [Double], iv: [Double])] = [:]
        for o in chain.options {
            guard
                let e = Self.markError(
                    o, surface: fit.surface, years: Double(o.expiry - asOf) / OptionChainSnapshot.millisecondsPerYear),
                inputs[o.expiry] != nil
            else { continue }
            errors[o.expiry, default: ([], [])].price.append(e.price)
            if let iv = e.iv { errors[o.expiry, default: ([], [])].iv.append(iv) }
        }
        markErrors = errors
    }

    func years(_ expiry: Int64) -> Double { Double(expiry - asOf) / OptionChainSnapshot.millisecondsPerYear }
    /// The expiry time (UTC ms) of a slice.
    func expiry(slice i: Int) -> Int64 { expiries[fit.sliceInputs[i]] }

    func fittedIV(_ o: ListedOption) -> Double? {
        let t = years(o.expiry)
        guard t > 0, let f = inputs[o.expiry]?.forward else { return nil }
        return fit.surface.impliedVolatility(strike: o.strike, expiry: t, forward: f)
    }

    func quote(_ o: ListedOption) -> SmileQuote? {
        guard let f = inputs[o.expiry]?.forward else { return nil }
        return chain.smileQuote(o, forward: f, years: years(o.expiry))
    }

    /// Surface price minus mark, in coin, of an option with a mark; priced on its own row's
    /// underlying price (the mark's), so the figure measures the volatility, not the forward's
    /// drift over the minutes the chain took to read. The IV error (vol points) only where the
    /// mark holds at least one tick (0.0005 coin) of time value: below that, the mark IV is not
    /// pinned by the mark price (Deribit marks far wings at 0 with an IV).
    static func markError(_ o: ListedOption, surface: VolatilitySurface, years t: Double) -> (
        price: Double, iv: Double?
    )? {
        guard t > 0, let mark = o.mark else { return nil }
        let f = o.underlyingPrice
        let v = surface.impliedVolatility(strike: o.strike, expiry: t, forward: f)
        let price = Black76.price(forward: f, strike: o.strike, volatility: v, expiry: t, type: o.type) / f - mark
        guard let m = o.markIV, mark - Black76.intrinsic(forward: f, strike: o.strike, type: o.type) / f >= tick else {
            return (price, nil)
        }
        return (price, 100 * (v - m))
    }

    /// Absolute-error quantiles (nearest rank) of a sample, nil when empty.
    static func quantiles(_ errors: [Double]) -> (median: Double, p90: Double, max: Double)? {
        let a = errors.map(abs).sorted()
        guard let last = a.last else { return nil }
        func q(_ p: Double) -> Double { a[min(a.count - 1, Int((p * Double(a.count - 1)).rounded()))] }
        return (q(0.5), q(0.9), last)
    }

    static func distribution(_ errors: [Double]) -> JSONValue {
        let q = quantiles(errors)
        return .object([
            ("count", .integer(errors.count)), ("medianAbs", .num(q?.median)), ("p90Abs", .num(q?.p90)),
            ("maxAbs", .num(q?.max)),
            ("mean", .num(errors.isEmpty ? nil : errors.reduce(0, +) / Double(errors.count))),
        ])
    }

    func label(_ expiry: Int64) -> String { Timestamp.format(expiry, dateOnly: false) }

    func csv() -> String {
        var s = "expiry,strike,type,bid_iv,ask_iv,fitted_iv\n"
        for o in chain.options {
            let q = quote(o)
            s += "\(label(o.expiry)),\(JSONValue.format(o.strike)),\(o.type.rawValue),"
            s +=
                "\(q?.bid.map(JSONValue.format) ?? ""),\(q?.ask.map(JSONValue.format) ?? ""),\(fittedIV(o).map(JSONValue.format) ?? "")\n"
        }
        return s
    }

    /// (expiry, slice index or nil when skipped)
    var rows: [(Int64, Int?)] { expiries.map { ($0, sliceOf[$0]) } }

    func json() -> JSONValue {
        var items: [JSONValue] = []
        for (e, index) in rows {
            var pairs: [(String, JSONValue)] = [
                ("expiry", .string(label(e))), ("years", .number(years(e))),
                ("forward", .num(inputs[e]?.forward)),
            ]
            if let i = index {
                let st = fit.statistics[i]
                let s = fit.surface.slices[i].smile
                let b = arbitrage.butterfly[i]
                pairs += [
                    ("points", .integer(st.points)), ("twoSided", .integer(st.twoSided)), ("rmse", .number(st.rmse)),
                    ("withinBidAsk", .number(st.withinBidAsk)), ("oneSidedCrossed", .integer(st.oneSidedCrossed)),
                    (
                        "svi",
                        .object([
                            ("a", .number(s.a)), ("b", .number(s.b)), ("rho", .number(s.rho)), ("m", .number(s.m)),
                            ("sigma", .number(s.sigma)),
                        ])
                    ),
                    ("butterflyMinimum", .object([("k", .number(b.k)), ("g", .number(b.g))])),
                ]
                let m = markErrors[e] ?? ([], [])
                pairs += [("markError", Self.distribution(m.price)), ("markIVError", Self.distribution(m.iv))]
            } else {
                let reason = fit.skipped.first { $0.expiry == years(e) }?.reason.description ?? "not fitted"
                pairs += [("skipped", .string(reason))]
            }
            items.append(.object(pairs))
        }
        let all = expiries.compactMap { markErrors[$0] }
        let twoSided = fit.statistics.reduce(0) { $0 + $1.twoSided }
        let within = fit.statistics.reduce(0.0) {
            $0 + ($1.withinBidAsk.isNaN ? 0 : $1.withinBidAsk * Double($1.twoSided))
        }
        return .object([
            ("file", .string(chain.file)), ("asOf", .string(label(asOf))), ("asOfSource", .string(asOfSource)),
            ("options", .integer(chain.options.count)), ("placeholders", .integer(chain.placeholders)),
            ("arbitrageFree", .bool(arbitrage.arbitrageFree)), ("butterflyFree", .bool(arbitrage.butterflyFree)),
            ("calendarFree", .bool(arbitrage.calendarFree)),
            ("checkRange", .array([.number(fit.checkRange.lowerBound), .number(fit.checkRange.upperBound)])),
            ("withinBidAsk", .num(twoSided > 0 ? within / Double(twoSided) : nil)),
            ("markError", Self.distribution(all.flatMap(\.price))),
            ("markIVError", Self.distribution(all.flatMap(\.iv))),
            // calendar[j] compares slices j and j + 1
            (
                "calendar",
                .array(
                    arbitrage.calendar.enumerated().map { j, c in
                        .object([
                            ("earlier", .string(label(expiry(slice: j)))),
                            ("later", .string(label(expiry(slice: j + 1)))),
                            ("k", .number(c.k)), ("gap", .number(c.gap)),
                        ])
                    })
            ),
            ("expiries", .array(items)),
        ])
    }

    func table() -> String {
        var t = TextTable(
            [
                "expiry", "days", "forward", "quotes", "two-sided", "rmse (vol pts)", "within bid-ask", "min g",
                "mark err p90 (coin)",
            ],
            rightAligned: Set(1...8))
        for (e, index) in rows {
            let days = Fmt.fixed(years(e) * 365, 2)
            guard let i = index else {
                t.add([label(e), days, Fmt.fixed(inputs[e]?.forward ?? .nan, 2), "skipped", "", "", "", "", ""])
                continue
            }
            let st = fit.statistics[i]
            let p90 = Self.quantiles(markErrors[e]?.price ?? [])?.p90 ?? .nan
            t.add([
                label(e), days, Fmt.fixed(inputs[e]?.forward ?? .nan, 2), "\(st.points)", "\(st.twoSided)",
                Fmt.fixed(st.rmse, 2),
                Fmt.percent(st.withinBidAsk, 1), Fmt.sig(arbitrage.butterfly[i].g, 3), Fmt.sig(p90, 2),
            ])
        }
        var head =
            "Surface of \(chain.file) as of \(label(asOf)) (\(asOfSource == "marks" ? "inferred from the marks" : asOfSource == "source" ? "the source's time stamp" : "--as-of"))\n"
        head +=
            "static arbitrage: \(arbitrage.arbitrageFree ? "none" : "FOUND") (butterfly \(arbitrage.butterflyFree ? "free" : "violated"), "
        head +=
            "calendar \(arbitrage.calendarFree ? "free" : "violated")) on k in [\(Fmt.fixed(fit.checkRange.lowerBound, 2)), \(Fmt.fixed(fit.checkRange.upperBound, 2))]\n\n"
        var notes = ""
        for s in fit.skipped { notes += "skipped: \(s.reason)\n" }
        if chain.placeholders > 0 {
            notes += "\(chain.placeholders) placeholder IVs (bid 0, ask 500) read as missing\n"
        }
        return head + t.render() + "\n" + (notes.isEmpty ? "" : "\n" + notes)
    }

    func html() -> String {
        var panels = ""
        for (e, index) in rows {
            guard let i = index, let input = inputs[e] else { continue }
            let slice = fit.surface.slices[i]
            let marks = input.quotes.map { (k: Double.log($0.strike / input.forward), bid: $0.bid, ask: $0.ask) }
            let st = fit.statistics[i]
            panels += "<div class=panel><h3>\(label(e).prefix(10)) · \(Fmt.fixed(years(e) * 365, 1)) days</h3>"
            panels += smileChart(slice, marks)
            panels +=
                "<p>\(st.twoSided) two-sided quotes, \(Fmt.percent(st.withinBidAsk, 0)) of them fitted inside bid-ask; rmse \(Fmt.fixed(st.rmse, 2)) vol points</p></div>"
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>VolScale surface</title>
            <style>body{font-family:system-ui,sans-serif;margin:24px;color:#1d2330}h1{font-size:20px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
            .panel{border:1px solid #e3e6ec;border-radius:6px;padding:8px 12px}.panel h3{font-size:14px;margin:4px 0}.panel p{font-size:12px;color:#5a6275;margin:4px 0}
            svg text{font-size:10px;fill:#6a7284}.legend{font-size:12px;color:#5a6275}</style></head><body>
            <h1>Implied volatility surface: \(ReportHTML.esc(chain.file))</h1>
            <p class=legend>As of \(label(asOf)). Lines: fitted SVI smile. Bars: bid to ask implied volatility (two-sided quotes);
            ▼ ask only, ▲ bid only (at the chart's edge when beyond it). x: log-moneyness ln(K/F). Static arbitrage: \(arbitrage.arbitrageFree ? "none" : "found").</p>
            <div class=grid>\(panels)</div></body></html>
            """
    }

    func smileChart(_ slice: SurfaceSlice, _ quotes: [(k: Double, bid: Double?, ask: Double?)]) -> String {
        let w = 420.0
        let h = 240.0
        let left = 40.0
        let right = 10.0
        let top = 10.0
        let bottom = 24.0
        let ks = quotes.map(\.k)
        let k0 = (ks.min() ?? -0.5) - 0.05
        let k1 = (ks.max() ?? 0.5) + 0.05
        let curve = (0...120).map { j -> (Double, Double) in
            let k = k0 + (k1 - k0) * Double(j) / 120
            return (k, (max(slice.smile.totalVariance(k), 0) / slice.expiry).squareRoot())
        }
        // the range of the curve and the two-sided quotes; one-sided quotes outside it are drawn at its edge
        let values = curve.map(\.1) + quotes.flatMap { q in q.bid.flatMap { b in q.ask.map { [b, $0] } } ?? [] }
        let vMin = max(0, (values.min() ?? 0) * 0.9)
        let vMax = (values.max() ?? 1) * 1.05
        func clip(_ v: Double) -> Double { min(max(v, vMin), vMax) }
        func x(_ k: Double) -> Double { left + (k - k0) / (k1 - k0) * (w - left - right) }
        func y(_ v: Double) -> Double { top + (vMax - v) / max(vMax - vMin, 1e-9) * (h - top - bottom) }
        func f(_ v: Double) -> String { Fmt.fixed(v, 1) }
        var s = "<svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"100%\" role=img xmlns=\"http://www.w3.org/2000/svg\">"
        for j in 0...4 {
            let v = vMin + (vMax - vMin) * Double(j) / 4
            s +=
                "<line x1=\(f(left)) x2=\(f(w - right)) y1=\(f(y(v))) y2=\(f(y(v))) stroke=#eceef2 /><text x=\(f(left - 4)) y=\(f(y(v) + 3)) text-anchor=end>\(Fmt.fixed(v * 100, 0))%</text>"
        }
        for j in 0...4 {
            let k = k0 + (k1 - k0) * Double(j) / 4
            s += "<text x=\(f(x(k))) y=\(f(h - 8)) text-anchor=middle>\(Fmt.fixed(k, 2))</text>"
        }
        for q in quotes {
            switch (q.bid, q.ask) {
            case (let b?, let a?):
                s +=
                    "<line x1=\(f(x(q.k))) x2=\(f(x(q.k))) y1=\(f(y(b))) y2=\(f(y(a))) stroke=#9aa3b5 stroke-width=3 />"
            case (nil, let a?):
                s += "<text x=\(f(x(q.k))) y=\(f(y(clip(a)) + 3)) text-anchor=middle style=\"fill:#c0392b\">▼</text>"
            case (let b?, nil):
                s += "<text x=\(f(x(q.k))) y=\(f(y(clip(b)) + 3)) text-anchor=middle style=\"fill:#2c7a4b\">▲</text>"
            case (nil, nil): break
            }
        }
        s +=
            "<polyline fill=none stroke=#2757c8 stroke-width=1.8 points=\""
            + curve.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ") + "\" />"
        return s + "</svg>"
    }
}
