import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VolScaleConfig
import VolScaleStore

@testable import VolScaleEngine
@testable import VolScaleServer

/// Issue 28 through the API: a key bound to its sources, an undeclared source, a conflicting
/// duplicate, and a spike that reverts; after each the venue serves, every published rate is
/// finite and capped, and `/ready` holds.
@Suite struct PriceSequenceServerTests {
    static let day: Int64 = 86_400_000

    static func state(store: (any EngineStore)? = nil) async throws -> ServiceState {
        let aggregation = try AggregationPolicy(maxAge: 120_000, minSources: 1, averageDecay: 0.8)
        let settings = try AssetSettings(aggregation: aggregation, barMillis: day, sources: ["desk", "feed"])
        let c = try EngineConfig(assets: ["BTC"], aggregation: aggregation, buffer: 0.25, settings: ["BTC": settings])
        let book = try BookConfig.load(path: Fixture.root.appendingPathComponent("examples/book.toml").path).book
        let state = ServiceState(engine: StreamingEngine(config: c), store: store, book: book)
        await state.markReady()
        return state
    }

    static func config() -> ServerConfig {
        var s = Fixture.config()
        var bound = APIKeyRecord(name: "feed-only", role: .ingest, secret: "feed-secret")
        bound.sources = ["BTC/feed"]
        s.keys.append(bound)
        return s
    }

    static func body(_ quotes: [(String, Int64, Double)]) -> ByteBuffer {
        ByteBuffer(
            string: "{\"quotes\":["
                + quotes.map { "{\"asset\":\"BTC\",\"source\":\"\($0.0)\",\"ts\":\($0.1),\"price\":\($0.2)}" }
                .joined(separator: ",") + "]}")
    }

    @Test func sourcesAreDeclaredAndBoundToKeys() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volscale-sequences-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStore(path: dir.appendingPathComponent("store.sqlite").path)
        let state = try await Self.state(store: store)
        let app = buildApplication(state: state, config: Self.config())
        try await app.test(.router) { client in
            let t: Int64 = 1_700_000_000_000
            // 100 honest daily bars from the desk
            let honest = (0..<100).map { ("desk", t + Int64($0) * Self.day, 60_000 * (1 + 0.01 * sin(Double($0)))) }
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"), body: Self.body(honest)
            ) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
            }
            let next = t + 100 * Self.day
            // an invented source: refused by the engine, named
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"), body: Self.body([("fake1", next, 6e7)])
            ) { r in
                #expect(
                    r.status == .unprocessableContent && String(buffer: r.body).contains("undeclared source"),
                    "\(String(buffer: r.body))")
            }
            // a key bound to BTC/feed may not quote as the desk; nothing of the request is applied
            var feedKey = HTTPFields()
            feedKey[.authorization] = "Bearer feed-secret"
            feedKey[.contentType] = "application/json"
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: feedKey,
                body: Self.body([("feed", next, 60_000), ("desk", next, 6e7)])
            ) { r in
                #expect(
                    r.status == .forbidden
                        && String(buffer: r.body).contains(
                            "quotes[1]: key 'feed-only' may not quote BTC from source 'desk'")
                )
            }
            #expect(await state.engine.aggregator.states["BTC"]?.latest["feed"] == nil)
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: feedKey, body: Self.body([("feed", next, 60_000)])
            ) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
            }
            // the same (asset, source, ts) with another price: 409, counted
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: feedKey, body: Self.body([("feed", next, 61_000)])
            ) { r in
                #expect(
                    r.status == .conflict && String(buffer: r.body).contains("\"conflicting duplicate\":1"),
                    "\(String(buffer: r.body))")
            }
            // a x1000 spike on a bar of its own, then honest bars: published rates stay finite and capped
            let spike = (0..<10).map { ("desk", next + Int64($0 + 1) * Self.day, $0 == 0 ? 6e7 : 60_000.0) }
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"), body: Self.body(spike)
            ) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
            }
            let published = await state.latestPublications()
            #expect(!published.isEmpty && published.allSatisfy { $0.newValue.isFinite && $0.newValue <= 1 })
            #expect(
                published.allSatisfy { ($0.price ?? 0) < 100_000 },
                "a spiked price was published: \(published.map(\.price))")
            try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/rates", method: .get, headers: bearer("read")) {
                #expect($0.status == .ok)
            }
        }
        // the store took all of it and its audit chain holds
        try await state.flush()
        #expect(await state.storeFailure == nil)
        let audit = try await store.verifyAudit()
        #expect(
            audit.ok && audit.checked >= 20,
            "\(audit.checked) checked, broken: \(String(describing: audit.firstBroken))")
    }
}
