import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

extension ServiceState {
    /// A new option chain for an asset: its 30-day model-free index becomes the asset's implied
    /// volatility in the engine (committed with the engine's state; answered once durable), and
    /// its fitted surface is kept for the API and the dashboard. Several processes: only the
    /// asset's owner takes it (`ClusterRole.notOwned` otherwise).
    public func setImplied(_ asset: String, _ value: ImpliedVolatility, surface: ChainSurface?) async throws
        -> ImpliedRejection?
    {
        if let c = cluster, !c.owns(asset), engine.config.assets.contains(asset) { throw NotOwnedError(asset: asset) }
        if let r = engine.setImplied(asset, value) { return r }
        surfaces[asset] = surface  // nil when no expiry could be fitted: no stale surface is shown
        impliedChanged.insert(asset)
        queueChanged()
        try await waitDurable(queue.appended)
        return nil
    }

    /// Applies a policy change and appends it to the audit chain; returns once it is durable.
    /// Throws `EngineConfigError`, having changed nothing, when the controls would be invalid.
    public func updatePolicy(
        buffer: Double??, speedLimitUp: Double??, speedLimitDown: Double??, hardFloor: Double??,
        hardCap: Double??, maintenanceFraction: Double?, by who: String
    ) async throws -> Publication {
        let p = try engine.updatePolicy(
            buffer: buffer, speedLimitUp: speedLimitUp, speedLimitDown: speedLimitDown, hardFloor: hardFloor,
            hardCap: hardCap, maintenanceFraction: maintenanceFraction, by: who,
            at: clock.now())
        queue.add([p])
        if cluster == nil { append(p) } else { cluster?.configChanged = true }
        queueChanged()
        try await waitDurable(queue.appended)
        return globalNumbers([p]).first ?? p
    }

    /// Outside the actor on purpose: what-if requests run in parallel at the latest
    /// parameter sets (the calculators are immutable; a new set swaps them in `margin`).
    /// The result names the sequence of the sets it used.
    nonisolated public func whatIf(_ account: Account, mode: MarginMode, explain: Bool = true) throws(AccountError)
        -> AccountResult
    {
        let c = margin.current
        return try (explain ? c.explaining : c.plain).evaluate(account, mode: mode).numbered(c.sequence)
    }

    /// The names requests may use: the engine's assets, the book's assets and its
    /// instruments other than spot ones, each sorted.
    var vocabulary: VenueVocabulary {
        let b = book
        return VenueVocabulary(
            engineAssets: engine.config.assets.sorted(), bookAssets: b.assets.keys.sorted(),
            instruments: b.instruments.filter { $0.value.kind != .spot }.keys.sorted())
    }

    /// The book at the latest parameter sets.
    nonisolated public var book: MarginBook { margin.current.plain.book }

    public var lag: Int64 {
        let latest = engine.aggregator.states.values.map(\.lastUpdate).max() ?? 0
        return latest == 0 ? 0 : max(0, clock.now() &- latest)
    }
}
