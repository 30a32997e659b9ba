import Testing
import Foundation
@testable import VolScaleStore
@testable import VolScaleEngine

/// Against a real PostgreSQL server: scripts/test.sh starts one on loopback and sets
/// VOLSCALE_PG_URL (and VOLSCALE_REQUIRE_PG=1, so a missing server fails instead of skipping).
enum PG {
    static let url = ProcessInfo.processInfo.environment["VOLSCALE_PG_URL"]
    static var available: Bool { url != nil }
    static func fresh(owner: String) async throws -> PostgresStore {
        let store = try await PostgresStore.connect(url: url!, owner: owner)
        try await store.execute("DELETE FROM publications WHERE owner = '\(owner)'")
        try await store.execute("DELETE FROM engine_state WHERE owner = '\(owner)'")
        try await store.execute("DELETE FROM inputs WHERE owner = '\(owner)'")
        return store
    }
}

@Suite(.serialized) struct PostgresStoreTests {
    @Test func serverIsThereWhenRequired() {
        if ProcessInfo.processInfo.environment["VOLSCALE_REQUIRE_PG"] == "1" {
            #expect(PG.available, "VOLSCALE_REQUIRE_PG=1 but VOLSCALE_PG_URL is not set")
        }
    }

    @Test(.enabled(if: PG.available)) func roundTripAuditAndTampering() async throws {
        let store = try await PG.fresh(owner: "roundtrip")
        try await store.execute("TRUNCATE quotes")
        try await StoreSpec.roundTripAndAudit(store) { sql in
            try await store.execute(sql.replacingOccurrences(of: "WHERE seq", with: "WHERE owner = 'roundtrip' AND seq"))
        }
        try await store.execute("DELETE FROM publications WHERE owner = 'roundtrip' AND seq = 10")
        #expect(try await store.verifyAudit().firstBroken?.sequence == 11) // the row after the gap
    }

    @Test(.enabled(if: PG.available)) func resumeAfterRestartEqualsUninterruptedRun() async throws {
        try await PG.fresh(owner: "resume").execute("TRUNCATE quotes")
        let lines = quoteLines(count: 2400, seed: 9)
        var reference = StreamingEngine(config: engineConfig())
        for l in lines { _ = reference.ingest(QuoteLine.parse(Substring(l))!) }
        // first process: half the input, then it goes away
        do {
            let s = try await PG.fresh(owner: "resume")
            var ing = try await Ingestor.open(store: s, config: engineConfig(), batchSize: 200)
            for (i, l) in lines.prefix(1200).enumerated() {
                ing.feed(QuoteLine.parse(Substring(l))!)
                if ing.pending >= 200 { try await ing.commit(input: ("q", Int64(i + 1))) }
            }
            try await ing.commit(input: ("q", 1200))
        }
        // second process: resumes from the stored state and position
        let s2 = try await PostgresStore.connect(url: PG.url!, owner: "resume")
        var ing = try await Ingestor.open(store: s2, config: nil, batchSize: 200)
        let skip = Int(try await s2.inputPosition("q"))
        #expect(skip == 1200)
        for (i, l) in lines.enumerated().dropFirst(skip) {
            ing.feed(QuoteLine.parse(Substring(l))!)
            if ing.pending >= 200 { try await ing.commit(input: ("q", Int64(i + 1))) }
        }
        try await ing.commit(input: ("q", Int64(lines.count)))
        #expect(try await s2.loadSnapshot() == reference.snapshot)
        #expect(try await s2.quoteCount() == reference.accepted)
        #expect(try await s2.verifyAudit().ok)
    }

    /// Two engine processes share one database: leases decide who publishes for an asset,
    /// and a second process takes over when the first one's lease expires.
    @Test(.enabled(if: PG.available)) func leasesAndTakeover() async throws {
        let a = try await PG.fresh(owner: "engine-a")
        let b = try await PG.fresh(owner: "engine-b")
        try await a.execute("DELETE FROM asset_leases")
        let t0: Int64 = 1_000_000
        #expect(try await a.claim(assets: ["BTC", "ETH"], ttl: 10_000, now: t0) == ["BTC", "ETH"])
        #expect(try await b.claim(assets: ["BTC", "ETH", "SOL"], ttl: 10_000, now: t0 + 1_000) == ["SOL"])
        #expect(try await a.claim(assets: ["BTC"], ttl: 10_000, now: t0 + 5_000) == ["BTC"]) // renewal
        // engine-a stops renewing; after expiry engine-b takes ETH, and BTC once its renewed lease runs out
        #expect(try await b.claim(assets: ["BTC", "ETH"], ttl: 10_000, now: t0 + 12_000) == ["ETH"])
        #expect(try await b.claim(assets: ["BTC", "ETH"], ttl: 10_000, now: t0 + 16_000) == ["BTC", "ETH"])
        #expect(try await a.claim(assets: ["BTC"], ttl: 10_000, now: t0 + 17_000) == [])
    }

    @Test(.enabled(if: PG.available)) func storeFactorySelectsByURL() async throws {
        let s = try await StoreFactory.open(PG.url!)
        #expect(s is PostgresStore)
        let l = try await StoreFactory.open(Paths.temp("f-\(UUID().uuidString).sqlite"))
        #expect(l is SQLiteStore)
    }
}
