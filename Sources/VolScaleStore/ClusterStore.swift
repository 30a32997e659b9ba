import Foundation
import Logging
import PostgresNIO
import VolScaleEngine

/// Several `volscale serve` processes on one PostgreSQL database: what they share and how
/// they divide the assets.
///
/// - **Leases.** Each asset has one row in `asset_leases`: its owner (a process name, or
///   empty when released), when the lease expires (the database's clock, epoch ms) and a
///   *fencing token* that grows by one each time the asset changes hands. A process writes
///   an asset's quotes, state and publications only in a transaction that first reads the
///   asset's lease row (`FOR SHARE`) and finds its own name and the token it was given: a
///   process that was paused or partitioned while another took the asset over finds a
///   larger token and its commit fails, whatever its own clock says. A takeover's `UPDATE`
///   waits for a commit in flight on that row, so the new owner reads the previous owner's
///   last committed state.
/// - **State per asset** (`asset_state`): the asset's part of the engine (`AssetSnapshot`),
///   written in the same transaction as its quotes and publications; a new owner continues
///   from it, so the asset's publications continue without gap or duplicate.
/// - **One audit chain** (`publications` and `policy_changes` under the chain name, the
///   store URL's `owner`, default `engine`, read together through `audit_chain`): sequence numbers are given at commit under a transaction-level
///   advisory lock, so the chain is one sequence over every process and a reader of
///   `seq > n` never misses a row committed later with a smaller number.
/// - **Processes** (`processes`): each one's address and heartbeat; an asset's fair share is
///   ceil(assets / live processes).
extension PostgresStore {
    /// The database's clock in epoch milliseconds: leases are judged by one clock.
    static let dbNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    /// The tables the processes share besides the single-process ones.
    static let clusterMigrations: [PostgresQuery] = [
        "ALTER TABLE asset_leases ADD COLUMN IF NOT EXISTS fence BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE publications ADD COLUMN IF NOT EXISTS process TEXT",
        "ALTER TABLE publications ADD COLUMN IF NOT EXISTS fence BIGINT",
        "CREATE TABLE IF NOT EXISTS asset_state (chain TEXT NOT NULL, asset TEXT NOT NULL, state TEXT NOT NULL, version BIGINT NOT NULL, process TEXT NOT NULL, PRIMARY KEY (chain, asset))",
        "CREATE SEQUENCE IF NOT EXISTS asset_state_version",
        "CREATE TABLE IF NOT EXISTS processes (name TEXT PRIMARY KEY, address TEXT NOT NULL, heartbeat_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS venue_config (chain TEXT PRIMARY KEY, config TEXT NOT NULL, version BIGINT NOT NULL)",
        // quotes taken by a process for an asset another one owns, until the owner's commit consumes them
        "CREATE TABLE IF NOT EXISTS inbox (id BIGSERIAL PRIMARY KEY, chain TEXT NOT NULL, asset TEXT NOT NULL, source TEXT NOT NULL, ts BIGINT NOT NULL, price DOUBLE PRECISION NOT NULL, confidence DOUBLE PRECISION, received_by TEXT NOT NULL, UNIQUE (chain, asset, source, ts))",
    ]

    /// The chain's name (the URL's `owner`): publications, inputs and asset states of one venue.
    public var chain: String { owner }

    /// Records this process as alive at `address`; returns how many processes have sent a
    /// heartbeat within `ttl` milliseconds (itself included).
    public func heartbeat(process: String, address: String, ttl: Int64) async throws -> Int {
        try await wrap {
            try await client.query(
                """
                INSERT INTO processes(name, address, heartbeat_at) VALUES (\(process), \(address), \(unescaped: Self.dbNow))
                ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, heartbeat_at = EXCLUDED.heartbeat_at
                """, logger: logger)
            let rows = try await client.query(
                "SELECT COUNT(*)::bigint FROM processes WHERE heartbeat_at > \(unescaped: Self.dbNow) - \(ttl)",
                logger: logger)
            for try await n in rows.decode(Int64.self) { return Int(clamping: n) }
            return 1
        }
    }

    /// How many processes have sent a heartbeat within `ttl` milliseconds.
    public func liveProcesses(ttl: Int64) async throws -> Int {
        try await wrap {
            let rows = try await client.query(
                "SELECT COUNT(*)::bigint FROM processes WHERE heartbeat_at > \(unescaped: Self.dbNow) - \(ttl)",
                logger: logger)
            for try await n in rows.decode(Int64.self) { return Int(clamping: n) }
            return 1
        }
    }

    /// Removes this process from the live ones (graceful stop) and releases its leases.
    public func leave(process: String) async throws {
        try await wrap {
            try await client.query(
                "UPDATE asset_leases SET owner = '', expires_at = 0 WHERE owner = \(process)", logger: logger)
            try await client.query("DELETE FROM processes WHERE name = \(process)", logger: logger)
        }
    }

    /// Makes sure every asset has a lease row (unowned at first).
    public func registerAssets(_ assets: [String]) async throws {
        try await wrap {
            for a in assets {
                try await client.query(
                    "INSERT INTO asset_leases(asset, owner, expires_at, fence) VALUES (\(a), '', 0, 0) ON CONFLICT (asset) DO NOTHING",
                    logger: logger)
            }
        }
    }

    /// Extends the leases `process` still holds under their tokens; returns them (asset ->
    /// fencing token). A lease missing from the answer was taken over.
    public func renew(process: String, fences: [String: Int64], ttl: Int64) async throws -> [String: Int64] {
        guard !fences.isEmpty else { return [:] }
        return try await wrap {
            var held: [String: Int64] = [:]
            for (asset, fence) in fences {
                let rows = try await client.query(
                    """
                    UPDATE asset_leases SET expires_at = \(unescaped: Self.dbNow) + \(ttl)
                    WHERE asset = \(asset) AND owner = \(process) AND fence = \(fence) RETURNING fence
                    """, logger: logger)
                for try await f in rows.decode(Int64.self) { held[asset] = f }
            }
            return held
        }
    }

    /// Takes `asset` if it is unowned or its lease has expired; returns the new fencing token.
    public func acquire(_ asset: String, process: String, ttl: Int64) async throws -> Int64? {
        try await wrap {
            let rows = try await client.query(
                """
                UPDATE asset_leases SET owner = \(process), fence = fence + 1, expires_at = \(unescaped: Self.dbNow) + \(ttl)
                WHERE asset = \(asset) AND (owner = '' OR expires_at < \(unescaped: Self.dbNow)) RETURNING fence
                """, logger: logger)
            for try await f in rows.decode(Int64.self) { return f }
            return nil
        }
    }

    /// Gives `asset` up (its state is committed): another process may take it at once.
    public func release(_ asset: String, process: String, fence: Int64) async throws {
        try await wrap {
            try await client.query(
                "UPDATE asset_leases SET owner = '', expires_at = 0 WHERE asset = \(asset) AND owner = \(process) AND fence = \(fence)",
                logger: logger)
        }
    }

    /// Every asset's lease, with its owner's address (empty when unowned or unknown).
    public func leases() async throws -> [Lease] {
        try await wrap {
            let rows = try await client.query(
                """
                SELECT l.asset, l.owner, l.fence, l.expires_at, COALESCE(p.address, ''), \(unescaped: Self.dbNow)
                FROM asset_leases l LEFT JOIN processes p ON p.name = l.owner ORDER BY l.asset
                """, logger: logger)
            var out: [Lease] = []
            for try await (a, o, f, e, addr, now) in rows.decode((String, String, Int64, Int64, String, Int64).self) {
                out.append(
                    Lease(asset: a, owner: o, fence: f, expiresAt: e, address: addr, live: !o.isEmpty && e > now))
            }
            return out
        }
    }

    /// The stored state of one asset, nil before its first commit.
    public func assetState(_ asset: String) async throws -> (state: AssetSnapshot, version: Int64)? {
        try await wrap {
            let rows = try await client.query(
                "SELECT state, version FROM asset_state WHERE chain = \(chain) AND asset = \(asset)", logger: logger)
            for try await (text, v) in rows.decode((String, Int64).self) {
                return (try JSONDecoder().decode(AssetSnapshot.self, from: Data(text.utf8)), v)
            }
            return nil
        }
    }

    /// The version of every stored asset state (a follower fetches only the changed ones).
    public func assetStateVersions() async throws -> [String: Int64] {
        try await wrap {
            let rows = try await client.query(
                "SELECT asset, version FROM asset_state WHERE chain = \(chain)", logger: logger)
            var out: [String: Int64] = [:]
            for try await (a, v) in rows.decode((String, Int64).self) { out[a] = v }
            return out
        }
    }

    /// The venue's stored engine configuration (its margin controls change by policy updates).
    public func venueConfig() async throws -> (config: EngineConfig, version: Int64)? {
        try await wrap {
            let rows = try await client.query(
                "SELECT config, version FROM venue_config WHERE chain = \(chain)", logger: logger)
            for try await (text, v) in rows.decode((String, Int64).self) {
                return (try JSONDecoder().decode(EngineConfig.self, from: Data(text.utf8)), v)
            }
            return nil
        }
    }

    /// Stores quotes for their assets' owners (durable when this returns); a quote already
    /// waiting there is not stored twice.
    public func forward(_ quotes: [Quote], by process: String) async throws {
        guard !quotes.isEmpty else { return }
        try await wrap {
            let q = quotes
            let conf = q.map { $0.confidence ?? .nan }
            try await client.query(
                """
                INSERT INTO inbox(chain, asset, source, ts, price, confidence, received_by)
                SELECT \(chain), a, s, t, p, NULLIF(c, 'NaN'::float8), \(process) FROM UNNEST(\(q.map(\.asset))::text[], \(q.map(\.source))::text[], \(q.map(\.timestamp))::bigint[], \(q.map(\.price))::float8[], \(conf)::float8[]) AS u(a, s, t, p, c)
                ON CONFLICT (chain, asset, source, ts) DO NOTHING
                """, logger: logger)
        }
    }

    /// Quotes waiting for `assets`, in the order they were stored, with their inbox ids.
    public func inbox(assets: [String], limit: Int) async throws -> [(id: Int64, quote: Quote)] {
        guard !assets.isEmpty else { return [] }
        return try await wrap {
            let n = Int64(limit)
            let rows = try await client.query(
                """
                SELECT id, asset, source, ts, price, confidence FROM inbox WHERE chain = \(chain) AND asset = ANY(\(assets)::text[]) ORDER BY id LIMIT \(n)
                """, logger: logger)
            var out: [(id: Int64, quote: Quote)] = []
            for try await (id, a, s, t, p, c) in rows.decode((Int64, String, String, Int64, Double, Double?).self) {
                out.append((id, Quote(asset: a, source: s, timestamp: t, price: p, confidence: c)))
            }
            return out
        }
    }

    /// Publications of the chain after `sequence`, oldest first.
    public func publications(after sequence: Int64, limit: Int) async throws -> [StoredPublication] {
        try await wrap {
            let n = Int64(limit)
            let rows = try await client.query(
                "SELECT \(unescaped: Self.columns) FROM audit_chain WHERE owner = \(chain) AND seq > \(sequence) ORDER BY seq LIMIT \(n)",
                logger: logger)
            var out: [StoredPublication] = []
            for try await r in rows.decode(Row.self) { out.append(Self.stored(r)) }
            return out
        }
    }

    /// Account events numbered above `number`, oldest first. Numbers are given at insert and
    /// two transactions may commit out of number order, so a follower asks from a little
    /// below the last number it saw and skips the ones it has.
    public func accountEvents(after number: Int64, limit: Int) async throws -> [AccountEvent] {
        try await wrap {
            let n = Int64(limit)
            let rows = try await client.query(
                """
                SELECT number, id, version, ts, kind, by, detail FROM account_history WHERE number > \(number) ORDER BY number LIMIT \(n)
                """, logger: logger)
            var out: [AccountEvent] = []
            for try await (num, i, v, t, k, b, d) in rows.decode(
                (Int64, String, Int64, Int64, String, String, String).self)
            {
                out.append(AccountEvent(number: num, id: i, version: v, time: t, kind: k, by: b, detail: d))
            }
            return out
        }
    }

    /// The highest account event number (a starting process follows from there).
    public func lastAccountEvent() async throws -> Int64 {
        try await wrap {
            let rows = try await client.query(
                "SELECT COALESCE(MAX(number), 0)::bigint FROM account_history", logger: logger)
            for try await n in rows.decode(Int64.self) { return n }
            return 0
        }
    }

    /// Commits one process's batch under its leases. Every asset in `fences` must still be
    /// leased to `process` under that token, checked in the same transaction as the write;
    /// otherwise nothing is written and `LeaseLost` names the assets. Returns the sequence
    /// numbers given to the batch's publications, in order.
    public func commit(_ batch: ClusterCommit) async throws -> [Int64] {
        let encoder = JSONEncoder()
        let states = try batch.states.map { ($0.key, String(decoding: try encoder.encode($0.value), as: UTF8.self)) }
        let config = try batch.config.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        do {
            return try await client.withTransaction(logger: logger) { conn -> [Int64] in
                // a process paused inside this transaction (SIGSTOP, a long GC-like stall, a
                // partition) must not hold the lease rows and the chain lock: the server ends
                // its session, the locks go, and its commit fails
                try await conn.query(
                    "SET LOCAL idle_in_transaction_session_timeout = \(unescaped: String(batch.idleTimeout))",
                    logger: logger)
                try await conn.query("SET LOCAL lock_timeout = \(unescaped: String(batch.idleTimeout))", logger: logger)
                let assets = Array(batch.fences.keys).sorted()
                if !assets.isEmpty {
                    let rows = try await conn.query(
                        "SELECT asset, owner, fence FROM asset_leases WHERE asset = ANY(\(assets)::text[]) ORDER BY asset FOR SHARE",
                        logger: logger)
                    var valid = Set<String>()
                    for try await (a, o, f) in rows.decode((String, String, Int64).self)
                    where o == batch.process && f == batch.fences[a] { valid.insert(a) }
                    let lost = assets.filter { !valid.contains($0) }
                    if !lost.isEmpty { throw LeaseLost(assets: lost) }
                }
                if !batch.quotes.isEmpty {
                    let q = batch.quotes
                    let conf = q.map { $0.confidence ?? .nan }
                    try await conn.query(
                        """
                        INSERT INTO quotes(asset, source, ts, price, confidence)
                        SELECT a, s, t, p, NULLIF(c, 'NaN'::float8) FROM UNNEST(\(q.map(\.asset))::text[], \(q.map(\.source))::text[], \(q.map(\.timestamp))::bigint[], \(q.map(\.price))::float8[], \(conf)::float8[]) AS u(a, s, t, p, c)
                        """, logger: logger)
                }
                var sequences: [Int64] = []
                if !batch.publications.isEmpty {
                    try await conn.query("SELECT pg_advisory_xact_lock(hashtext(\("chain:" + chain)))", logger: logger)
                    var previous = AuditChain.genesis
                    var seq: Int64 = 0
                    let last = try await conn.query(
                        "SELECT seq, hash FROM audit_chain WHERE owner = \(chain) ORDER BY seq DESC LIMIT 1",
                        logger: logger)
                    for try await (s, h) in last.decode((Int64, String).self) {
                        seq = s
                        previous = h
                    }
                    for var p in batch.publications {
                        seq += 1
                        p.sequence = seq
                        let h = AuditChain.hash(p, previous: previous)
                        defer {
                            previous = h
                            sequences.append(seq)
                        }
                        if let change = p.policyChange {
                            try await conn.query(
                                """
                                INSERT INTO policy_changes(owner, seq, ts, author, changes, maintenance, model_version, prev_hash, hash, process)
                                VALUES (\(chain), \(seq), \(p.timestamp), \(change.author), \(change.changes), \(p.maintenance), \(p.modelVersion), \(previous), \(h), \(batch.process))
                                """, logger: logger)
                            continue
                        }
                        let fence = batch.fences[p.asset]
                        try await conn.query(
                            """
                            INSERT INTO publications(owner, seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version, input_from, input_to, prev_hash, hash, price, stable_price, haircut, status, process, fence)
                            VALUES (\(chain), \(seq), \(p.asset), \(p.side.stored), \(p.timestamp), \(p.oldValue), \(p.newValue), \(p.maintenance), \(p.sigma), \(p.binding.stored), \(p.modelVersion), \(p.inputFrom), \(p.inputTo), \(previous), \(h), \(p.price), \(p.stablePrice), \(p.haircut), \(p.status?.rawValue), \(batch.process), \(fence))
                            """, logger: logger)
                    }
                }
                for (asset, text) in states {
                    try await conn.query(
                        """
                        INSERT INTO asset_state(chain, asset, state, version, process) VALUES (\(chain), \(asset), \(text), nextval('asset_state_version'), \(batch.process))
                        ON CONFLICT (chain, asset) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version, process = EXCLUDED.process
                        """, logger: logger)
                }
                if let config {
                    try await conn.query(
                        """
                        INSERT INTO venue_config(chain, config, version) VALUES (\(chain), \(config), 1)
                        ON CONFLICT (chain) DO UPDATE SET config = EXCLUDED.config, version = venue_config.version + 1
                        """, logger: logger)
                }
                for (name, lines) in batch.inputs {
                    try await conn.query(
                        """
                        INSERT INTO inputs(owner, name, lines) VALUES (\(chain), \(name), \(lines))
                        ON CONFLICT (owner, name) DO UPDATE SET lines = EXCLUDED.lines
                        """, logger: logger)
                }
                for e in batch.statusEvents {
                    let version = try await lockAccount(conn, e.id)
                    try await conn.query(
                        "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (\(e.id), \(version), \(e.time), 'status', \(batch.process), \(e.detail))",
                        logger: logger)
                }
                if !batch.inbox.isEmpty {
                    try await conn.query("DELETE FROM inbox WHERE id = ANY(\(batch.inbox)::bigint[])", logger: logger)
                }
                return sequences
            }
        } catch let e as LeaseLost {
            throw e
        } catch let e as PostgresTransactionError {
            if let lost = e.closureError as? LeaseLost { throw lost }
            throw StoreError(store: url, reason: "\(String(reflecting: e))")
        } catch {
            throw StoreError(store: url, reason: "\(String(reflecting: error))")
        }
    }
}
