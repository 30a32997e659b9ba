import Foundation
import Logging
import PostgresNIO
import VolScaleEngine

/// The shared store: PostgreSQL through postgres-nio, for deployments with several engine
/// processes. Same tables and protocol as the SQLite store.
///
/// Two ways to use it:
/// - one engine per owner name (`volscale ingest`/`replay --store postgres://…?owner=NAME`):
///   its state in `engine_state`, its publications in its own chain; a replacement started
///   under the same owner name resumes it;
/// - several `volscale serve` processes sharing one venue (ClusterStore.swift): assets owned
///   by fenced leases, state per asset, one chain named by the URL's owner.
public final class PostgresStore: EngineStore, @unchecked Sendable {
    let client: PostgresClient
    let runner: Task<Void, Never>
    let logger: Logger
    public let owner: String
    public let url: String

    init(client: PostgresClient, owner: String, url: String) {
        self.client = client
        self.owner = owner
        self.url = url
        var logger = Logger(label: "volscale.postgres")
        logger.logLevel = .warning
        self.logger = logger
        self.runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Connects and creates the tables if needed. URL: postgres://user:password@host:port/database[?owner=NAME]
    public static func connect(url: String, owner: String? = nil) async throws -> PostgresStore {
        guard let u = URLComponents(string: url), let host = u.host, let user = u.user else {
            throw StoreError(store: url, reason: "expected postgres://user:password@host:port/database")
        }
        let database = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        let ownerName = owner ?? u.queryItems?.first { $0.name == "owner" }?.value ?? "engine"
        let config = PostgresClient.Configuration(
            host: host, port: u.port ?? 5432, username: user, password: u.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        let store = PostgresStore(client: PostgresClient(configuration: config), owner: ownerName, url: url)
        do { try await store.migrate() } catch { throw StoreError(store: url, reason: "\(String(reflecting: error))") }
        return store
    }

    func migrate() async throws {
        let statements: [PostgresQuery] =
            [
                "CREATE TABLE IF NOT EXISTS quotes (id BIGSERIAL PRIMARY KEY, asset TEXT NOT NULL, source TEXT NOT NULL, ts BIGINT NOT NULL, price DOUBLE PRECISION NOT NULL, confidence DOUBLE PRECISION, UNIQUE (asset, source, ts))",
                "CREATE TABLE IF NOT EXISTS publications (owner TEXT NOT NULL, seq BIGINT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, ts BIGINT NOT NULL, old_value DOUBLE PRECISION, new_value DOUBLE PRECISION NOT NULL, maintenance DOUBLE PRECISION NOT NULL, sigma DOUBLE PRECISION NOT NULL, binding TEXT NOT NULL, model_version TEXT NOT NULL, input_from BIGINT NOT NULL, input_to BIGINT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (owner, seq))",
                "CREATE TABLE IF NOT EXISTS engine_state (owner TEXT PRIMARY KEY, snapshot TEXT NOT NULL, committed_at BIGINT NOT NULL)",
                "CREATE TABLE IF NOT EXISTS inputs (owner TEXT NOT NULL, name TEXT NOT NULL, lines BIGINT NOT NULL, PRIMARY KEY (owner, name))",
                "CREATE TABLE IF NOT EXISTS asset_leases (asset TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL)",
                // accounts are the venue's: shared by every engine process (no owner column)
                "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, document TEXT NOT NULL, version BIGINT NOT NULL, updated BIGINT NOT NULL)",
                "CREATE TABLE IF NOT EXISTS account_history (number BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, version BIGINT NOT NULL, ts BIGINT NOT NULL, kind TEXT NOT NULL, by TEXT NOT NULL, detail TEXT NOT NULL)",
                "CREATE INDEX IF NOT EXISTS account_history_id ON account_history(id, number)",
                // parameter sets: price, stable price, haircut and status of each publication
                "ALTER TABLE publications ADD COLUMN IF NOT EXISTS price DOUBLE PRECISION",
                "ALTER TABLE publications ADD COLUMN IF NOT EXISTS stable_price DOUBLE PRECISION",
                "ALTER TABLE publications ADD COLUMN IF NOT EXISTS haircut DOUBLE PRECISION",
                "ALTER TABLE publications ADD COLUMN IF NOT EXISTS status TEXT",
            ] + Self.policyChangeMigrations
        // Serialise concurrent first starts of several processes. A schema already at this
        // version is left alone: ALTER TABLE takes an exclusive lock even when there is nothing
        // to add, and a process joining a venue whose others are committing would deadlock.
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(7215)", logger: logger)
            try await conn.query("CREATE TABLE IF NOT EXISTS volscale_schema (version BIGINT NOT NULL)", logger: logger)
            var current: Int64 = 0
            for try await v in try await conn.query(
                "SELECT COALESCE(MAX(version), 0)::bigint FROM volscale_schema", logger: logger
            ).decode(Int64.self) { current = v }
            guard current < Self.schemaVersion else { return }
            for s in statements + Self.clusterMigrations { try await conn.query(s, logger: logger) }
            try await conn.query("DELETE FROM volscale_schema", logger: logger)
            try await conn.query("INSERT INTO volscale_schema(version) VALUES (\(Self.schemaVersion))", logger: logger)
        }
    }

    /// The schema's version: raise it with every change to the statements of `migrate`.
    static let schemaVersion: Int64 = 5

    /// Changes of the margin controls get a record of their own (`policy_changes`), moved
    /// out of `publications`, where they stood under the asset "policy"; `audit_chain`
    /// reads both as the one chain they form. Only rows of the shape the engine wrote move,
    /// so every stored hash still verifies (the move is one statement: all or nothing).
    static let policyChangeMigrations: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS policy_changes (owner TEXT NOT NULL, seq BIGINT NOT NULL, ts BIGINT NOT NULL, author TEXT NOT NULL, changes TEXT NOT NULL, maintenance DOUBLE PRECISION NOT NULL, model_version TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, process TEXT, PRIMARY KEY (owner, seq))
        """,
        PostgresQuery(
            unsafeSQL: """
                WITH moved AS (DELETE FROM publications WHERE \(AuditChain.policyRowShape)
                               RETURNING owner, seq, ts, side, binding, maintenance, model_version, prev_hash, hash)
                INSERT INTO policy_changes(owner, seq, ts, author, changes, maintenance, model_version, prev_hash, hash) SELECT * FROM moved
                """),
        PostgresQuery(
            unsafeSQL: """
                CREATE OR REPLACE VIEW audit_chain AS
                    SELECT owner, \(columns) FROM publications
                    UNION ALL
                    SELECT owner, seq, 'policy', author, ts, NULL::float8, 0::float8, maintenance, 0::float8, changes, model_version,
                           ts, ts, prev_hash, hash, NULL::float8, NULL::float8, NULL::float8, NULL::text FROM policy_changes
                """),
    ]

    func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as StoreError { throw e } catch {
            throw StoreError(store: url, reason: "\(String(reflecting: error))")
        }
    }

    /// Takes or renews the leases on `assets` for this owner (at `now`, the caller's clock);
    /// returns the assets it holds. A change of owner increases the fencing token.
    public func claim(assets: [String], ttl: Int64, now: Int64) async throws -> [String] {
        try await wrap {
            var held: [String] = []
            for a in assets {
                let expires = now + ttl
                let rows = try await client.query(
                    """
                    INSERT INTO asset_leases(asset, owner, expires_at) VALUES (\(a), \(owner), \(expires))
                    ON CONFLICT (asset) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
                    fence = CASE WHEN asset_leases.owner = EXCLUDED.owner THEN asset_leases.fence ELSE asset_leases.fence + 1 END
                    WHERE asset_leases.owner = EXCLUDED.owner OR asset_leases.owner = '' OR asset_leases.expires_at < \(now)
                    RETURNING asset
                    """, logger: logger)
                for try await name in rows.decode(String.self) { held.append(name) }
            }
            return held
        }
    }

    public func commit(_ batch: CommitBatch) async throws {
        let snapshot = String(decoding: try JSONEncoder().encode(batch.snapshot), as: UTF8.self)
        try await wrap {
            try await client.withTransaction(logger: logger) { conn in
                if !batch.quotes.isEmpty {
                    let assets = batch.quotes.map(\.asset)
                    let sources = batch.quotes.map(\.source)
                    let ts = batch.quotes.map(\.timestamp)
                    let prices = batch.quotes.map(\.price)
                    let conf = batch.quotes.map { $0.confidence ?? .nan }
                    try await conn.query(
                        """
                        INSERT INTO quotes(asset, source, ts, price, confidence)
                        SELECT a, s, t, p, NULLIF(c, 'NaN'::float8) FROM UNNEST(\(assets)::text[], \(sources)::text[], \(ts)::bigint[], \(prices)::float8[], \(conf)::float8[]) AS u(a, s, t, p, c)
                        """, logger: logger)
                }
                var previous = AuditChain.genesis
                let last = try await conn.query(
                    "SELECT hash FROM audit_chain WHERE owner = \(owner) ORDER BY seq DESC LIMIT 1", logger: logger)
                for try await h in last.decode(String.self) { previous = h }
                for p in batch.publications {
                    let h = AuditChain.hash(p, previous: previous)
                    defer { previous = h }
                    if let change = p.policyChange {
                        try await conn.query(
                            """
                            INSERT INTO policy_changes(owner, seq, ts, author, changes, maintenance, model_version, prev_hash, hash)
                            VALUES (\(owner), \(p.sequence), \(p.timestamp), \(change.author), \(change.changes), \(p.maintenance), \(p.modelVersion), \(previous), \(h))
                            """, logger: logger)
                        continue
                    }
                    try await conn.query(
                        """
                        INSERT INTO publications(owner, seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version, input_from, input_to, prev_hash, hash, price, stable_price, haircut, status)
                        VALUES (\(owner), \(p.sequence), \(p.asset), \(p.side.stored), \(p.timestamp), \(p.oldValue), \(p.newValue), \(p.maintenance), \(p.sigma), \(p.binding.stored), \(p.modelVersion), \(p.inputFrom), \(p.inputTo), \(previous), \(h), \(p.price), \(p.stablePrice), \(p.haircut), \(p.status?.rawValue))
                        """, logger: logger)
                }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await conn.query(
                    """
                    INSERT INTO engine_state(owner, snapshot, committed_at) VALUES (\(owner), \(snapshot), \(now))
                    ON CONFLICT (owner) DO UPDATE SET snapshot = EXCLUDED.snapshot, committed_at = EXCLUDED.committed_at
                    """, logger: logger)
                for input in batch.inputs.map({ (name: $0.key, lines: $0.value) }) {
                    try await conn.query(
                        """
                        INSERT INTO inputs(owner, name, lines) VALUES (\(owner), \(input.name), \(input.lines))
                        ON CONFLICT (owner, name) DO UPDATE SET lines = EXCLUDED.lines
                        """, logger: logger)
                }
                for e in batch.statusEvents {
                    let version = try await lockAccount(conn, e.id)
                    try await conn.query(
                        "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (\(e.id), \(version), \(e.time), 'status', 'engine', \(e.detail))",
                        logger: logger)
                }
            }
        }
    }

    public func loadSnapshot() async throws -> EngineSnapshot? {
        try await wrap {
            let rows = try await client.query(
                "SELECT snapshot FROM engine_state WHERE owner = \(owner)", logger: logger)
            for try await text in rows.decode(String.self) {
                return try EngineSnapshot.stored(Data(text.utf8), store: url)
            }
            return nil
        }
    }

    public func inputPosition(_ input: String) async throws -> Int64 {
        try await wrap {
            let rows = try await client.query(
                "SELECT lines FROM inputs WHERE owner = \(owner) AND name = \(input)", logger: logger)
            for try await n in rows.decode(Int64.self) { return n }
            return 0
        }
    }

    typealias Row = (
        Int64, String, String, Int64, Double?, Double, Double, Double, String, String, Int64, Int64, String, String,
        Double?, Double?, Double?, String?
    )
    static func stored(_ r: Row) -> StoredPublication {
        StoredPublication(
            publication: Publication(
                sequence: r.0, asset: r.1, side: PublicationSide(stored: r.2), timestamp: r.3, oldValue: r.4,
                newValue: r.5,
                maintenance: r.6, sigma: r.7, binding: PublicationBinding(stored: r.8), modelVersion: r.9,
                inputFrom: r.10, inputTo: r.11,
                price: r.14, stablePrice: r.15, haircut: r.16, status: r.17.flatMap(PriceStatus.init(rawValue:))),
            previousHash: r.12, hash: r.13)
    }

    static let columns =
        "seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version, input_from, input_to, prev_hash, hash, price, stable_price, haircut, status"

    public func publications(asset: String?, at: Int64?, limit: Int) async throws -> [StoredPublication] {
        try await wrap {
            let rows: PostgresRowSequence
            let assetFilter = asset ?? ""
            let atFilter = at ?? Int64.max
            rows = try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(Self.columns) FROM audit_chain WHERE owner = $1 AND ($2 = '' OR asset = $2)
                        AND ($3 = \(Int64.max) OR seq IN (SELECT MAX(seq) FROM audit_chain WHERE owner = $1 AND ts <= $3 GROUP BY asset, side))
                        ORDER BY seq DESC LIMIT $4
                        """,
                    binds: {
                        var b = PostgresBindings()
                        b.append(owner)
                        b.append(assetFilter)
                        b.append(atFilter)
                        b.append(Int64(limit))
                        return b
                    }()), logger: logger)
            var out: [StoredPublication] = []
            for try await r in rows.decode(Row.self) { out.append(Self.stored(r)) }
            return out.reversed()
        }
    }

    public func quoteCount() async throws -> Int64 {
        try await wrap {
            let rows = try await client.query("SELECT COUNT(*)::bigint FROM quotes", logger: logger)
            for try await n in rows.decode(Int64.self) { return n }
            return 0
        }
    }

    public func storedQuoteKeys(_ keys: [QuoteKey]) async throws -> Set<QuoteKey> {
        guard !keys.isEmpty else { return [] }
        return try await wrap {
            let assets = keys.map(\.asset)
            let sources = keys.map(\.source)
            let ts = keys.map(\.timestamp)
            let rows = try await client.query(
                """
                SELECT q.asset, q.source, q.ts FROM quotes q
                JOIN UNNEST(\(assets)::text[], \(sources)::text[], \(ts)::bigint[]) AS u(a, s, t) ON q.asset = u.a AND q.source = u.s AND q.ts = u.t
                """, logger: logger)
            var found = Set<QuoteKey>()
            for try await (a, s, t) in rows.decode((String, String, Int64).self) {
                found.insert(QuoteKey(asset: a, source: s, timestamp: t))
            }
            return found
        }
    }

    public func verifyAudit() async throws -> AuditReport {
        try await wrap {
            let rows = try await client.query(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.columns) FROM audit_chain WHERE owner = $1 ORDER BY seq",
                    binds: {
                        var b = PostgresBindings()
                        b.append(owner)
                        return b
                    }()), logger: logger)
            var out: [StoredPublication] = []
            for try await r in rows.decode(Row.self) { out.append(Self.stored(r)) }
            return AuditChain.verify(out)
        }
    }
}
