import Foundation
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// The service's live state: the engine, its store, recent history for charts, the
/// publication log for stream resume, and the margin book for what-if requests.
public actor ServiceState {
    public private(set) var engine: StreamingEngine
    let store: (any EngineStore)?
    var pendingQuotes: [Quote] = []
    var pendingPublications: [Publication] = []
    public let book: MarginBook
    let calculator: MarginCalculator
    /// The same calculator without explanation text, for requests that do not ask for it.
    let plainCalculator: MarginCalculator
    /// Recent publications (for resume), oldest first.
    var log: [Publication] = []
    let logCapacity = 20_000
    var subscribers: [UUID: AsyncStream<StreamEvent>.Continuation] = [:]
    /// Per asset: recent (time, aggregate price, sigma per bar or nil).
    var history: [String: [HistoryPoint]] = [:]
    let historyCapacity = 6000
    public private(set) var ready = false
    /// Accounts the service knows by id (margin on request, stress).
    public private(set) var accounts: [String: Account] = [:]
    public func setAccounts(_ a: [Account]) { accounts = Dictionary(a.map { ($0.id, $0) }, uniquingKeysWith: { $1 }) }
    /// Lines of named inputs consumed (committed with the next flush).
    var inputPositions: [String: Int64] = [:]
    var lastStatus: [String: Bool] = [:]

    public struct HistoryPoint: Sendable, Codable {
        public var t: Int64
        public var price: Double
        public var sigma: Double?
    }

    /// Adds chart history without touching the engine (used when resuming a store).
    public func seedHistory(_ h: [String: [HistoryPoint]]) {
        for (k, v) in h { history[k] = Array(v.suffix(historyCapacity)) }
    }

    public init(engine: StreamingEngine, store: (any EngineStore)?, book: MarginBook) {
        self.engine = engine
        self.store = store
        self.book = book
        self.calculator = MarginCalculator(book: book)
        var plain = calculator
        plain.explaining = false
        self.plainCalculator = plain
    }

    public func markReady() { ready = true }

    /// Feeds quotes; returns (accepted, rejected by reason, publications).
    public func ingest(_ quotes: [Quote], now: Int64? = nil) async throws -> (accepted: Int, rejected: [String: Int], publications: [Publication]) {
        var accepted = 0
        var rejected: [String: Int] = [:]
        var pubs: [Publication] = []
        for q in quotes {
            switch engine.ingest(q, now: now) {
            case let .failure(r): rejected[r.rawValue, default: 0] += 1
            case let .success(p):
                accepted += 1
                pendingQuotes.append(q)
                pubs += p
                if let st = engine.aggregator.states[q.asset], let agg = st.aggregate {
                    let sigma = engine.volatility[q.asset]?.variance.map { $0.squareRoot() }
                    var h = history[q.asset, default: []]
                    if let last = h.last, last.t == q.timestamp { h.removeLast() }
                    h.append(HistoryPoint(t: q.timestamp, price: agg, sigma: sigma))
                    if h.count > historyCapacity { h.removeFirst(h.count - historyCapacity) }
                    history[q.asset] = h
                    if lastStatus[q.asset] != st.unstable {
                        lastStatus[q.asset] = st.unstable
                        broadcast(.status(asset: q.asset, unstable: st.unstable, time: q.timestamp))
                    }
                }
            }
        }
        pendingPublications += pubs
        for p in pubs { append(p) }
        if pendingQuotes.count >= 5000 { try await flush() }
        return (accepted, rejected, pubs)
    }

    /// Adds a publication read back from the store to the log (no broadcast).
    public func appendStored(_ p: Publication) {
        if let last = log.last, p.sequence <= last.sequence { return }
        log.append(p)
    }

    func append(_ p: Publication) {
        log.append(p)
        if log.count > logCapacity { log.removeFirst(log.count - logCapacity) }
        broadcast(.publication(p))
    }

    func broadcast(_ e: StreamEvent) {
        for c in subscribers.values { c.yield(e) }
    }

    /// Commits what is pending to the store (also on graceful shutdown).
    public func setInputPosition(_ name: String, _ lines: Int64) { inputPositions[name] = lines }

    public func flush() async throws {
        guard let store, !(pendingQuotes.isEmpty && pendingPublications.isEmpty) else { return }
        try await store.commit(CommitBatch(quotes: pendingQuotes, publications: pendingPublications, snapshot: engine.snapshot, inputs: inputPositions))
        pendingQuotes.removeAll(keepingCapacity: true)
        pendingPublications.removeAll(keepingCapacity: true)
    }

    /// A stream of events: first every logged publication after `since`, then live ones.
    /// A client that reconnects with the last sequence it saw misses nothing still in the log.
    public func subscribe(since: Int64?) -> (stream: AsyncStream<StreamEvent>, id: UUID, missed: Bool) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<StreamEvent>.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        var missed = false
        if let since {
            if let first = log.first, first.sequence > since + 1 { missed = true }
            for p in log where p.sequence > since { continuation.yield(.publication(p)) }
        }
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return (stream, id, missed)
    }

    func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    public func latestPublications() -> [Publication] {
        var latest: [String: Publication] = [:]
        for p in log { latest["\(p.asset)|\(p.side)"] = p }
        return latest.values.sorted { $0.sequence < $1.sequence }
    }

    public func publications(asset: String, limit: Int) -> [Publication] {
        Array(log.filter { $0.asset == asset }.suffix(limit))
    }

    public func history(_ asset: String) -> [HistoryPoint] { history[asset] ?? [] }

    /// Applies a policy change and appends it to the audit chain (stored with the next flush).
    public func updatePolicy(buffer: Double??, speedLimitUp: Double??, speedLimitDown: Double??, hardFloor: Double??,
                             hardCap: Double??, maintenanceFraction: Double?, by who: String) async throws -> Publication {
        let p = engine.updatePolicy(buffer: buffer, speedLimitUp: speedLimitUp, speedLimitDown: speedLimitDown, hardFloor: hardFloor,
                                    hardCap: hardCap, maintenanceFraction: maintenanceFraction, by: who,
                                    at: Int64(Date().timeIntervalSince1970 * 1000))
        pendingPublications.append(p)
        append(p)
        if store != nil {
            // policy changes are committed at once, with an empty quote batch
            try await store!.commit(CommitBatch(quotes: pendingQuotes, publications: pendingPublications, snapshot: engine.snapshot, inputs: inputPositions))
            pendingQuotes.removeAll(keepingCapacity: true)
            pendingPublications.removeAll(keepingCapacity: true)
        }
        return p
    }

    /// Stateless on purpose (the calculator is immutable): what-if requests run in
    /// parallel, not through the actor.
    nonisolated public func whatIf(_ account: Account, mode: MarginMode, explain: Bool = true) throws(AccountError) -> AccountResult {
        try (explain ? calculator : plainCalculator).evaluate(account, mode: mode)
    }

    public var lag: Int64 {
        let latest = engine.aggregator.states.values.map(\.lastUpdate).max() ?? 0
        return latest == 0 ? 0 : max(0, Int64(Date().timeIntervalSince1970 * 1000) - latest)
    }
}

/// An event on the live stream.
public enum StreamEvent: Sendable {
    case publication(Publication)
    case status(asset: String, unstable: Bool, time: Int64)
}
