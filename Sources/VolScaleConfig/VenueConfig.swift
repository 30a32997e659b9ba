import Foundation
import TOMLKit
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleRisk

/// A venue file (TOML): the book (`[settings]`, `[[asset]]`, `[[instrument]]`, as
/// `BookConfig`) and what the live service adds to it: where each asset's prices come
/// from and how they are aggregated, the live margin policy, and the venue's own settings.
/// One file drives `volscale serve` and the batch commands alike.
///
/// ```toml
/// [venue]
/// name = "example"
/// accounts = "accounts.json"   # seeds a new store's accounts (relative to this file)
/// max_quote_age = 60           # seconds of wall-clock time without a quote: stale
/// live_bars = 300              # bars of each source held back at start-up, then fed live
/// live_rate = 2                # live bars per second
///
/// [storage]                    # optional: several processes on one PostgreSQL (default: SQLite)
/// url = "postgres://user:password@host:5432/venue"
/// lease_seconds = 10           # a dead process's assets move to a live one within it
///
/// [engine]                     # the live margin policy of every asset
/// model = "ewma-parametric"    # EWMA sigma, parametric tail at [settings] confidence and mpor
/// lambda = 0.94
/// measure = "es"               # es | var
/// publish_every = 1            # bars between publications
/// buffer = 0.25                # anti-procyclicality controls (optional)
/// speed_limit_up = 0.5
/// speed_limit_down = 0.1
/// hard_floor = 0.02
/// hard_cap = 0.5
/// implied_weight = 1.0         # optional: sigma = max(sigma_EWMA, w x implied), the implied volatility
/// implied_max_age = 86400      #   from the asset's latest option chain (POST /v1/assets/{asset}/chain), seconds
///
/// [aggregation]                # defaults of every asset's price aggregation
/// min_sources = 2              # agreeing sources needed for a price
/// max_age = 120                # seconds (quote time) a source's last quote counts
/// max_deviation = 0.05         # from the median of the fresh sources
/// max_confidence = 0.02        # confidence / price
/// stable_rate = 0.0005         # stable price: largest relative move per second
/// circuit_breaker = 0.15       # jump from the recent average that marks the asset unstable
/// average_decay = 0.98
/// min_interval = 0             # seconds between two quotes of one source
/// max_future_skew = 5          # seconds
/// max_sources = 32
/// evict_after = 86400          # seconds: a source silent this long (quote time) leaves the table
///
/// [[asset]]
/// name = "BTC"                 # ... the book's keys (adv, spread, size_rule, haircut_floor, ...)
/// bars_per_day = 1             # sigma per day = sigma per bar * sqrt(bars_per_day)
/// bar_seconds = 86400          # required with sources: a bar closes every bar_seconds of quote time
/// [asset.aggregation]          # this asset's own rules (any key of [aggregation])
/// min_sources = 1
/// [[asset.source]]             # a price source replayed from a file (the bundled sample)
/// name = "yahoo"
/// file = "../data/btcusd-daily.csv"
/// column = "close"
/// [[asset.source]]             # a source without a file: quotes through the API only
/// name = "desk"
/// ```
///
/// Assets with a `source` are the engine's: they are published live and their parameter
/// sets replace the book's rates, haircuts, price and volatility. Quotes for them come from
/// their declared sources only (files, or the API with a key bound to the source).
public struct VenueConfig: Sendable {
    /// A price source read from a file.
    public struct Source: Sendable, Equatable {
        public var asset: String
        public var name: String
        public var path: String
        public var column: String?
    }

    public var name: String
    public var book: BookConfig
    public var engine: EngineConfig
    /// Assets margined by a model of their own (`[asset.policy]`, the keys of a
    /// `volscale backtest` model): published live bar for bar as the batch engine computes it.
    public var policies: [String: MarginModel]
    public var sources: [Source]
    /// Seconds without an accepted quote after which an asset is stale.
    public var maxQuoteAge: Double
    public var accountsPath: String?
    public var liveBars: Int
    public var liveRate: Double
    public var path: String
    /// `[storage] url`: a PostgreSQL store shared by several processes (nil: SQLite).
    public var storeURL: String?
    /// `[storage] lease_seconds`.
    public var leaseSeconds: Double?

    /// - Parameter holdBack: bars of each source fed live after the replay: the book's
    ///   histories (price, volatility, joint scenarios) end before them.
    public static func load(path: String, holdBack: Int = 0) throws(ConfigError) -> VenueConfig {
        let text = try ConfigFile.text(path)
        return try parse(text, path: path, holdBack: holdBack)
    }

    public static func parse(_ text: String, path: String, holdBack: Int = 0) throws(ConfigError) -> VenueConfig {
        do { return try parseTables(text, path: path, holdBack: holdBack) } catch {
            throw TOMLLines(text).locate(error)
        }
    }

    static func parseTables(_ text: String, path: String, holdBack: Int) throws(ConfigError) -> VenueConfig {
        let book = try BookConfig.parseTables(text, path: path, holdBack: holdBack)
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch {
            throw ConfigError(file: path, location: "", reason: "TOML syntax: \(error)")
        }
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p)
        }
        func number(_ t: TOMLTable, _ k: String, _ loc: String, _ range: ClosedRange<Double>) throws(ConfigError)
            -> Double?
        {
            guard let x = try MarginConfig.number(t, k, file: path, location: loc) else { return nil }
            guard range.contains(x) else {
                throw ConfigError(
                    file: path, location: loc,
                    reason: "\(k): expected a number in [\(range.lowerBound), \(range.upperBound)], got \(x)")
            }
            return x
        }
        func seconds(_ t: TOMLTable, _ k: String, _ loc: String, _ range: ClosedRange<Double>) throws(ConfigError)
            -> Int64?
        {
            guard let s = try number(t, k, loc, range) else { return nil }
            return Int64((s * 1000).rounded())  // within range: far from Int64's bounds
        }
        func integer(_ t: TOMLTable, _ k: String, _ loc: String, _ range: ClosedRange<Int>) throws(ConfigError) -> Int?
        {
            guard let x = try MarginConfig.number(t, k, file: path, location: loc) else { return nil }
            guard let n = Checked.integer(x, in: range) else {
                throw ConfigError(
                    file: path, location: loc,
                    reason: "\(k): expected a whole number in [\(range.lowerBound), \(range.upperBound)]")
            }
            return n
        }

        // [venue]
        var name = "venue"
        var maxQuoteAge = 60.0
        var liveBars = 300
        var liveRate = 2.0
        var accounts: String?
        if let v = root["venue"]?.table {
            let loc = "[venue]"
            try MarginConfig.checkKeys(
                v, allowed: ["name", "accounts", "max_quote_age", "live_bars", "live_rate"], file: path, location: loc)
            name = v["name"]?.string ?? name
            accounts = v["accounts"]?.string.map(resolve)
            maxQuoteAge = try number(v, "max_quote_age", loc, 1...86_400) ?? maxQuoteAge
            liveBars = try integer(v, "live_bars", loc, 0...10_000_000) ?? liveBars
            liveRate = try number(v, "live_rate", loc, 0.001...1000) ?? liveRate
        }

        // [storage]
        var storeURL: String?
        var leaseSeconds: Double?
        if let t = root["storage"]?.table {
            let loc = "[storage]"
            try MarginConfig.checkKeys(t, allowed: ["url", "lease_seconds"], file: path, location: loc)
            if let u = t["url"] {
                guard let url = u.string, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                    throw ConfigError(
                        file: path, location: loc,
                        reason: "url: expected \"postgres://user:password@host:port/database\"")
                }
                storeURL = url
            }
            leaseSeconds = try number(t, "lease_seconds", loc, 1...3600)
        }

        // [aggregation] and each asset's own
        let aggregationKeys: Set<String> = [
            "min_sources", "max_age", "max_deviation", "max_confidence", "stable_rate", "circuit_breaker",
            "average_decay", "min_interval", "max_future_skew", "max_sources", "evict_after",
        ]
        func aggregation(_ t: TOMLTable, _ loc: String, over base: AggregationPolicy) throws(ConfigError)
            -> AggregationPolicy
        {
            try MarginConfig.checkKeys(t, allowed: aggregationKeys, file: path, location: loc)
            do {
                return try AggregationPolicy(
                    maxAge: try seconds(t, "max_age", loc, 0.001...3_153_600_000) ?? base.maxAge,
                    maxConfidenceRatio: try number(t, "max_confidence", loc, 0...1) ?? base.maxConfidenceRatio,
                    maxDeviation: try number(t, "max_deviation", loc, 0.0001...1) ?? base.maxDeviation,
                    minSources: try integer(t, "min_sources", loc, 1...32) ?? base.minSources,
                    stableRatePerSecond: try number(t, "stable_rate", loc, 0...1) ?? base.stableRatePerSecond,
                    circuitBreaker: try number(t, "circuit_breaker", loc, 0.0001...10) ?? base.circuitBreaker,
                    averageDecay: try number(t, "average_decay", loc, 0...0.999999) ?? base.averageDecay,
                    minInterval: try seconds(t, "min_interval", loc, 0...86_400) ?? base.minInterval,
                    maxFutureSkew: try seconds(t, "max_future_skew", loc, 0...86_400) ?? base.maxFutureSkew,
                    maxSourcesPerAsset: try integer(t, "max_sources", loc, 1...1000) ?? base.maxSourcesPerAsset,
                    evictAfter: try seconds(t, "evict_after", loc, 0.001...3_153_600_000) ?? base.evictAfter)
            } catch {
                throw ConfigError.wrapping(error, file: path, location: loc)
            }
        }
        var defaults = AggregationPolicy.standard
        if let t = root["aggregation"]?.table { defaults = try aggregation(t, "[aggregation]", over: defaults) }

        // [[asset]] feeds
        var engineAssets: [String] = []
        var policies: [String: MarginModel] = [:]
        var settings: [String: AssetSettings] = [:]
        var sources: [Source] = []
        for entry in root["asset"]?.array.map(Array.init) ?? [] {
            // BookConfig refused these already
            guard let t = entry.table, let asset = t["name"]?.string else { continue }
            let loc = "[[asset]] '\(asset)'"
            var own: AggregationPolicy?
            if let a = t["aggregation"] {
                guard let at = a.table else {
                    throw ConfigError(file: path, location: loc, reason: "aggregation: expected a table")
                }
                own = try aggregation(at, loc + " aggregation", over: defaults)
            }
            if let p = t["policy"] {
                let ploc = loc + " policy"
                guard let pt = p.table else {
                    throw ConfigError(file: path, location: loc, reason: "policy: expected a table")
                }
                var model: MarginModel
                do { model = try MarginConfig.parseModel(pt, defaults: nil, index: 1, file: path) } catch {
                    throw ConfigError(file: path, location: ploc, reason: error.reason)
                }
                do {
                    if pt["name"] == nil { model = try model.with(name: "\(asset) policy") }
                    _ = try MarginWalker(model: model)
                } catch { throw ConfigError(file: path, location: ploc, reason: error.description) }
                policies[asset] = model
            }
            guard let list = t["source"] else { continue }
            guard let array = list.array else {
                throw ConfigError(file: path, location: loc, reason: "source: expected [[asset.source]] tables")
            }
            var names: [String] = []
            for (j, item) in array.enumerated() {
                guard let st = item.table else {
                    throw ConfigError(file: path, location: loc, reason: "source: entry \(j + 1) is not a table")
                }
                let sloc = loc + " source"
                try MarginConfig.checkKeys(st, allowed: ["name", "file", "column"], file: path, location: sloc)
                guard let n = st["name"]?.string, !n.isEmpty, n.utf8.count <= 128 else {
                    throw ConfigError(file: path, location: sloc, reason: "name: expected 1 to 128 bytes")
                }
                guard !names.contains(n) else {
                    throw ConfigError(file: path, location: sloc, reason: "name: '\(n)' given twice")
                }
                names.append(n)
                // a source without a file is declared for quotes through the API (its ingest keys)
                guard let f = st["file"] else { continue }
                guard let file = f.string else {
                    throw ConfigError(file: path, location: sloc, reason: "file: expected a path")
                }
                sources.append(Source(asset: asset, name: n, path: resolve(file), column: st["column"]?.string))
            }
            // bars close on quote time: an asset fed live says how long its bar is
            guard let barMillis = try seconds(t, "bar_seconds", loc, 0.001...31_536_000) else {
                throw ConfigError(
                    file: path, location: loc,
                    reason:
                        "bar_seconds: missing (an asset with sources closes a bar every bar_seconds of quote time; 86400 for daily bars)"
                )
            }
            let risk = book.book.assets[asset]
            let assetSettings: AssetSettings
            do {
                assetSettings = try AssetSettings(
                    aggregation: own, barMillis: barMillis,
                    barsPerDay: try number(t, "bars_per_day", loc, 1.0 / 7...86_400), spread: risk?.spread,
                    haircutFloor: risk?.haircutFloor, haircutCap: risk?.haircutCap, sources: names)
            } catch {
                throw ConfigError.wrapping(error, file: path, location: loc)
            }
            engineAssets.append(asset)
            settings[asset] = assetSettings
        }

        // [engine]
        let s = book.book.settings
        let e = root["engine"]?.table ?? TOMLTable()
        let loc = "[engine]"
        try MarginConfig.checkKeys(
            e,
            allowed: [
                "model", "lambda", "measure", "publish_every", "buffer", "speed_limit_up", "speed_limit_down",
                "hard_floor", "hard_cap", "implied_weight", "implied_max_age",
            ], file: path, location: loc)
        if let m = e["model"] {
            guard m.string == "ewma-parametric" else {
                throw ConfigError(
                    file: path, location: loc,
                    reason:
                        "model: expected \"ewma-parametric\" (the live engine's model; the batch models run in `volscale backtest`)"
                )
            }
        }
        let expectedShortfall: Bool
        switch e["measure"]?.string {
        case nil, "es": expectedShortfall = true
        case "var": expectedShortfall = false
        default: throw ConfigError(file: path, location: loc, reason: "measure: expected \"es\" or \"var\"")
        }
        let engine: EngineConfig
        do {
            engine = try EngineConfig(
                assets: engineAssets, aggregation: defaults,
                lambda: try number(e, "lambda", loc, 0.5...0.9999) ?? EWMA.riskMetricsLambda,
                confidence: s.confidence, mpor: s.mpor, expectedShortfall: expectedShortfall,
                buffer: try number(e, "buffer", loc, 0...10),
                speedLimitUp: try number(e, "speed_limit_up", loc, 0...10),
                speedLimitDown: try number(e, "speed_limit_down", loc, 0...0.99),
                hardFloor: try number(e, "hard_floor", loc, 0...1),
                hardCap: try number(e, "hard_cap", loc, 0...10), maintenanceFraction: s.maintenanceFraction,
                publishEvery: try integer(e, "publish_every", loc, 1...1_000_000) ?? 1, settings: settings,
                liquidationHorizon: s.liquidationHorizon,
                impliedWeight: try number(e, "implied_weight", loc, 0.01...10),
                impliedMaxAge: try seconds(e, "implied_max_age", loc, 1...(30 * 86_400)))
        } catch {
            throw ConfigError.wrapping(error, file: path, location: loc)
        }
        for asset in policies.keys where !engineAssets.contains(asset) {
            throw ConfigError(
                file: path, location: "[[asset]] '\(asset)' policy",
                reason:
                    "an asset with a policy needs a source ([[asset.source]]) or quotes through the API: give it a source"
            )
        }
        return VenueConfig(
            name: name, book: book, engine: engine, policies: policies, sources: sources, maxQuoteAge: maxQuoteAge,
            accountsPath: accounts,
            liveBars: liveBars, liveRate: liveRate, path: path, storeURL: storeURL, leaseSeconds: leaseSeconds)
    }
}
