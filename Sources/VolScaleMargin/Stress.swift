import RealModule
import VolScaleCore

/// A book-wide price shock: a log return per asset.
public struct StressShock: Sendable, Equatable {
    public var label: String
    /// Log return per asset (assets not listed do not move).
    public var moves: [String: Double]

    public init(label: String, moves: [String: Double]) {
        self.label = label
        self.moves = moves
    }

    /// Moves given for some assets, the others moved by a stressed correlation `rho`:
    /// each unspecified asset b moves `rho * sigma_b * mean(move_a / sigma_a)` over the
    /// given assets a (their average move in units of their own daily volatility).
    public static func withCorrelation(_ given: [String: Double], rho: Double, book: MarginBook) -> StressShock {
        let zs = given.compactMap { a, m -> Double? in
            guard let s = book.assets[a]?.volatility, s > 0 else { return nil }
            return m / s
        }
        let z = zs.isEmpty ? 0 : zs.reduce(0, +) / Double(zs.count)
        var moves = given
        for (name, asset) in book.assets where moves[name] == nil && asset.volatility > 0 {
            moves[name] = rho * asset.volatility * z
        }
        let text = given.sorted { $0.key < $1.key }.map {
            "\($0.key) \(MarginCalculator.pct(Double.expMinusOne($0.value)))"
        }.joined(separator: ", ")
        return StressShock(label: "\(text), others at correlation \(rho)", moves: moves)
    }
}

/// Correlations between assets for spreading a move from the assets that are sold to the
/// others: a symmetric matrix with unit diagonal over named assets.
public struct StressCorrelation: Sendable, Equatable {
    public let assets: [String]
    /// Row-major `assets.count` squared.
    public let matrix: [Double]

    /// Checked: square, symmetric (1e-12), unit diagonal, entries in [-1, 1], distinct names.
    public init(assets: [String], matrix: [Double]) throws(StressError) {
        let n = assets.count
        guard Set(assets).count == n else { throw .invalid("correlation: asset names repeat") }
        guard matrix.count == n * n else {
            throw .invalid("correlation: \(n) assets need \(n * n) entries, got \(matrix.count)")
        }
        for i in 0..<n {
            guard Swift.abs(matrix[i * n + i] - 1) <= 1e-12 else {
                throw .invalid("correlation: diagonal of \(assets[i]) is not 1")
            }
            for j in 0..<n {
                let v = matrix[i * n + j]
                guard v.isFinite, v >= -1, v <= 1, Swift.abs(v - matrix[j * n + i]) <= 1e-12 else {
                    throw .invalid("correlation: \(assets[i])/\(assets[j]) must be symmetric and in [-1, 1]")
                }
            }
        }
        self.assets = assets
        self.matrix = matrix
    }

    /// The same correlation `rho` between every pair (a stressed correlation).
    public static func uniform(_ rho: Double, assets: [String]) throws(StressError) -> StressCorrelation {
        guard rho >= -1, rho <= 1 else { throw .invalid("correlation must be in [-1, 1], got \(rho)") }
        let n = assets.count
        return try StressCorrelation(assets: assets, matrix: (0..<(n * n)).map { $0 / n == $0 % n ? 1 : rho })
    }

    /// nil when either asset is not covered.
    public func rho(_ a: String, _ b: String) -> Double? {
        guard let i = assets.firstIndex(of: a), let j = assets.firstIndex(of: b) else { return nil }
        return matrix[i * assets.count + j]
    }
}

public enum StressError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let why): return why
        }
    }
}

/// How a cascade spreads and what absorbs its losses.
public struct CascadeSettings: Sendable, Equatable {
    /// Carries the liquidation impact on the assets sold to the others (nil: no contagion).
    public let correlation: StressCorrelation?
    /// EWMA decay for re-estimating each asset's daily volatility between rounds from the
    /// round's log move, `sigma^2 <- lambda sigma^2 + (1 - lambda) m^2` (1: fixed volatility).
    public let lambda: Double
    /// Insurance fund at the start, settlement currency.
    public let insuranceFund: Double
    public let maxRounds: Int

    public init(
        correlation: StressCorrelation? = nil, lambda: Double = EWMA.riskMetricsLambda, insuranceFund: Double = 0,
        maxRounds: Int = 100
    ) throws(StressError) {
        guard lambda > 0, lambda <= 1 else { throw .invalid("lambda must be in (0, 1], got \(lambda)") }
        guard insuranceFund.isFinite, insuranceFund >= 0 else {
            throw .invalid("the insurance fund must be finite and non-negative")
        }
        guard maxRounds >= 1, maxRounds <= 10_000 else { throw .invalid("rounds must be between 1 and 10000") }
        self.correlation = correlation
        self.lambda = lambda
        self.insuranceFund = insuranceFund
        self.maxRounds = maxRounds
    }

    /// The cascade as it was before contagion: no spill-over, volatility fixed, no fund.
    public static let isolated = CascadeSettings(uncheckedLambda: 1)

    private init(uncheckedLambda: Double) {
        correlation = nil
        lambda = uncheckedLambda
        insuranceFund = 0
        maxRounds = 100
    }
}

/// One round of a stress cascade.
public struct StressRound: Sendable {
    public let round: Int
    /// Log move applied to each asset at the start of the round (the shock in round 1,
    /// the previous round's impact and spill-over after).
    public let moves: [String: Double]
    /// Prices at which the accounts were evaluated.
    public let prices: [String: Double]
    /// Daily volatilities (decimal) the round's haircuts and rates used.
    public let volatility: [String: Double]
    /// Accounts found liquidatable for the first time in this round.
    public let newlyLiquidatable: [String]
    /// Sum over those accounts of max(0, -equity): losses beyond their collateral.
    public let shortfall: Double
    /// Part of the shortfall the insurance fund paid, and what is left in it.
    public let insurancePaid: Double
    public let insuranceFund: Double
    /// Auto-deleveraging: profit taken from each account (settlement currency) to cover
    /// what the fund could not, most profitable (by gain over starting equity) first.
    public let deleveraged: [(account: String, amount: Double)]
    /// Shortfall neither the fund nor deleveraging covered.
    public let uncovered: Double
    /// Net units of each asset sold (negative: bought) by those liquidations.
    public let liquidationFlow: [String: Double]
    /// Log price impact of the liquidation flow on each asset sold or bought.
    public let impact: [String: Double]
    /// Log move carried to the other assets by the correlation.
    public let spillover: [String: Double]
}

/// The result of a stress run.
public struct StressReport: Sendable {
    public let shock: StressShock
    public let cascade: CascadeSettings
    public let rounds: [StressRound]
    public let accounts: Int
    public let failed: [AccountError]

    public var liquidatable: Int { rounds.reduce(0) { $0 + $1.newlyLiquidatable.count } }
    public var shortfall: Double { rounds.reduce(0) { $0 + $1.shortfall } }
    public var insurancePaid: Double { rounds.reduce(0) { $0 + $1.insurancePaid } }
    public var deleveraged: Double { rounds.reduce(0) { $0 + $1.deleveraged.reduce(0) { $0 + $1.amount } } }
    public var uncovered: Double { rounds.reduce(0) { $0 + $1.uncovered } }
}

extension MarginBook {
    /// The same book with other prices.
    public func with(prices: [String: Double]) -> MarginBook {
        var b = self
        for (k, p) in prices {
            guard var a = b.assets[k] else { continue }
            a.price = p
            b.assets[k] = a
        }
        return b
    }

    /// The book after a round's log moves, with each moved asset's volatility re-estimated by
    /// one EWMA step on its move, published parameters dropped (they were made before the
    /// move), and option implied volatilities scaled by the same ratio as the realised one;
    /// returns the ratio per asset too, for the implied volatilities given on positions.
    func reestimated(after moves: [String: Double], lambda: Double) -> (book: MarginBook, ratio: [String: Double]) {
        guard lambda < 1 else { return (self, [:]) }
        var b = self
        var ratio: [String: Double] = [:]
        for (name, m) in moves {
            guard var a = b.assets[name], a.volatility > 0 else { continue }
            let v = (lambda * a.volatility * a.volatility + (1 - lambda) * m * m).squareRoot()
            ratio[name] = v / a.volatility
            a.volatility = v
            a.published = nil
            b.assets[name] = a
        }
        for (symbol, var inst) in b.instruments {
            if let r = ratio[inst.underlying], let iv = inst.impliedVolatility {
                inst.impliedVolatility = iv * r
                b.instruments[symbol] = inst
            }
        }
        return (b, ratio)
    }
}

/// Applies a shock to every account, then runs the liquidation cascade.
///
/// Round 1 evaluates every account at the shocked prices with the parameters of before the
/// shock. The positions and collateral of newly liquidatable accounts are sold; each asset
/// sold moves by the square-root impact rule `kappa sigma sqrt(|flow value| / ADV)` against
/// the flow, and the other assets move with it through the correlation: the conditional
/// mean `Sigma_BS Sigma_SS^-1 m_S` of their log moves given the impacts `m_S` (for one asset
/// sold, `rho sigma_b / sigma_a m_a`). Between rounds each asset's volatility is
/// re-estimated from its move (one EWMA step, as the live engine would on a new bar), so
/// haircuts, rates and the next impacts follow it. A round's shortfall (losses beyond the
/// collateral of the accounts liquidated) is paid by the insurance fund while it lasts;
/// the rest is taken from the profits of the other accounts (auto-deleveraging, most
/// profitable first, as settlement-currency debits that later rounds see). It stops when
/// a round liquidates nobody (each account is liquidated at most once) or at `maxRounds`.
public enum StressTest {
    public static func run(
        book: MarginBook, accounts: [Account], mode: MarginMode, shock: StressShock,
        cascade: CascadeSettings = .isolated
    ) -> StressReport {
        var current = book
        var accounts = accounts
        let baseline = MarginCalculator(book: book).evaluateAll(accounts, mode: mode).map { try? $0.get().equity }
        var move = shock.moves.filter { book.assets[$0.key] != nil }
        var fund = cascade.insuranceFund
        var liquidated = Set<String>()
        var rounds: [StressRound] = []
        var failed: [AccountError] = []
        var previousMove: [String: Double] = [:]
        for r in 1...cascade.maxRounds {
            let (next, ratio) = current.reestimated(after: previousMove, lambda: cascade.lambda)
            current = next
            if !ratio.isEmpty {
                for i in accounts.indices {
                    for (k, p) in accounts[i].positions.enumerated() {
                        guard let iv = p.impliedVolatility, let u = current.instruments[p.instrument]?.underlying,
                            let f = ratio[u]
                        else { continue }
                        accounts[i].positions[k].impliedVolatility = iv * f
                    }
                }
            }
            var moved: [String: Double] = [:]
            for (name, m) in move { if let a = current.assets[name] { moved[name] = a.price * Double.exp(m) } }
            current = current.with(prices: moved)
            let calc = MarginCalculator(book: current)
            let results = calc.evaluateAll(accounts, mode: mode)
            var newly: [String] = []
            var shortfall = 0.0
            var flow: [String: Double] = [:]
            for (i, res) in results.enumerated() {
                switch res {
                case .failure(let e):
                    if r == 1 { failed.append(e) }
                case .success(let result):
                    guard result.status == .liquidatable, !liquidated.contains(result.accountId) else { continue }
                    liquidated.insert(result.accountId)
                    newly.append(result.accountId)
                    shortfall += max(0, -result.equity)
                    for (asset, units) in exposure(accounts[i], calc: calc) { flow[asset, default: 0] += units }
                }
            }
            let paid = min(fund, shortfall)
            fund -= paid
            var residual = shortfall - paid
            // auto-deleveraging: the most profitable surviving accounts give up profit
            var deleveraged: [(account: String, amount: Double)] = []
            if residual > 0 {
                var gains: [(index: Int, gain: Double, ratio: Double)] = []
                for (i, res) in results.enumerated() {
                    guard case .success(let now) = res, !liquidated.contains(now.accountId), let base = baseline[i]
                    else { continue }
                    let gain = now.equity - base
                    if gain > 0 { gains.append((i, gain, gain / max(Swift.abs(base), 1e-9))) }
                }
                for g in gains.sorted(by: {
                    $0.ratio != $1.ratio ? $0.ratio > $1.ratio : accounts[$0.index].id < accounts[$1.index].id
                }) where residual > 0 {
                    let take = min(g.gain, residual)
                    residual -= take
                    deleveraged.append((accounts[g.index].id, take))
                    if current.assets[current.settings.settlement] != nil {
                        accounts[g.index].collateral.append((current.settings.settlement, -take))
                    }
                }
            }
            var impact: [String: Double] = [:]
            for (asset, units) in flow {
                guard let a = current.assets[asset], a.volatility > 0, units != 0 else { continue }
                let value = Swift.abs(units) * a.price
                let m = current.settings.kappa * a.volatility * (value / a.averageDailyVolume).squareRoot()
                impact[asset] = units > 0 ? -m : m
            }
            let spill = cascade.correlation.map { spillover(impact, book: current, correlation: $0) } ?? [:]
            rounds.append(
                StressRound(
                    round: r, moves: move, prices: current.assets.mapValues(\.price),
                    volatility: current.assets.mapValues(\.volatility), newlyLiquidatable: newly, shortfall: shortfall,
                    insurancePaid: paid, insuranceFund: fund, deleveraged: deleveraged, uncovered: residual,
                    liquidationFlow: flow, impact: impact, spillover: spill))
            if newly.isEmpty { break }
            previousMove = move
            move = impact.merging(spill) { $0 + $1 }
        }
        return StressReport(shock: shock, cascade: cascade, rounds: rounds, accounts: accounts.count, failed: failed)
    }

    /// Moves of the assets not sold, given the impacts on those sold: the conditional mean of
    /// a joint normal with the book's volatilities and `correlation`.
    static func spillover(_ impact: [String: Double], book: MarginBook, correlation: StressCorrelation) -> [String:
        Double]
    {
        let sold = impact.keys.filter {
            impact[$0] != 0 && (book.assets[$0]?.volatility ?? 0) > 0 && correlation.rho($0, $0) != nil
        }.sorted()
        guard !sold.isEmpty else { return [:] }
        let others = book.assets.keys.filter {
            impact[$0] == nil && (book.assets[$0]?.volatility ?? 0) > 0 && correlation.rho($0, $0) != nil
        }.sorted()
        let n = sold.count
        let sigma = { (a: String) in book.assets[a]?.volatility ?? 0 }
        var cov = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                cov[i * n + j] = (correlation.rho(sold[i], sold[j]) ?? 0) * sigma(sold[i]) * sigma(sold[j])
            }
        }
        // weights w = Sigma_SS^-1 m_S; a singular block (perfectly correlated sales) falls back
        // to the average move in sigmas
        let m = sold.map { impact[$0] ?? 0 }
        var out: [String: Double] = [:]
        if let inv = DenseMatrix.inverse(cov, n: n) {
            let w = (0..<n).map { i in (0..<n).reduce(0.0) { $0 + inv[i * n + $1] * m[$1] } }
            for b in others {
                out[b] = (0..<n).reduce(0.0) {
                    $0 + (correlation.rho(b, sold[$1]) ?? 0) * sigma(b) * sigma(sold[$1]) * w[$1]
                }
            }
        } else {
            for b in others {
                out[b] =
                    (0..<n).reduce(0.0) {
                        $0 + (correlation.rho(b, sold[$1]) ?? 0) * sigma(b) * m[$1] / sigma(sold[$1])
                    } / Double(n)
            }
        }
        return out.filter { $0.value != 0 }
    }

    /// Units of each asset that closing the account sells (positive) or buys (negative):
    /// long exposures are sold, short ones bought back, options by their delta; non-settlement
    /// collateral is sold and borrowed balances bought back.
    static func exposure(_ account: Account, calc: MarginCalculator) -> [String: Double] {
        var out: [String: Double] = [:]
        for c in account.collateral where calc.book.assets[c.asset]?.volatility ?? 0 > 0 {
            out[c.asset, default: 0] += c.quantity
        }
        for p in account.positions {
            guard let inst = calc.book.instruments[p.instrument], let a = calc.book.assets[inst.underlying] else {
                continue
            }
            switch inst.kind {
            case .spot: out[inst.underlying, default: 0] += p.quantity
            case .linear: out[inst.underlying, default: 0] += p.quantity * inst.multiplier
            case .inverse: out[inst.underlying, default: 0] += p.quantity * inst.multiplier / a.price
            case .option(let type, let strike, let expiry):
                let iv = p.impliedVolatility ?? inst.impliedVolatility ?? 0
                let s = iv * expiry.squareRoot()
                guard s > 0 else { continue }
                let d1 = (Double.log(a.price / strike) + 0.5 * s * s) / s
                let delta = type == .call ? Special.normalCDF(d1) : Special.normalCDF(d1) - 1
                out[inst.underlying, default: 0] += p.quantity * inst.multiplier * delta
            }
        }
        return out
    }
}
