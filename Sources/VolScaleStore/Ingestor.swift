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
            return Ingestor(store: store, engine: try StreamingEngine(snapshot: snap), batchSize: batchSize)
        }
        guard let config else {
            throw StoreError(store: "\(store)", reason: "new store: give the assets to track (--assets)")
        }
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
        if case .success(let pubs) = r {
            pendingQuotes.append(q)
            pendingPublications += pubs
        }
        return r
    }

    /// Commits what is pending together with the engine state and the input position.
    public mutating func commit(input: (name: String, lines: Int64)?) async throws {
        let batch = CommitBatch(
            quotes: pendingQuotes, publications: pendingPublications, snapshot: engine.snapshot, input: input)
        try await store.commit(batch)
        committedQuotes += Int64(pendingQuotes.count)
        pendingQuotes.removeAll(keepingCapacity: true)
        pendingPublications.removeAll(keepingCapacity: true)
    }
}
