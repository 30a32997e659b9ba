import Foundation
import Logging
import ServiceLifecycle
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// This process's part in a venue served by several `volscale serve` processes on one
/// PostgreSQL database (see `ClusterStore.swift` for what the database holds).
///
/// - It ingests quotes only for the assets it owns (fenced leases); a quote for another
///   process's asset is stored in the inbox for its owner (`forwarded`), or refused with
///   `notOwned` where forwarding is not wanted (the live feed).
/// - Its commits carry the fencing tokens; a commit refused for a lost lease drops that
///   asset's queued work (never acknowledged) and the asset is followed again.
/// - It *follows* the store (`ServiceState.follow`, several times a second): every
///   publication of the chain in sequence order, its own included, goes to the stream, the
///   log and the live book from there, so every process streams the same sequence and
///   margins accounts at the same parameter sets; the stored states of assets it does not
///   own are adopted (so every read is answered by every process); account writes made
///   through other processes are applied.
struct ClusterRole: Sendable {
    static let notOwned = "asset owned by another process"
    let store: PostgresStore
    let process: String
    /// The lease period, milliseconds.
    let lease: Int64
    /// Owned assets and their fencing tokens.
    var fences: [String: Int64] = [:]
    /// Owned assets being handed over: no new quotes, the queue is flushed first.
    var releasing: Set<String> = []
    /// Input (file) -> the asset it feeds: an input position is written under that asset's lease.
    var inputAsset: [String: String] = [:]
    /// Local engine sequence -> the chain's sequence, for answering ingest and policy requests.
    var numbered: [Int64: Int64] = [:]
    /// Followed so far: the chain's last sequence, each asset state's version, account events.
    var followedSequence: Int64 = 0
    var stateVersions: [String: Int64] = [:]
    var followedAccountEvent: Int64 = 0
    var seenAccountEvents: Set<Int64> = []
    var configVersion: Int64 = 0
    /// A policy update is queued: the next commit stores the configuration.
    var configChanged = false
    /// Owned assets whose history is being replayed (a new venue): the live feed waits.
    var replaying: Set<String> = []
    /// Every asset's lease as last read (asset views name the owner).
    var leases: [String: Lease] = [:]
    /// Inbox rows offered to the engine and not yet committed (deleted with the next commit).
    var pendingInbox: [(id: Int64, asset: String)] = []
    /// Inbox rows taken and not yet committed: not taken again.
    var inboxTaken: Set<Int64> = []
    /// Input positions as last committed (a commit writes only the ones that moved).
    var committedInputs: [String: Int64] = [:]

    func owns(_ asset: String) -> Bool { fences[asset] != nil && !releasing.contains(asset) }
}

extension ServiceState {
    /// The rejection reason of a quote for an asset another process owns.
    public static let notOwned = ClusterRole.notOwned

    /// Joins a venue of several processes: from now on this state ingests only the assets it
    /// takes (`takeOver`) and learns everything else by `follow`.
    public func joinCluster(store: PostgresStore, process: String, lease: Int64, inputs: [String: String]) {
        var role = ClusterRole(store: store, process: process, lease: lease)
        role.inputAsset = inputs
        cluster = role
    }

    /// The next line of a source file to feed live: nil when another process owns its asset,
    /// or its history is being replayed.
    public func feedPosition(_ file: String, asset: String) -> Int64? {
        if let c = cluster, !c.owns(asset) || c.replaying.contains(asset) { return nil }
        return inputPositions[file] ?? 0
    }

    public var isClustered: Bool { cluster != nil }

    public func setReplaying(_ asset: String, _ on: Bool) {
        if on { cluster?.replaying.insert(asset) } else { cluster?.replaying.remove(asset) }
    }

    public func setLeases(_ leases: [Lease]) {
        cluster?.leases = Dictionary(leases.map { ($0.asset, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The process owning an asset and its address, as last read (several processes).
    public func owner(of asset: String) -> Lease? { cluster?.leases[asset] }

    /// The assets this process owns.
    public var ownedAssets: [String: Int64] { cluster?.fences ?? [:] }
    public var clusterProcess: String? { cluster?.process }
    /// The shared store this process joined (nil: the only process).
    public var clusterStore: PostgresStore? { cluster?.store }

    /// Publications as the chain numbered them (several processes), or as they are.
    public func globalNumbers(_ pubs: [Publication]) -> [Publication] {
        guard let c = cluster else { return pubs }
        return pubs.map { p in
            var q = p
            if let n = c.numbered[p.sequence] { q.sequence = n }
            return q
        }
    }

    /// Commits the batch under this process's leases. Work for an asset whose lease is gone
    /// is dropped (none of it was acknowledged: its waiters are told to resend, and the
    /// asset's owner now decides); the rest goes back to the queue if the store fails.
    func commitCluster(_ batch: inout CommitQueue.Batch) async throws {
        guard var role = cluster else { return }
        var inbox = role.pendingInbox
        cluster?.pendingInbox = []
        var touched = Set(batch.quotes.map(\.asset)).union(
            batch.publications.map(\.asset).filter { $0 != Publication.policyAsset })
        var inputs: [String: Int64] = [:]
        for (name, lines) in inputPositions where role.committedInputs[name] != lines {
            guard let asset = role.inputAsset[name], role.fences[asset] != nil else { continue }
            inputs[name] = lines
            touched.insert(asset)
        }
        touched.formUnion(inbox.map(\.asset))
        let implied = impliedChanged.filter { role.fences[$0] != nil }
        touched.formUnion(implied)
        impliedChanged.subtract(implied)
        let lostBefore = touched.filter { role.fences[$0] == nil }
        if !lostBefore.isEmpty {
            queue.discard(lostBefore, from: &batch)
            dropInbox(lostBefore, &inbox)
            touched.subtract(lostBefore)
        }
        var fences: [String: Int64] = [:]
        var states: [String: AssetSnapshot] = [:]
        for a in touched {
            fences[a] = role.fences[a]
            states[a] = engine.assetSnapshot(a)
        }
        let configChanged = role.configChanged
        var commit = ClusterCommit(
            process: role.process, fences: fences, quotes: batch.quotes, publications: batch.publications,
            states: states, inputs: inputs, statusEvents: batch.statusEvents,
            config: configChanged ? engine.config : nil)
        commit.idleTimeout = max(200, role.lease / 4)
        commit.inbox = inbox.map(\.id)
        let store = role.store
        do {
            let numbers = try await Task.detached { [commit] in try await store.commit(commit) }.value
            role = cluster ?? role
            for (p, n) in zip(batch.publications, numbers) { role.numbered[p.sequence] = n }
            if role.numbered.count > 20_000 {
                let keep = role.numbered.keys.sorted().suffix(10_000)
                role.numbered = Dictionary(
                    uniqueKeysWithValues: keep.compactMap { k in role.numbered[k].map { (k, $0) } })
            }
            if configChanged { role.configChanged = false }
            role.inboxTaken.subtract(inbox.map(\.id))
            role.committedInputs.merge(inputs) { $1 }
            cluster = role
        } catch let lost as LeaseLost {
            for a in lost.assets { lose(a) }
            // the other assets' work goes back to the queue; every waiter is told to resend
            var rest = batch
            queue.discard(Set(lost.assets), from: &rest)
            dropInbox(Set(lost.assets), &inbox)
            requeue(rest, inbox: inbox)
            queue.failAll(NotDurable(reason: lost.description))
            throw lost
        } catch {
            requeue(batch, inbox: inbox)
            impliedChanged.formUnion(implied)
            storeFailure = "\(error)"
            throw error
        }
        committed(batch)
    }

    /// Puts the inbox rows of a failed commit back at the head of the queue, with its other work.
    func requeue(_ batch: CommitQueue.Batch, inbox: [(id: Int64, asset: String)]) {
        queue.putBack(batch)
        let rows = inbox + (cluster?.pendingInbox ?? [])  // read before the write: one access at a time
        cluster?.pendingInbox = rows
    }

    /// Forgets inbox rows of assets no longer owned: their owner takes them.
    func dropInbox(_ assets: Set<String>, _ inbox: inout [(id: Int64, asset: String)]) {
        let dropped = inbox.filter { assets.contains($0.asset) }.map(\.id)
        cluster?.inboxTaken.subtract(dropped)
        inbox.removeAll { assets.contains($0.asset) }
    }

    /// Offers the quotes other processes stored for this process's assets to the engine;
    /// the next commit deletes them from the inbox with the accepted ones stored, under the
    /// assets' leases (exactly once: a commit that fails leaves them for the owner).
    public func consumeInbox(limit: Int = 2000) async throws {
        guard let c = cluster else { return }
        let owned = c.fences.keys.filter { c.owns($0) }.sorted()
        let rows = try await c.store.inbox(assets: owned, limit: limit)
        let fresh = rows.filter {
            !(cluster?.inboxTaken.contains($0.id) ?? true) && (cluster?.owns($0.quote.asset) ?? false)
        }
        guard !fresh.isEmpty else { return }
        cluster?.inboxTaken.formUnion(fresh.map(\.id))
        cluster?.pendingInbox.append(contentsOf: fresh.map { ($0.id, $0.quote.asset) })
        _ = try await ingest(fresh.map(\.quote), forward: false)
        // rejected ones too must leave the inbox: a commit is due either way
        queueChanged()
    }

    /// The lease on `asset` is gone: stop ingesting it; its stored state is followed again.
    public func lose(_ asset: String) {
        cluster?.fences[asset] = nil
        cluster?.releasing.remove(asset)
        cluster?.stateVersions[asset] = nil
    }

    /// Takes an asset over under `fence`: continues from its stored state (the previous
    /// owner's last commit; the lease row was updated after it), and from its inputs'
    /// stored positions. Returns false when the asset has no stored state yet (a new venue:
    /// the caller replays its history).
    public func takeOver(_ asset: String, fence: Int64) async throws -> Bool {
        guard let store = cluster?.store else { return false }
        let stored = try await store.assetState(asset)
        var positions: [String: Int64] = [:]
        for (name, a) in cluster?.inputAsset ?? [:] where a == asset {
            positions[name] = try await store.inputPosition(name)
        }
        if let stored {
            let model = engine.policies[asset]
            let state = stored.state
            let walker = await Task.detached { StreamingEngine.walker(for: model, state) }.value
            engine.adopt(asset, stored.state, walker: walker)
            cluster?.stateVersions[asset] = stored.version
        }
        for (name, n) in positions {
            inputPositions[name] = n
            cluster?.committedInputs[name] = n
        }
        cluster?.fences[asset] = fence
        cluster?.releasing.remove(asset)
        return stored != nil
    }

    /// Hands an asset over: no new quotes for it, its queue committed; returns its fencing
    /// token for the store's release (nil when it was not owned or the flush failed).
    public func beginRelease(_ asset: String) async -> Int64? {
        guard let fence = cluster?.fences[asset] else { return nil }
        cluster?.releasing.insert(asset)
        do { try await flush() } catch {
            cluster?.releasing.remove(asset)
            return nil
        }
        cluster?.fences[asset] = nil
        cluster?.releasing.remove(asset)
        cluster?.stateVersions[asset] = nil
        return fence
    }

    /// Lines of a named input consumed so far.
    public func inputPosition(_ name: String) -> Int64 { inputPositions[name] ?? 0 }
}
