import Foundation
import TOMLKit
import VolScaleCore
import VolScaleData
import VolScaleMargin
import VolScaleRisk

/// Reads an accounts file (JSON): `{"accounts": [...]}` or a bare array. Each account:
/// `{"id": "...", "collateral": {"USD": 1000, "BTC": 0.5} | [{"asset": "USD", "quantity": 1000}],
///   "positions": [{"instrument": "BTC-PERP", "quantity": -2, "entryPrice": 61000, "impliedVolatility": 0.6}]}`.
/// A malformed account is reported with its id and field; the others are still read.
public enum AccountsFile {
    /// A JSON number (never a boolean), nil for anything else or nothing.
    public static func number(_ v: JSON?) -> Double? { v?.number }

    public static func read(path: String) throws(ConfigError) -> (accounts: [Account], errors: [AccountError]) {
        let data = try ConfigFile.data(path, limit: ConfigFile.accountsLimit)
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws(ConfigError) -> (
        accounts: [Account], errors: [AccountError]
    ) {
        let json: JSON
        do throws(RequestError) { json = try Requests.json(data) } catch {
            throw ConfigError(file: path, location: "", reason: error.reason)
        }
        let list: [JSON]
        if let a = json.array {
            list = a
        } else if let a = json["accounts"]?.array {
            list = a
        } else {
            throw ConfigError(
                file: path, location: "", reason: "expected an array of accounts or {\"accounts\": [...]}")
        }
        var accounts: [Account] = []
        var errors: [AccountError] = []
        var ids = Set<String>()
        for (i, item) in list.enumerated() {
            let fallbackID = "#\(i + 1)"
            guard let o = item.dictionary else {
                errors.append(AccountError(accountId: fallbackID, field: "account", reason: "not an object"))
                continue
            }
            let id =
                o["id"]?.string ?? o["id"]?.number.map {
                    $0 == $0.rounded() && Swift.abs($0) < 1e15 ? String(Int64($0)) : String($0)
                } ?? fallbackID
            guard o["id"] != nil else {
                errors.append(AccountError(accountId: id, field: "id", reason: "missing"))
                continue
            }
            guard ids.insert(id).inserted else {
                errors.append(AccountError(accountId: id, field: "id", reason: "duplicate account id"))
                continue
            }
            switch account(o, id: id) {
            case .success(let a): accounts.append(a)
            case .failure(let e): errors.append(e)
            }
        }
        return (accounts, errors)
    }

    /// One account from a decoded JSON object (fields: id, collateral, positions), every
    /// number within `AccountLimits`.
    public static func account(_ o: [String: JSON], id: String) -> Result<Account, AccountError> {
        func fail(_ field: String, _ reason: String) -> Result<Account, AccountError> {
            .failure(AccountError(accountId: id, field: field, reason: reason))
        }
        for k in o.keys.sorted() where !["id", "collateral", "positions"].contains(k) {
            return fail(k, "unknown field")
        }
        guard !id.isEmpty, id.unicodeScalars.count <= AccountLimits.maxNameLength else {
            return fail("id", "expected 1 to \(AccountLimits.maxNameLength) characters")
        }
        /// A balance, or why not: "not a number" or out of bounds.
        func balance(_ v: JSON?) -> Result<Double, AccountError> {
            guard let n = number(v) else {
                return .failure(AccountError(accountId: id, field: "", reason: "not a number"))
            }
            guard n.isFinite, Swift.abs(n) <= AccountLimits.maxCollateral else {
                return .failure(AccountError(accountId: id, field: "", reason: "expected a number in [-1e15, 1e15]"))
            }
            return .success(n)
        }
        var collateral: [(asset: String, quantity: Double)] = []
        if let c = o["collateral"]?.dictionary {
            guard c.count <= AccountLimits.maxCollateralAssets else {
                return fail("collateral", "more than \(AccountLimits.maxCollateralAssets) assets")
            }
            for (asset, q) in c.sorted(by: { $0.key < $1.key }) {
                switch balance(q) {
                case .success(let n): collateral.append((asset, n))
                case .failure(let e): return fail("collateral.\(asset)", e.reason)
                }
            }
        } else if let c = o["collateral"]?.array {
            guard c.count <= AccountLimits.maxCollateralAssets else {
                return fail("collateral", "more than \(AccountLimits.maxCollateralAssets) assets")
            }
            for (j, item) in c.enumerated() {
                guard let e = item.dictionary, let asset = e["asset"]?.string else {
                    return fail("collateral[\(j)]", "needs asset and quantity")
                }
                guard !asset.isEmpty, asset.unicodeScalars.count <= AccountLimits.maxNameLength else {
                    return fail("collateral[\(j)].asset", "expected 1 to \(AccountLimits.maxNameLength) characters")
                }
                for k in e.keys.sorted() where !["asset", "quantity"].contains(k) {
                    return fail("collateral[\(j)].\(k)", "unknown field")
                }
                switch balance(e["quantity"]) {
                case .success(let n): collateral.append((asset, n))
                case .failure(let err): return fail("collateral[\(j)].quantity", err.reason)
                }
            }
        } else if o["collateral"] != nil {
            return fail("collateral", "expected an object or an array")
        }
        var positions: [Position] = []
        if let p = o["positions"], p.array == nil { return fail("positions", "expected an array") }
        let list = o["positions"]?.array ?? []
        guard list.count <= AccountLimits.maxPositions else {
            return fail("positions", "more than \(AccountLimits.maxPositions) positions")
        }
        for (j, e) in list.enumerated() {
            // one pass over the members (no dictionary per position: this is the what-if hot path)
            guard let members = e.members else { return fail("positions[\(j)]", "not an object") }
            var p: (instrument: JSON?, quantity: JSON?, entryPrice: JSON?, impliedVolatility: JSON?) = (
                nil, nil, nil, nil
            )
            var unknown: [String] = []
            for m in members {
                switch m.key {
                case "instrument": p.instrument = m.value
                case "quantity": p.quantity = m.value
                case "entryPrice": p.entryPrice = m.value
                case "impliedVolatility": p.impliedVolatility = m.value
                default: unknown.append(m.key)
                }
            }
            if let k = unknown.min() { return fail("positions[\(j)].\(k)", "unknown field") }
            guard let inst = p.instrument?.string else {
                return fail("positions[\(j)].instrument", p.instrument == nil ? "missing" : "expected a string")
            }
            guard !inst.isEmpty, inst.unicodeScalars.count <= AccountLimits.maxNameLength else {
                return fail("positions[\(j)].instrument", "expected 1 to \(AccountLimits.maxNameLength) characters")
            }
            guard let q = number(p.quantity) else {
                return fail("positions[\(j)].quantity", p.quantity == nil ? "missing" : "not a number")
            }
            guard q.isFinite, Swift.abs(q) <= AccountLimits.maxQuantity else {
                return fail("positions[\(j)].quantity", "expected a number in [-1e12, 1e12]")
            }
            var entry: Double?
            var iv: Double?
            if let v = p.entryPrice {
                guard let n = number(v), n >= AccountLimits.minPrice, n <= AccountLimits.maxPrice else {
                    return fail("positions[\(j)].entryPrice", "expected a number in [1e-12, 1e12]")
                }
                entry = n
            }
            if let v = p.impliedVolatility {
                guard let n = number(v), n > 0, n <= AccountLimits.maxImpliedVolatility else {
                    return fail(
                        "positions[\(j)].impliedVolatility",
                        "expected an annualised decimal in (0, \(AccountLimits.maxImpliedVolatility)]")
                }
                iv = n
            }
            positions.append(Position(instrument: inst, quantity: q, entryPrice: entry, impliedVolatility: iv))
        }
        return .success(Account(id: id, collateral: collateral, positions: positions))
    }
}
