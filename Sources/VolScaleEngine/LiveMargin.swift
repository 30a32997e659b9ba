import VolScaleMargin
import VolScaleRisk

/// The venue's book with the live engine's latest parameter set of each asset applied:
/// the book every margin is computed with (what-if, stored accounts, stress, re-margin).
///
/// For an asset the engine publishes, its price becomes the published (aggregate) price,
/// its volatility the published sigma per day (`sigma_bar * sqrt(barsPerDay)`), and its
/// rates and haircuts the published ones (`AssetRisk.published`); its column of the joint
/// historical scenarios is rescaled to the new volatility. Nothing else of the book changes.
public struct LiveBook: Sendable {
    public private(set) var book: MarginBook
    /// The sequence of the latest parameter set applied (0: none yet).
    public private(set) var sequence: Int64 = 0
    /// Latest publication per asset and side.
    var sides: [String: [String: Publication]] = [:]

    public init(book: MarginBook) { self.book = book }

    /// Applies publications in sequence order (policy changes and assets the book does not
    /// hold are skipped); returns the assets whose parameter set changed. An asset's set
    /// takes effect once both sides of it are published.
    public mutating func apply(_ publications: [Publication], config: EngineConfig) -> Set<String> {
        var changed = Set<String>()
        for p in publications {
            guard book.assets[p.asset] != nil, let side = Side(rawValue: p.side) else { continue }
            sides[p.asset, default: [:]][side.rawValue] = p
            changed.insert(p.asset)
        }
        for asset in changed {
            guard var risk = book.assets[asset], let long = sides[asset]?["long"], let short = sides[asset]?["short"],
                  let price = (long.sequence > short.sequence ? long : short).price, price > 0, price.isFinite else {
                changed.remove(asset)
                continue
            }
            let latest = long.sequence > short.sequence ? long : short
            let sigmaDaily = latest.sigma * (config.settings(asset).barsPerDay ?? 1).squareRoot()
            if let sc = book.scenarios, let column = sc.assets.firstIndex(of: asset), risk.volatility > 0, sigmaDaily.isFinite {
                var rescaled = sc
                let factor = sigmaDaily / risk.volatility
                for k in 0..<sc.count { rescaled.returns[k * sc.assets.count + column] *= factor }
                book.scenarios = rescaled
            }
            risk.price = price
            risk.volatility = sigmaDaily
            risk.published = PublishedParameters(
                sequence: latest.sequence, initialLong: long.newValue, initialShort: short.newValue,
                maintenanceLong: long.maintenance, maintenanceShort: short.maintenance,
                haircutLong: long.haircut ?? risk.haircutFloor, haircutShort: short.haircut ?? risk.haircutFloor)
            book.assets[asset] = risk
            sequence = max(sequence, latest.sequence)
        }
        return changed
    }
}

/// The accounts the venue holds, indexed by the assets they hold, with each one's last
/// status: what re-margining after a publication needs.
public struct AccountMonitor: Sendable {
    public struct Entry: Sendable {
        public var account: Account
        public var mode: MarginMode
        /// Assets the account's margin depends on: its collateral and its positions' underlyings.
        public var assets: Set<String>
        /// Last evaluated status and margin ratio (maintenance / equity; nil when equity <= 0),
        /// nil before the first evaluation or when the account cannot be evaluated.
        public var status: AccountStatus?
        public var ratio: Double?
    }

    /// A status change found by re-margining.
    public struct Change: Sendable, Equatable {
        public var id: String
        public var old: AccountStatus?
        public var new: AccountStatus
        public var marginRatio: Double?
        /// The parameter set it was evaluated at.
        public var sequence: Int64
    }

    public private(set) var entries: [String: Entry] = [:]
    /// asset -> ids of the accounts that hold it.
    public private(set) var holders: [String: Set<String>] = [:]

    public init() {}

    /// Adds or replaces an account; `instruments` maps its positions to their underlyings.
    /// A replaced account keeps its last status until it is evaluated again (so that a
    /// change of the account that changes its status is reported as one).
    public mutating func set(_ account: Account, mode: MarginMode, instruments: [String: Instrument]) {
        let previous = entries[account.id]
        remove(account.id)
        var assets = Set(account.collateral.map(\.asset))
        for p in account.positions { if let u = instruments[p.instrument]?.underlying { assets.insert(u) } }
        entries[account.id] = Entry(account: account, mode: mode, assets: assets, status: previous?.status, ratio: previous?.ratio)
        for a in assets { holders[a, default: []].insert(account.id) }
    }

    public mutating func remove(_ id: String) {
        guard let e = entries.removeValue(forKey: id) else { return }
        for a in e.assets {
            holders[a]?.remove(id)
            if holders[a]?.isEmpty == true { holders[a] = nil }
        }
    }

    /// The ids of the accounts holding any of `assets`.
    public func affected(by assets: Set<String>) -> [String] {
        var ids = Set<String>()
        for a in assets { if let h = holders[a] { ids.formUnion(h) } }
        return Array(ids)
    }

    /// Re-evaluates the accounts holding any of `assets` (every account when nil) with
    /// `calculator` on all cores, records each one's status and returns the changes (an
    /// account's first evaluation is not a change). Accounts that cannot be evaluated keep
    /// no status. - Returns: how many were evaluated, and the changes.
    public mutating func remargin(assets: Set<String>?, calculator: MarginCalculator, sequence: Int64) -> (evaluated: Int, changes: [Change]) {
        remargin(ids: assets.map(affected(by:)) ?? Array(entries.keys), calculator: calculator, sequence: sequence)
    }

    /// Re-evaluates the accounts `ids` (unknown ids are skipped); as `remargin(assets:)`.
    public mutating func remargin(ids: [String], calculator: MarginCalculator, sequence: Int64) -> (evaluated: Int, changes: [Change]) {
        var calc = calculator
        calc.explaining = false
        calc.liquidationPrices = false
        var changes: [Change] = []
        for mode in MarginMode.allCases {
            let group = ids.filter { entries[$0]?.mode == mode }
            guard !group.isEmpty else { continue }
            let results = calc.evaluateAll(group.compactMap { entries[$0]?.account }, mode: mode)
            for (id, r) in zip(group, results) {
                guard var e = entries[id] else { continue }
                let old = e.status
                switch r {
                case let .success(res):
                    e.status = res.status
                    e.ratio = res.equity > 0 ? res.maintenanceMargin / res.equity : nil
                    if let old, old != res.status {
                        changes.append(Change(id: id, old: old, new: res.status, marginRatio: e.ratio, sequence: sequence))
                    }
                case .failure:
                    e.status = nil
                    e.ratio = nil
                }
                entries[id] = e
            }
        }
        return (ids.count, changes.sorted { $0.id < $1.id })
    }
}
