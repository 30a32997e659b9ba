import Foundation
import Synchronization

/// Where the service reads the time of day (UTC milliseconds): when quotes arrived and assets
/// went stale, when status changes and policy changes happened, the clock a quote's
/// timestamp is checked against. The system clock in production; a test sets its own
/// (`ManualClock`) and moves it. Deadlines and timeouts use the monotonic clock instead.
public struct ServiceClock: Sendable {
    public let now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64) { self.now = now }

    public static let system = ServiceClock { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A clock that moves only when told (tests).
public final class ManualClock: Sendable {
    private let time: Mutex<Int64>

    public init(_ start: Int64) { time = Mutex(start) }

    public var clock: ServiceClock { ServiceClock { [self] in self.time.withLock { $0 } } }

    public func advance(by milliseconds: Int64) { time.withLock { $0 += milliseconds } }
}
