import Foundation

/// Where the service reads the time of day (UTC milliseconds): when quotes arrived and assets
/// went stale, when status changes and policy changes happened, the clock a quote's
/// timestamp is checked against. The system clock in production; a test gives its own
/// and moves it. Deadlines and timeouts use the monotonic clock instead.
public struct ServiceClock: Sendable {
    public let now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64) { self.now = now }

    public static let system = ServiceClock { Int64(Date().timeIntervalSince1970 * 1000) }
}
