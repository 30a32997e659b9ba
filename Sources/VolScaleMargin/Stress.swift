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
        let text = given.sorted { $0.key < $1.key }.map { "\($0.key) \(MarginCalculator.pct(Double.expMinusOne($0.value)))" }.joined(separator: ", ")
        return StressShock(label: "\(text), others at correlation \(rho)", moves: moves)
    }
}

/// One round of a stress cascade.
public struct StressRound: Sendable {
    public var round: Int
    /// Prices at which the accounts were evaluated.
    public var prices: [String: Double]
    /// Accounts found liquidatable for the first time in this round.
    public var newlyLiquidatable: [String]
    /// Sum over those accounts of max(0, -equity): losses beyond their collateral.
    public var shortfall: Double
    /// Net units of each asset sold (negative: bought) by those liquidations.
    public var liquidationFlow: [String: Double]
    /// Log price impact applied before the next round.
    public var impact: [String: Double]
}

/// The result of a stress run.
public struct StressReport: Sendable {
    public var shock: StressShock
    public var rounds: [StressRound]
    public var accounts: Int
    public var failed: [AccountError]

    public var liquidatable: Int { rounds.reduce(0) { $0 + $1.newlyLiquidatable.count } }
    public var shortfall: Double { rounds.reduce(0) { $0 + $1.shortfall } }
}

extension MarginBook {
    /// The same book with other prices.
    public func with(prices: [String: Double]) -> MarginBook {
        var b = self
        for (k, p) in prices where b.assets[k] != nil { b.assets[k]!.price = p }
        return b
    }
}

/// Applies a shock to every account, then runs the liquidation cascade: the positions
/// and collateral of newly liquidatable accounts are sold, each asset's price moves by
/// the square-root impact rule `kappa sigma sqrt(|flow value| / ADV)` against the flow,
/// and the next round is evaluated at the new prices, until a round liquidates nobody
/// (each account is liquidated at most once, so it always stops).
public enum StressTest {
    public static func run(book: MarginBook, accounts: [Account], mode: MarginMode, shock: StressShock, maxRounds: Int = 100) -> StressReport {
        var prices = book.assets.mapValues(\.price)
        for (a, m) in shock.moves { if let p = prices[a] { prices[a] = p * Double.exp(m) } }
        var liquidated = Set<String>()
        var rounds: [StressRound] = []
        var failed: [AccountError] = []
        for r in 1...maxRounds {
            let shocked = book.with(prices: prices)
            let calc = MarginCalculator(book: shocked)
            let results = calc.evaluateAll(accounts, mode: mode)
            var newly: [String] = []
            var shortfall = 0.0
            var flow: [String: Double] = [:]
            for (i, res) in results.enumerated() {
                switch res {
                case let .failure(e):
                    if r == 1 { failed.append(e) }
                case let .success(result):
                    guard result.status == .liquidatable, !liquidated.contains(result.accountId) else { continue }
                    liquidated.insert(result.accountId)
                    newly.append(result.accountId)
                    shortfall += max(0, -result.equity)
                    for (asset, units) in exposure(accounts[i], calc: calc) { flow[asset, default: 0] += units }
                }
            }
            var impact: [String: Double] = [:]
            for (asset, units) in flow {
                guard let a = shocked.assets[asset], a.volatility > 0, let p = prices[asset] else { continue }
                let value = Swift.abs(units) * p
                let move = shocked.settings.kappa * a.volatility * (value / a.averageDailyVolume).squareRoot()
                impact[asset] = units > 0 ? -move : move
            }
            rounds.append(StressRound(round: r, prices: prices, newlyLiquidatable: newly, shortfall: shortfall, liquidationFlow: flow, impact: impact))
            if newly.isEmpty { break }
            for (a, m) in impact { prices[a] = prices[a]! * Double.exp(m) }
        }
        return StressReport(shock: shock, rounds: rounds, accounts: accounts.count, failed: failed)
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
            guard let inst = calc.book.instruments[p.instrument], let a = calc.book.assets[inst.underlying] else { continue }
            switch inst.kind {
            case .spot: out[inst.underlying, default: 0] += p.quantity
            case .linear: out[inst.underlying, default: 0] += p.quantity * inst.multiplier
            case .inverse: out[inst.underlying, default: 0] += p.quantity * inst.multiplier / a.price
            case let .option(type, strike, expiry):
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
