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
            guard book.assets[p.asset] != nil, let side = p.side.side else { continue }
            sides[p.asset, default: [:]][side.rawValue] = p
            changed.insert(p.asset)
        }
        for asset in changed {
            guard var risk = book.assets[asset], let long = sides[asset]?["long"], let short = sides[asset]?["short"],
                let price = (long.sequence > short.sequence ? long : short).price, price > 0, price.isFinite
            else {
                changed.remove(asset)
                continue
            }
            let latest = long.sequence > short.sequence ? long : short
            let sigmaDaily = latest.sigma * (config.settings(asset).barsPerDay ?? 1).squareRoot()
            if let sc = book.scenarios, let column = sc.assets.firstIndex(of: asset), risk.volatility > 0,
                sigmaDaily.isFinite
            {
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

/// The accounts the venue holds, indexed by the assets they hold, each compiled against
/// the venue's catalogue when it is written, with its last status: what re-margining after
/// a publication needs. Standard-margin accounts are evaluated by `StandardMarginKernel`
/// (the calculator's numbers without its explanation), the others by `MarginCalculator`.
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

    public let catalogue: MarginCatalogue
    let underlying: [String: String]
    /// Slots, in parallel arrays (re-margining reads modes and compiled forms and writes
    /// statuses without copying the accounts); freed slots are reused.
    var accounts: [Account?] = []
    var assetsOf: [Set<String>] = []
    var modes: [MarginMode] = []
    var compiled: [CompiledAccount] = []
    var statuses: [AccountStatus?] = []
    var ratios: [Double?] = []
    var slotOf: [String: Int] = [:]
    var free: [Int] = []
    /// asset -> slots of the accounts that hold it.
    var holders: [String: Set<Int>] = [:]

    public init(book: MarginBook) {
        catalogue = MarginCatalogue(book: book)
        underlying = book.instruments.mapValues(\.underlying)
    }

    public var count: Int { slotOf.count }

    func entry(slot: Int) -> Entry? {
        accounts[slot].map {
            Entry(account: $0, mode: modes[slot], assets: assetsOf[slot], status: statuses[slot], ratio: ratios[slot])
        }
    }
    public func entry(_ id: String) -> Entry? { slotOf[id].flatMap(entry(slot:)) }
    public var entries: [Entry] { accounts.indices.compactMap(entry(slot:)) }

    /// Adds or replaces an account. A replaced account keeps its last status until it is
    /// evaluated again (so that a change of the account that changes its status is
    /// reported as one).
    public mutating func set(_ account: Account, mode: MarginMode) {
        let previous = slotOf[account.id].map { (statuses[$0], ratios[$0]) }
        remove(account.id)
        var assets = Set(account.collateral.map(\.asset))
        for p in account.positions { if let u = underlying[p.instrument] { assets.insert(u) } }
        let slot: Int
        if let f = free.popLast() {
            slot = f
        } else {
            slot = accounts.count
            accounts.append(nil)
            assetsOf.append([])
            modes.append(.standard)
            compiled.append(CompiledAccount())
            statuses.append(nil)
            ratios.append(nil)
        }
        accounts[slot] = account
        assetsOf[slot] = assets
        modes[slot] = mode
        compiled[slot] = catalogue.compile(account)
        statuses[slot] = previous?.0 ?? nil
        ratios[slot] = previous?.1 ?? nil
        slotOf[account.id] = slot
        for a in assets { holders[a, default: []].insert(slot) }
    }

    public mutating func remove(_ id: String) {
        guard let slot = slotOf.removeValue(forKey: id) else { return }
        for a in assetsOf[slot] {
            holders[a]?.remove(slot)
            if holders[a]?.isEmpty == true { holders[a] = nil }
        }
        accounts[slot] = nil
        assetsOf[slot] = []
        compiled[slot] = CompiledAccount()
        statuses[slot] = nil
        ratios[slot] = nil
        free.append(slot)
    }

    /// The slots of the accounts holding any of `assets`.
    func affected(by assets: Set<String>) -> [Int] {
        if assets.count == 1, let a = assets.first { return Array(holders[a] ?? []) }
        var slots = Set<Int>()
        for a in assets { if let h = holders[a] { slots.formUnion(h) } }
        return Array(slots)
    }

    /// Re-evaluates the accounts holding any of `assets` (every account when nil) at
    /// `calculator`'s book on all cores, records each one's status and returns the changes
    /// (an account's first evaluation is not a change). Accounts that cannot be evaluated
    /// keep no status. - Returns: how many were evaluated, and the changes.
    public mutating func remargin(assets: Set<String>?, calculator: MarginCalculator, sequence: Int64) -> (
        evaluated: Int, changes: [Change]
    ) {
        remargin(slots: assets.map(affected(by:)) ?? Array(slotOf.values), calculator: calculator, sequence: sequence)
    }

    /// Re-evaluates the accounts `ids` (unknown ids are skipped); as `remargin(assets:)`.
    public mutating func remargin(ids: [String], calculator: MarginCalculator, sequence: Int64) -> (
        evaluated: Int, changes: [Change]
    ) {
        remargin(slots: ids.compactMap { slotOf[$0] }, calculator: calculator, sequence: sequence)
    }

    mutating func remargin(slots targets: [Int], calculator: MarginCalculator, sequence: Int64) -> (
        evaluated: Int, changes: [Change]
    ) {
        var calc = calculator
        calc.explaining = false
        calc.liquidationPrices = false
        // standard margin through the kernel; portfolio margin and what it cannot take through the calculator
        let kernel = StandardMarginKernel(calculator: calc, catalogue: catalogue)
        var standard: [Int] = []
        var rest: [Int] = []
        standard.reserveCapacity(targets.count)
        for t in targets {
            if modes[t] == .standard && compiled[t].kernelEvaluable { standard.append(t) } else { rest.append(t) }
        }
        let figures = kernel.evaluate(compiled, indices: standard)
        var changes: [Change] = []
        func record(_ slot: Int, _ status: AccountStatus?, _ ratio: Double?) {
            if let old = statuses[slot], let status, old != status, let id = accounts[slot]?.id {
                changes.append(Change(id: id, old: old, new: status, marginRatio: ratio, sequence: sequence))
            }
            statuses[slot] = status
            ratios[slot] = ratio
        }
        for (slot, f) in zip(standard, figures) {
            record(slot, f?.status, f.flatMap { $0.equity > 0 ? $0.maintenanceMargin / $0.equity : nil })
        }
        for mode in MarginMode.allCases {
            let group = rest.filter { modes[$0] == mode && accounts[$0] != nil }
            guard !group.isEmpty else { continue }
            let evaluated = calc.evaluateAll(group.compactMap { accounts[$0] }, mode: mode)
            for (slot, r) in zip(group, evaluated) {
                switch r {
                case .success(let res):
                    record(slot, res.status, res.equity > 0 ? res.maintenanceMargin / res.equity : nil)
                case .failure: record(slot, nil, nil)
                }
            }
        }
        return (targets.count, changes.sorted { $0.id < $1.id })
    }
}
