import Foundation
import GRDB
import VolScaleEngine

extension SQLiteStore {
    // MARK: - Accounts

    static func account(_ row: Row) -> StoredAccount {
        StoredAccount(id: row["id"], document: row["document"], version: row["version"], updated: row["updated"])
    }

    func lastVersion(_ db: Database, _ id: String) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM account_history WHERE id = ?", arguments: [id]) ?? 0
    }

    public func putAccount(id: String, document: String, time: Int64, by: String) async throws -> StoredAccount {
        do {
            return try await writer.write { db in
                let version = try self.lastVersion(db, id) + 1
                try db.execute(
                    sql:
                        "INSERT INTO accounts (id, document, version, updated) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET document = excluded.document, version = excluded.version, updated = excluded.updated",
                    arguments: [id, document, version, time])
                try db.execute(
                    sql:
                        "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (?, ?, ?, 'put', ?, ?)",
                    arguments: [id, version, time, by, document])
                return StoredAccount(id: id, document: document, version: version, updated: time)
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func deleteAccount(id: String, time: Int64, by: String) async throws -> StoredAccount? {
        do {
            return try await writer.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM accounts WHERE id = ?", arguments: [id]) else {
                    return nil
                }
                var a = Self.account(row)
                a.version = try self.lastVersion(db, id) + 1
                a.updated = time
                try db.execute(sql: "DELETE FROM accounts WHERE id = ?", arguments: [id])
                try db.execute(
                    sql:
                        "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (?, ?, ?, 'delete', ?, '')",
                    arguments: [id, a.version, time, by])
                return a
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func account(_ id: String) async throws -> StoredAccount? {
        do {
            return try await writer.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM accounts WHERE id = ?", arguments: [id]).map(Self.account)
            }
        } catch {
            throw StoreError(store: path, reason: Self.describe(error))
        }
    }

    public func accounts(after: String?, limit: Int) async throws -> [StoredAccount] {
        do {
            return try await writer.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM accounts WHERE id > ? ORDER BY id LIMIT ?", arguments: [after ?? "", limit]
                ).map(Self.account)
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func accountHistory(_ id: String, before: Int64?, limit: Int) async throws -> [AccountEvent] {
        do {
            return try await writer.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM account_history WHERE id = ? AND number < ? ORDER BY number DESC LIMIT ?",
                    arguments: [id, before ?? Int64.max, limit]
                ).map {
                    AccountEvent(
                        number: $0["number"], id: $0["id"], version: $0["version"], time: $0["ts"], kind: $0["kind"],
                        by: $0["by"], detail: $0["detail"])
                }
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func recordAccountEvent(id: String, time: Int64, kind: String, by: String, detail: String) async throws {
        do {
            try await writer.write { db in
                let version =
                    try Int64.fetchOne(db, sql: "SELECT version FROM accounts WHERE id = ?", arguments: [id])
                    ?? self.lastVersion(db, id)
                try db.execute(
                    sql: "INSERT INTO account_history (id, version, ts, kind, by, detail) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [id, version, time, kind, by, detail])
            }
        } catch { throw StoreError(store: path, reason: Self.describe(error)) }
    }

    public func accountsEverStored() async throws -> Bool {
        do {
            return try await writer.read { db in
                try Int.fetchOne(db, sql: "SELECT 1 FROM account_history LIMIT 1") != nil
            }
        } catch {
            throw StoreError(store: path, reason: Self.describe(error))
        }
    }

    /// Runs raw SQL (tests use it to tamper with rows).
    public func execute(_ sql: String) throws {
        try writer.write { db in try db.execute(sql: sql) }
    }

    /// Runs a query whose answer is one integer (tests use it to look into tables).
    func count(_ sql: String) throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db, sql: sql) ?? 0 }
    }
}
