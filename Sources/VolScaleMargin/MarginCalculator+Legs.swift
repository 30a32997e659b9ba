import RealModule
import VolScaleCore
import VolScaleRisk

/// An account resolved against the book: netted legs and collateral holdings, each checked.
extension MarginCalculator {
    /// A netted position with everything needed to value it.
    struct Leg {
        var instrument: Instrument
        var asset: AssetRisk
        var quantity: Double
        /// (quantity, entry) of each original position, for P&L.
        var entries: [(Double, Double)]
        var iv: Double?

        /// Coefficient on the unit-change rows: value change = coefficient * row.
        var coefficient: Double {
            switch instrument.kind {
            case .spot: return quantity
            case .linear: return quantity * instrument.multiplier
            case .inverse:
                // value = Q (1/E - 1/P) P = Q (P/E - 1): linear in P with slope Q/E per leg
                return entries.reduce(0) { $0 + $1.0 * instrument.multiplier / $1.1 }
            case .option: return quantity
            }
        }

        /// Notional in the settlement currency.
        func notional(price: Double) -> Double {
            MarginRule.notional(
                inverse: instrument.kind.isInverse, quantity: quantity, multiplier: instrument.multiplier, price: price)
        }

        /// Mark value in the settlement currency: unrealised P&L for futures, option value.
        func value(price: Double, volShock: Double = 0) -> Double {
            switch instrument.kind {
            case .spot: return quantity * price
            case .linear, .inverse:
                let inverse = instrument.kind.isInverse
                return entries.reduce(0) {
                    $0
                        + MarginRule.entryPnL(
                            inverse: inverse, quantity: $1.0, multiplier: instrument.multiplier, price: price,
                            entry: $1.1)
                }
            case .option(let type, let strike, let expiry):
                return quantity * instrument.multiplier
                    * Black76.price(
                        forward: price, strike: strike, volatility: (iv ?? 0) * (1 + volShock), expiry: expiry,
                        type: type)
            }
        }
    }

    func resolve(_ account: Account) throws(AccountError) -> (legs: [Leg], collateral: [(AssetRisk, Double)]) {
        func fail(_ field: String, _ reason: String) -> AccountError {
            AccountError(accountId: account.id, field: field, reason: reason)
        }
        var collateral: [(AssetRisk, Double)] = []
        var seenAssets = Set<String>()
        for (i, c) in account.collateral.enumerated() {
            guard c.quantity.isFinite else { throw fail("collateral[\(i)] \(c.asset).quantity", "not a finite number") }
            guard let a = book.assets[c.asset] else {
                throw fail("collateral[\(i)].asset", "unknown asset '\(c.asset)'")
            }
            guard a.price > 0, a.price.isFinite else {
                throw fail("collateral[\(i)].asset", "no price for '\(c.asset)'")
            }
            guard seenAssets.insert(c.asset).inserted else {
                throw fail("collateral[\(i)].asset", "'\(c.asset)' listed twice")
            }
            collateral.append((a, c.quantity))
        }
        var legs: [String: Leg] = [:]
        var order: [String] = []
        for (i, p) in account.positions.enumerated() {
            func field() -> String { "positions[\(i)]" }  // built only for an error
            guard p.quantity.isFinite else { throw fail("\(field()).quantity", "not a finite number") }
            guard let inst = book.instruments[p.instrument] else {
                throw fail("\(field()).instrument", "unknown instrument '\(p.instrument)'")
            }
            guard let asset = book.assets[inst.underlying] else {
                throw fail("\(field()).instrument", "no risk parameters for underlying '\(inst.underlying)'")
            }
            guard asset.price > 0, asset.price.isFinite else {
                throw fail("\(field()).instrument", "missing price for '\(inst.underlying)'")
            }
            var entry = asset.price
            switch inst.kind {
            case .linear, .inverse:
                guard let e = p.entryPrice else { throw fail("\(field()).entryPrice", "missing for \(p.instrument)") }
                guard e > 0, e.isFinite else { throw fail("\(field()).entryPrice", "must be a positive price") }
                entry = e
            case .option:
                let iv = p.impliedVolatility ?? inst.impliedVolatility
                guard let iv else {
                    throw fail("\(field()).impliedVolatility", "option \(p.instrument) has no implied volatility")
                }
                guard iv > 0, iv.isFinite else { throw fail("\(field()).impliedVolatility", "must be positive") }
            case .spot:
                throw fail("\(field()).instrument", "'\(p.instrument)' is a spot asset: list it under collateral")
            }
            if var leg = legs[p.instrument] {
                if let piv = p.impliedVolatility, leg.iv != piv, leg.iv != nil, inst.isOption {
                    throw fail("\(field()).impliedVolatility", "differs from an earlier position in \(p.instrument)")
                }
                leg.quantity += p.quantity
                leg.entries.append((p.quantity, entry))
                legs[p.instrument] = leg
            } else {
                legs[p.instrument] = Leg(
                    instrument: inst, asset: asset, quantity: p.quantity, entries: [(p.quantity, entry)],
                    iv: p.impliedVolatility ?? inst.impliedVolatility)
                order.append(p.instrument)
            }
        }
        return (order.map { legs[$0]! }, collateral)
    }
}
