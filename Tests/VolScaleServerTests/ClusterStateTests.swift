import Foundation
import Testing
import VolScaleConfig
import VolScaleStore

@testable import VolScaleEngine
@testable import VolScaleServer

/// Two service processes on one PostgreSQL store, driven in process (what `scripts/cluster.sh`
/// does with real processes and signals): the lease decides who ingests an asset, the other
/// follows the chain and the asset's state, a paused owner whose lease was taken is fenced
/// off and writes nothing, and the new owner continues exactly where the stored state ends.
/// Needs VOLSCALE_PG_URL (scripts/test.sh starts a server and sets it); runs in a database of
/// its own on that server (the store tests count every row of theirs).
@Suite(.serialized) struct ClusterStateTests {
    static let url = ProcessInfo.processInfo.environment["VOLSCALE_PG_URL"]
    static let database = "volscale_cluster_state"

    /// The URL of this suite's database, created on the test server when missing.
    static func ownDatabase() async throws -> String {
        let url = try #require(Self.url)
        let admin = try await PostgresStore.connect(url: url, owner: "cluster-state-admin")
        do { try await admin.execute("CREATE DATABASE \(database)") } catch {
            guard "\(error)".contains("already exists") else { throw error }
        }
        let base = try #require(url.range(of: "/", options: .backwards))
        return String(url[..<base.lowerBound]) + "/" + database
    }
    static let book = """
        [settings]
        settlement = "USD"
        [[asset]]
        name = "CLT"
        price = 100
        volatility = 0.02
        """

    /// A process of the venue: its own engine and connection, joined to `chain`.
    static func process(_ name: String, chain: String, asset: String, url: String) async throws -> (
        ServiceState, PostgresStore
    ) {
        let store = try await PostgresStore.connect(url: url, owner: chain)
        let config = try EngineConfig(
            assets: [asset], aggregation: AggregationPolicy(maxAge: AggregationPolicy.maxAgeLimit, minSources: 1))
        let book = try BookConfig.parse(Self.book.replacingOccurrences(of: "CLT", with: asset), path: "cluster.toml")
            .book
        let state = ServiceState(engine: StreamingEngine(config: config), store: store, book: book)
        await state.joinCluster(store: store, process: name, lease: 60_000, inputs: [:])
        await state.startFollowing(sequence: 0, accountEvent: 0, versions: [:], configVersion: 0)
        await state.markReady()
        return (state, store)
    }

    static func quotes(_ asset: String, _ range: Range<Int>) -> [Quote] {
        range.map { i in
            Quote(
                asset: asset, source: "x", timestamp: 1_700_000_000_000 + Int64(i) * 1000,
                price: 100 * (1 + 0.01 * sin(Double(i))))
        }
    }

    @Test(.enabled(if: url != nil)) func leaseFencingTakeoverAndFollower() async throws {
        let tag = UUID().uuidString.prefix(8).lowercased()
        let chain = "cluster-state-\(tag)"
        let asset = "CLT-\(tag)"
        let url = try await Self.ownDatabase()
        let (a, storeA) = try await Self.process("a", chain: chain, asset: asset, url: url)
        let (b, storeB) = try await Self.process("b", chain: chain, asset: asset, url: url)
        try await storeA.registerAssets([asset])

        // lease: a takes the asset; b cannot while a's lease runs, and refuses its quotes
        let fenceA = try #require(try await storeA.acquire(asset, process: "a", ttl: 60_000))
        #expect(try await a.takeOver(asset, fence: fenceA) == false, "a new venue: no stored state yet")
        #expect(try await storeB.acquire(asset, process: "b", ttl: 60_000) == nil)
        let refused = try await b.ingest(Self.quotes(asset, 0..<1), forward: false)
        #expect(refused.accepted == 0 && refused.rejected[ServiceState.notOwned] == 1)

        // the owner ingests and commits; its publications are the chain's 1...n
        let first = try await a.ingest(Self.quotes(asset, 0..<100))
        #expect(first.accepted == 100 && !first.publications.isEmpty)
        try await a.flush()
        let stored = try await storeA.publications(after: 0, limit: 1000).map(\.publication)
        #expect(stored.map(\.sequence) == Array(1...Int64(stored.count)))
        #expect(stored.map(\.newValue) == first.publications.map(\.newValue))

        // the follower: the same publications in the same order, the asset's state adopted
        try await b.follow()
        #expect(await b.publications(asset: asset, limit: 1000).map(\.sequence) == stored.map(\.sequence))
        #expect(await b.engine.assetSnapshot(asset) == a.engine.assetSnapshot(asset))

        // takeover: a's lease lapses (a paused process); b takes the asset with a larger token
        try await storeA.execute("UPDATE asset_leases SET expires_at = 0 WHERE asset = '\(asset)'")
        let fenceB = try #require(try await storeB.acquire(asset, process: "b", ttl: 60_000))
        #expect(fenceB == fenceA + 1)
        #expect(try await b.takeOver(asset, fence: fenceB) == true)

        // fencing: a wakes unaware and ingests; its commit is refused, nothing of it is stored
        let stale = try await a.ingest(Self.quotes(asset, 100..<110))
        #expect(stale.accepted == 10)
        await #expect(throws: LeaseLost.self) { try await a.flush() }
        #expect(await a.ownedAssets[asset] == nil)
        #expect(try await storeA.publications(after: 0, limit: 1000).count == stored.count)

        // b continues from a's last committed state: the same rates as one uninterrupted engine
        let next = try await b.ingest(Self.quotes(asset, 100..<110))
        #expect(next.accepted == 10)
        try await b.flush()
        var reference = StreamingEngine(config: await a.engine.config)
        var expected: [Publication] = []
        for q in Self.quotes(asset, 0..<110) {
            if case .success(let p) = reference.ingest(q) { expected += p }
        }
        let chain2 = try await storeB.publications(after: 0, limit: 1000).map(\.publication)
        #expect(chain2.map(\.sequence) == Array(1...Int64(chain2.count)), "one chain, no gap or duplicate")
        #expect(chain2.map(\.newValue) == expected.map(\.newValue))
        #expect(chain2.map(\.newValue.bitPattern) == expected.map(\.newValue.bitPattern))
        #expect(try await storeB.verifyAudit().ok)

        // a, following again, sees b's publications and b's state
        try await a.follow()
        #expect(await a.publications(asset: asset, limit: 1000).map(\.sequence) == chain2.map(\.sequence))
        #expect(await a.engine.assetSnapshot(asset) == b.engine.assetSnapshot(asset))
    }
}
