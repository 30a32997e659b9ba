import VolScaleEngine
import VolScaleStore

/// The durability queue's bookkeeping (group commit): the accepted quotes, publications and
/// account status changes waiting for the store, in order; the queue's generation
/// (`appended`: one more for every change that must be made durable) and how far it is
/// durable; and the requests waiting for a generation. One commit at a time `take`s the whole
/// queue; a failed one's work goes back to its head (`putBack`); nothing is dropped between a
/// take and a commit except what `discard` is told to. A value the service state owns;
/// `CommitQueueTests` drives it without a store.
struct CommitQueue {
    /// What one commit carries, and the generation that is durable once it is stored.
    struct Batch: Sendable {
        var quotes: [Quote]
        var publications: [Publication]
        var statusEvents: [AccountStatusRecord]
        let target: UInt64
    }

    private(set) var quotes: [Quote] = []
    private(set) var publications: [Publication] = []
    private(set) var statusEvents: [AccountStatusRecord] = []
    /// Keys of accepted quotes not yet durable (queued or in the commit in flight), for
    /// recognising a resent quote as a duplicate before it reaches the store.
    private(set) var uncommitted: Set<QuoteKey> = []
    private(set) var appended: UInt64 = 0
    /// Every change up to this generation is committed.
    private(set) var durable: UInt64 = 0
    /// A commit is in flight.
    var committing = false
    private var waiters: [UInt64: (target: UInt64, continuation: CheckedContinuation<Void, any Error>)] = [:]
    private var nextWaiter: UInt64 = 0

    /// Everything queued is durable.
    var drained: Bool { durable >= appended }
    /// Something is queued and no commit is in flight.
    var due: Bool { !committing && durable < appended }

    /// An accepted quote, to be stored.
    mutating func accept(_ q: Quote) {
        quotes.append(q)
        uncommitted.insert(QuoteKey(q))
    }

    mutating func add(_ p: [Publication]) { publications += p }
    mutating func add(_ e: AccountStatusRecord) { statusEvents.append(e) }

    /// Something more must be made durable: a new generation.
    mutating func changed() { appended &+= 1 }

    func isUncommitted(_ key: QuoteKey) -> Bool { uncommitted.contains(key) }

    /// The whole queue, for one commit (the queue is left empty).
    mutating func take() -> Batch {
        defer {
            quotes.removeAll(keepingCapacity: true)
            publications.removeAll(keepingCapacity: true)
            statusEvents.removeAll(keepingCapacity: true)
        }
        return Batch(quotes: quotes, publications: publications, statusEvents: statusEvents, target: appended)
    }

    /// A failed commit's work, back at the head of the queue, in order.
    mutating func putBack(_ b: Batch) {
        quotes = b.quotes + quotes
        publications = b.publications + publications
        statusEvents = b.statusEvents + statusEvents
    }

    /// Drops the batch's work for `assets` (several processes: assets whose lease is gone;
    /// none of it was acknowledged).
    mutating func discard(_ assets: Set<String>, from b: inout Batch) {
        for q in b.quotes where assets.contains(q.asset) { uncommitted.remove(QuoteKey(q)) }
        b.quotes.removeAll { assets.contains($0.asset) }
        b.publications.removeAll { assets.contains($0.asset) }
    }

    /// The batch is stored: its quotes are no longer uncommitted, its generation is durable.
    mutating func committed(_ b: Batch) {
        for q in b.quotes { uncommitted.remove(QuoteKey(q)) }
        markDurable(b.target)
    }

    /// No store: the queue is durable as soon as it is queued.
    mutating func clear() {
        _ = take()
        uncommitted.removeAll(keepingCapacity: true)
        markDurable(appended)
    }

    /// Every change up to `generation` is durable: the waiters for it are resumed.
    mutating func markDurable(_ generation: UInt64) {
        durable = max(durable, generation)
        for (id, w) in waiters where w.target <= durable {
            waiters[id] = nil
            w.continuation.resume()
        }
    }

    /// An id for a request that will wait (`wait`, `expire`).
    mutating func newWaiter() -> UInt64 {
        defer { nextWaiter &+= 1 }
        return nextWaiter
    }

    /// Request `id` waits for generation `target`: resumed at once when it is durable already.
    mutating func wait(_ id: UInt64, for target: UInt64, _ continuation: CheckedContinuation<Void, any Error>) {
        if durable >= target {
            continuation.resume()
        } else {
            waiters[id] = (target, continuation)
        }
    }

    /// A waiter that waited too long is told why.
    mutating func expire(_ id: UInt64, _ error: any Error) {
        waiters.removeValue(forKey: id)?.continuation.resume(throwing: error)
    }

    /// Every waiter is told why its changes will not be durable here.
    mutating func failAll(_ error: any Error) {
        let all = waiters
        waiters.removeAll()
        for w in all.values { w.continuation.resume(throwing: error) }
    }
}
