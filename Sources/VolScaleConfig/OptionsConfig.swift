import Foundation
import TOMLKit
import VolScaleCore
import VolScaleData
import VolScaleMargin

/// An options account file (TOML) for `volscale options`: a coin balance, positions named as
/// Deribit names instruments, and optionally the venue's option-margin parameters.
///
/// ```toml
/// underlying = "BTC"
/// balance = 5.0                      # coins
///
/// [[position]]
/// instrument = "BTC-26JUN20-11000-C" # options: quantity in options on one coin (negative: short)
/// quantity = -10
/// settlement = "coin"                # coin (Deribit's) or quote (USD-settled)
///
/// [[position]]
/// instrument = "BTC-26JUN20"         # inverse future: quantity in USD of face value
/// quantity = 20000
///
/// [options]                          # the venue's parameters (all optional, defaults: OptionsMarginPolicy)
/// initial_base = 0.15                # standard margin of a short option (coins)
/// initial_minimum = 0.10
/// maintenance_base = 0.075
/// price_range = 0.16                 # portfolio margin: +-16% in price_steps points
/// price_steps = 9
/// volatility_up = 0.45               # relative IV shocks at 30 days
/// volatility_down = 0.30
/// short_power = 0.30                 # (30/days)^short_power below 30 days
/// long_power = 0.13                  # (30/days)^long_power beyond
/// extended_moves = [-0.66, -0.33, 0.5, 1, 2, 3, 4, 5]
/// short_option_contingency = 0.01
/// futures_contingency = 0.01
/// initial_multiplier = 1.2
/// calibration_volatility = 0.80      # volatility-scaled matrix: ratio = live / calibration,
/// scaling_floor = 0.5                #   clamped to [floor, cap]
/// scaling_cap = 2.5
/// ```
///
/// The `[options]` table may instead live in the venue file (`--venue`), where it sets the
/// venue's parameters for every account.
public struct OptionsAccountFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public let instrument: String
        public let parsed: DeribitInstrument
        public let quantity: Double
        public let settlement: OptionSettlement
    }

    public var underlying: String
    public var balance: Double
    public var positions: [Entry]
    public var policy: OptionsMarginPolicy
    public var scaling: ScalingSettings

    /// Calibration, floor and cap of the volatility-scaled matrix.
    public struct ScalingSettings: Sendable, Equatable {
        public var calibration = 0.8
        public var floor = 0.5
        public var cap = 2.5
    }

    public static func load(path: String, venue: String? = nil) throws(ConfigError) -> OptionsAccountFile {
        func read(_ p: String) throws(ConfigError) -> String {
            try ConfigFile.text(p)
        }
        var file = try parse(read(path), path: path)
        // only the venue's [options] table: its price histories are not needed here
        if let v = venue {
            let text = try read(v)
            let root: TOMLTable
            do { root = try TOMLTable(string: text) } catch {
                throw ConfigError(file: v, location: "", reason: "TOML syntax: \(error)")
            }
            if let t = root["options"]?.table {
                do {
                    (file.policy, file.scaling) = try policy(
                        t, over: (OptionsMarginPolicy(), ScalingSettings()), path: v)
                } catch {
                    throw TOMLLines(text).locate(error)
                }
            }
        }
        return file
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> OptionsAccountFile {
        do { return try parseTables(text, path: path) } catch { throw TOMLLines(text).locate(error) }
    }

    static func parseTables(_ text: String, path: String) throws(ConfigError) -> OptionsAccountFile {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch {
            throw ConfigError(file: path, location: "", reason: "TOML syntax: \(error)")
        }
        try MarginConfig.checkKeys(
            root, allowed: ["underlying", "balance", "position", "options"], file: path, location: "")
        guard let balance = try MarginConfig.number(root, "balance", file: path, location: ""), balance.isFinite,
            abs(balance) <= AccountLimits.maxCollateral
        else {
            throw ConfigError(file: path, location: "", reason: "balance: expected a number of coins in [-1e15, 1e15]")
        }
        let underlying = root["underlying"]?.string ?? "BTC"
        var entries: [Entry] = []
        if let array = root["position"]?.array {
            guard array.count <= AccountLimits.maxPositions else {
                throw ConfigError(
                    file: path, location: "[[position]]", reason: "more than \(AccountLimits.maxPositions) positions")
            }
            for (i, v) in array.enumerated() {
                let loc = "[[position]] #\(i + 1)"
                guard let t = v.table else { throw ConfigError(file: path, location: loc, reason: "expected a table") }
                try MarginConfig.checkKeys(
                    t, allowed: ["instrument", "quantity", "settlement"], file: path, location: loc)
                guard let name = t["instrument"]?.string else {
                    throw ConfigError(
                        file: path, location: loc, reason: "instrument: expected a name such as \"BTC-26JUN20-9000-C\"")
                }
                guard let parsed = DeribitInstrument(name) else {
                    throw ConfigError(
                        file: path, location: loc,
                        reason:
                            "instrument: '\(name)' is not an option (BTC-26JUN20-9000-C), future (BTC-26JUN20) or perpetual (BTC-PERPETUAL)"
                    )
                }
                guard parsed.underlying == underlying else {
                    throw ConfigError(
                        file: path, location: loc,
                        reason: "instrument: '\(name)' is not on the account's underlying \(underlying)")
                }
                guard let q = try MarginConfig.number(t, "quantity", file: path, location: loc), q.isFinite,
                    abs(q) <= AccountLimits.maxQuantity
                else {
                    throw ConfigError(file: path, location: loc, reason: "quantity: expected a number in [-1e12, 1e12]")
                }
                var settlement = OptionSettlement.coin
                if let s = t["settlement"] {
                    guard let text = s.string, let v = OptionSettlement(rawValue: text) else {
                        throw ConfigError(
                            file: path, location: loc, reason: "settlement: expected \"coin\" or \"quote\"")
                    }
                    settlement = v
                }
                entries.append(Entry(instrument: name, parsed: parsed, quantity: q, settlement: settlement))
            }
        }
        var policy = OptionsMarginPolicy()
        var scaling = ScalingSettings()
        if let t = root["options"]?.table {
            (policy, scaling) = try Self.policy(t, over: (policy, scaling), path: path)
        }
        return OptionsAccountFile(
            underlying: underlying, balance: balance, positions: entries, policy: policy, scaling: scaling)
    }

    /// The `[options]` table over a starting policy.
    static func policy(_ t: TOMLTable, over start: (OptionsMarginPolicy, ScalingSettings), path: String)
        throws(ConfigError) -> (OptionsMarginPolicy, ScalingSettings)
    {
        let loc = "[options]"
        let keys: Set<String> = [
            "initial_base", "initial_minimum", "maintenance_base", "futures_initial_base", "futures_maintenance_base",
            "futures_slope_per_100", "price_range", "price_steps", "volatility_up", "volatility_down", "short_power",
            "long_power", "minimum_volatility_factor", "extended_moves", "extended_weights", "short_option_contingency",
            "futures_contingency", "initial_multiplier", "calibration_volatility", "scaling_floor", "scaling_cap",
        ]
        try MarginConfig.checkKeys(t, allowed: keys, file: path, location: loc)
        var (p, s) = start
        func num(_ k: String, _ into: inout Double) throws(ConfigError) {
            if let v = try MarginConfig.number(t, k, file: path, location: loc) { into = v }
        }
        try num("initial_base", &p.initialBase)
        try num("initial_minimum", &p.initialMinimum)
        try num("maintenance_base", &p.maintenanceBase)
        try num("futures_initial_base", &p.futuresInitialBase)
        try num("futures_maintenance_base", &p.futuresMaintenanceBase)
        try num("futures_slope_per_100", &p.futuresSlopePer100)
        try num("price_range", &p.priceRange)
        try num("volatility_up", &p.volatilityUp)
        try num("volatility_down", &p.volatilityDown)
        try num("short_power", &p.shortPower)
        try num("long_power", &p.longPower)
        try num("minimum_volatility_factor", &p.minimumVolatilityFactor)
        try num("short_option_contingency", &p.shortOptionContingency)
        try num("futures_contingency", &p.futuresContingency)
        try num("initial_multiplier", &p.initialMultiplier)
        try num("calibration_volatility", &s.calibration)
        try num("scaling_floor", &s.floor)
        try num("scaling_cap", &s.cap)
        if let v = try MarginConfig.number(t, "price_steps", file: path, location: loc) {
            guard let n = Checked.integer(v, in: 3...101) else {
                throw ConfigError(
                    file: path, location: loc, reason: "price_steps: expected an odd whole number in [3, 101]")
            }
            p.priceSteps = n
        }
        func list(_ k: String) throws(ConfigError) -> [Double]? {
            guard let v = t[k] else { return nil }
            guard let a = v.array else {
                throw ConfigError(file: path, location: loc, reason: "\(k): expected an array of numbers")
            }
            var out: [Double] = []
            for x in a {
                guard let d = x.double ?? x.int.map(Double.init) else {
                    throw ConfigError(file: path, location: loc, reason: "\(k): expected an array of numbers")
                }
                out.append(d)
            }
            return out
        }
        if let m = try list("extended_moves") { p.extendedMoves = m }
        if let w = try list("extended_weights") { p.extendedWeights = w }
        do { try p.validate() } catch { throw ConfigError(file: path, location: loc, reason: error.description) }
        do {
            _ = try VolatilityScaling(live: s.calibration, calibration: s.calibration, floor: s.floor, cap: s.cap)
        } catch {
            throw ConfigError(file: path, location: loc, reason: error.description)
        }
        return (p, s)
    }
}
