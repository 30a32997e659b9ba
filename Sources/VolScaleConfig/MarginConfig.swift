import Foundation
import TOMLKit
import VolScaleCore
import VolScaleData
import VolScaleRisk

/// A margin configuration file (TOML): the models to run, and optionally the assets to
/// publish rates for and an implied-volatility series to blend.
///
/// ```toml
/// [defaults]               # optional; any model key, applied unless a model overrides it
/// confidence = 0.99
/// mpor = 2
///
/// [[model]]
/// name = "FHS-ES + buffer"
/// volatility = "ewma"      # ewma | garch | gjr | close-to-close
/// lambda = 0.94
/// measure = "es"           # var | es
/// method = "fhs"           # parametric | historical | fhs
/// lookback = 1000
/// [model.controls]
/// buffer = 0.25
///
/// [[asset]]                # for `volscale margin-rates`
/// name = "SPX"
/// file = "../data/sp500-daily.csv"   # relative to this file
///
/// [implied]                # optional: sigma = max(realised, weight * implied)
/// file = "../data/vix-daily.csv"
/// column = "vix"
/// units = "percent-annual" # or "decimal-annual"
/// ```
public struct MarginConfig: Sendable {
    public struct Asset: Sendable, Equatable {
        public var name: String
        public var file: String
        public var column: String?
        /// Names of the models to publish for this asset (all when empty).
        public var models: [String]
    }

    public struct Implied: Sendable, Equatable {
        public var file: String
        public var column: String?
        /// Multiplier that turns the file's values into annualised decimal volatility.
        public var toDecimal: Double
        /// Periods per year to de-annualise (nil: the price series' own).
        public var periodsPerYear: Double?
        public var skipBadRows: Bool

        /// The series read and aligned to a price series' returns: per-period decimal implied
        /// volatility for each return (the value at the bar that ends it), nil where the
        /// implied file has no value at that timestamp.
        /// - Parameter periodsPerYear: the price series' own, used unless the file sets one.
        /// - Throws: `DataError` from reading the implied file.
        public func aligned(to series: PriceSeries, periodsPerYear: Double) throws(DataError) -> [Double?] {
            let out = try PriceFileReader(column: column, skipBadRows: skipBadRows).read(path: file)
            var byTime: [Int64: Double] = [:]
            for (t, v) in zip(out.series.timestamps, out.series.close) { byTime[t] = v }
            let scale = toDecimal / (self.periodsPerYear ?? periodsPerYear).squareRoot()
            return series.timestamps.dropFirst().map { t in byTime[t].map { $0 * scale } }
        }
    }

    public var models: [MarginModel]
    public var assets: [Asset]
    public var implied: Implied?
    public var periodsPerYear: Double?
    /// The file it was read from (for messages and relative paths).
    public var path: String

    /// Reads and validates the whole file; nothing is returned on half-read settings.
    public static func load(path: String) throws(ConfigError) -> MarginConfig {
        let text = try ConfigFile.text(path)
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> MarginConfig {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError(
                file: path, location: "line \(e.source.begin.line)", reason: "TOML syntax: \(e.description)")
        } catch {
            throw ConfigError(file: path, location: "", reason: "TOML syntax: \(error)")
        }
        try checkKeys(
            root, allowed: ["defaults", "model", "asset", "implied", "data"], file: path, location: "top level")
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p)
        }

        var periods: Double?
        if let data = root["data"] {
            guard let t = data.table else {
                throw ConfigError(file: path, location: "[data]", reason: "must be a table")
            }
            try checkKeys(t, allowed: ["periods_per_year"], file: path, location: "[data]")
            periods = try number(t, "periods_per_year", file: path, location: "[data]")
            if let p = periods, !(p > 0) {
                throw ConfigError(file: path, location: "[data]", reason: "periods_per_year must be positive")
            }
        }
        let defaults = try root["defaults"].map { v throws(ConfigError) -> TOMLTable in
            guard let t = v.table else {
                throw ConfigError(file: path, location: "[defaults]", reason: "must be a table")
            }
            try checkKeys(t, allowed: modelKeys.subtracting(["name"]), file: path, location: "[defaults]")
            return t
        }
        guard let modelArray = root["model"]?.array, !modelArray.isEmpty else {
            throw ConfigError(file: path, location: "", reason: "no [[model]] entries")
        }
        var models: [MarginModel] = []
        for (i, entry) in modelArray.enumerated() {
            guard let t = entry.table else {
                throw ConfigError(file: path, location: "[[model]] #\(i + 1)", reason: "must be a table")
            }
            let model = try parseModel(t, defaults: defaults, index: i + 1, file: path)
            if models.contains(where: { $0.name == model.name }) {
                throw ConfigError(file: path, location: "[[model]] #\(i + 1)", reason: "duplicate name '\(model.name)'")
            }
            models.append(model)
        }
        var assets: [Asset] = []
        for (i, entry) in (root["asset"]?.array.map(Array.init) ?? []).enumerated() {
            let loc = "[[asset]] #\(i + 1)"
            guard let t = entry.table else { throw ConfigError(file: path, location: loc, reason: "must be a table") }
            try checkKeys(t, allowed: ["name", "file", "column", "models"], file: path, location: loc)
            guard let name = t["name"]?.string else {
                throw ConfigError(file: path, location: loc, reason: "missing key 'name'")
            }
            guard let file = t["file"]?.string else {
                throw ConfigError(file: path, location: loc, reason: "missing key 'file'")
            }
            let names = t["models"]?.array.map { $0.compactMap { $0.string } } ?? []
            for n in names where !models.contains(where: { $0.name == n }) {
                throw ConfigError(file: path, location: loc, reason: "models: unknown model '\(n)'")
            }
            assets.append(Asset(name: name, file: resolve(file), column: t["column"]?.string, models: names))
        }
        var implied: Implied?
        if let v = root["implied"] {
            guard let t = v.table else {
                throw ConfigError(file: path, location: "[implied]", reason: "must be a table")
            }
            try checkKeys(
                t, allowed: ["file", "column", "units", "periods_per_year", "skip_bad_rows"], file: path,
                location: "[implied]")
            guard let file = t["file"]?.string else {
                throw ConfigError(file: path, location: "[implied]", reason: "missing key 'file'")
            }
            let units = t["units"]?.string ?? "percent-annual"
            let factor: Double
            switch units {
            case "percent-annual": factor = 0.01
            case "decimal-annual": factor = 1
            default:
                throw ConfigError(
                    file: path, location: "[implied]",
                    reason: "units: '\(units)' is not percent-annual or decimal-annual")
            }
            implied = Implied(
                file: resolve(file), column: t["column"]?.string, toDecimal: factor,
                periodsPerYear: try number(t, "periods_per_year", file: path, location: "[implied]"),
                skipBadRows: t["skip_bad_rows"]?.bool ?? true)
        }
        if implied != nil, !models.contains(where: { $0.impliedWeight != nil }) {
            throw ConfigError(
                file: path, location: "[implied]",
                reason: "no model sets implied_weight, so the series would not be used")
        }
        if implied == nil, let m = models.first(where: { $0.impliedWeight != nil }) {
            throw ConfigError(
                file: path, location: "model '\(m.name)'", reason: "implied_weight set but there is no [implied] table")
        }
        return MarginConfig(models: models, assets: assets, implied: implied, periodsPerYear: periods, path: path)
    }

    static let modelKeys: Set<String> = [
        "name", "volatility", "lambda", "halflife", "window", "distribution", "refit_every", "minimum_fit",
        "fit_window", "measure", "method", "nu", "confidence", "test_confidence", "mpor", "lookback", "implied_weight",
        "controls",
    ]
    static let controlKeys: Set<String> = [
        "buffer", "buffer_rebuild_rate", "stressed_weight", "stressed_period", "stressed_window", "floor_lookback",
        "speed_limit_up", "speed_limit_down", "smoothing", "hard_floor", "hard_cap",
        "maintenance_fraction", "maintenance_confidence", "floor_fraction", "rise_limit", "rise_bars", "corridor",
        "calibration_target", "calibration_half_life", "calibration_gain", "calibration_min", "calibration_max",
    ]

    static func parseModel(_ t: TOMLTable, defaults: TOMLTable?, index: Int, file: String) throws(ConfigError)
        -> MarginModel
    {
        let name = t["name"]?.string ?? "model \(index)"
        let loc = "[[model]] '\(name)'"
        try checkKeys(t, allowed: modelKeys, file: file, location: loc)
        func value(_ key: String) -> TOMLValueConvertible? { t[key] ?? defaults?[key] }
        func num(_ key: String) throws(ConfigError) -> Double? {
            guard let v = value(key) else { return nil }
            if let d = v.double { return d }
            if let i = v.int { return Double(i) }
            throw ConfigError(file: file, location: loc, reason: "\(key): expected a number")
        }
        /// Whole numbers; their bounds are the model's (`MarginModel.validate`).
        func int(_ key: String) throws(ConfigError) -> Int? {
            guard let v = value(key) else { return nil }
            if let i = v.int { return i }
            throw ConfigError(file: file, location: loc, reason: "\(key): expected a whole number")
        }
        func str(_ key: String, _ allowed: [String]) throws(ConfigError) -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v.string, allowed.contains(s) else {
                throw ConfigError(
                    file: file, location: loc, reason: "\(key): expected one of \(allowed.joined(separator: ", "))")
            }
            return s
        }
        let volName = try str("volatility", ["ewma", "garch", "gjr", "close-to-close"]) ?? "ewma"
        let dist = try str("distribution", ["normal", "t"]) ?? "normal"
        let volatility: VolatilitySpec
        switch volName {
        case "garch", "gjr":
            volatility = .garch(
                asymmetric: volName == "gjr", distribution: dist == "t" ? .studentT : .normal,
                refitEvery: try int("refit_every") ?? 250, minimumFit: try int("minimum_fit") ?? 500)
        case "close-to-close":
            volatility = .closeToClose(window: try int("window") ?? 20)
        default:
            var lambda = try num("lambda") ?? EWMA.riskMetricsLambda
            if let hl = try num("halflife") {
                guard hl > 0 else { throw ConfigError(file: file, location: loc, reason: "halflife: must be positive") }
                lambda = Foundation.pow(0.5, 1 / hl)
            }
            volatility = .ewma(lambda: lambda)
        }
        let measure = TailMeasure(rawValue: try str("measure", ["var", "es"]) ?? "es")!
        let method = RiskMethod(rawValue: try str("method", ["parametric", "historical", "fhs"]) ?? "fhs")!
        var nu = try num("nu")
        var useFitted = false
        if dist == "t" && nu == nil {
            if case .garch = volatility {
                useFitted = true
            } else {
                throw ConfigError(
                    file: file, location: loc,
                    reason: "distribution = \"t\" needs nu, or a garch/gjr volatility to fit it")
            }
        }
        if dist == "normal" { nu = nil }
        var controls = MarginControls.none
        if let cv = value("controls") {
            guard let c = cv.table else {
                throw ConfigError(file: file, location: loc, reason: "controls: must be a table")
            }
            controls = try parseControls(c, file: file, location: loc + " controls")
        }
        do {
            return try MarginModel(
                name: name, volatility: volatility, measure: measure, method: method, nu: nu,
                useFittedNu: useFitted, confidence: try num("confidence") ?? 0.99,
                mpor: try int("mpor") ?? 1, lookback: try int("lookback") ?? 1000, controls: controls,
                impliedWeight: try num("implied_weight"), testConfidence: try num("test_confidence"),
                fitWindow: try int("fit_window"))
        } catch {
            throw ConfigError.wrapping(error, file: file, location: "[[model]] #\(index)")
        }
    }

    /// A model's `controls` table; each value range-checked by `MarginControls` as it is built.
    static func parseControls(_ c: TOMLTable, file: String, location loc: String) throws(ConfigError) -> MarginControls
    {
        try checkKeys(c, allowed: controlKeys, file: file, location: loc)
        func cnum(_ key: String) throws(ConfigError) -> Double? { try number(c, key, file: file, location: loc) }
        func cint(_ key: String) throws(ConfigError) -> Int? {
            guard let x = try cnum(key) else { return nil }
            guard let n = Checked.integer(x, in: 1...1_000_000) else {
                throw ConfigError(file: file, location: loc, reason: "\(key): expected a whole number in [1, 1000000]")
            }
            return n
        }
        var stressedPeriod = StressedPeriod.worstWindow(bars: try cint("stressed_window") ?? 250)
        if let sp = c["stressed_period"] {
            guard let s = sp.string else {
                throw ConfigError(
                    file: file, location: loc,
                    reason: "stressed_period: expected \"auto\" or \"YYYY-MM-DD..YYYY-MM-DD\"")
            }
            if s != "auto" {
                let parts = s.components(separatedBy: "..")
                guard parts.count == 2, let a = Timestamp.parse(parts[0]), let b = Timestamp.parse(parts[1]) else {
                    throw ConfigError(
                        file: file, location: loc,
                        reason: "stressed_period: '\(s)' is not \"auto\" or \"YYYY-MM-DD..YYYY-MM-DD\"")
                }
                stressedPeriod = .dates(start: a, end: b)
            }
        }
        var calibration: CoverageCalibration?
        let calibrationKeys = ["calibration_half_life", "calibration_gain", "calibration_min", "calibration_max"]
        let mf = try cnum("maintenance_fraction")
        let mc = try cnum("maintenance_confidence")
        if mf != nil && mc != nil {
            throw ConfigError(
                file: file, location: loc, reason: "give maintenance_fraction or maintenance_confidence, not both")
        }
        do {
            if let target = try cnum("calibration_target") {
                let (halfLife, gain) = (try cnum("calibration_half_life") ?? 70, try cnum("calibration_gain") ?? 0.5)
                let (minimum, maximum) = (try cnum("calibration_min") ?? 0.8, try cnum("calibration_max") ?? 1.5)
                calibration = try CoverageCalibration(
                    target: target, halfLife: halfLife, gain: gain, minimum: minimum, maximum: maximum)
            } else if let stray = calibrationKeys.first(where: { c[$0] != nil }) {
                throw ConfigError(
                    file: file, location: loc,
                    reason: "\(stray) needs calibration_target (the exceedance rate aimed at)")
            }
            return try MarginControls(
                buffer: try cnum("buffer"), bufferRebuildRate: try cnum("buffer_rebuild_rate") ?? 0,
                stressedWeight: try cnum("stressed_weight"), stressedPeriod: stressedPeriod,
                floorLookback: try cint("floor_lookback"), speedLimitUp: try cnum("speed_limit_up"),
                speedLimitDown: try cnum("speed_limit_down"), smoothing: try cnum("smoothing"),
                floorFraction: try cnum("floor_fraction") ?? 1, calibration: calibration,
                riseLimit: try cnum("rise_limit"),
                riseBars: try cint("rise_bars") ?? 5, corridor: try cnum("corridor"), hardFloor: try cnum("hard_floor"),
                hardCap: try cnum("hard_cap"),
                maintenance: mc.map(MaintenanceRule.confidence) ?? .fractionOfInitial(mf ?? 0.8))
        } catch {
            throw ConfigError.wrapping(error, file: file, location: loc)
        }
    }

    static func number(_ t: TOMLTable, _ key: String, file: String, location: String) throws(ConfigError) -> Double? {
        guard let v = t[key] else { return nil }
        if let d = v.double { return d }
        if let i = v.int { return Double(i) }
        throw ConfigError(file: file, location: location, reason: "\(key): expected a number")
    }

    static func checkKeys(_ t: TOMLTable, allowed: Set<String>, file: String, location: String) throws(ConfigError) {
        for key in t.keys.sorted() where !allowed.contains(key) {
            throw ConfigError(
                file: file, location: location,
                reason: "unknown key '\(key)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}

/// A configuration error: the file, where in it, and why.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var location: String
    public var reason: String
    public var description: String { location.isEmpty ? "\(file): \(reason)" : "\(file): \(location): \(reason)" }

    /// `error` as a configuration error: itself when it is one, else its description as the
    /// reason at `location` (a value refused by the type it builds).
    static func wrapping(_ error: any Error, file: String, location: String) -> ConfigError {
        (error as? ConfigError) ?? ConfigError(file: file, location: location, reason: "\(error)")
    }
}
