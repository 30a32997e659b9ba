import Crypto
import Foundation
import VolScaleEngine

/// What one durable commit holds: the accepted quotes since the last commit, the
/// publications they triggered, the engine state after them, and how far into which
/// input the engine has read. Committed atomically: all or nothing.
public struct CommitBatch: Sendable {
    public var quotes: [Quote]
    public var publications: [Publication]
    public var snapshot: EngineSnapshot
    /// Inputs and the number of their lines consumed, for resuming files.
    public var inputs: [String: Int64]

    public init(quotes: [Quote], publications: [Publication], snapshot: EngineSnapshot, input: (name: String, lines: Int64)? = nil) {
        self.quotes = quotes
        self.publications = publications
        self.snapshot = snapshot
        self.inputs = input.map { [$0.name: $0.lines] } ?? [:]
    }

    public init(quotes: [Quote], publications: [Publication], snapshot: EngineSnapshot, inputs: [String: Int64]) {
        self.quotes = quotes
        self.publications = publications
        self.snapshot = snapshot
        self.inputs = inputs
    }
}

/// A stored publication with its place in the audit chain.
public struct StoredPublication: Sendable, Equatable {
    public var publication: Publication
    public var previousHash: String
    public var hash: String
}

/// The result of recomputing the audit chain.
public struct AuditReport: Sendable, Equatable {
    public var checked: Int
    /// Sequence number of the first row whose link does not hold, and why.
    public var firstBroken: (sequence: Int64, reason: String)?
    public var ok: Bool { firstBroken == nil }

    public static func == (a: AuditReport, b: AuditReport) -> Bool {
        a.checked == b.checked && a.firstBroken?.sequence == b.firstBroken?.sequence && a.firstBroken?.reason == b.firstBroken?.reason
    }
}

/// Storage errors name the store and the reason; a full or read-only disk is one of them,
/// never a crash, and a failed commit leaves the previous state intact.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var store: String
    public var reason: String
    public init(store: String, reason: String) { self.store = store; self.reason = reason }
    public var description: String { "\(store): \(reason)" }
}

/// Durable storage for the live engine: quotes, engine state, publications with a
/// hash-chained audit trail. Implemented on SQLite (embedded, default) and PostgreSQL.
public protocol EngineStore: Sendable {
    /// Makes a batch durable; returns only once it is committed.
    func commit(_ batch: CommitBatch) async throws
    /// The last committed engine state, nil for a new store.
    func loadSnapshot() async throws -> EngineSnapshot?
    /// Lines of `input` consumed by the last commit.
    func inputPosition(_ input: String) async throws -> Int64
    /// Publications, newest last; filtered by asset and by time (`at`: the ones in force
    /// then, i.e. the latest per asset and side at or before it).
    func publications(asset: String?, at: Int64?, limit: Int) async throws -> [StoredPublication]
    func quoteCount() async throws -> Int64
    /// The keys among `keys` that are stored (a resent quote is a duplicate, not an error).
    func storedQuoteKeys(_ keys: [QuoteKey]) async throws -> Set<QuoteKey>
    /// Recomputes the hash chain over every publication.
    func verifyAudit() async throws -> AuditReport
}

/// The audit chain: each publication's hash covers its fields and the previous hash.
public enum AuditChain {
    public static let genesis = String(repeating: "0", count: 64)

    /// SHA-256 over a canonical text of the publication and the previous hash.
    public static func hash(_ p: Publication, previous: String) -> String {
        let text = [previous, String(p.sequence), p.asset, p.side, String(p.timestamp),
                    p.oldValue.map { "\($0)" } ?? "-", "\(p.newValue)", "\(p.maintenance)", "\(p.sigma)",
                    p.binding, p.modelVersion, String(p.inputFrom), String(p.inputTo)].joined(separator: "|")
        return sha256Hex(text)
    }

    /// Lower-case hex SHA-256 of a text, without Foundation's String(format:), which costs
    /// about a microsecond per byte on Linux (the API keys' hashes use it too).
    public static func sha256Hex(_ text: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in SHA256.hash(data: Data(text.utf8)) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Walks rows in sequence order: each must link to the previous hash, hash to its own
    /// stored hash, and follow its predecessor's sequence number without a gap.
    public static func verify(_ rows: [StoredPublication]) -> AuditReport {
        var previous = genesis
        var lastSeq: Int64 = 0
        for (i, r) in rows.enumerated() {
            let seq = r.publication.sequence
            if seq != lastSeq + 1 { return AuditReport(checked: i, firstBroken: (seq, "sequence \(lastSeq + 1) is missing (row deleted?)")) }
            if r.previousHash != previous { return AuditReport(checked: i, firstBroken: (seq, "previous-hash link does not match")) }
            if hash(r.publication, previous: previous) != r.hash { return AuditReport(checked: i, firstBroken: (seq, "contents do not match the stored hash (row altered?)")) }
            previous = r.hash
            lastSeq = seq
        }
        return AuditReport(checked: rows.count, firstBroken: nil)
    }
}

/// Opens a store from a URL: `sqlite:PATH` (or a plain path), `:memory:`, or
/// `postgres://user:password@host:port/database`.
public enum StoreFactory {
    public static func open(_ url: String) async throws -> any EngineStore {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await PostgresStore.connect(url: url)
        }
        let path = url.hasPrefix("sqlite:") ? String(url.dropFirst("sqlite:".count)) : url
        return try SQLiteStore(path: path)
    }
}
