import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// The service's live state: the engine, its store, recent history for charts, the
/// publication log for stream resume, and the margin book for what-if requests.
///
/// Durability: quotes are applied to the engine in the actor and queued; one committer at
/// a time (`commitPending`, called by the `StoreWriter` service and by `flush`) takes the
/// whole queue and commits it with the engine snapshot taken at the same moment (group
/// commit). An ingest request is answered only once the generation it joined is durable
/// (`waitDurable`), so an acknowledged quote survives SIGKILL. A failed commit puts its batch
/// back at the head of the queue; nothing is dropped between a take and a commit.
public actor ServiceState {
    public internal(set) var engine: StreamingEngine
    let store: (any EngineStore)?
    /// The venue's book at the latest parameter sets (the engine's publications applied).
    public private(set) var live: LiveBook
    /// The calculators of `live`, for requests that run outside the actor (what-if).
    nonisolated let margin: MarginCell
    /// The accounts, indexed by asset, with their last status (re-margined on publication).
    public private(set) var monitor: AccountMonitor
    /// Status changes waiting for the next commit (stored in the accounts' history).
    var pendingStatusEvents: [AccountStatusRecord] = []
    /// Set when this process is one of several on a PostgreSQL store (`Cluster.swift`): the
    /// assets it owns, and how far it has followed what the others committed.
    var cluster: ClusterRole?

    // MARK: Durability queue
    var pendingQuotes: [Quote] = []
    var pendingPublications: [Publication] = []
    /// Keys of accepted quotes not yet durable (queued or in the commit in flight), for
    /// recognising a resent quote as a duplicate before it reaches the store.
    var uncommitted: Set<QuoteKey> = []
    /// Generation of the queue: increases with every change that must be made durable.
    var appended: UInt64 = 0
    /// Every change up to this generation is committed.
    var durable: UInt64 = 0
    var committing = false
    var waiters: [UInt64: (target: UInt64, continuation: CheckedContinuation<Void, any Error>)] = [:]
    var nextWaiter: UInt64 = 0
    var writerWake: CheckedContinuation<Void, Never>?
    var stopping = false
    /// The last commit error, while the store keeps failing (nil once a commit succeeds).
    public internal(set) var storeFailure: String?

    // MARK: Stream and charts
    /// Recent publications (for resume), oldest first.
    var log: [Publication] = []
    /// The newest publication per asset and side (`/v1/rates`).
    var latest: [String: Publication] = [:]
    let logCapacity = 20_000
    var subscribers: [UUID: Subscriber] = [:]
    /// Events a subscriber may have buffered before it is dropped as a slow consumer.
    public static let subscriberBuffer = 4096
    /// Stream clients at once; a further one is refused with 503.
    public static let maxSubscribers = 256
    /// Per asset: recent (time, aggregate price, sigma per bar or nil).
    var history: [String: [HistoryPoint]] = [:]
    let historyCapacity = 6000
    public private(set) var ready = false
    /// The accounts the service knows, in id order (stress).
    public var accounts: [Account] { monitor.entries.map(\.account).sorted { $0.id < $1.id } }
    /// An account and its own margin mode (its document's `mode`, else standard).
    public func account(_ id: String) -> (account: Account, mode: MarginMode)? {
        monitor.entry(id).map { ($0.account, $0.mode) }
    }
    public func setAccounts(_ a: [Account]) { for x in a { setAccount(x, mode: nil) } }
    /// Adds or replaces an account and evaluates it at once: a change of its status (from
    /// its previous version's) is an `account` event like one caused by a publication.
    /// - Parameter evaluate: false when many are loaded at once (start-up), which
    ///   `remarginAll` then evaluates together.
    public func setAccount(_ a: Account, mode: MarginMode?, evaluate: Bool = true, record: Bool = true) {
        monitor.set(a, mode: mode ?? .standard)
        guard evaluate else { return }
        let result = monitor.remargin(ids: [a.id], calculator: margin.current.plain, sequence: live.sequence)
        report(result.changes, record: record)
    }
    public func removeAccount(_ id: String) { monitor.remove(id) }
    /// The store, for the routes that read and write it directly (accounts).
    nonisolated public var accountStore: (any EngineStore)? { store }
    /// Lines of named inputs consumed (committed with the next flush).
    var inputPositions: [String: Int64] = [:]
    /// Assets whose implied volatility changed since the last commit (several processes: their
    /// states go into the next commit).
    var impliedChanged: Set<String> = []
    /// The latest surface fitted to each asset's option chain (for the API and the dashboard;
    /// not durable: the next chain refits it).
    public private(set) var surfaces: [String: ChainSurface] = [:]
    var lastStatus: [String: Bool] = [:]

    // MARK: Staleness (wall clock: when quotes last arrived, whatever their timestamps)

    /// An asset with no accepted quote for this long (milliseconds of wall-clock time) is
    /// stale: `/v1/assets` and the stream say so. Its rates cannot loosen meanwhile: the
    /// engine publishes only on accepted quotes.
    public private(set) var maxQuoteAge: Int64 = 60_000
    var lastArrival: [String: Int64] = [:]
    public private(set) var stale: Set<String> = []

    public func setMaxQuoteAge(_ ms: Int64) { maxQuoteAge = ms }

    public static func wallClock() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The asset's status as the API reports it: stale, unstable (circuit breaker) or stable.
    public func status(of asset: String) -> PriceStatus {
        stale.contains(asset) ? .stale : PriceStatus(unstable: engine.aggregator.states[asset]?.unstable ?? false)
    }

    /// Marks the assets without a quote for `maxQuoteAge` stale (a `status` event each); an
    /// asset never quoted since start counts from the start. Run every second by
    /// `StalenessMonitor`.
    public func checkStaleness(now: Int64 = ServiceState.wallClock()) {
        for asset in engine.config.assets where !stale.contains(asset) {
            let last = lastArrival[asset] ?? startedAt
            if now &- last > maxQuoteAge {
                stale.insert(asset)
                broadcast(.status(asset: asset, status: .stale, time: now))
            }
        }
    }

    let startedAt = ServiceState.wallClock()

    struct Subscriber {
        let continuation: AsyncStream<StreamEvent>.Continuation
        let flag: SubscriptionFlag
    }

    public struct HistoryPoint: Sendable, Codable {
        public var t: Int64
        public var price: Double
        public var sigma: Double?
    }

    /// What one ingest call did: counts by outcome, the publications it triggered, and the
    /// queue generation that must be durable before it is acknowledged.
    public struct IngestResult: Sendable {
        public var accepted: Int
        /// Quotes already accepted earlier (same asset, source and timestamp): a resent
        /// batch is answered with these counts, not an error.
        public var duplicates: Int
        public var rejected: [String: Int]
        public var publications: [Publication]
        public var ticket: UInt64
        /// Several processes: quotes for assets another process owns, stored for it.
        public var forwarded = 0
    }

    /// Adds chart history without touching the engine (used when resuming a store).
    public func seedHistory(_ h: [String: [HistoryPoint]]) {
        for (k, v) in h { history[k] = Array(v.suffix(historyCapacity)) }
    }

    public init(engine: StreamingEngine, store: (any EngineStore)?, book: MarginBook) {
        self.engine = engine
        self.store = store
        self.live = LiveBook(book: book)
        self.margin = MarginCell(book: book, sequence: 0)
        self.monitor = AccountMonitor(book: book)
    }

    /// Applies new parameter sets to the live book, and re-margins every account holding an
    /// asset whose set changed (only those). Runs in the actor, in publication order.
    func applyParameterSets(_ publications: [Publication], record: Bool = true) {
        let changed = live.apply(publications, config: engine.config)
        guard !changed.isEmpty else { return }
        margin.update(book: live.book, sequence: live.sequence)
        let result = monitor.remargin(assets: changed, calculator: margin.current.plain, sequence: live.sequence)
        lastRemargin = (result.evaluated, live.sequence)
        report(result.changes, record: record)
    }

    /// Applies parameter sets read back from the store (a resumed service), without
    /// re-margining (`remarginAll` follows once the accounts are loaded).
    public func restoreParameterSets(_ publications: [Publication]) {
        guard !live.apply(publications, config: engine.config).isEmpty else { return }
        margin.update(book: live.book, sequence: live.sequence)
    }

    /// Evaluates every account at the latest sets (start-up: each one's first status).
    /// Several processes: each one's first statuses are its own (streamed, not recorded).
    public func remarginAll() {
        let result = monitor.remargin(assets: nil, calculator: margin.current.plain, sequence: live.sequence)
        report(result.changes, record: cluster == nil)
    }

    /// How many accounts the last re-margin evaluated, at which sequence.
    public private(set) var lastRemargin: (accounts: Int, sequence: Int64) = (0, 0)

    /// Status changes: streamed at once, stored in the accounts' history with the next commit.
    /// - Parameter record: false for changes another process records (several processes:
    ///   the owner of the asset whose publication caused them, or the process that took the
    ///   account write); they are still streamed.
    func report(_ changes: [AccountMonitor.Change], record: Bool = true) {
        guard !changes.isEmpty else { return }
        let now = Self.wallClock()
        for c in changes {
            let ratio = c.marginRatio.map { "margin ratio " + String(format: "%.4f", $0) } ?? "equity not positive"
            if record {
                pendingStatusEvents.append(
                    AccountStatusRecord(
                        id: c.id, time: now,
                        detail: "\(c.old?.rawValue ?? "none") -> \(c.new.rawValue) (\(ratio), sequence \(c.sequence))"))
            }
            broadcast(.account(c, time: now))
        }
        guard record else { return }
        queueChanged()
    }

    public func markReady() { ready = true }

    /// Feeds quotes to the engine and queues the accepted ones for the store. Quotes the
    /// engine refuses as duplicate or out of order are counted as duplicates when the same
    /// (asset, source, timestamp) was accepted before (still queued, or in the store).
    /// - Parameter forward: several processes: a quote for an asset another process owns is
    ///   stored for its owner (`forwarded`); false refuses it (`notOwned`).
    public func ingest(_ quotes: [Quote], now: Int64? = nil, forward: Bool = true) async throws -> IngestResult {
        var accepted = 0
        var rejected: [String: Int] = [:]
        var pubs: [Publication] = []
        var maybeDuplicate: [(key: QuoteKey, reason: RejectionReason)] = []
        var forwarding: [Quote] = []
        for q in quotes {
            if let c = cluster, !c.owns(q.asset) {
                if forward && engine.config.assets.contains(q.asset) {
                    forwarding.append(q)
                } else {
                    rejected[
                        engine.config.assets.contains(q.asset)
                            ? ClusterRole.notOwned : RejectionReason.unknownAsset.rawValue, default: 0] += 1
                }
                continue
            }
            switch engine.ingest(q, now: now) {
            case .failure(let r):
                // a resent quote meets a later state: stored (or queued) it is a duplicate, else
                // refused for the reason the engine gave
                if r == .duplicate || r == .outOfOrder || r == .beforeLastBar || r == .tooOld {
                    maybeDuplicate.append((QuoteKey(q), r))
                } else {
                    rejected[r.rawValue, default: 0] += 1
                }
            case .success(let p):
                accepted += 1
                arrived(q.asset)
                pendingQuotes.append(q)
                uncommitted.insert(QuoteKey(q))
                pubs += p
                recordHistory(q)
            }
        }
        if accepted > 0 || !pubs.isEmpty {
            pendingPublications += pubs
            // several processes: publications are numbered by the store and reach the stream
            // and the book when the follower reads them back (`follow`), as the others' do
            if cluster == nil {
                for p in pubs { append(p) }
                applyParameterSets(pubs)
            }
            queueChanged()
        }
        // Everything decided so far is part of this ticket; the store lookup below may
        // suspend the actor, which is harmless: rejected quotes change no state.
        let ticket = appended
        var duplicates = 0
        var unresolved: [(key: QuoteKey, reason: RejectionReason)] = []
        for k in maybeDuplicate {
            if uncommitted.contains(k.key) { duplicates += 1 } else { unresolved.append(k) }
        }
        if !unresolved.isEmpty {
            let stored = try await store?.storedQuoteKeys(unresolved.map(\.key)) ?? []
            for k in unresolved {
                if stored.contains(k.key) {
                    duplicates += 1
                } else {
                    rejected[(k.reason == .duplicate ? .outOfOrder : k.reason).rawValue, default: 0] += 1
                }
            }
        }
        var result = IngestResult(
            accepted: accepted, duplicates: duplicates, rejected: rejected, publications: pubs, ticket: ticket)
        if let c = cluster, !forwarding.isEmpty {
            try await c.store.forward(forwarding, by: c.process)
            result.forwarded = forwarding.count
        }
        return result
    }

    /// A quote was accepted: the asset is fresh again (a `status` event if it was stale).
    func arrived(_ asset: String) {
        lastArrival[asset] = Self.wallClock()
        if stale.remove(asset) != nil {
            let unstable = engine.aggregator.states[asset]?.unstable ?? false
            broadcast(.status(asset: asset, status: PriceStatus(unstable: unstable), time: lastArrival[asset] ?? 0))
        }
    }

    func recordHistory(_ q: Quote) {
        guard let st = engine.aggregator.states[q.asset], let agg = st.aggregate else { return }
        let sigma = engine.volatility[q.asset]?.variance.map { $0.squareRoot() }
        addHistory(q.asset, HistoryPoint(t: q.timestamp, price: agg, sigma: sigma))
        if lastStatus[q.asset] != st.unstable {
            lastStatus[q.asset] = st.unstable
            if !stale.contains(q.asset) {
                broadcast(.status(asset: q.asset, status: PriceStatus(unstable: st.unstable), time: q.timestamp))
            }
        }
    }

    /// Adds a chart point (replacing one at the same time), keeping the latest `historyCapacity`.
    func addHistory(_ asset: String, _ point: HistoryPoint) {
        var h = history[asset, default: []]
        if let last = h.last, last.t == point.t { h.removeLast() }
        h.append(point)
        if h.count > historyCapacity { h.removeFirst(h.count - historyCapacity) }
        history[asset] = h
    }

    /// Adds a publication read back from the store to the log (no broadcast).
    public func appendStored(_ p: Publication) {
        if let last = log.last, p.sequence <= last.sequence { return }
        record(p)
    }

    func append(_ p: Publication) {
        record(p)
        broadcast(.publication(p))
    }

    /// The log keeps the latest `logCapacity` publications (trimmed a quarter at a time, so
    /// that appending stays O(1) amortised); `latest` the newest per asset and side.
    func record(_ p: Publication) {
        log.append(p)
        if log.count > logCapacity + logCapacity / 4 { log.removeFirst(log.count - logCapacity) }
        latest["\(p.asset)|\(p.side)"] = p
    }

    func broadcast(_ e: StreamEvent) {
        var slow: [UUID] = []
        for (id, s) in subscribers {
            if case .dropped = s.continuation.yield(e) { slow.append(id) }
        }
        for id in slow { drop(id) }
    }

    /// Ends a subscriber whose buffer is full: its stream ends with a `dropped` event that
    /// names the sequence to resume from.
    func drop(_ id: UUID) {
        guard let s = subscribers.removeValue(forKey: id) else { return }
        s.flag.markDropped()
        s.continuation.finish()
    }

    /// Records how far a named input has been consumed (committed with the next commit).
    public func setInputPosition(_ name: String, _ lines: Int64) {
        inputPositions[name] = lines
        queueChanged()
    }

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

    // MARK: - Stream

    /// A stream of events: first every logged publication after `since`, then live ones.
    /// A client that reconnects with the last sequence it saw misses nothing still in the
    /// log. At most `subscriberBuffer` events wait for a client; a slower one is dropped.
    /// A `since` beyond the latest sequence replays nothing and waits for live events.
    public func subscribe(since: Int64?) throws(SubscribeError) -> Subscription {
        guard subscribers.count < Self.maxSubscribers else { throw .tooMany }
        let id = UUID()
        let (stream, continuation) = AsyncStream<StreamEvent>.makeStream(
            bufferingPolicy: .bufferingOldest(Self.subscriberBuffer))
        let flag = SubscriptionFlag()
        var missed = false
        if let since {
            if let first = log.first, since < first.sequence - 1 { missed = true }
            for p in log where p.sequence > since {
                if case .dropped = continuation.yield(.publication(p)) {
                    // more to replay than a client may hold: it resumes from what it got
                    flag.markDropped()
                    continuation.finish()
                    return Subscription(events: stream, missed: missed, flag: flag)
                }
            }
        }
        subscribers[id] = Subscriber(continuation: continuation, flag: flag)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return Subscription(events: stream, missed: missed, flag: flag)
    }

    func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    /// Writes a keep-alive to every open stream (`StalenessMonitor`, every
    /// `keepAliveSeconds`): the streams of clients that left end at the failed write.
    public func keepStreamsAlive() { broadcast(.keepAlive) }
    public static let keepAliveSeconds = 10

    /// Ends every stream (graceful shutdown: open streams would keep the server waiting).
    public func closeStreams() {
        for s in subscribers.values {
            s.flag.markClosed()
            s.continuation.finish()
        }
        subscribers.removeAll()
    }

    public var subscriberCount: Int { subscribers.count }

    public func latestPublications() -> [Publication] {
        latest.values.sorted { $0.sequence < $1.sequence }
    }

    /// The asset's publications with a sequence below `before` (all when nil), the newest
    /// `limit` of them, oldest first.
    public func publications(asset: String, limit: Int, before: Int64? = nil) -> [Publication] {
        var out: [Publication] = []
        for p in log.reversed() where p.asset == asset && (before.map { p.sequence < $0 } ?? true) {
            out.append(p)
            if out.count >= limit { break }
        }
        return out.reversed()
    }

    public func history(_ asset: String) -> [HistoryPoint] { history[asset] ?? [] }

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
        try await waitDurable(appended)
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
            at: Int64(Date().timeIntervalSince1970 * 1000))
        pendingPublications.append(p)
        if cluster == nil { append(p) } else { cluster?.configChanged = true }
        queueChanged()
        try await waitDurable(appended)
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

    /// The book at the latest parameter sets.
    nonisolated public var book: MarginBook { margin.current.plain.book }

    public var lag: Int64 {
        let latest = engine.aggregator.states.values.map(\.lastUpdate).max() ?? 0
        return latest == 0 ? 0 : max(0, Int64(Date().timeIntervalSince1970 * 1000) &- latest)
    }
}

/// An acknowledgement could not be given: the quotes were applied but are not yet durable.
/// Resending them is safe: once stored, they are answered as duplicates.
/// A chain for an asset another process owns (several processes on one PostgreSQL).
public struct NotOwnedError: Error, Sendable, CustomStringConvertible {
    public let asset: String
    public var description: String { "asset \(asset) is margined by another process: send its chain there" }
}

/// A fitted surface and its index, as the API shows them.
public struct ChainSurface: Sendable {
    public let asOf: Int64
    public let index: Double
    public let fit: SurfaceFit
    /// Per fitted expiry (in `fit.surface.slices` order): expiry time (UTC ms) and the quotes.
    public let expiries: [(expiry: Int64, quotes: [SmileQuote])]
}

public struct NotDurable: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String {
        "not yet durable: \(reason); resending is safe (stored quotes are counted as duplicates)"
    }
}

/// The calculators at the latest parameter sets, swapped whole when a set is published:
/// a request reads one consistent (book, sequence) pair without going through the actor.
public final class MarginCell: Sendable {
    public struct Current: Sendable {
        public let explaining: MarginCalculator
        /// The same book without explanation text, for requests that do not ask for it.
        public let plain: MarginCalculator
        public let sequence: Int64
    }
    let state: Mutex<Current>

    init(book: MarginBook, sequence: Int64) { state = Mutex(Self.make(book, sequence)) }

    static func make(_ book: MarginBook, _ sequence: Int64) -> Current {
        let c = MarginCalculator(book: book)
        var plain = c
        plain.explaining = false
        return Current(explaining: c, plain: plain, sequence: sequence)
    }

    public var current: Current { state.withLock { $0 } }

    func update(book: MarginBook, sequence: Int64) {
        let next = Self.make(book, sequence)
        state.withLock { $0 = next }
    }
}

/// An event on the live stream.
public enum StreamEvent: Sendable {
    case publication(Publication)
    /// Re-margining changed an account's status.
    case account(AccountMonitor.Change, time: Int64)
    /// `stable`, `unstable` (circuit breaker) or `stale` (no quote within the maximum age).
    case status(asset: String, status: PriceStatus, time: Int64)
    /// Nothing happened for a while: an SSE comment is written, so a client that went away is
    /// noticed (the write fails) and its stream slot freed, on a quiet venue too.
    case keepAlive
}

public enum SubscribeError: Error, Sendable {
    /// As many streams are open as the service allows.
    case tooMany
}

/// Set when the service ends a subscription because the client read too slowly.
/// Also set when the service closes every stream at shutdown: the client's buffered events
/// are then not sent, so a slow client cannot hold up the shutdown.
public final class SubscriptionFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var shut = false
    func markDropped() {
        lock.lock()
        value = true
        lock.unlock()
    }
    func markClosed() {
        lock.lock()
        shut = true
        lock.unlock()
    }
    public var dropped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    public var closed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return shut
    }
}

/// A client's stream: replayed and live events, whether some requested ones are no longer
/// kept, and whether it was dropped for reading too slowly.
public struct Subscription: Sendable {
    public let events: AsyncStream<StreamEvent>
    public let missed: Bool
    public let flag: SubscriptionFlag
}

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
