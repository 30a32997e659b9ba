import ArgumentParser
import VolScaleConfig
import VolScaleCore
import VolScaleData
import VolScaleMargin
import VolScaleRisk

extension VolScaleCommand {
    /// `volscale options ACCOUNT --chain CHAIN`
    public struct OptionsCommand: RenderingCommand {
        public static let configuration = CommandConfiguration(
            commandName: "options",
            abstract:
                "Margin an options account in the coin: Greeks, Deribit-form standard margin, portfolio margin on a fixed and a volatility-scaled risk matrix.",
            discussion: """
                ACCOUNT: a TOML file (balance in coins, [[position]] instrument = "BTC-26JUN20-11000-C", quantity; futures as
                "BTC-26JUN20" in USD of face value; optional [options] table of the venue's parameters; see
                examples/options-account.toml). Options are valued off the surface fitted to --chain (as volscale surface),
                Black-76 on each expiry's forward, sticky moneyness under moves.
                Standard margin per short option: max(0.15 - OTM/F, 0.10) + mark (initial), 0.075 + mark (maintenance), coins.
                Portfolio margin: the largest loss over moves of +-16% (9 points) x IV up/unchanged/down, the IV shock
                growing for short expiries as (30/days)^0.30 (^0.13 beyond 30 days), extended moves on IV up at weight
                (range/move)^2, plus 0.01 coin per net short option per strike and 1% of offsetting futures; initial = 1.2 x.
                The volatility-scaled matrix multiplies the range and the IV shocks by clamp(live / calibration, 0.5, 2.5)
                (the extended moves keep the fixed matrix's weights); live volatility: --volatility, else the chain's 30-day model-free index (the DVOL method).
                Units: coins unless the column says USD; delta in coins (coin-settled: premium-adjusted, delta - price);
                gamma per USD; vega per volatility point; theta per day.
                """
        )

        @Argument(help: "Options account file (TOML).") public var account: String
        @Option(help: "Option chain the surface is fitted to (CSV or Deribit book-summary JSON).") public var chain:
            String
        @Option(
            help: "The chain's moment, ISO 8601 UTC (default: the source's time stamp, else inferred from the marks).")
        public var asOf: String?
        @Option(help: "Venue file whose [options] table sets the parameters (over the account file's).") public
            var venue: String?
        @Option(
            help:
                "Live annualised volatility of the underlying, decimal (default: the chain's 30-day model-free index).")
        public var volatility: Double?
        @Option(help: "Index price for perpetuals, USD (default: the forward of the nearest expiry).") public var index:
            Double?
        @Option(
            help:
                "Daily prices of the underlying: adds filtered historical one-day moves (IV unchanged) to the portfolio margin, their ES at 99%. Only bars ended by the chain's moment are used."
        )
        public var history: String?
        @Option(help: "Historical moves: the last N days before the chain's moment.") public var lookback: Int = 1000
        @Option(help: "Output format: table or json.") public var format: OutputFormat = .table

        public init() {}

        public func validate() throws {
            if let v = volatility, !(v > 0 && v.isFinite && v <= 10) {
                throw ValidationError("--volatility must be an annualised decimal in (0, 10], got \(v)")
            }
            if let i = index, !(i > 0 && i.isFinite) {
                throw ValidationError("--index must be a positive price, got \(i)")
            }
            if format == .csv {
                throw ValidationError("--format csv is not offered for options accounts: use table or json")
            }
            if !(20...100_000).contains(lookback) {
                throw ValidationError("--lookback must be between 20 and 100000 days, got \(lookback)")
            }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let file: OptionsAccountFile
            do { file = try OptionsAccountFile.load(path: account, venue: venue) } catch {
                throw CommandFailure(error.description)
            }
            let surface = try SurfaceReport(file: chain, asOf: asOf)
            let asOfMs = surface.asOf
            func years(_ ms: Int64) -> Double { Double(ms - asOfMs) / OptionChainSnapshot.millisecondsPerYear }
            let market: OptionsMarket
            let positions: [ContractPosition]
            let live: Double
            let liveSource: String
            do {
                market = try OptionsMarket(
                    surface: surface.fit.surface, index: index ?? surface.fit.surface.slices[0].forward)
                positions = try file.positions.map { e throws(OptionsAccountError) -> ContractPosition in
                    let contract: ListedContract
                    switch e.parsed.kind {
                    case .option(let strike, let type):
                        contract = .option(
                            type: type, strike: strike, expiry: years(e.parsed.expiry ?? asOfMs),
                            settlement: e.settlement)
                    case .future:
                        contract = .future(expiry: years(e.parsed.expiry ?? asOfMs), inverse: e.settlement == .coin)
                    case .perpetual: contract = .future(expiry: nil, inverse: e.settlement == .coin)
                    }
                    return try ContractPosition(name: e.instrument, contract: contract, quantity: e.quantity)
                }
                if let v = volatility {
                    (live, liveSource) = (v, "--volatility")
                } else {
                    let idx = try ModelFreeVariance.index(surface.chain.modelFreeQuotes(asOf: asOfMs), targetDays: 30)
                    (live, liveSource) = (idx.value / 100, "the chain's 30-day model-free index")
                }
            } catch { throw CommandFailure("\(account): \(error)") }
            let moves = try history.map { try Self.historicalMoves($0, before: asOfMs, lookback: lookback) }
            let fixed: OptionsAccountReport
            let scaled: PortfolioMarginResult
            let scaling: VolatilityScaling
            do {
                fixed = try OptionsMargin.evaluate(
                    balance: file.balance, positions: positions, market: market, policy: file.policy, historical: moves)
                scaling = try VolatilityScaling(
                    live: live, calibration: file.scaling.calibration, floor: file.scaling.floor, cap: file.scaling.cap)
                scaled = OptionsMargin.portfolioMargin(
                    positions, market: market, policy: file.policy.scaled(by: scaling), historical: moves)
            } catch { throw CommandFailure("\(account): \(error)") }
            let view = OptionsView(
                file: file, surface: surface, report: fixed, scaled: scaled, scaling: scaling, liveSource: liveSource)
            return format == .json ? view.json().rendered() + "\n" : view.table()
        }
    }
}

extension VolScaleCommand.OptionsCommand {
    /// Filtered historical one-day moves from a price file: the bars that ended by `before`
    /// (a bar ends one median spacing after its time stamp: a daily bar at the end of its
    /// day), their log returns devolatilised by EWMA(0.94) sigma (seeded as arch) and
    /// rescaled to the latest forecast, the last `lookback` of them.
    static func historicalMoves(_ path: String, before: Int64, lookback: Int) throws -> HistoricalMoves {
        let full: PriceSeries
        do { full = try PriceFileReader().read(path: path).series } catch { throw CommandFailure(error.description) }
        let spacing = Int64((full.sampling.medianSpacing * 1000).rounded())
        let n = full.timestamps.prefix { $0 &+ spacing <= before }.count
        let series = full.prefix(n)
        let returns = series.returns
        guard returns.count > EWMA.seedLength + 20 else {
            throw CommandFailure(
                "\(path): \(returns.count) returns end before the chain's moment; at least \(EWMA.seedLength + 21) are needed"
            )
        }
        do {
            let sigma = try EWMA(lambda: EWMA.riskMetricsLambda).filter(returns).nextVariance.squareRoot()
            let labels = (1..<series.count).map { series.label($0) }
            let sc = try JointScenarios.filteredHistorical(
                assets: ["u"], alignedReturns: returns.map { [$0] }, labels: labels,
                lambda: EWMA.riskMetricsLambda, mpor: 1, currentVolatility: [sigma], lookback: lookback)
            return try HistoricalMoves(logReturns: sc.returns, labels: sc.labels)
        } catch { throw CommandFailure("\(path): \(error)") }
    }
}

/// The outputs of `volscale options`.
struct OptionsView {
    let file: OptionsAccountFile
    let surface: SurfaceReport
    let report: OptionsAccountReport
    let scaled: PortfolioMarginResult
    let scaling: VolatilityScaling
    let liveSource: String

    static func greeks(_ g: OptionGreeks) -> JSONValue {
        .object([
            ("value", .number(g.price)), ("delta", .number(g.delta)), ("gamma", .number(g.gamma)),
            ("vega", .number(g.vega)), ("theta", .number(g.theta)),
        ])
    }

    static func scenario(_ s: OptionsScenario?) -> JSONValue {
        guard let s else { return .null }
        return .object([
            ("move", .number(s.move)), ("volatility", .string(s.volatility.rawValue)), ("extended", .bool(s.extended)),
            ("weight", .number(s.weight)), ("pnl", .number(s.pnl)), ("weightedLoss", .number(s.weightedLoss)),
        ])
    }

    static func portfolio(_ p: PortfolioMarginResult) -> JSONValue {
        .object([
            ("initial", .number(p.initial)), ("maintenance", .number(p.maintenance)), ("setBy", .string(p.setBy)),
            (
                "historical",
                p.historical.map { h in
                    .object([
                        ("scenarios", .integer(h.count)), ("expectedShortfall", .number(h.expectedShortfall)),
                        ("worst", .string(h.worstLabel)), ("worstLoss", .number(h.worstLoss)),
                    ])
                } ?? .null
            ),
            ("priceRange", .number(p.policy.priceRange)),
            ("volatilityUp", .number(p.policy.volatilityUp)), ("volatilityDown", .number(p.policy.volatilityDown)),
            ("worst", scenario(p.worst)), ("shortOptionContingency", .number(p.shortOptionContingency)),
            ("futuresContingency", .number(p.futuresContingency)),
            ("scenarios", .array(p.scenarios.map { scenario($0) })),
        ])
    }

    func json() -> JSONValue {
        .object([
            ("account", .string(file.underlying)), ("asOf", .string(surface.label(surface.asOf))),
            ("units", .string("coins unless named USD")),
            ("balance", .number(report.balance)), ("equity", .number(report.equity)),
            (
                "positions",
                .array(
                    report.positions.map { r in
                        .object([
                            ("instrument", .string(r.position.name)), ("quantity", .number(r.position.quantity)),
                            ("forward", .number(r.forward)), ("impliedVolatility", .num(r.volatility)),
                            ("value", .number(r.value)),
                            ("greeksCoin", Self.greeks(r.greeksCoin)), ("greeksUSD", Self.greeks(r.greeksUSD)),
                            ("standardInitial", .number(r.initialMargin)),
                            ("standardMaintenance", .number(r.maintenanceMargin)),
                        ])
                    })
            ),
            ("greeksCoin", Self.greeks(report.greeksCoin)), ("greeksUSD", Self.greeks(report.greeksUSD)),
            (
                "standard",
                .object([
                    ("initial", .number(report.standardInitial)), ("maintenance", .number(report.standardMaintenance)),
                ])
            ),
            ("portfolioFixed", Self.portfolio(report.portfolio)),
            ("portfolioScaled", Self.portfolio(scaled)),
            (
                "scaling",
                .object([
                    ("live", .number(scaling.live)), ("liveSource", .string(liveSource)),
                    ("calibration", .number(scaling.calibration)),
                    ("floor", .number(scaling.floor)), ("cap", .number(scaling.cap)), ("ratio", .number(scaling.ratio)),
                ])
            ),
        ])
    }

    func table() -> String {
        var t = TextTable(
            [
                "instrument", "qty", "IV", "value", "delta", "gamma", "vega/pt", "theta/day", "delta USD", "std IM",
                "std MM",
            ],
            rightAligned: Set(1...10))
        for r in report.positions {
            let g = r.greeksCoin
            t.add([
                r.position.name, Fmt.sig(r.position.quantity, 6), r.volatility.map { Fmt.percent($0, 1) } ?? "",
                Fmt.fixed(r.value, 4),
                Fmt.fixed(g.delta, 3), Fmt.sig(g.gamma, 3), Fmt.fixed(g.vega, 4), Fmt.fixed(g.theta, 4),
                Fmt.fixed(r.greeksUSD.delta * r.forward, 0), Fmt.fixed(r.initialMargin, 4),
                Fmt.fixed(r.maintenanceMargin, 4),
            ])
        }
        let g = report.greeksCoin
        t.add([
            "account", "", "", Fmt.fixed(report.equity - report.balance, 4), Fmt.fixed(g.delta, 3), Fmt.sig(g.gamma, 3),
            Fmt.fixed(g.vega, 4),
            Fmt.fixed(g.theta, 4), Fmt.fixed(report.positions.reduce(0.0) { $0 + $1.greeksUSD.delta * $1.forward }, 0),
            Fmt.fixed(report.standardInitial, 4), Fmt.fixed(report.standardMaintenance, 4),
        ])
        func worst(_ p: PortfolioMarginResult) -> String {
            if p.setBy == "historical", let h = p.historical {
                return "historical ES 99% of \(h.count) days (worst \(h.worstLabel))"
            }
            guard let w = p.worst else { return "none" }
            return
                "\(w.move >= 0 ? "+" : "")\(Fmt.fixed(w.move * 100, 1))% with IV \(w.volatility.rawValue)\(w.extended ? " (extended, weight \(Fmt.fixed(w.weight, 3)))" : "")"
        }
        var m = TextTable(
            ["margin (coins)", "initial", "maintenance", "range", "IV up/down at 30d", "worst scenario"],
            rightAligned: Set(1...4))
        m.add([
            "standard (Deribit form)", Fmt.fixed(report.standardInitial, 4), Fmt.fixed(report.standardMaintenance, 4),
            "", "", "",
        ])
        for (name, p) in [("portfolio, fixed matrix", report.portfolio), ("portfolio, volatility-scaled", scaled)] {
            m.add([
                name, Fmt.fixed(p.initial, 4), Fmt.fixed(p.maintenance, 4), "+-" + Fmt.percent(p.policy.priceRange, 1),
                "+\(Fmt.percent(p.policy.volatilityUp, 0))/-\(Fmt.percent(p.policy.volatilityDown, 0))", worst(p),
            ])
        }
        var head =
            "Options account (\(file.underlying)) as of \(surface.label(surface.asOf)): balance \(Fmt.fixed(report.balance, 4)) coins, "
        head += "equity \(Fmt.fixed(report.equity, 4)) coins\n"
        head +=
            "live volatility \(Fmt.percent(scaling.live, 1)) (\(liveSource)), calibration \(Fmt.percent(scaling.calibration, 0)): "
        head += "the scaled matrix is \(Fmt.fixed(scaling.ratio, 3))x the fixed one\n\n"
        return head + t.render() + "\n\n" + m.render() + "\n"
    }
}
