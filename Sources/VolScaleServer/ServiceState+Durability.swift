import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

extension ServiceState {
    // MARK: - Durability

    /// Commits everything queued now, once (no-op when nothing is queued or a commit is in
    /// flight). Only one commit runs at a time: a second caller returns at once, and the
    /// generation it wanted is covered by the commit in flight or the next one.
    func commitPending() async throws {
        guard !committing, durable < appended else { return }
        guard let store else {
            pendingQuotes.removeAll(keepingCapacity: true)
            pendingPublications.removeAll(keepingCapacity: true)
            pendingStatusEvents.removeAll(keepingCapacity: true)
            uncommitted.removeAll(keepingCapacity: true)
            markDurable(appended)
            return
        }
        committing = true
        defer {
            committing = false
            // work queued meanwhile: the writer (waiting while this commit ran) takes it
            if durable < appended, let w = writerWake {
                writerWake = nil
                w.resume()
            }
        }
        let target = appended
        let quotes = pendingQuotes
        let publications = pendingPublications
        let statusEvents = pendingStatusEvents
        pendingQuotes.removeAll(keepingCapacity: true)
        pendingPublications.removeAll(keepingCapacity: true)
        pendingStatusEvents.removeAll(keepingCapacity: true)
        if cluster != nil {
            try await commitCluster(
                quotes: quotes, publications: publications, statusEvents: statusEvents, target: target)
            return
        }
        impliedChanged = []  // the snapshot below carries every asset's implied volatility
        var batch = CommitBatch(
            quotes: quotes, publications: publications, snapshot: engine.snapshot, inputs: inputPositions)
        batch.statusEvents = statusEvents
        do {
            // A cancelled caller must not abandon a commit half-way: the commit runs to its
            // end in a task of its own.
            try await Task.detached { try await store.commit(batch) }.value
        } catch {
            requeue(quotes: quotes, publications: publications, statusEvents: statusEvents)
            storeFailure = "\(error)"
            throw error
        }
        committed(quotes, target: target)
    }

    /// A failed commit's work, back at the head of the queue, in order: the next commit
    /// carries it again.
    func requeue(quotes: [Quote], publications: [Publication], statusEvents: [AccountStatusRecord]) {
        pendingQuotes = quotes + pendingQuotes
        pendingPublications = publications + pendingPublications
        pendingStatusEvents = statusEvents + pendingStatusEvents
    }

    /// A commit succeeded: its quotes are stored and everything up to `target` is durable.
    func committed(_ quotes: [Quote], target: UInt64) {
        storeFailure = nil
        for q in quotes { uncommitted.remove(QuoteKey(q)) }
        markDurable(target)
    }

    func markDurable(_ generation: UInt64) {
        durable = max(durable, generation)
        let done = waiters.filter { $0.value.target <= durable }
        for (id, w) in done {
            waiters[id] = nil
            w.continuation.resume()
        }
    }

    /// Waits until every change up to `ticket` is committed, or throws `NotDurable` after
    /// `timeout` (the store keeps failing) or when the service stops first.
    public func waitDurable(_ ticket: UInt64, timeout: Duration = .seconds(30)) async throws {
        if durable >= ticket { return }
        if store == nil {
            try await commitPending()
            return
        }
        let id = nextWaiter
        nextWaiter &+= 1
        let expiry = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        defer { expiry.cancel() }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            if durable >= ticket {
                c.resume()
                return
            }
            waiters[id] = (ticket, c)
        }
    }

    func expire(_ id: UInt64) {
        guard let w = waiters.removeValue(forKey: id) else { return }
        w.continuation.resume(
            throwing: NotDurable(
                reason: storeFailure.map { "the store is failing: \($0)" } ?? "the commit did not finish in time"))
    }

    /// Commits everything queued so far and returns once it is durable (start-up replay,
    /// tests, shutdown). Throws the store's error if a commit fails.
    public func flush() async throws {
        let target = appended
        while durable < target {
            if committing {
                try await waitDurable(target)
            } else {
                try await commitPending()
            }
        }
    }

    /// Something more must be made durable: a new generation, and the writer is woken.
    func queueChanged() {
        appended &+= 1
        writerWake?.resume()
        writerWake = nil
    }

    /// Suspends the writer until something is queued or the service stops.
    /// A commit in flight (started by `flush`) counts as no work: the writer waits for it to
    /// end instead of spinning on `commitPending`, which returns at once meanwhile.
    func waitForWork() async {
        if (durable < appended && !committing) || stopping { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if (durable < appended && !committing) || stopping {
                c.resume()
                return
            }
            writerWake = c
        }
    }

    /// Graceful shutdown: wakes the writer so that it drains the queue and ends.
    public func stop() {
        stopping = true
        writerWake?.resume()
        writerWake = nil
    }

    var drained: Bool { durable >= appended }

    /// Queued changes not yet durable (for the shutdown message).
    public var queued: (quotes: Int, publications: Int) { (pendingQuotes.count, pendingPublications.count) }
}
