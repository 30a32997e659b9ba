import Foundation
import Logging
import PostgresNIO
import VolScaleEngine

/// What one process commits: its accepted quotes, the publications they caused (numbered by
/// the store), the states of the assets they touched, input positions, status events; all
/// under the fencing tokens of the leases it holds on those assets.
public struct ClusterCommit: Sendable {
    public var process: String
    /// asset -> fencing token: every asset the batch writes.
    public var fences: [String: Int64]
    public var quotes: [Quote]
    public var publications: [Publication]
    public var states: [String: AssetSnapshot]
    public var inputs: [String: Int64]
    public var statusEvents: [AccountStatusRecord]
    /// The venue's engine configuration after a policy update (nil: unchanged).
    public var config: EngineConfig?
    /// Milliseconds the transaction may sit idle or wait for a lock (a paused process's
    /// session is ended by the server after it); a fraction of the lease period.
    public var idleTimeout: Int64 = 2000
    /// Inbox rows consumed by this batch (their quotes were offered to the engine: the
    /// accepted ones are in `quotes`); deleted in the same transaction.
    public var inbox: [Int64] = []
    public init(
        process: String, fences: [String: Int64], quotes: [Quote], publications: [Publication],
        states: [String: AssetSnapshot],
        inputs: [String: Int64], statusEvents: [AccountStatusRecord], config: EngineConfig? = nil
    ) {
        self.process = process
        self.fences = fences
        self.quotes = quotes
        self.publications = publications
        self.states = states
        self.inputs = inputs
        self.statusEvents = statusEvents
        self.config = config
    }
}

/// A commit found that another process holds the lease on these assets now: nothing was
/// written.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public var assets: [String]
    public var description: String {
        "the lease on \(assets.joined(separator: ", ")) was taken over by another process"
    }
}

/// One asset's lease as stored.
public struct Lease: Sendable, Equatable {
    public var asset: String
    /// The owning process's name, empty when released.
    public var owner: String
    public var fence: Int64
    public var expiresAt: Int64
    /// The owner's address as it announced it (host:port).
    public var address: String
    /// Owned and not expired.
    public var live: Bool
}
