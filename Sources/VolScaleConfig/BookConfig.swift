import Foundation
import TOMLKit
import VolScaleCore
import VolScaleData
import VolScaleMargin
import VolScaleRisk

/// The account-margin book: settings, asset risk parameters and instruments (TOML).
///
/// ```toml
/// [settings]
/// settlement = "USD"          # quote / settlement currency (an asset with price 1)
/// confidence = 0.99
/// mpor = 1                    # days, positions
/// liquidation_horizon = 2     # days, collateral haircuts
/// kappa = 1.0                 # square-root impact coefficient
/// max_offset = 0.5            # portfolio margin >= (1 - max_offset) x stand-alone sum
/// scenario_lookback = 1000    # joint historical scenarios (assets with `history`)
/// participation = 0.1         # share of ADV sold per day: longer horizons for larger holdings
/// stressed_liquidity_multiplier = 2  # liquidity cost in the high-variance regime (1: off)
/// liquidity_window = 20       # bars, for ADV and spread measured from `history`
/// regime_lookback = 1000      # returns of `history` for the regime filter
///
/// [[asset]]
/// name = "BTC"
/// price = 60000               # or taken from the last close of `history`
/// volatility = 0.03           # daily, decimal; or the EWMA forecast from `history`
/// history = "btc-daily.csv"   # optional: prices for volatility and joint scenarios
/// adv = 2e10                  # average daily volume, settlement currency
/// spread = 0.0002
/// volume_unit = "quote"       # measure adv and spread from `history` (bars with volume;
///                             #   "base": volume x close) when adv / spread are not given
/// depth = [[0.001, 5e6], [0.005, 3e7]]   # order book: [distance from mid, cumulative size]
/// initial_rate = 0.05         # optional fixed rates for linear positions
/// maintenance_rate = 0.03
/// size_rule = { base = 0.05, f = 1e-4 }            # or tiers = [[0, 0.05], [1e6, 0.1]]
/// haircut_floor = 0.02
/// haircut_cap = 0.9
///
/// [[instrument]]
/// symbol = "BTC-PERP"
/// kind = "perpetual"          # perpetual | future | inverse-perpetual | inverse-future | call | put
/// underlying = "BTC"
/// multiplier = 1
/// # options: strike, expiry_days, implied_volatility
/// ```
public struct BookConfig: Sendable {
    public var book: MarginBook
    public var histories: [String: PriceSeries]
    public var path: String
    /// `[options]`: the venue's option-margin parameters (`volscale options --venue`), validated
    /// here so that a venue file with a bad table is refused wherever it is read.
    public var options: (policy: OptionsMarginPolicy, scaling: OptionsAccountFile.ScalingSettings)?

    public static func load(path: String) throws(ConfigError) -> BookConfig {
        let text = try ConfigFile.text(path)
        return try parse(text, path: path)
    }

    /// Parses and validates a book; an error names the table, the key and its line.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> BookConfig {
        do { return try parseTables(text, path: path) } catch { throw TOMLLines(text).locate(error) }
    }

    /// - Parameter holdBack: rows left out at the end of every history (the service holds
    ///   the last bars of its sources back to feed them live: price, volatility and joint
    ///   scenarios must not know them).
    static func parseTables(_ text: String, path: String, holdBack: Int = 0) throws(ConfigError) -> BookConfig {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError(
                file: path, location: "line \(e.source.begin.line)", reason: "TOML syntax: \(e.description)")
        } catch { throw ConfigError(file: path, location: "", reason: "TOML syntax: \(error)") }
        // a venue file (VenueConfig) is a book with the live service's tables added
        try MarginConfig.checkKeys(
            root, allowed: ["settings", "asset", "instrument", "venue", "engine", "aggregation", "storage", "options"],
            file: path, location: "top level")
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p)
        }

        var s = MarginSettings.standard
        var scenarioLookback = 1000
        var liquidityWindow = 20
        var regimeLookback = 1000
        if let st = root["settings"]?.table {
            let loc = "[settings]"
            try MarginConfig.checkKeys(
                st,
                allowed: [
                    "settlement", "confidence", "mpor", "liquidation_horizon", "kappa", "max_offset",
                    "maintenance_fraction", "scenario_lookback", "grid_moves", "vol_shocks",
                    "extended_move", "extended_weight", "participation", "stressed_liquidity_multiplier",
                    "liquidity_window", "regime_lookback",
                ], file: path, location: loc)
            func num(_ k: String) throws(ConfigError) -> Double? {
                try MarginConfig.number(st, k, file: path, location: loc)
            }
            func int(_ k: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int? {
                guard let x = try num(k) else { return nil }
                guard let n = Checked.integer(x, in: range) else {
                    throw ConfigError(
                        file: path, location: loc,
                        reason: "\(k): expected a whole number in [\(range.lowerBound), \(range.upperBound)]")
                }
                return n
            }
            /// A list of numbers; an entry that is not one is refused, not dropped.
            func numbers(_ k: String) throws(ConfigError) -> [Double]? {
                guard let v = st[k] else { return nil }
                guard let array = v.array else {
                    throw ConfigError(file: path, location: loc, reason: "\(k): expected a list of numbers")
                }
                var out: [Double] = []
                for (i, e) in array.enumerated() {
                    guard let x = e.double ?? e.int.map(Double.init) else {
                        throw ConfigError(file: path, location: loc, reason: "\(k): entry \(i + 1) is not a number")
                    }
                    out.append(x)
                }
                return out
            }
            scenarioLookback = try int("scenario_lookback", 10...1_000_000) ?? 1000
            liquidityWindow = try int("liquidity_window", 2...100_000) ?? liquidityWindow
            regimeLookback = try int("regime_lookback", 100...1_000_000) ?? regimeLookback
            let d = MarginSettings.standard
            do {
                s = try MarginSettings(
                    settlement: st["settlement"]?.string ?? d.settlement,
                    confidence: try num("confidence") ?? d.confidence,
                    mpor: try int("mpor", 1...250) ?? d.mpor,
                    liquidationHorizon: try int("liquidation_horizon", 1...250) ?? d.liquidationHorizon,
                    kappa: try num("kappa") ?? d.kappa, participation: try num("participation") ?? d.participation,
                    stressedLiquidityMultiplier: try num("stressed_liquidity_multiplier")
                        ?? d.stressedLiquidityMultiplier,
                    maxOffset: try num("max_offset") ?? d.maxOffset,
                    maintenanceFraction: try num("maintenance_fraction") ?? d.maintenanceFraction,
                    gridMoves: try numbers("grid_moves") ?? d.gridMoves,
                    volShocks: try numbers("vol_shocks") ?? d.volShocks,
                    extendedMove: try num("extended_move") ?? d.extendedMove,
                    extendedWeight: try num("extended_weight") ?? d.extendedWeight)
            } catch {
                throw ConfigError.wrapping(error, file: path, location: loc)
            }
        }
        var assets: [AssetRisk] = []
        do { assets.append(try AssetRisk.settlement(s.settlement)) } catch {
            throw ConfigError(file: path, location: "[settings]", reason: "settlement: \(error.reason)")
        }
        var histories: [String: PriceSeries] = [:]
        for (i, entry) in (root["asset"]?.array.map(Array.init) ?? []).enumerated() {
            guard let t = entry.table else {
                throw ConfigError(file: path, location: "[[asset]] #\(i + 1)", reason: "must be a table")
            }
            let name = t["name"]?.string ?? ""
            let loc = "[[asset]] '\(name)'"
            guard !name.isEmpty else {
                throw ConfigError(file: path, location: "[[asset]] #\(i + 1)", reason: "missing key 'name'")
            }
            try MarginConfig.checkKeys(
                t,
                allowed: [
                    "name", "price", "volatility", "history", "column", "lambda", "adv", "spread",
                    "initial_rate", "maintenance_rate", "size_rule", "tiers", "open_interest",
                    "haircut_floor", "haircut_cap", "haircut_tiers", "impact_threshold",
                    "source", "aggregation", "bars_per_day", "bar_seconds", "scenarios", "policy",
                    "volume_unit", "depth",
                ], file: path, location: loc)
            func num(_ k: String) throws(ConfigError) -> Double? {
                try MarginConfig.number(t, k, file: path, location: loc)
            }
            var price = try num("price")
            var vol = try num("volatility")
            var adv = try num("adv")
            var spread = try num("spread")
            var stressed = 0.0
            var volumeUnit: VolumeUnit?
            if let u = t["volume_unit"] {
                guard let text = u.string, let unit = VolumeUnit(rawValue: text) else {
                    throw ConfigError(file: path, location: loc, reason: "volume_unit: expected \"base\" or \"quote\"")
                }
                guard t["history"] != nil else {
                    throw ConfigError(
                        file: path, location: loc, reason: "volume_unit: needs a history file to measure from")
                }
                volumeUnit = unit
            }
            // an asset fed live without a history of its own: its first source's file
            let firstSource = t["source"]?.array?.first?.table?["file"]?.string
            if let h = t["history"]?.string ?? (price == nil || vol == nil ? firstSource : nil) {
                var series: PriceSeries
                do {
                    series = try PriceFileReader(
                        column: t["column"]?.string, skipBadRows: true, volume: volumeUnit != nil
                    ).read(path: resolve(h)).series
                } catch {
                    throw ConfigError(file: path, location: loc, reason: "history: \(error.description)")
                }
                if holdBack > 0 {
                    let keep = max(series.count - holdBack, min(series.count, 2))
                    series = series.prefix(keep)
                }
                // `scenarios = false`: the history gives price and volatility only, not joint
                // scenarios (its dates do not overlap the others', or its bars are not daily)
                if let b = t["scenarios"] {
                    guard let flag = b.bool else {
                        throw ConfigError(file: path, location: loc, reason: "scenarios: expected true or false")
                    }
                    if flag { histories[name] = series }
                } else {
                    histories[name] = series
                }
                if let unit = volumeUnit, adv == nil || spread == nil {
                    let last: LiquidityPoint?
                    do { last = try series.latestLiquidity(window: liquidityWindow, unit: unit) } catch {
                        throw ConfigError(file: path, location: loc, reason: "history: \(error)")
                    }
                    guard let last else {
                        throw ConfigError(
                            file: path, location: loc,
                            reason: "history: fewer than \(liquidityWindow + 1) bars to measure liquidity from")
                    }
                    adv = adv ?? last.adv
                    spread = spread ?? last.spread
                }
                if s.stressedLiquidityMultiplier > 1 {
                    do {
                        stressed = try MarkovSwitching.stressedShare(
                            Array(series.returns.suffix(regimeLookback)), horizon: s.liquidationHorizon)
                    } catch {
                        throw ConfigError(file: path, location: loc, reason: "history: regime filter: \(error)")
                    }
                }
                if price == nil { price = series.close.last }
                if vol == nil {
                    let lambda = try num("lambda") ?? EWMA.riskMetricsLambda
                    do { vol = try series.ewmaVolatility(lambda: lambda) } catch {
                        throw ConfigError(file: path, location: loc, reason: "history: \(error)")
                    }
                }
            }
            guard let p = price, p > 0, p.isFinite else {
                throw ConfigError(
                    file: path, location: loc, reason: "price: missing or not positive (give price or history)")
            }
            guard let v = vol, v >= 0, v.isFinite else {
                throw ConfigError(
                    file: path, location: loc, reason: "volatility: missing or negative (give volatility or history)")
            }
            let impactThreshold = try num("impact_threshold") ?? 0
            guard impactThreshold >= 0, impactThreshold.isFinite else {
                throw ConfigError(file: path, location: loc, reason: "impact_threshold: expected a holding value >= 0")
            }
            var rule: SizeRule?
            if let sr = t["size_rule"]?.table {
                guard let b = sr["base"]?.double, let f = sr["f"]?.double else {
                    throw ConfigError(file: path, location: loc, reason: "size_rule: needs base and f")
                }
                rule = .squareRoot(base: b, f: f)
            }
            if let tiers = t["tiers"]?.array {
                rule = .tiers(try parseTiers(tiers, file: path, location: loc + " tiers"))
            }
            if let oi = t["open_interest"]?.table {
                guard let b = oi["base"]?.double, let lo = oi["lower"]?.double ?? oi["lower"]?.int.map(Double.init),
                    let hi = oi["upper"]?.double ?? oi["upper"]?.int.map(Double.init),
                    let cur = oi["current"]?.double ?? oi["current"]?.int.map(Double.init)
                else {
                    throw ConfigError(
                        file: path, location: loc, reason: "open_interest: needs base, lower, upper, current")
                }
                rule = .openInterest(base: b, lower: lo, upper: hi, current: cur)
            }
            var depth: [DepthLevel] = []
            if let d = t["depth"] {
                guard let rows = d.array else {
                    throw ConfigError(file: path, location: loc, reason: "depth: expected [[distance, size], ...]")
                }
                for row in rows {
                    guard let pair = row.array, pair.count == 2,
                        let dist = pair[0].double ?? pair[0].int.map(Double.init),
                        let size = pair[1].double ?? pair[1].int.map(Double.init)
                    else {
                        throw ConfigError(
                            file: path, location: loc,
                            reason: "depth: each level is [distance from mid (decimal), cumulative size]")
                    }
                    depth.append(DepthLevel(distance: dist, size: size))
                }
                if let why = DepthLevel.curve(depth) {
                    throw ConfigError(file: path, location: loc, reason: "depth: \(why)")
                }
            }
            let (initialRate, maintenanceRate) = (try num("initial_rate"), try num("maintenance_rate"))
            let (haircutFloor, haircutCap) = (try num("haircut_floor") ?? 0, try num("haircut_cap") ?? 1)
            let haircutTiers =
                try t["haircut_tiers"]?.array.map { a throws(ConfigError) in
                    try parseTiers(a, file: path, location: loc + " haircut_tiers")
                } ?? []
            var risk: AssetRisk
            do {
                risk = try AssetRisk(
                    name: name, price: p, volatility: v, averageDailyVolume: adv ?? .infinity, spread: spread ?? 0,
                    initialRate: initialRate, maintenanceRate: maintenanceRate, sizeRule: rule,
                    haircutFloor: haircutFloor, haircutCap: haircutCap, haircutTiers: haircutTiers,
                    impactThreshold: impactThreshold)
            } catch {
                throw ConfigError(file: path, location: loc, reason: "\(error.field) = \(error.value): \(error.reason)")
            }
            risk.stressedProbability = stressed
            risk.depth = depth
            assets.append(risk)
        }
        var instruments: [Instrument] = []
        for (i, entry) in (root["instrument"]?.array.map(Array.init) ?? []).enumerated() {
            guard let t = entry.table, let symbol = t["symbol"]?.string else {
                throw ConfigError(file: path, location: "[[instrument]] #\(i + 1)", reason: "missing key 'symbol'")
            }
            let loc = "[[instrument]] '\(symbol)'"
            try MarginConfig.checkKeys(
                t,
                allowed: ["symbol", "kind", "underlying", "multiplier", "strike", "expiry_days", "implied_volatility"],
                file: path, location: loc)
            guard let u = t["underlying"]?.string, assets.contains(where: { $0.name == u }) else {
                throw ConfigError(file: path, location: loc, reason: "underlying: missing or not a declared asset")
            }
            func num(_ k: String) throws(ConfigError) -> Double? {
                try MarginConfig.number(t, k, file: path, location: loc)
            }
            let mult = try num("multiplier") ?? 1
            let expiry = try num("expiry_days").map { $0 / 365 }
            let kind: InstrumentKind
            switch t["kind"]?.string ?? "" {
            case "perpetual": kind = .linear(expiry: nil)
            case "future": kind = .linear(expiry: expiry)
            case "inverse-perpetual": kind = .inverse(expiry: nil)
            case "inverse-future": kind = .inverse(expiry: expiry)
            case "call", "put":
                guard let k = try num("strike"), k > 0, let e = expiry, e > 0 else {
                    throw ConfigError(
                        file: path, location: loc, reason: "options need a positive strike and expiry_days")
                }
                kind = .option(type: t["kind"]?.string == "call" ? .call : .put, strike: k, expiry: e)
            default:
                throw ConfigError(
                    file: path, location: loc,
                    reason: "kind: expected perpetual, future, inverse-perpetual, inverse-future, call or put")
            }
            instruments.append(
                Instrument(
                    symbol: symbol, underlying: u, kind: kind, multiplier: mult,
                    impliedVolatility: try num("implied_volatility")))
        }
        // Joint filtered-historical scenarios over the assets with a history.
        var scenarios: JointScenarios?
        let withHistory = assets.map(\.name).filter { histories[$0] != nil }
        if !withHistory.isEmpty {
            let aligned = AlignedReturns(withHistory.map { histories[$0]! })
            let labels = aligned.timestamps.dropFirst().map { Timestamp.format($0, dateOnly: true) }
            let vols = withHistory.map { n in assets.first { $0.name == n }!.volatility }
            do {
                scenarios = try JointScenarios.filteredHistorical(
                    assets: withHistory, alignedReturns: aligned.returns, labels: Array(labels),
                    mpor: s.mpor, currentVolatility: vols, lookback: scenarioLookback)
            } catch { throw ConfigError(file: path, location: "[[asset]] histories", reason: "\(error)") }
        }
        let options = try root["options"]?.table.map { t throws(ConfigError) in
            try OptionsAccountFile.policy(
                t, over: (OptionsMarginPolicy(), OptionsAccountFile.ScalingSettings()), path: path)
        }
        return BookConfig(
            book: MarginBook(assets: assets, instruments: instruments, settings: s, scenarios: scenarios),
            histories: histories,
            path: path, options: options.map { (policy: $0.0, scaling: $0.1) })
    }

    static func parseTiers(_ a: TOMLArray, file: String, location: String) throws(ConfigError) -> [Tier] {
        var out: [Tier] = []
        for e in a {
            guard let pair = e.array, pair.count == 2,
                let from = pair[0].double ?? pair[0].int.map(Double.init),
                let rate = pair[1].double ?? pair[1].int.map(Double.init)
            else {
                throw ConfigError(file: file, location: location, reason: "each tier is [notional_from, rate]")
            }
            out.append(Tier(from: from, rate: rate))
        }
        return out
    }
}
