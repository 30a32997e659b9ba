import RealModule
import VolScaleCore
import VolScaleRisk

/// A value stored, hashed into the audit chain and sent as a plain string, and read back
/// from it: its JSON is that string, and a string literal reads as it would from a store.
public protocol StoredAsString: Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    init(stored: String)
    var stored: String { get }
}

extension StoredAsString {
    public init(stringLiteral value: String) { self.init(stored: value) }
    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(stored)
    }
    public var description: String { stored }
}

/// Which side of an asset's parameter set a publication carries, or, for a change of the
/// margin controls (stored under the asset "policy"), who made it. Stored, hashed into the
/// audit chain and sent as the plain string: "long", "short", or the author.
public enum PublicationSide: Sendable, Hashable, StoredAsString {
    case rates(Side)
    case policyChange(by: String)

    /// The stored string read back: "long" and "short" are sides, anything else an author.
    public init(stored: String) {
        self = Side(rawValue: stored).map(PublicationSide.rates) ?? .policyChange(by: stored)
    }

    public var stored: String {
        switch self {
        case .rates(let side): return side.rawValue
        case .policyChange(let author): return author
        }
    }
    /// The side of a rates publication; nil for a policy change.
    public var side: Side? { if case .rates(let s) = self { return s } else { return nil } }
}

/// What set a published rate: one of the margin controls, the implied-volatility bound, the
/// circuit breaker holding the previous rate; for a policy change, the list of changes. Stored,
/// hashed and sent as the plain string (`BindingControl`'s names, "implied volatility",
/// "circuit breaker (no loosening while unstable)", or the changes).
public enum PublicationBinding: Sendable, Hashable, StoredAsString {
    case control(BindingControl)
    case impliedVolatility
    case circuitBreaker
    case policyChanges(String)

    static let impliedText = "implied volatility"
    static let circuitBreakerText = "circuit breaker (no loosening while unstable)"

    /// The stored string read back: a control's name, the implied bound or the circuit
    /// breaker; anything else the text of a policy change.
    public init(stored: String) {
        if let c = BindingControl(rawValue: stored) {
            self = .control(c)
        } else if stored == Self.impliedText {
            self = .impliedVolatility
        } else if stored == Self.circuitBreakerText {
            self = .circuitBreaker
        } else {
            self = .policyChanges(stored)
        }
    }

    public var stored: String {
        switch self {
        case .control(let c): return c.rawValue
        case .impliedVolatility: return Self.impliedText
        case .circuitBreaker: return Self.circuitBreakerText
        case .policyChanges(let text): return text
        }
    }
}

/// What the live engine publishes: one side of an asset's parameter set, or a change of the
/// margin controls (asset "policy"). The two sides of one bar close carry consecutive
/// sequence numbers; the later one is the set's sequence.
public struct Publication: Sendable, Equatable, Codable {
    /// The asset name under which changes of the margin controls are published.
    public static let policyAsset = "policy"

    /// Global, strictly increasing sequence number.
    public var sequence: Int64
    public var asset: String
    public var side: PublicationSide
    /// Time of the input that triggered it (UTC ms).
    public var timestamp: Int64
    /// Initial rate before and after (decimal fraction of notional; old is nil the first time).
    public var oldValue: Double?
    public var newValue: Double
    public var maintenance: Double
    /// Per-period volatility used, and which control set the value.
    public var sigma: Double
    public var binding: PublicationBinding
    public var modelVersion: String
    /// Time range of the inputs behind it.
    public var inputFrom: Int64
    public var inputTo: Int64
    /// The trusted (aggregate) price the set was made at, settlement currency; nil for
    /// policy changes and for publications stored before parameter sets carried it.
    public var price: Double?
    /// The stable price (moves towards the aggregate at a bounded rate).
    public var stablePrice: Double?
    /// Collateral haircut of this side (decimal fraction of value): `long` for a balance
    /// held, `short` for a borrowed one; the size-independent part (ES over the liquidation
    /// horizon at sigma per day plus half the spread, within floor and cap).
    public var haircut: Double?
    /// `stable` or `unstable` (circuit breaker: nothing loosens) when it was made; nil for
    /// policy changes and publications stored before sets carried it.
    public var status: PriceStatus?

    public init(
        sequence: Int64, asset: String, side: PublicationSide, timestamp: Int64, oldValue: Double?, newValue: Double,
        maintenance: Double, sigma: Double, binding: PublicationBinding, modelVersion: String, inputFrom: Int64,
        inputTo: Int64,
        price: Double? = nil, stablePrice: Double? = nil, haircut: Double? = nil, status: PriceStatus? = nil
    ) {
        self.price = price
        self.stablePrice = stablePrice
        self.haircut = haircut
        self.status = status
        self.sequence = sequence
        self.asset = asset
        // a change of the controls reads its author and its text as such whatever they say
        // (an author named "long" is still an author)
        self.side = asset == Self.policyAsset ? .policyChange(by: side.stored) : side
        self.timestamp = timestamp
        self.oldValue = oldValue
        self.newValue = newValue
        self.maintenance = maintenance
        self.sigma = sigma
        self.binding = asset == Self.policyAsset ? .policyChanges(binding.stored) : binding
        self.modelVersion = modelVersion
        self.inputFrom = inputFrom
        self.inputTo = inputTo
    }

    /// A change of the margin controls: who made it, when (UTC ms), what changed (e.g.
    /// `buffer: none -> 0.5; hardCap: none -> 0.4`) and the maintenance fraction after it.
    /// Stored as a record of its own (the stores' `policy_changes`), in the same audit chain
    /// and sequence as the parameter sets; its hashed text is the one a publication of the
    /// asset "policy" with these fields has, so chains written before it verify unchanged.
    public static func policyChange(
        sequence: Int64, by author: String, at time: Int64, changes: String,
        maintenance: Double, modelVersion: String
    ) -> Publication {
        Publication(
            sequence: sequence, asset: policyAsset, side: .policyChange(by: author), timestamp: time, oldValue: nil,
            newValue: 0,
            maintenance: maintenance, sigma: 0, binding: .policyChanges(changes), modelVersion: modelVersion,
            inputFrom: time, inputTo: time)
    }

    /// The author and the text of a policy change; nil for a parameter set.
    public var policyChange: (author: String, changes: String)? {
        guard case .policyChange(let author) = side else { return nil }
        return (author, binding.stored)
    }
}
