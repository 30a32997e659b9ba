import Foundation
import VolScaleEngine

/// Drives the engine from an input and commits to a store in batches. A batch is
/// acknowledged only after its commit returns: what is acknowledged is durable.
public struct Ingestor {
    public let store: any EngineStore
    public private(set) var engine: StreamingEngine
    public var batchSize: Int
    var pendingQuotes: [Quote] = []
    var pendingPublications: [Publication] = []
    public private(set) var committedQuotes: Int64 = 0

    /// Resumes from the store's snapshot, or starts with `config` on a new store.
    public static func open(store: any EngineStore, config: EngineConfig?, batchSize: Int) async throws -> Ingestor {
        if let snap = try await store.loadSnapshot() {
            return Ingestor(store: store, engine: StreamingEngine(snapshot: snap), batchSize: batchSize)
        }
        guard let config else { throw StoreError(store: "\(store)", reason: "new store: give the assets to track (--assets)") }
        return Ingestor(store: store, engine: StreamingEngine(config: config), batchSize: batchSize)
    }

    init(store: any EngineStore, engine: StreamingEngine, batchSize: Int) {
        self.store = store
        self.engine = engine
        self.batchSize = batchSize
    }

    public var pending: Int { pendingQuotes.count }

    /// Feeds a quote; returns the publications it triggered, or why it was rejected.
    @discardableResult
    public mutating func feed(_ q: Quote, now: Int64? = nil) -> Result<[Publication], RejectionReason> {
        let r = engine.ingest(q, now: now)
        if case let .success(pubs) = r {
            pendingQuotes.append(q)
            pendingPublications += pubs
        }
        return r
    }

    /// Commits what is pending together with the engine state and the input position.
    public mutating func commit(input: (name: String, lines: Int64)?) async throws {
        let batch = CommitBatch(quotes: pendingQuotes, publications: pendingPublications, snapshot: engine.snapshot, input: input)
        try await store.commit(batch)
        committedQuotes += Int64(pendingQuotes.count)
        pendingQuotes.removeAll(keepingCapacity: true)
        pendingPublications.removeAll(keepingCapacity: true)
    }
}

/// Parses one JSON line of a quote: {"asset", "source", "ts", "price", "confidence"?};
/// ts as epoch (s, ms or us by magnitude) or an ISO string.
public enum QuoteLine {
    public static func parse(_ line: Substring, defaultAsset: String? = nil, defaultSource: String? = nil) -> Quote? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        guard let asset = (o["asset"] as? String) ?? defaultAsset, let source = (o["source"] as? String) ?? defaultSource else { return nil }
        let tsValue = o["ts"] ?? o["timestamp"]
        var ts: Int64?
        if let n = tsValue as? NSNumber { ts = millis(n.doubleValue) } else if let s = tsValue as? String { ts = isoMillis(s) }
        guard let t = ts, let p = (o["price"] as? NSNumber)?.doubleValue else { return nil }
        return Quote(asset: asset, source: source, timestamp: t, price: p, confidence: (o["confidence"] as? NSNumber)?.doubleValue)
    }

    static func millis(_ v: Double) -> Int64 {
        let a = abs(v)
        return Int64((a < 1e11 ? v * 1000 : a < 1e14 ? v : a < 1e17 ? v / 1000 : v / 1e6).rounded())
    }

    static func isoMillis(_ s: String) -> Int64? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }
}
