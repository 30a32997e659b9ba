import Foundation
import Logging
import ServiceLifecycle
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

extension ServiceState {
    /// Where a follower starts: the chain's stored publications are already in the log
    /// (`prepare`), account events from the latest one, the asset states and configuration
    /// version it has adopted.
    public func startFollowing(sequence: Int64, accountEvent: Int64, versions: [String: Int64], configVersion: Int64) {
        cluster?.followedSequence = sequence
        cluster?.followedAccountEvent = accountEvent
        cluster?.stateVersions = versions
        cluster?.configVersion = configVersion
    }

    /// Reads what the store has that this process has not seen: publications in sequence
    /// order (to the log, the stream and the live book; status changes they cause recorded
    /// only for this process's assets), the states of assets owned elsewhere, the venue's
    /// controls after a policy update, and account writes.
    public func follow(limit: Int = 2000) async throws {
        guard let store = cluster?.store else { return }
        let after = cluster?.followedSequence ?? 0
        let rows = try await store.publications(after: after, limit: limit)
        // another call may have run while this one waited: only what is still new
        let fresh = rows.map(\.publication).filter { $0.sequence > (cluster?.followedSequence ?? 0) }
        if let last = fresh.last { cluster?.followedSequence = last.sequence }
        if fresh.contains(where: { $0.asset == Publication.policyAsset }), let stored = try await store.venueConfig(),
            stored.version != cluster?.configVersion
        {
            try engine.adoptControls(from: stored.config)
            cluster?.configVersion = stored.version
        }
        var i = 0
        while i < fresh.count {
            // runs of publications of owned / not owned assets, in order
            let owned = cluster?.fences[fresh[i].asset] != nil
            var j = i
            while j < fresh.count, (cluster?.fences[fresh[j].asset] != nil) == owned { j += 1 }
            let run = Array(fresh[i..<j])
            for p in run { append(p) }
            applyParameterSets(run, record: owned)
            i = j
        }
        // states of the assets owned elsewhere
        let versions = try await store.assetStateVersions()
        for (asset, v) in versions where cluster?.fences[asset] == nil && cluster?.stateVersions[asset] != v {
            guard let s = try await store.assetState(asset), cluster?.fences[asset] == nil else { continue }
            // its owner accepted quotes since: not stale here either
            if s.state.price.lastUpdate > (engine.aggregator.states[asset]?.lastUpdate ?? 0) { arrived(asset) }
            engine.adopt(asset, s.state, following: true)
            cluster?.stateVersions[asset] = s.version
            if let price = s.state.price.aggregate,
                charts.last(asset).map({ $0.t < s.state.price.lastUpdate }) ?? true
            {
                charts.add(
                    asset,
                    HistoryPoint(
                        t: s.state.price.lastUpdate, price: price,
                        sigma: s.state.volatility.variance.map { $0.squareRoot() }))
            }
        }
        try await followAccounts(store)
    }

    /// Account writes made through any process (its own are applied again, harmlessly).
    func followAccounts(_ store: PostgresStore) async throws {
        let from = max(0, (cluster?.followedAccountEvent ?? 0) - 256)
        let events = try await store.accountEvents(after: from, limit: 5000)
        for e in events where !(cluster?.seenAccountEvents.contains(e.number) ?? true) {
            cluster?.seenAccountEvents.insert(e.number)
            let followed = max(cluster?.followedAccountEvent ?? 0, e.number)
            cluster?.followedAccountEvent = followed
            switch e.kind {
            case "put":
                if let document = try? ServiceAPI.storedDocument(e.detail),
                    let account = try? ServiceAPI.account(document),
                    monitor.entry(account.id)?.account != account
                {
                    // the latest version only: an older event of an account changed since is skipped
                    if let current = try await store.account(e.id), current.version != e.version { continue }
                    setAccount(
                        account, mode: document.mode.flatMap { MarginMode(rawValue: $0.rawValue) }, record: false)
                }
            case "delete":
                if let current = try await store.account(e.id), current.version > e.version { continue }
                removeAccount(e.id)
            default: break
            }
        }
        if let c = cluster, c.seenAccountEvents.count > 4096 {
            let floor = c.followedAccountEvent - 1024
            cluster?.seenAccountEvents = c.seenAccountEvents.filter { $0 > floor }
        }
    }
}
