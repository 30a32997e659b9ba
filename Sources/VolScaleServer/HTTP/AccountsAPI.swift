import Foundation
import Hummingbird
import VolScaleConfig
import VolScaleMargin
import VolScaleStore

/// Accounts as state: created, replaced and deleted through the API, stored (SQLite or
/// PostgreSQL) with their history, used at once by the margin and stress routes. A write
/// is answered only once it is committed; an account the book cannot evaluate (an unknown
/// instrument or asset) is refused with 422 and not stored.
extension ServiceAPI {
    func accountStore() throws -> any EngineStore {
        guard let store = state.accountStore else {
            throw HTTPError(.serviceUnavailable, message: "this service has no store: accounts cannot be kept")
        }
        return store
    }

    /// An account id as the document bounds it (1 to 128 characters), or a 400.
    static func checkID(_ id: String) throws {
        guard !id.isEmpty, id.unicodeScalars.count <= AccountLimits.maxNameLength else {
            throw HTTPError(.badRequest, message: "id: expected 1 to \(AccountLimits.maxNameLength) characters")
        }
    }

    static func storeFailed(_ error: any Error) -> HTTPError {
        HTTPError(
            .serviceUnavailable, headers: [.retryAfter: "1"],
            message: "the store failed: \(error); nothing was changed, retrying is safe")
    }

    /// The generated record of a stored account (its document read back through the same
    /// mapping as a request body).
    static func record(_ a: StoredAccount, deleted: Bool? = nil) throws -> Schemas.AccountRecord {
        .init(
            id: a.id, version: a.version, updated: a.updated, deleted: deleted, account: try storedDocument(a.document))
    }

    static func storedDocument(_ text: String) throws -> Schemas.Account {
        do { return try Schemas.Account(json: try Requests.json(Data(text.utf8))) } catch {
            throw HTTPError(.internalServerError, message: "a stored account document cannot be read: \(error)")
        }
    }

    func putAccount(_ input: Operations.PutAccount.Input) async throws -> Operations.PutAccount.Output {
        guard case .json(var document) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let id = input.path.id
        try Self.checkID(id)
        if let given = document.id, given != id {
            throw HTTPError(.unprocessableContent, message: "id: the body's id must be the path's ('\(id.prefix(64))')")
        }
        // `explain` belongs to a what-if answer, not to an account: not stored (the document says so)
        document.explain = nil
        document.id = id
        let account = try Self.account(document)
        let mode = document.mode.flatMap { MarginMode(rawValue: $0.rawValue) }
        if case .failure(let e) = evaluate(account, mode: mode ?? .standard, explain: false) {
            throw HTTPError(.unprocessableContent, message: "\(e.field): \(e.reason)")
        }
        let store = try accountStore()
        let stored: StoredAccount
        do {
            stored = try await store.putAccount(
                id: id, document: document.json.text, time: state.clock.now(), by: RawBody.keyName ?? "unknown")
        } catch {
            throw Self.storeFailed(error)
        }
        await state.setAccount(account, mode: mode)
        return .ok(.init(body: .json(try Self.record(stored))))
    }

    func getAccount(_ input: Operations.GetAccount.Input) async throws -> Operations.GetAccount.Output {
        try Self.checkID(input.path.id)
        let found: StoredAccount?
        do { found = try await accountStore().account(input.path.id) } catch let e as HTTPError { throw e } catch {
            throw Self.storeFailed(error)
        }
        guard let found else { throw HTTPError(.notFound, message: "unknown account '\(input.path.id.prefix(64))'") }
        return .ok(.init(body: .json(try Self.record(found))))
    }

    func deleteAccount(_ input: Operations.DeleteAccount.Input) async throws -> Operations.DeleteAccount.Output {
        try Self.checkID(input.path.id)
        let store = try accountStore()
        let deleted: StoredAccount?
        do {
            deleted = try await store.deleteAccount(
                id: input.path.id, time: state.clock.now(), by: RawBody.keyName ?? "unknown")
        } catch {
            throw Self.storeFailed(error)
        }
        guard let deleted else { throw HTTPError(.notFound, message: "unknown account '\(input.path.id.prefix(64))'") }
        await state.removeAccount(deleted.id)
        return .ok(.init(body: .json(try Self.record(deleted, deleted: true))))
    }

    func listAccounts(_ input: Operations.ListAccounts.Input) async throws -> Operations.ListAccounts.Output {
        let limit = try Self.bounded(input.query.limit, "limit", 1...1000) ?? 100
        if let after = input.query.after, after.unicodeScalars.count > AccountLimits.maxNameLength {
            throw HTTPError(.badRequest, message: "after: expected at most \(AccountLimits.maxNameLength) characters")
        }
        let store = try accountStore()
        let page: [StoredAccount]
        // one more than asked: whether there is a next page
        do { page = try await store.accounts(after: input.query.after, limit: limit + 1) } catch {
            throw Self.storeFailed(error)
        }
        let shown = page.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        accounts: try shown.map { try Self.record($0) }, next: page.count > limit ? shown.last?.id : nil
                    ))))
    }

    func accountHistory(_ input: Operations.AccountHistory.Input) async throws -> Operations.AccountHistory.Output {
        try Self.checkID(input.path.id)
        let limit = try Self.bounded(input.query.limit, "limit", 1...1000) ?? 100
        if let b = input.query.before, b < 1 {
            throw HTTPError(.badRequest, message: "before: expected an integer in [1, \(Int64.max)]")
        }
        let store = try accountStore()
        let events: [AccountEvent]
        do { events = try await store.accountHistory(input.path.id, before: input.query.before, limit: limit) } catch {
            throw Self.storeFailed(error)
        }
        if events.isEmpty, input.query.before == nil {
            throw HTTPError(.notFound, message: "unknown account '\(input.path.id.prefix(64))'")
        }
        return .ok(
            .init(
                body: .json(
                    try events.map { e in
                        .init(
                            number: e.number, version: e.version, time: e.time,
                            kind: .init(rawValue: e.kind) ?? .status, by: e.by,
                            account: e.kind == "put" ? try Self.storedDocument(e.detail) : nil,
                            detail: e.kind == "put" || e.detail.isEmpty ? nil : e.detail)
                    })))
    }

    /// At start: a store that ever held accounts is the source of truth; a new store is
    /// seeded from the accounts file (recorded as put by `accounts file`). The accounts are
    /// evaluated together afterwards (`ServiceState.remarginAll`).
    static func loadAccounts(state: ServiceState, store: any EngineStore, file: [Account]) async throws -> (
        loaded: Int, seeded: Int
    ) {
        if try await store.accountsEverStored() {
            var after: String?
            var n = 0
            while true {
                let page = try await store.accounts(after: after, limit: 1000)
                for a in page {
                    let document = try storedDocument(a.document)
                    await state.setAccount(
                        try account(document), mode: document.mode.flatMap { MarginMode(rawValue: $0.rawValue) },
                        evaluate: false)
                }
                n += page.count
                guard page.count == 1000, let last = page.last?.id else { return (n, 0) }
                after = last
            }
        }
        let now = state.clock.now()
        for a in file {
            let document = Schemas.Account(a)
            _ = try await store.putAccount(id: a.id, document: document.json.text, time: now, by: "accounts file")
            await state.setAccount(a, mode: nil, evaluate: false)
        }
        return (0, file.count)
    }
}

extension Components.Schemas.Account {
    /// A domain account as the document the API stores (collateral as an object).
    init(_ a: Account) {
        var map: [String: Double] = [:]
        for c in a.collateral { map[c.asset, default: 0] += c.quantity }
        self.init(
            id: a.id, collateral: a.collateral.isEmpty ? nil : .case1(.init(additionalProperties: map)),
            positions: a.positions.map {
                .init(
                    instrument: $0.instrument, quantity: $0.quantity, entryPrice: $0.entryPrice,
                    impliedVolatility: $0.impliedVolatility)
            },
            mode: nil, explain: nil)
    }

    /// The document as JSON, members sorted (the stored text).
    var json: JSON {
        var m: [(key: String, value: JSON)] = []
        switch collateral {
        case nil: break
        case .case1(let map)?:
            m.append(
                (
                    "collateral",
                    .object(map.additionalProperties.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })
                ))
        case .case2(let list)?:
            m.append(
                (
                    "collateral",
                    .array(list.map { .object([("asset", .string($0.asset)), ("quantity", .number($0.quantity))]) })
                ))
        }
        if let explain { m.append(("explain", .bool(explain))) }
        if let id { m.append(("id", .string(id))) }
        if let mode { m.append(("mode", .string(mode.rawValue))) }
        if let positions {
            m.append(
                (
                    "positions",
                    .array(
                        positions.map { p in
                            var o: [(key: String, value: JSON)] = []
                            if let e = p.entryPrice { o.append(("entryPrice", .number(e))) }
                            if let v = p.impliedVolatility { o.append(("impliedVolatility", .number(v))) }
                            o.append(("instrument", .string(p.instrument)))
                            o.append(("quantity", .number(p.quantity)))
                            return .object(o)
                        })
                ))
        }
        return .object(m)
    }
}
