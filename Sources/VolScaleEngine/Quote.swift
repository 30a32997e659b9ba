import RealModule
import VolScaleCore

/// One price quote from one source. Times in UTC milliseconds.
public struct Quote: Sendable, Equatable, Codable {
    public var asset: String
    public var source: String
    public var timestamp: Int64
    public var price: Double
    /// Absolute uncertainty in price units (Pyth's confidence), when the source gives one.
    public var confidence: Double?

    /// Timestamps the engine accepts: 1900-01-01 to 2100-01-01 UTC, in ms. Bounding them keeps
    /// every difference of two timestamps far from Int64 overflow.
    public static let timestampRange: ClosedRange<Int64> = EpochMillis.range

    public init(asset: String, source: String, timestamp: Int64, price: Double, confidence: Double? = nil) {
        self.asset = asset
        self.source = source
        self.timestamp = timestamp
        self.price = price
        self.confidence = confidence
    }
}

/// What makes a quote unique: exactly-once ingestion is by (asset, source, timestamp).
public struct QuoteKey: Hashable, Sendable {
    public let asset: String
    public let source: String
    public let timestamp: Int64
    public init(asset: String, source: String, timestamp: Int64) {
        (self.asset, self.source, self.timestamp) = (asset, source, timestamp)
    }
    public init(_ q: Quote) { self.init(asset: q.asset, source: q.source, timestamp: q.timestamp) }
}

/// Why a quote or an aggregate was not used. Every rejection is counted by reason.
public enum RejectionReason: String, Error, Sendable, CaseIterable, Codable {
    case nonFinitePrice = "non-finite price"
    case nonPositivePrice = "non-positive price"
    case futureTimestamp = "timestamp in the future"
    case unknownAsset = "unknown asset"
    case outOfOrder = "out of order"
    case duplicate = "duplicate"
    case flooding = "source flooding"
    case stale
    case lowConfidence = "confidence too wide"
    case deviation = "too far from the other sources"
    case tooFewSources = "too few agreeing sources"
    case timestampOutOfRange = "timestamp outside 1900-2100"
    case tooManySources = "too many sources for the asset"
    /// The same (asset, source, timestamp) as an accepted quote with another price.
    case conflict = "conflicting duplicate"
    /// More than the asset's maximum age older than its newest quote (event time).
    case tooOld = "older than the maximum age"
    /// Before the start of the asset's current bar: a closed bar never changes.
    case beforeLastBar = "before the asset's current bar"
    /// A source the venue does not declare for the asset.
    case undeclaredSource = "undeclared source"
    /// The quote would have published a value that is not finite or outside the asset's
    /// bounds; the engine state was rolled back to before it.
    case implausibleResult = "result not finite or out of bounds"
}
