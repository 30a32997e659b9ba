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
        let (replay, missed) = since.map { publicationLog.replay(after: $0) } ?? ([], false)
        return try hub.subscribe(replay: replay.lazy.map(StreamEvent.publication), missed: missed) { [weak self] id in
            Task { await self?.unsubscribe(id) }
        }
    }

    func unsubscribe(_ id: UUID) { hub.unsubscribe(id) }

    /// Writes a keep-alive to every open stream (`StalenessMonitor`, every
    /// `keepAliveSeconds`): the streams of clients that left end at the failed write.
    public func keepStreamsAlive() { broadcast(.keepAlive) }
    public static let keepAliveSeconds = 10

    /// Ends every stream (graceful shutdown: open streams would keep the server waiting).
    public func closeStreams() { hub.closeAll() }

    public var subscriberCount: Int { hub.count }

    public func latestPublications() -> [Publication] { publicationLog.latestPublications() }

    /// The asset's publications with a sequence below `before` (all when nil), the newest
    /// `limit` of them, oldest first.
    public func publications(asset: String, limit: Int, before: Int64? = nil) -> [Publication] {
        publicationLog.publications(asset: asset, limit: limit, before: before)
    }

    public func history(_ asset: String) -> [HistoryPoint] { charts.points(asset) }
}
