import Foundation

/// The live stream's fan-out: each subscriber has a bounded buffer (`buffer` events); one
/// that falls behind is dropped (its stream ends, flagged, so that the client is told where to
/// resume) rather than slowing the service or growing without bound. At most `limit`
/// subscribers at once. A value owned by the service state, which calls it in event order.
public struct PublicationHub: Sendable {
    struct Subscriber: Sendable {
        let continuation: AsyncStream<StreamEvent>.Continuation
        let flag: SubscriptionFlag
    }

    public let buffer: Int
    public let limit: Int
    var subscribers: [UUID: Subscriber] = [:]

    public init(buffer: Int, limit: Int) {
        self.buffer = max(1, buffer)
        self.limit = max(1, limit)
    }

    public var count: Int { subscribers.count }

    /// A new subscription that first receives `replay` (the logged events it missed), then
    /// live ones. A replay longer than the buffer ends the subscription at once, flagged as
    /// dropped (the client resumes from what it got). `onEnd` runs when the client goes away,
    /// with the id to `unsubscribe`.
    public mutating func subscribe(
        replay: some Sequence<StreamEvent>, missed: Bool, onEnd: @escaping @Sendable (UUID) -> Void
    ) throws(SubscribeError) -> Subscription {
        guard subscribers.count < limit else { throw .tooMany }
        let (stream, continuation) = AsyncStream<StreamEvent>.makeStream(bufferingPolicy: .bufferingOldest(buffer))
        let flag = SubscriptionFlag()
        for e in replay {
            if case .dropped = continuation.yield(e) {
                flag.markDropped()
                continuation.finish()
                return Subscription(events: stream, missed: missed, flag: flag)
            }
        }
        let id = UUID()
        subscribers[id] = Subscriber(continuation: continuation, flag: flag)
        continuation.onTermination = { _ in onEnd(id) }
        return Subscription(events: stream, missed: missed, flag: flag)
    }

    public mutating func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    /// Sends an event to every subscriber; those whose buffer is full are dropped.
    public mutating func broadcast(_ e: StreamEvent) {
        var slow: [UUID] = []
        for (id, s) in subscribers {
            if case .dropped = s.continuation.yield(e) { slow.append(id) }
        }
        for id in slow {
            guard let s = subscribers.removeValue(forKey: id) else { continue }
            s.flag.markDropped()
            s.continuation.finish()
        }
    }

    /// Ends every stream (graceful shutdown), flagged as closed: buffered events are not sent.
    public mutating func closeAll() {
        for s in subscribers.values {
            s.flag.markClosed()
            s.continuation.finish()
        }
        subscribers.removeAll()
    }
}
