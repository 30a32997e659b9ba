import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VolScaleConfig
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

@testable import VolScaleServer

/// Accounts as state: PUT, GET, list in pages, DELETE and history through the API, stored
/// in SQLite; what is stored is what margin and stress use, and a restarted service reads
/// the same accounts back from the store.
@Suite struct AccountsAPITests {
    static func state(store: any EngineStore) async throws -> ServiceState {
        let c = try EngineConfig(assets: ["BTC", "ETH"], aggregation: AggregationPolicy(minSources: 1))
        let book = try BookConfig.load(path: Fixture.root.appendingPathComponent("examples/book.toml").path).book
        return ServiceState(engine: StreamingEngine(config: c), store: store, book: book)
    }

    func json(_ r: TestResponse) throws -> JSON { try Requests.json(Data(buffer: r.body)) }

    @Test func accountsAreStoredWithTheirHistory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volscale-accounts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let store = try SQLiteStore(path: path)
        let seeded = try await ServiceAPI.loadAccounts(
            state: try await Self.state(store: store), store: store,
            file: [
                Account(id: "seed", collateral: [("USD", 1000)], positions: [])
            ])
        #expect(seeded.seeded == 1)
        let state = try await Self.state(store: store)
        _ = try await ServiceAPI.loadAccounts(state: state, store: store, file: [])
        let app = buildApplication(state: state, config: Fixture.config())
        let body =
            #"{"mode":"portfolio","collateral":{"USD":60000},"positions":[{"instrument":"BTC-PERP","quantity":2,"entryPrice":60000}]}"#
        try await app.test(.router) { client in
            // write needs the ingest role
            try await client.execute(
                uri: "/v1/accounts/a1", method: .put, headers: bearer("read"), body: ByteBuffer(string: body)
            ) { #expect($0.status == .forbidden) }
            try await client.execute(
                uri: "/v1/accounts/a1", method: .put, headers: bearer("ingest"), body: ByteBuffer(string: body)
            ) { r in
                #expect(r.status == .ok)
                let o = try json(r)
                #expect(o["version"]?.number == 1 && o["id"]?.string == "a1")
                #expect(o["account"]?["mode"]?.string == "portfolio")
            }
            // used at once, in its own mode
            try await client.execute(uri: "/v1/accounts/a1/margin", method: .get, headers: bearer("read")) { r in
                #expect(r.status == .ok)
                let o = try json(r)
                #expect(o["mode"]?.string == "portfolio")
            }
            // refused, and nothing stored: the book has no such instrument; ids that differ; explain
            let refused: [(String, HTTPResponse.Status, String)] = [
                (
                    #"{"positions":[{"instrument":"SOL-PERP","quantity":1,"entryPrice":1}]}"#, .unprocessableContent,
                    "unknown instrument"
                ),
                (#"{"id":"other"}"#, .unprocessableContent, "id: the body's id must be the path's"),
                (#"{"positions":[{"instrument":"BTC-PERP","quantity":2e13}]}"#, .badRequest, "positions[0].quantity"),
            ]
            for (b, status, message) in refused {
                try await client.execute(
                    uri: "/v1/accounts/a1", method: .put, headers: bearer("ingest"), body: ByteBuffer(string: b)
                ) { r in
                    #expect(r.status == status, "\(b)")
                    #expect(String(buffer: r.body).contains(message), "\(String(buffer: r.body))")
                }
            }
            // replaced: version 2
            try await client.execute(
                uri: "/v1/accounts/a1", method: .put, headers: bearer("admin"),
                body: ByteBuffer(string: #"{"collateral":[{"asset":"USD","quantity":5}]}"#)
            ) { r in
                let o = try json(r)
                #expect(o["version"]?.number == 2)
            }
            try await client.execute(uri: "/v1/accounts/a1", method: .get, headers: bearer("read")) { r in
                let o = try json(r)
                #expect(o["version"]?.number == 2)
                #expect(o["account"]?["collateral"]?.array?.first?["quantity"]?.number == 5)
            }
            // a page at a time, in id order
            for id in ["b", "c", "d"] {
                try await client.execute(
                    uri: "/v1/accounts/\(id)", method: .put, headers: bearer("ingest"), body: ByteBuffer(string: "{}")
                ) { #expect($0.status == .ok) }
            }
            var seen: [String] = []
            var after: String?
            repeat {
                let uri = "/v1/accounts?limit=2" + (after.map { "&after=\($0)" } ?? "")
                after = try await client.execute(uri: uri, method: .get, headers: bearer("read")) { r in
                    let o = try json(r)
                    seen += (o["accounts"]?.array ?? []).compactMap { $0["id"]?.string }
                    return o["next"]?.string
                }
            } while after != nil
            #expect(seen == ["a1", "b", "c", "d", "seed"])
            // deleted: gone from margin, 404 after, history kept (newest first)
            try await client.execute(uri: "/v1/accounts/a1", method: .delete, headers: bearer("ingest")) { r in
                #expect(r.status == .ok)
                let o = try json(r)
                #expect(o["deleted"]?.bool == true && o["version"]?.number == 3)
            }
            try await client.execute(uri: "/v1/accounts/a1", method: .delete, headers: bearer("ingest")) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v1/accounts/a1/margin", method: .get, headers: bearer("read")) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v1/accounts/a1/history", method: .get, headers: bearer("read")) { r in
                let events = try json(r).array ?? []
                #expect(events.compactMap { $0["kind"]?.string } == ["delete", "put", "put"])
                #expect(events.compactMap { $0["by"]?.string } == ["ingest", "admin", "ingest"])
                #expect(events.last?["account"]?["mode"]?.string == "portfolio")
            }
            try await client.execute(uri: "/v1/accounts/nobody/history", method: .get, headers: bearer("read")) {
                #expect($0.status == .notFound)
            }
        }
        // a restarted service reads the store's accounts, not the file's
        let again = try await Self.state(store: store)
        let loaded = try await ServiceAPI.loadAccounts(
            state: again, store: store, file: [Account(id: "file-only", collateral: [], positions: [])])
        #expect(loaded.loaded == 4 && loaded.seeded == 0)
        #expect(await Set(again.accounts.map(\.id)) == ["b", "c", "d", "seed"])
    }

    @Test func withoutAStoreAccountWritesAre503() async throws {
        let app = buildApplication(state: try await Fixture.state(), config: Fixture.config())
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/v1/accounts/x", method: .put, headers: bearer("ingest"), body: ByteBuffer(string: "{}")
            ) { r in
                #expect(r.status == .serviceUnavailable)
            }
        }
    }
}
