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
        guard queue.due else { return }
        guard let store else {
            queue.clear()
            return
        }
        queue.committing = true
        defer {
            queue.committing = false
            // work queued meanwhile: the writer (waiting while this commit ran) takes it
            if !queue.drained, let w = writerWake {
                writerWake = nil
                w.resume()
            }
        }
        var batch = queue.take()
        if cluster != nil {
            try await commitCluster(&batch)
            return
        }
        impliedChanged = []  // the snapshot below carries every asset's implied volatility
        var commit = CommitBatch(
            quotes: batch.quotes, publications: batch.publications, snapshot: engine.snapshot, inputs: inputPositions)
        commit.statusEvents = batch.statusEvents
        do {
            // A cancelled caller must not abandon a commit half-way: the commit runs to its
            // end in a task of its own.
            try await Task.detached { [commit] in try await store.commit(commit) }.value
        } catch {
            queue.putBack(batch)
            storeFailure = "\(error)"
            throw error
        }
        committed(batch)
    }

    /// A commit succeeded: its quotes are stored and everything up to its target is durable.
    func committed(_ batch: CommitQueue.Batch) {
        storeFailure = nil
        queue.committed(batch)
    }

    /// Waits until every change up to `ticket` is committed, or throws `NotDurable` after
    /// `timeout` (the store keeps failing) or when the service stops first.
    public func waitDurable(_ ticket: UInt64, timeout: Duration = .seconds(30)) async throws {
        if queue.durable >= ticket { return }
        if store == nil {
            try await commitPending()
            return
        }
        let id = queue.newWaiter()
        let expiry = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        defer { expiry.cancel() }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            queue.wait(id, for: ticket, c)
        }
    }

    func expire(_ id: UInt64) {
        queue.expire(
            id,
            NotDurable(
                reason: storeFailure.map { "the store is failing: \($0)" } ?? "the commit did not finish in time"))
    }

    /// Commits everything queued so far and returns once it is durable (start-up replay,
    /// tests, shutdown). Throws the store's error if a commit fails.
    public func flush() async throws {
        let target = queue.appended
        while queue.durable < target {
            if queue.committing {
                try await waitDurable(target)
            } else {
                try await commitPending()
            }
        }
    }

    /// Something more must be made durable: a new generation, and the writer is woken.
    func queueChanged() {
        queue.changed()
        writerWake?.resume()
        writerWake = nil
    }

    /// Suspends the writer until something is queued or the service stops.
    /// A commit in flight (started by `flush`) counts as no work: the writer waits for it to
    /// end instead of spinning on `commitPending`, which returns at once meanwhile.
    func waitForWork() async {
        if queue.due || stopping { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if queue.due || stopping {
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

    var drained: Bool { queue.drained }

    /// Queued changes not yet durable (for the shutdown message).
    public var queued: (quotes: Int, publications: Int) { (queue.quotes.count, queue.publications.count) }
}
