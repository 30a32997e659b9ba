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
    /// Set when this process is one of several on a PostgreSQL store (`Cluster.swift`): the
    /// assets it owns, and how far it has followed what the others committed.
    var cluster: ClusterRole?

    // MARK: Durability
    /// What waits for the store (quotes, publications, account status changes) and how far
    /// it is durable (`Components/CommitQueue.swift`).
    var queue = CommitQueue()
    var writerWake: CheckedContinuation<Void, Never>?
    var stopping = false
    /// The last commit error, while the store keeps failing (nil once a commit succeeds).
    public internal(set) var storeFailure: String?

    // MARK: Components (Components/): each one job, a value the actor owns and calls in order
    /// Recent publications (stream resume, rate history, `/v1/rates`).
    var publicationLog = PublicationLog(capacity: 20_000)
    /// The stream's subscribers, each with a bounded buffer.
    var hub = PublicationHub(buffer: subscriberBuffer, limit: maxSubscribers)
    /// Events a subscriber may have buffered before it is dropped as a slow consumer.
    public static let subscriberBuffer = 4096
    /// Stream clients at once; a further one is refused with 503.
    public static let maxSubscribers = 256
    /// Per asset: recent (time, aggregate price, sigma per bar or nil).
    var charts = ChartHistory(capacity: 6000)
    /// Which assets have had no quote for the maximum age (wall clock).
    var staleness: Staleness
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
    public internal(set) var surfaces: [String: ChainSurface] = [:]
    var lastStatus: [String: Bool] = [:]

    // MARK: Staleness (wall clock: when quotes last arrived, whatever their timestamps)

    /// An asset with no accepted quote for this long (milliseconds of wall-clock time) is
    /// stale: `/v1/assets` and the stream say so. Its rates cannot loosen meanwhile: the
    /// engine publishes only on accepted quotes.
    public var maxQuoteAge: Int64 { staleness.maxAge }
    public var stale: Set<String> { staleness.stale }

    public func setMaxQuoteAge(_ ms: Int64) { staleness.maxAge = ms }

    /// The time of day the service goes by (UTC ms): the system's, or a test's.
    public nonisolated let clock: ServiceClock

    /// The asset's status as the API reports it: stale, unstable (circuit breaker) or stable.
    public func status(of asset: String) -> PriceStatus {
        staleness.isStale(asset)
            ? .stale : PriceStatus(unstable: engine.aggregator.states[asset]?.unstable ?? false)
    }

    /// Marks the assets without a quote for `maxQuoteAge` stale (a `status` event each); an
    /// asset never quoted since start counts from the start. Run every second by
    /// `StalenessMonitor`.
    public func checkStaleness() {
        let now = clock.now()
        for asset in staleness.check(engine.config.assets, at: now) {
            broadcast(.status(asset: asset, status: .stale, time: now))
        }
    }

    public typealias HistoryPoint = VolScaleServer.HistoryPoint

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
    public func seedHistory(_ h: [String: [HistoryPoint]]) { charts.seed(h) }

    public init(engine: StreamingEngine, store: (any EngineStore)?, book: MarginBook, clock: ServiceClock = .system) {
        self.clock = clock
        self.staleness = Staleness(startedAt: clock.now())
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
        let now = clock.now()
        for c in changes {
            let ratio = c.marginRatio.map { "margin ratio " + String(format: "%.4f", $0) } ?? "equity not positive"
            if record {
                queue.add(
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
                queue.accept(q)
                pubs += p
                recordHistory(q)
            }
        }
        if accepted > 0 || !pubs.isEmpty {
            queue.add(pubs)
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
        let ticket = queue.appended
        var duplicates = 0
        var unresolved: [(key: QuoteKey, reason: RejectionReason)] = []
        for k in maybeDuplicate {
            if queue.isUncommitted(k.key) { duplicates += 1 } else { unresolved.append(k) }
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
        let now = clock.now()
        if staleness.arrived(asset, at: now) {
            let unstable = engine.aggregator.states[asset]?.unstable ?? false
            broadcast(.status(asset: asset, status: PriceStatus(unstable: unstable), time: now))
        }
    }

    func recordHistory(_ q: Quote) {
        guard let st = engine.aggregator.states[q.asset], let agg = st.aggregate else { return }
        let sigma = engine.volatility[q.asset]?.variance.map { $0.squareRoot() }
        charts.add(q.asset, HistoryPoint(t: q.timestamp, price: agg, sigma: sigma))
        if lastStatus[q.asset] != st.unstable {
            lastStatus[q.asset] = st.unstable
            if !staleness.isStale(q.asset) {
                broadcast(.status(asset: q.asset, status: PriceStatus(unstable: st.unstable), time: q.timestamp))
            }
        }
    }

    /// Adds a publication read back from the store to the log (no broadcast).
    public func appendStored(_ p: Publication) { publicationLog.recordStored(p) }

    /// A new publication: logged and streamed.
    func append(_ p: Publication) {
        publicationLog.record(p)
        broadcast(.publication(p))
    }

    func broadcast(_ e: StreamEvent) { hub.broadcast(e) }

    /// Records how far a named input has been consumed (committed with the next commit).
    public func setInputPosition(_ name: String, _ lines: Int64) {
        inputPositions[name] = lines
        queueChanged()
    }
}
