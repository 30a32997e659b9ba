import Foundation
import GRDB
import VolScaleEngine

/// The embedded store: SQLite through GRDB, WAL journal, `synchronous = NORMAL` (a commit
/// survives a process crash such as SIGKILL; FULL would also survive power loss).
public final class SQLiteStore: EngineStore, @unchecked Sendable {
    let writer: any DatabaseWriter
    public let path: String

    public convenience init(path: String) throws { try self.init(path: path, migratingUpTo: nil) }

    /// Opens the database with its schema brought up to `migration` (nil: the latest);
    /// tests build stores of an older schema with it.
    init(path: String, migratingUpTo migration: String?) throws {
        self.path = path
        var config = Configuration()
        // another process or connection on the same file (a `volscale params` next to `serve`,
        // a pool still closing) is waited for, up to 5 s, rather than answered "database is locked"
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            if path == ":memory:" {
                writer = try DatabaseQueue(configuration: config)
            } else {
                writer = try DatabasePool(path: path, configuration: config)
            }
            if let migration {
                try Self.migrator.migrate(writer, upTo: migration)
            } else {
                try Self.migrator.migrate(writer)
            }
        } catch {
            throw StoreError(store: path, reason: Self.describe(error))
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE quotes (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        asset TEXT NOT NULL, source TEXT NOT NULL, ts INTEGER NOT NULL,
                        price REAL NOT NULL, confidence REAL);
                    CREATE UNIQUE INDEX quotes_unique ON quotes(asset, source, ts);
                    CREATE TABLE publications (
                        seq INTEGER PRIMARY KEY, asset TEXT NOT NULL, side TEXT NOT NULL, ts INTEGER NOT NULL,
                        old_value REAL, new_value REAL NOT NULL, maintenance REAL NOT NULL, sigma REAL NOT NULL,
                        binding TEXT NOT NULL, model_version TEXT NOT NULL, input_from INTEGER NOT NULL, input_to INTEGER NOT NULL,
                        prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
                    CREATE INDEX publications_asset ON publications(asset, side, ts);
                    CREATE TABLE engine_state (id INTEGER PRIMARY KEY CHECK (id = 1), snapshot BLOB NOT NULL, committed_at INTEGER NOT NULL);
                    CREATE TABLE inputs (name TEXT PRIMARY KEY, lines INTEGER NOT NULL);
                    """)
        }
        m.registerMigration("v2-accounts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE accounts (id TEXT PRIMARY KEY, document TEXT NOT NULL, version INTEGER NOT NULL, updated INTEGER NOT NULL);
                    CREATE TABLE account_history (
                        number INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, version INTEGER NOT NULL, ts INTEGER NOT NULL,
                        kind TEXT NOT NULL, by TEXT NOT NULL, detail TEXT NOT NULL);
                    CREATE INDEX account_history_id ON account_history(id, number);
                    """)
        }
        m.registerMigration("v3-parameter-sets") { db in
            try db.execute(
                sql: """
                    ALTER TABLE publications ADD COLUMN price REAL;
                    ALTER TABLE publications ADD COLUMN stable_price REAL;
                    ALTER TABLE publications ADD COLUMN haircut REAL;
                    ALTER TABLE publications ADD COLUMN status TEXT;
                    """)
        }
        // Changes of the margin controls get a record of their own, moved out of
        // `publications` (where they stood under the asset "policy"); `audit_chain` reads
        // both tables as the one chain they form, in sequence order. Only rows of the shape
        // the engine wrote move, so every stored hash still verifies.
        m.registerMigration("v4-policy-changes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE policy_changes (
                        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, author TEXT NOT NULL, changes TEXT NOT NULL,
                        maintenance REAL NOT NULL, model_version TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
                    INSERT INTO policy_changes(seq, ts, author, changes, maintenance, model_version, prev_hash, hash)
                        SELECT seq, ts, side, binding, maintenance, model_version, prev_hash, hash FROM publications
                        WHERE \(AuditChain.policyRowShape);
                    DELETE FROM publications WHERE seq IN (SELECT seq FROM policy_changes);
                    CREATE VIEW audit_chain AS
                        SELECT seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version,
                               input_from, input_to, prev_hash, hash, price, stable_price, haircut, status FROM publications
                        UNION ALL
                        SELECT seq, 'policy', author, ts, NULL, 0.0, maintenance, 0.0, changes, model_version,
                               ts, ts, prev_hash, hash, NULL, NULL, NULL, NULL FROM policy_changes;
                    """)
        }
        return m
    }

    /// The audit chain as one read in sequence order: the parameter sets, and the policy
    /// changes with the fields of a publication (as the `audit_chain` view reads them).
    /// Written out rather than read through the view: SQLite merges a compound SELECT's arms
    /// in key order, but sorts a view's rows whole (0.7 s for the last hash of 2 M rows).
    static func chain(sets: String = "1 = 1", policyChanges: String = "1 = 1") -> String {
        """
        SELECT seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version, input_from, input_to,
               prev_hash, hash, price, stable_price, haircut, status FROM publications WHERE \(sets)
        UNION ALL
        SELECT seq, 'policy', author, ts, NULL, 0.0, maintenance, 0.0, changes, model_version, ts, ts,
               prev_hash, hash, NULL, NULL, NULL, NULL FROM policy_changes WHERE \(policyChanges)
        """
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_FULL: return "disk full: the commit was rolled back, nothing acknowledged was lost"
            case .SQLITE_READONLY: return "the database is read-only: nothing can be stored"
            case .SQLITE_CANTOPEN: return "cannot open the database file"
            default: return e.message ?? "\(e)"
            }
        }
        return "\(error)"
    }

    public func commit(_ batch: CommitBatch) async throws {
        do {
            let snapshot = try JSONEncoder().encode(batch.snapshot)
            try await writer.write { db in
                let last =
                    try Row.fetchOne(db, sql: Self.chain() + " ORDER BY seq DESC LIMIT 1").map { $0["hash"] as String }
                    ?? AuditChain.genesis
                let insertQuote = try db.cachedStatement(
                    sql: "INSERT INTO quotes(asset, source, ts, price, confidence) VALUES (?, ?, ?, ?, ?)")
                for q in batch.quotes {
                    insertQuote.setUncheckedArguments([q.asset, q.source, q.timestamp, q.price, q.confidence])
                    try insertQuote.execute()
                }
                var previous = last
                let insertPub = try db.cachedStatement(
                    sql: """
                        INSERT INTO publications(seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding,
                            model_version, input_from, input_to, prev_hash, hash, price, stable_price, haircut, status)
                            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                        """)
                let insertPolicy = try db.cachedStatement(
                    sql: """
                        INSERT INTO policy_changes(seq, ts, author, changes, maintenance, model_version, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)
                        """)
                for p in batch.publications {
                    let h = AuditChain.hash(p, previous: previous)
                    defer { previous = h }
                    if let change = p.policyChange {
                        try insertPolicy.execute(arguments: [
                            p.sequence, p.timestamp, change.author, change.changes, p.maintenance, p.modelVersion,
                            previous, h,
                        ])
                        continue
                    }
                    try insertPub.execute(arguments: [
                        p.sequence, p.asset, p.side.stored, p.timestamp, p.oldValue, p.newValue, p.maintenance,
                        p.sigma, p.binding.stored, p.modelVersion, p.inputFrom, p.inputTo, previous, h,
                        p.price, p.stablePrice, p.haircut, p.status?.rawValue,
                    ])
                }
                try db.execute(
                    sql:
                        "INSERT INTO engine_state(id, snapshot, committed_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot, committed_at = excluded.committed_at",
                    arguments: [snapshot, Int64(Date().timeIntervalSince1970 * 1000)])
                for input in batch.inputs.map({ (name: $0.key, lines: $0.value) }) {
                    try db.execute(
                        sql:
                            "INSERT INTO inputs(name, lines) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET lines = excluded.lines",
                        arguments: [input.name, input.lines])
                }
                for e in batch.statusEvents {
                    let version =
                        try Int64.fetchOne(db, sql: "SELECT version FROM accounts WHERE id = ?", arguments: [e.id])
                        ?? self.lastVersion(db, e.id)
                    try db.execute(
                        sql:
                            "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (?, ?, ?, 'status', 'engine', ?)",
                        arguments: [e.id, version, e.time, e.detail])
                }
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(store: path, reason: Self.describe(error))
        }
    }

    public func loadSnapshot() async throws -> EngineSnapshot? {
        do {
            guard
                let data = try await writer.read({ db in
                    try Data.fetchOne(db, sql: "SELECT snapshot FROM engine_state WHERE id = 1")
                })
            else { return nil }
            return try EngineSnapshot.stored(data, store: path)
        } catch let e as StoreError {
            throw e
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func inputPosition(_ input: String) async throws -> Int64 {
        do {
            return try await writer.read { db in
                try Int64.fetchOne(db, sql: "SELECT lines FROM inputs WHERE name = ?", arguments: [input]) ?? 0
            }
        } catch {
            throw StoreError(store: path, reason: Self.describe(error))
        }
    }

    static func publication(_ row: Row) -> StoredPublication {
        StoredPublication(
            publication: Publication(
                sequence: row["seq"], asset: row["asset"], side: PublicationSide(stored: row["side"]),
                timestamp: row["ts"],
                oldValue: row["old_value"], newValue: row["new_value"], maintenance: row["maintenance"],
                sigma: row["sigma"], binding: PublicationBinding(stored: row["binding"]),
                modelVersion: row["model_version"],
                inputFrom: row["input_from"], inputTo: row["input_to"],
                price: row["price"], stablePrice: row["stable_price"], haircut: row["haircut"],
                status: (row["status"] as String?).flatMap(PriceStatus.init(rawValue:))),
            previousHash: row["prev_hash"], hash: row["hash"])
    }

    public func publications(asset: String?, at: Int64?, limit: Int) async throws -> [StoredPublication] {
        do {
            return try await writer.read { db in
                var sets = "1 = 1"
                var changes = "1 = 1"
                var setArgs: [any DatabaseValueConvertible] = []
                var changeArgs: [any DatabaseValueConvertible] = []
                if let asset {
                    sets += " AND asset = ?"
                    setArgs.append(asset)
                    if asset != Publication.policyAsset { changes = "0" }
                }
                if let at {
                    let inForce = " AND seq IN (SELECT MAX(seq) FROM audit_chain WHERE ts <= ? GROUP BY asset, side)"
                    sets += inForce
                    changes += inForce
                    setArgs.append(at)
                    changeArgs.append(at)
                }
                let sql = Self.chain(sets: sets, policyChanges: changes) + " ORDER BY seq DESC LIMIT ?"
                let args = setArgs + changeArgs + [limit]
                return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.publication)
                    .reversed()
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func quoteCount() async throws -> Int64 {
        do {
            return try await writer.read { db in try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM quotes") ?? 0 }
        } catch {
            throw StoreError(store: path, reason: Self.describe(error))
        }
    }

    /// Every stored quote's key, with how often it is stored (always once: the unique index).
    public func allQuoteKeys() async throws -> [QuoteKey] {
        do {
            return try await writer.read { db in
                try Row.fetchAll(db, sql: "SELECT asset, source, ts FROM quotes ORDER BY id").map {
                    QuoteKey(asset: $0[0], source: $0[1], timestamp: $0[2])
                }
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func storedQuoteKeys(_ keys: [QuoteKey]) async throws -> Set<QuoteKey> {
        do {
            return try await writer.read { db in
                let find = try db.cachedStatement(sql: "SELECT 1 FROM quotes WHERE asset = ? AND source = ? AND ts = ?")
                var found = Set<QuoteKey>()
                for k in keys where try Int.fetchOne(find, arguments: [k.asset, k.source, k.timestamp]) != nil {
                    found.insert(k)
                }
                return found
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func verifyAudit() async throws -> AuditReport {
        do {
            let rows = try await writer.read { db in
                try Row.fetchAll(db, sql: Self.chain() + " ORDER BY seq").map(Self.publication)
            }
            return AuditChain.verify(rows)
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }
}
