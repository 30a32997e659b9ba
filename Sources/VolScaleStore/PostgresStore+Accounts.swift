import Foundation
import Logging
import PostgresNIO
import VolScaleEngine

extension PostgresStore {
    // MARK: - Accounts

    /// Changes to one account are serialised by a row lock on its history (a transaction-level
    /// advisory lock keyed by the id's hash), so two processes never give out one version twice.
    func lockAccount(_ conn: PostgresConnection, _ id: String) async throws -> Int64 {
        try await conn.query("SELECT pg_advisory_xact_lock(hashtext(\(id)))", logger: logger)
        let rows = try await conn.query(
            "SELECT COALESCE(MAX(version), 0)::bigint FROM account_history WHERE id = \(id)", logger: logger)
        for try await v in rows.decode(Int64.self) { return v }
        return 0
    }

    public func putAccount(id: String, document: String, time: Int64, by: String) async throws -> StoredAccount {
        try await wrap {
            try await client.withTransaction(logger: logger) { conn in
                let version = try await lockAccount(conn, id) + 1
                try await conn.query(
                    """
                    INSERT INTO accounts (id, document, version, updated) VALUES (\(id), \(document), \(version), \(time))
                    ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document, version = EXCLUDED.version, updated = EXCLUDED.updated
                    """, logger: logger)
                try await conn.query(
                    "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (\(id), \(version), \(time), 'put', \(by), \(document))",
                    logger: logger)
                return StoredAccount(id: id, document: document, version: version, updated: time)
            }
        }
    }

    public func deleteAccount(id: String, time: Int64, by: String) async throws -> StoredAccount? {
        try await wrap {
            try await client.withTransaction(logger: logger) { conn -> StoredAccount? in
                let version = try await lockAccount(conn, id) + 1
                let rows = try await conn.query(
                    "DELETE FROM accounts WHERE id = \(id) RETURNING document", logger: logger)
                var document: String?
                for try await d in rows.decode(String.self) { document = d }
                guard let document else { return nil }
                try await conn.query(
                    "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (\(id), \(version), \(time), 'delete', \(by), '')",
                    logger: logger)
                return StoredAccount(id: id, document: document, version: version, updated: time)
            }
        }
    }

    public func account(_ id: String) async throws -> StoredAccount? {
        try await wrap {
            let rows = try await client.query(
                "SELECT id, document, version, updated FROM accounts WHERE id = \(id)", logger: logger)
            for try await (i, d, v, u) in rows.decode((String, String, Int64, Int64).self) {
                return StoredAccount(id: i, document: d, version: v, updated: u)
            }
            return nil
        }
    }

    public func accounts(after: String?, limit: Int) async throws -> [StoredAccount] {
        try await wrap {
            let from = after ?? ""
            let n = Int64(limit)
            let rows = try await client.query(
                "SELECT id, document, version, updated FROM accounts WHERE id COLLATE \"C\" > \(from) ORDER BY id COLLATE \"C\" LIMIT \(n)",
                logger: logger)
            var out: [StoredAccount] = []
            for try await (i, d, v, u) in rows.decode((String, String, Int64, Int64).self) {
                out.append(StoredAccount(id: i, document: d, version: v, updated: u))
            }
            return out
        }
    }

    public func accountHistory(_ id: String, before: Int64?, limit: Int) async throws -> [AccountEvent] {
        try await wrap {
            let below = before ?? Int64.max
            let n = Int64(limit)
            let rows = try await client.query(
                """
                SELECT number, id, version, ts, kind, by, detail FROM account_history WHERE id = \(id) AND number < \(below) ORDER BY number DESC LIMIT \(n)
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

    public func recordAccountEvent(id: String, time: Int64, kind: String, by: String, detail: String) async throws {
        try await wrap {
            try await client.withTransaction(logger: logger) { conn in
                let version = try await lockAccount(conn, id)
                try await conn.query(
                    "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (\(id), \(version), \(time), \(kind), \(by), \(detail))",
                    logger: logger)
            }
        }
    }

    public func accountsEverStored() async throws -> Bool {
        try await wrap {
            let rows = try await client.query("SELECT 1::bigint FROM account_history LIMIT 1", logger: logger)
            for try await _ in rows.decode(Int64.self) { return true }
            return false
        }
    }

    /// Runs raw SQL (tests use it to tamper with rows and to reset schemas).
    public func execute(_ sql: String) async throws {
        try await wrap { try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
    }
}
