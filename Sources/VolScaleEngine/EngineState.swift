import RealModule
import VolScaleCore
import VolScaleRisk

/// The O(1) volatility state of one asset.
public struct AssetVolatilityState: Sendable, Equatable, Codable {
    /// Close of the last trusted bar (returns are taken from it), and of the bar being formed.
    public var lastClose: Double?
    public var pending: Double?
    public var pendingBar: Int64?
    /// Whether the bar being formed ended with the circuit breaker tripped (its close is not a
    /// trusted price).
    public var pendingTripped: Bool?
    /// Bars whose close was not trusted (circuit breaker): no return was taken from them.
    public var untrustedBars: Int64?
    /// Returns kept until the EWMA seed window (75, as arch) is full.
    public var seedReturns: [Double] = []
    /// sigma^2 for the next return (decimal, per bar) once seeded.
    public var variance: Double?
    public var returns: Int64 = 0
    public var barsSincePublication: Int = 0
    public var firstInput: Int64?
    public var lastInput: Int64?
    public var published: [String: Double] = [:]
    /// Last published haircut per side (optional: older snapshots have none).
    public var haircuts: [String: Double]?
    /// For an asset with a margin model of its own (`StreamingEngine.policies`): its walker's
    /// state as stored, bounded by the model's windows, from which the walker continues on
    /// restart or takeover (set in snapshots; the engine's own copy is its walker).
    public var policyState: MarginWalker.Checkpoint?
    /// What snapshots before the checkpoint held instead (every bar's return and time, and the
    /// implied volatility each bar used): read once, to rebuild the walker by replaying them,
    /// and not written again.
    public var policyReturns: [Double]?
    public var policyTimes: [Int64]?
    /// The model's last error (a GARCH fit that failed): no publication at that bar.
    public var policyError: String?
    /// The latest implied volatility of the asset (from an option chain).
    public var implied: ImpliedVolatility?
    public var policyImplied: [Double?]?

    public init() {}
}

/// An implied volatility of an asset from an option chain: the 30-day model-free index (the
/// CBOE white-paper method, as Deribit's DVOL), annualised decimal, 365-day year.
public struct ImpliedVolatility: Sendable, Equatable, Codable {
    public var annualised: Double
    /// The chain's moment, UTC ms.
    public var time: Int64
    /// Where it came from (e.g. "chain: 2 expiries, 54 options").
    public var source: String

    public init(annualised: Double, time: Int64, source: String) {
        self.annualised = annualised
        self.time = time
        self.source = source
    }

    /// Per bar: sigma_annual / sqrt(365 x barsPerDay).
    public func perBar(barsPerDay: Double) -> Double { annualised / (365 * barsPerDay).squareRoot() }
}

/// Why an implied volatility was refused.
public enum ImpliedRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownAsset
    case outOfRange(Double)
    case olderThanCurrent(current: Int64)

    public var description: String {
        switch self {
        case .unknownAsset: return "unknown asset"
        case .outOfRange(let v): return "implied volatility \(v) is outside (0, 10] (annualised decimal)"
        case .olderThanCurrent(let t): return "the chain is older than the asset's current one (taken at \(t) ms)"
        }
    }
}

/// Everything that must survive a restart.
public struct EngineSnapshot: Sendable, Equatable, Codable {
    public var config: EngineConfig
    public var prices: [String: PriceState]
    public var rejections: [String: Int]
    public var volatility: [String: AssetVolatilityState]
    public var sequence: Int64
    public var accepted: Int64
    /// The assets' own margin models in force when the snapshot was taken (nil in snapshots
    /// written before they were stored, and when no asset has one): a process that resumes
    /// the store margins each asset by the model that published its last rates.
    public var policies: [String: MarginModel]?
}

/// One asset's part of the engine state: what a process that takes the asset over (several
/// `volscale serve` processes on one PostgreSQL) needs to continue it exactly where its
/// previous owner stopped. Everything in it is the asset's own: the engine's state is the
/// union of its assets' states plus the venue's configuration.
public struct AssetSnapshot: Sendable, Equatable, Codable {
    public var price: PriceState
    public var volatility: AssetVolatilityState
    public init(price: PriceState, volatility: AssetVolatilityState) {
        self.price = price
        self.volatility = volatility
    }
}
