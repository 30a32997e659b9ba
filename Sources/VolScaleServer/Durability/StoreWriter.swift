import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// Commits the queue whenever something is in it (one writer: group commit), and drains it
/// on graceful shutdown. Runs until the service stops.
public struct StoreWriter: Sendable {
    let state: ServiceState
    let logger: Logger

    public init(state: ServiceState, logger: Logger) {
        self.state = state
        self.logger = logger
    }

    /// The loop; returns after `state.stop()` once the queue is drained (or the store fails
    /// on the final attempts, which is logged with what stayed unsaved).
    public func run() async {
        var failures = 0
        while true {
            await state.waitForWork()
            let stopping = await state.stopping
            do {
                try await state.commitPending()
                failures = 0
            } catch {
                failures += 1
                logger.error("store commit failed (attempt \(failures)); the batch stays queued: \(error)")
                if stopping && failures >= 3 { break }
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 6)), 5000)))
            }
            if stopping, await state.drained { break }
        }
        let left = await state.queued
        if left.quotes == 0 && left.publications == 0 {
            logger.info("store flushed on shutdown: everything acknowledged is stored")
        } else {
            logger.error(
                "store NOT fully flushed on shutdown: \(left.quotes) quotes and \(left.publications) publications were not stored (none of them was acknowledged)"
            )
        }
    }
}
