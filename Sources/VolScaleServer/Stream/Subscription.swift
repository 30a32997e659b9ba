import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// An event on the live stream.
public enum StreamEvent: Sendable {
    case publication(Publication)
    /// Re-margining changed an account's status.
    case account(AccountMonitor.Change, time: Int64)
    /// `stable`, `unstable` (circuit breaker) or `stale` (no quote within the maximum age).
    case status(asset: String, status: PriceStatus, time: Int64)
    /// Nothing happened for a while: an SSE comment is written, so a client that went away is
    /// noticed (the write fails) and its stream slot freed, on a quiet venue too.
    case keepAlive
}

public enum SubscribeError: Error, Sendable {
    /// As many streams are open as the service allows.
    case tooMany
}

/// Set when the service ends a subscription because the client read too slowly.
/// Also set when the service closes every stream at shutdown: the client's buffered events
/// are then not sent, so a slow client cannot hold up the shutdown.
public final class SubscriptionFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var shut = false
    func markDropped() {
        lock.lock()
        value = true
        lock.unlock()
    }
    func markClosed() {
        lock.lock()
        shut = true
        lock.unlock()
    }
    public var dropped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    public var closed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return shut
    }
}

/// A client's stream: replayed and live events, whether some requested ones are no longer
/// kept, and whether it was dropped for reading too slowly.
public struct Subscription: Sendable {
    public let events: AsyncStream<StreamEvent>
    public let missed: Bool
    public let flag: SubscriptionFlag
}
