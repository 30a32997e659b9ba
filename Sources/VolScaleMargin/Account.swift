/// A position in one instrument. Positive quantity = long, in contracts.
public struct Position: Sendable, Equatable {
    public var instrument: String
    public var quantity: Double
    /// Average entry price (linear and inverse contracts).
    public var entryPrice: Double?
    /// Implied volatility for an option (annualised decimal), overriding the instrument's.
    public var impliedVolatility: Double?

    public init(instrument: String, quantity: Double, entryPrice: Double? = nil, impliedVolatility: Double? = nil) {
        self.instrument = instrument
        self.quantity = quantity
        self.entryPrice = entryPrice
        self.impliedVolatility = impliedVolatility
    }
}

/// An account: collateral balances (asset -> quantity; negative = borrowed) and positions.
public struct Account: Sendable, Equatable {
    public var id: String
    public var collateral: [(asset: String, quantity: Double)]
    public var positions: [Position]

    public init(id: String, collateral: [(asset: String, quantity: Double)], positions: [Position]) {
        self.id = id
        self.collateral = collateral
        self.positions = positions
    }

    public static func == (a: Account, b: Account) -> Bool {
        a.id == b.id && a.positions == b.positions && a.collateral.map(\.asset) == b.collateral.map(\.asset)
            && a.collateral.map(\.quantity) == b.collateral.map(\.quantity)
    }
}

/// Bounds on what an account may hold, checked wherever an account is read (files, the
/// API). They are far beyond any real account and keep every product and sum finite.
public enum AccountLimits {
    /// Largest |quantity| of a position, in contracts.
    public static let maxQuantity = 1e12
    /// Largest |balance| of one collateral asset, in its units.
    public static let maxCollateral = 1e15
    /// Entry prices are in [minPrice, maxPrice]: an inverse contract's P&L divides by its entry,
    /// and the reciprocal of a price below about 1e-308 is not a finite number.
    public static let minPrice = 1e-12
    public static let maxPrice = 1e12
    /// Implied volatilities (annualised, decimal) are in (0, maxImpliedVolatility].
    public static let maxImpliedVolatility = 10.0
    public static let maxPositions = 1000
    public static let maxCollateralAssets = 100
    /// Longest account id, instrument or asset name, in characters.
    public static let maxNameLength = 128

    /// The first value of `account` outside these limits, as an error naming the field
    /// (`collateral.USD`, `positions[3].quantity`), or nil. The one check of every account
    /// that comes from outside: the accounts file and the service's request bodies.
    public static func violation(in account: Account) -> AccountError? {
        func fail(_ field: String, _ reason: String) -> AccountError {
            AccountError(accountId: account.id, field: field, reason: reason)
        }
        func nameOK(_ s: String) -> Bool { !s.isEmpty && s.unicodeScalars.count <= maxNameLength }
        guard nameOK(account.id) else { return fail("id", "expected 1 to \(maxNameLength) characters") }
        guard account.collateral.count <= maxCollateralAssets else {
            return fail("collateral", "more than \(maxCollateralAssets) assets")
        }
        for c in account.collateral {
            // names are not checked here: an asset the book does not know is refused when the
            // account is evaluated, whatever its length
            guard c.quantity.isFinite, Swift.abs(c.quantity) <= maxCollateral else {
                return fail("collateral.\(c.asset)", "expected a number in [-1e15, 1e15]")
            }
        }
        guard account.positions.count <= maxPositions else {
            return fail("positions", "more than \(maxPositions) positions")
        }
        for (j, p) in account.positions.enumerated() {
            guard nameOK(p.instrument) else {
                return fail("positions[\(j)].instrument", "expected 1 to \(maxNameLength) characters")
            }
            guard p.quantity.isFinite, Swift.abs(p.quantity) <= maxQuantity else {
                return fail("positions[\(j)].quantity", "expected a number in [-1e12, 1e12]")
            }
            if let e = p.entryPrice, !(e >= minPrice && e <= maxPrice) {
                return fail("positions[\(j)].entryPrice", "expected a number in [1e-12, 1e12]")
            }
            if let v = p.impliedVolatility, !(v > 0 && v <= maxImpliedVolatility) {
                return fail(
                    "positions[\(j)].impliedVolatility",
                    "expected an annualised decimal in (0, \(maxImpliedVolatility)]")
            }
        }
        return nil
    }
}

/// Why an account could not be evaluated: the account, the field and the reason.
public struct AccountError: Error, Equatable, Sendable, CustomStringConvertible {
    public var accountId: String
    public var field: String
    public var reason: String
    public init(accountId: String, field: String, reason: String) {
        self.accountId = accountId
        self.field = field
        self.reason = reason
    }
    public var description: String { "account '\(accountId)': \(field): \(reason)" }
}

/// Healthy, margin call (equity below initial), liquidatable (equity below maintenance).
public enum AccountStatus: String, Sendable, Codable {
    case healthy
    case marginCall = "margin call"
    case liquidatable
}

/// Standard (per position, summed) or portfolio (joint scenarios) margin.
public enum MarginMode: String, Sendable, CaseIterable {
    case standard, portfolio
}

/// A node of an account's explanation tree: a labelled amount (quote currency unless the
/// label says otherwise) and the parts that make it.
public struct Explanation: Sendable, Equatable {
    public var label: String
    public var value: Double?
    public var detail: String
    public var children: [Explanation]

    public init(_ label: String, _ value: Double? = nil, detail: String = "", children: [Explanation] = []) {
        self.label = label
        self.value = value
        self.detail = detail
        self.children = children
    }
}

/// An evaluated account. Amounts in the settlement currency.
public struct AccountResult: Sendable {
    public let accountId: String
    public let mode: MarginMode
    /// Margin equity: collateral at (1 - haircut) (liabilities at (1 + haircut)) plus
    /// unrealised P&L and option values.
    public let equity: Double
    public let initialMargin: Double
    public let maintenanceMargin: Double
    public let status: AccountStatus
    /// For an account with positions on a single underlying: the price at which equity
    /// falls to maintenance, everything else unchanged.
    public let liquidationPrice: Double?
    public let explanation: Explanation
    /// The sequence of the parameter sets the book was at (given by the live service through
    /// `numbered`; nil in batch).
    public let sequence: Int64?

    /// The same result, naming the sequence of the parameter sets it was computed at.
    public func numbered(_ sequence: Int64) -> AccountResult {
        AccountResult(
            accountId: accountId, mode: mode, equity: equity, initialMargin: initialMargin,
            maintenanceMargin: maintenanceMargin,
            status: status, liquidationPrice: liquidationPrice, explanation: explanation, sequence: sequence)
    }

    /// Equity minus initial margin (negative: a margin call's size).
    public var freeCollateral: Double { equity - initialMargin }
    /// Maintenance over equity: 1 or more means liquidatable; infinite when equity <= 0.
    public var marginRatio: Double { equity > 0 ? maintenanceMargin / equity : .infinity }
}
