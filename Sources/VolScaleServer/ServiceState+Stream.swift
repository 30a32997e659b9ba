import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

extension ServiceState {
    // MARK: - Stream

    /// A stream of events: first every logged publication after `since`, then live ones.
    /// A client that reconnects with the last sequence it saw misses nothing still in the
    /// log. At most `subscriberBuffer` events wait for a client; a slower one is dropped.
    /// A `since` beyond the latest sequence replays nothing and waits for live events.
    public func subscribe(since: Int64?) throws(SubscribeError) -> Subscription {
        guard subscribers.count < Self.maxSubscribers else { throw .tooMany }
        let id = UUID()
        let (stream, continuation) = AsyncStream<StreamEvent>.makeStream(
            bufferingPolicy: .bufferingOldest(Self.subscriberBuffer))
        let flag = SubscriptionFlag()
        var missed = false
        if let since {
            if let first = log.first, since < first.sequence - 1 { missed = true }
            for p in log where p.sequence > since {
                if case .dropped = continuation.yield(.publication(p)) {
                    // more to replay than a client may hold: it resumes from what it got
                    flag.markDropped()
                    continuation.finish()
                    return Subscription(events: stream, missed: missed, flag: flag)
                }
            }
        }
        subscribers[id] = Subscriber(continuation: continuation, flag: flag)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return Subscription(events: stream, missed: missed, flag: flag)
    }

    func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    /// Writes a keep-alive to every open stream (`StalenessMonitor`, every
    /// `keepAliveSeconds`): the streams of clients that left end at the failed write.
    public func keepStreamsAlive() { broadcast(.keepAlive) }
    public static let keepAliveSeconds = 10

    /// Ends every stream (graceful shutdown: open streams would keep the server waiting).
    public func closeStreams() {
        for s in subscribers.values {
            s.flag.markClosed()
            s.continuation.finish()
        }
        subscribers.removeAll()
    }

    public var subscriberCount: Int { subscribers.count }

    public func latestPublications() -> [Publication] {
        latest.values.sorted { $0.sequence < $1.sequence }
    }

    /// The asset's publications with a sequence below `before` (all when nil), the newest
    /// `limit` of them, oldest first.
    public func publications(asset: String, limit: Int, before: Int64? = nil) -> [Publication] {
        var out: [Publication] = []
        for p in log.reversed() where p.asset == asset && (before.map { p.sequence < $0 } ?? true) {
            out.append(p)
            if out.count >= limit { break }
        }
        return out.reversed()
    }

    public func history(_ asset: String) -> [HistoryPoint] { history[asset] ?? [] }
}
