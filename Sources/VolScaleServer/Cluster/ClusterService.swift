import Foundation
import Logging
import ServiceLifecycle
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// Holds this process's leases and follows the store, as a service next to the HTTP server:
/// heartbeat and lease renewal every quarter of the lease period (`ttl`); assets beyond a fair share
/// (ceil(assets / live processes)) handed over, unowned or expired ones taken up to it; the
/// store followed every `followInterval`. On graceful shutdown it commits, releases its
/// leases and leaves, so the others take the assets at once.
public struct ClusterService: Service, CustomStringConvertible {
    let state: ServiceState
    let store: PostgresStore
    let process: String
    let address: String
    let assets: [String]
    /// Lease length in milliseconds: a dead process's assets move within it.
    let lease: Int64
    let followInterval: Duration
    /// Replays an asset's history into the engine when it has never been stored (new venue).
    let replay: @Sendable (String) async throws -> Void
    let logger: Logger

    public init(
        state: ServiceState, store: PostgresStore, process: String, address: String, assets: [String], lease: Int64,
        followInterval: Duration = .milliseconds(200), logger: Logger,
        replay: @escaping @Sendable (String) async throws -> Void
    ) {
        self.state = state
        self.store = store
        self.process = process
        self.address = address
        self.assets = assets
        self.lease = lease
        self.followInterval = followInterval
        self.replay = replay
        self.logger = logger
    }

    public var description: String { "Cluster(\(process))" }

    public func run() async throws {
        try await store.registerAssets(assets)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // renewal on its own: a long takeover or a slow follow never lets a lease lapse
                group.addTask {
                    while !Task.isCancelled {
                        do { try await renew() } catch { logger.error("lease renewal failed: \(error)") }
                        try? await Task.sleep(for: .milliseconds(lease / 4))
                    }
                }
                // a dead process's assets are looked for often: they move soon after its lease ends
                group.addTask {
                    while !Task.isCancelled {
                        do { try await take() } catch { logger.error("taking assets failed: \(error)") }
                        try? await Task.sleep(for: .milliseconds(max(200, lease / 10)))
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await state.follow()
                            try await state.consumeInbox()
                        } catch { logger.error("following the store failed: \(error)") }
                        try? await Task.sleep(for: followInterval)
                    }
                }
            }
        }
        // graceful stop: what is queued is committed by the writer; hand every asset over now
        for (asset, _) in await state.ownedAssets {
            if let fence = await state.beginRelease(asset) {
                try? await store.release(asset, process: process, fence: fence)
            }
        }
        try? await store.leave(process: process)
        logger.info("left the venue: leases released")
    }

    /// What a lease and a heartbeat are written for: three quarters of the lease period,
    /// renewed every quarter (two renewals may fail in a row without losing the lease), so
    /// that a dead process's assets move within the lease period: its leases end at most
    /// 3/4 of it after its death, and the others look every tenth.
    var ttl: Int64 { lease * 3 / 4 }

    /// ceil(assets / live processes).
    func fairShare(live: Int) -> Int { (assets.count + max(live, 1) - 1) / max(live, 1) }

    /// Heartbeat and renewal; hands over assets beyond the fair share.
    func renew() async throws {
        let live = try await store.heartbeat(process: process, address: address, ttl: ttl)
        let owned = await state.ownedAssets
        let held = try await store.renew(process: process, fences: owned, ttl: ttl)
        for asset in owned.keys where held[asset] == nil {
            logger.warning("lease on \(asset) was taken over by another process; following it")
            await state.lose(asset)
        }
        let share = fairShare(live: live)
        var mine = held.keys.sorted()
        while mine.count > share, let asset = mine.popLast() {
            if let fence = await state.beginRelease(asset) {
                try await store.release(asset, process: process, fence: fence)
                logger.info(
                    "handed \(asset) over (fair share \(share) of \(assets.count) assets among \(live) processes)")
            }
        }
    }

    /// Takes unowned or expired assets up to the fair share.
    func take() async throws {
        // the share as of now: a process that died is out of the count once its heartbeat is a lease old
        let share = fairShare(live: try await store.liveProcesses(ttl: ttl))
        let leases = try await store.leases()
        await state.setLeases(leases)
        var owned = await state.ownedAssets.count
        for lease in leases where !lease.live && assets.contains(lease.asset) {
            guard owned < share else { break }
            guard let fence = try await store.acquire(lease.asset, process: process, ttl: ttl) else { continue }
            let resumed = try await state.takeOver(lease.asset, fence: fence)
            if !resumed {
                await state.setReplaying(lease.asset, true)
                do { try await replay(lease.asset) } catch {
                    await state.setReplaying(lease.asset, false)
                    throw error
                }
                await state.setReplaying(lease.asset, false)
            }
            owned += 1
            logger.info(
                "took \(lease.asset) over (fence \(fence), \(resumed ? "resumed from its stored state" : "history replayed"))"
            )
            // asset views say so at once
            await state.setLeases(try await store.leases())
        }
    }
}
