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
    /// Account status changes found by re-margining after these publications: stored in
    /// each account's history (kind `status`, by `engine`) in the same transaction.
    public var statusEvents: [AccountStatusRecord] = []

    public init(
        quotes: [Quote], publications: [Publication], snapshot: EngineSnapshot,
        input: (name: String, lines: Int64)? = nil
    ) {
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

/// A status change of an account, for its history.
public struct AccountStatusRecord: Sendable, Equatable {
    public let id: String
    public let time: Int64
    /// What changed, e.g. `healthy -> margin call (margin ratio 0.93, sequence 1234)`.
    public let detail: String
    public init(id: String, time: Int64, detail: String) {
        (self.id, self.time, self.detail) = (id, time, detail)
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
        a.checked == b.checked && a.firstBroken?.sequence == b.firstBroken?.sequence
            && a.firstBroken?.reason == b.firstBroken?.reason
    }
}

/// Storage errors name the store and the reason; a full or read-only disk is one of them,
/// never a crash, and a failed commit leaves the previous state intact.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var store: String
    public var reason: String
    public init(store: String, reason: String) {
        self.store = store
        self.reason = reason
    }
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

    // MARK: Accounts (the venue's, shared by every engine process of a PostgreSQL store)

    /// Creates or replaces an account and records it in its history, in one transaction;
    /// returns it with its new version (one more than its last, deleted ones included).
    func putAccount(id: String, document: String, time: Int64, by: String) async throws -> StoredAccount
    /// Deletes an account and records that; nil when there is none.
    func deleteAccount(id: String, time: Int64, by: String) async throws -> StoredAccount?
    func account(_ id: String) async throws -> StoredAccount?
    /// Accounts in id order, after `after` (the previous page's last id), at most `limit`.
    func accounts(after: String?, limit: Int) async throws -> [StoredAccount]
    /// An account's history, newest first, below `before` (an event number), at most `limit`.
    func accountHistory(_ id: String, before: Int64?, limit: Int) async throws -> [AccountEvent]
    /// Records an event that does not change the document (a status change).
    func recordAccountEvent(id: String, time: Int64, kind: String, by: String, detail: String) async throws
    /// Whether any account was ever stored (the accounts file seeds only a store that never held any).
    func accountsEverStored() async throws -> Bool
}

/// A stored account: its document (the JSON of the API's Account schema), its version (1
/// at the first PUT, one more at each change) and the time of its last change (epoch ms).
public struct StoredAccount: Sendable, Equatable {
    public var id: String
    public var document: String
    public var version: Int64
    public var updated: Int64
    public init(id: String, document: String, version: Int64, updated: Int64) {
        self.id = id
        self.document = document
        self.version = version
        self.updated = updated
    }
}

/// One entry of an account's history: `put` (detail: the document), `delete`, `status`
/// (detail: what changed). `number` orders the events of the whole store.
public struct AccountEvent: Sendable, Equatable {
    public var number: Int64
    public var id: String
    public var version: Int64
    public var time: Int64
    public var kind: String
    public var by: String
    public var detail: String
    public init(number: Int64, id: String, version: Int64, time: Int64, kind: String, by: String, detail: String) {
        self.number = number
        self.id = id
        self.version = version
        self.time = time
        self.kind = kind
        self.by = by
        self.detail = detail
    }
}

/// The audit chain: each publication's hash covers its fields and the previous hash.
public enum AuditChain {
    public static let genesis = String(repeating: "0", count: 64)

    /// The rows of `publications` that are policy changes as the engine wrote them before
    /// they had a table of their own (`Publication.policyChange`): the stores move exactly
    /// these, and read them back with the same fields, so their hashes hold.
    static let policyRowShape = """
        asset = 'policy' AND old_value IS NULL AND new_value = 0 AND sigma = 0 AND input_from = ts AND input_to = ts
        AND price IS NULL AND stable_price IS NULL AND haircut IS NULL AND status IS NULL
        """

    /// SHA-256 over a canonical text of the publication and the previous hash. A
    /// parameter set's price, stable price, haircut and status are covered when present
    /// (publications stored before they existed hash as they did then).
    public static func hash(_ p: Publication, previous: String) -> String {
        var fields = [
            previous, String(p.sequence), p.asset, p.side.stored, String(p.timestamp),
            p.oldValue.map { "\($0)" } ?? "-", "\(p.newValue)", "\(p.maintenance)", "\(p.sigma)",
            p.binding.stored, p.modelVersion, String(p.inputFrom), String(p.inputTo),
        ]
        if p.price != nil || p.stablePrice != nil || p.haircut != nil || p.status != nil {
            fields += [
                p.price.map { "\($0)" } ?? "-", p.stablePrice.map { "\($0)" } ?? "-", p.haircut.map { "\($0)" } ?? "-",
                p.status?.rawValue ?? "-",
            ]
        }
        return sha256Hex(fields.joined(separator: "|"))
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
            if seq != lastSeq + 1 {
                return AuditReport(checked: i, firstBroken: (seq, "sequence \(lastSeq + 1) is missing (row deleted?)"))
            }
            if r.previousHash != previous {
                return AuditReport(checked: i, firstBroken: (seq, "previous-hash link does not match"))
            }
            if hash(r.publication, previous: previous) != r.hash {
                return AuditReport(
                    checked: i, firstBroken: (seq, "contents do not match the stored hash (row altered?)"))
            }
            previous = r.hash
            lastSeq = seq
        }
        return AuditReport(checked: rows.count, firstBroken: nil)
    }
}

extension EngineSnapshot {
    /// A stored snapshot read back and checked (`EngineConfig` is built valid); a snapshot
    /// that fails is named as such, e.g. settings an earlier version accepted and this one
    /// refuses (a hard cap of 0, which publishes every rate as 0).
    static func stored(_ data: Data, store: String) throws -> EngineSnapshot {
        do { return try JSONDecoder().decode(EngineSnapshot.self, from: data) } catch {
            throw StoreError(store: store, reason: "the stored engine state cannot be resumed: \(error)")
        }
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
