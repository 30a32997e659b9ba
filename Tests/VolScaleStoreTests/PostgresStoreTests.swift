import Foundation
import Testing
import VolScaleConfig

@testable import VolScaleEngine
@testable import VolScaleStore

/// Against a real PostgreSQL server: scripts/test.sh starts one on loopback and sets
/// VOLSCALE_PG_URL (and VOLSCALE_REQUIRE_PG=1, so a missing server fails instead of skipping).
enum PG {
    static let url = ProcessInfo.processInfo.environment["VOLSCALE_PG_URL"]
    static var available: Bool { url != nil }
    static func fresh(owner: String) async throws -> PostgresStore {
        let store = try await PostgresStore.connect(url: url!, owner: owner)
        try await store.execute("DELETE FROM publications WHERE owner = '\(owner)'")
        try await store.execute("DELETE FROM policy_changes WHERE owner = '\(owner)'")
        try await store.execute("DELETE FROM engine_state WHERE owner = '\(owner)'")
        try await store.execute("DELETE FROM inputs WHERE owner = '\(owner)'")
        return store
    }
}

@Suite(.serialized) struct PostgresStoreTests {
    /// With VOLSCALE_REQUIRE_PG=1 (the test command sets it) the server must be configured
    /// and answer; without it this test is skipped, not passed.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VOLSCALE_REQUIRE_PG"] == "1"))
    func serverIsThereWhenRequired() async throws {
        try #require(PG.available, "VOLSCALE_REQUIRE_PG=1 but VOLSCALE_PG_URL is not set")
        let store = try await PG.fresh(owner: "ping")
        try await store.execute("SELECT 1")
    }

    @Test(.enabled(if: PG.available)) func roundTripAuditAndTampering() async throws {
        let store = try await PG.fresh(owner: "roundtrip")
        try await store.execute("TRUNCATE quotes")
        try await StoreSpec.roundTripAndAudit(store) { sql in
            try await store.execute(
                sql.replacingOccurrences(of: "WHERE seq", with: "WHERE owner = 'roundtrip' AND seq"))
        }
        try await store.execute("DELETE FROM publications WHERE owner = 'roundtrip' AND seq = 10")
        #expect(try await store.verifyAudit().firstBroken?.sequence == 11)  // the row after the gap
    }

    @Test(.enabled(if: PG.available)) func policyChangesAreRecordsOfTheirOwn() async throws {
        let store = try await PG.fresh(owner: "policy")
        try await StoreSpec.policyChanges(store) { sql in
            try await store.execute(sql.replacingOccurrences(of: "WHERE seq", with: "WHERE owner = 'policy' AND seq"))
        }
    }

    /// A store written before policy changes had a table of their own: its "policy" rows
    /// move to `policy_changes` when the schema is brought up to date, and the chain still
    /// verifies; a row of another shape under that name stays where it was.
    @Test(.enabled(if: PG.available)) func legacyPolicyRowsMoveAndTheChainHolds() async throws {
        let store = try await PG.fresh(owner: "legacy")
        let rows = StoreSpec.legacyChain()
        for (p, previous, hash) in rows {
            try await store.execute(
                """
                INSERT INTO publications(owner, seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version, input_from, input_to, prev_hash, hash)
                VALUES ('legacy', \(p.sequence), '\(p.asset)', '\(p.side.stored)', \(p.timestamp), \(p.oldValue.map { "\($0)" } ?? "NULL"), \(p.newValue),
                        \(p.maintenance), \(p.sigma), '\(p.binding.stored)', '\(p.modelVersion)', \(p.inputFrom), \(p.inputTo), '\(previous)', '\(hash)')
                """)
        }
        for statement in PostgresStore.policyChangeMigrations {
            try await store.client.query(statement, logger: store.logger)
        }
        #expect(try await store.verifyAudit() == AuditReport(checked: rows.count, firstBroken: nil))
        #expect(try await store.publications(asset: nil, at: nil, limit: 10).map(\.publication) == rows.map(\.0))
        // moved: altering the moved row in its new table breaks the chain there
        try await store.execute("UPDATE policy_changes SET author = 'someone else' WHERE owner = 'legacy' AND seq = 2")
        #expect(try await store.verifyAudit().firstBroken?.sequence == 2)
    }

    @Test(.enabled(if: PG.available)) func resumeAfterRestartEqualsUninterruptedRun() async throws {
        try await PG.fresh(owner: "resume").execute("TRUNCATE quotes")
        let lines = quoteLines(count: 2400, seed: 9)
        var reference = StreamingEngine(config: try engineConfig())
        for l in lines { _ = reference.ingest(try Requests.quoteLine(Substring(l))) }
        // first process: half the input, then it goes away
        do {
            let s = try await PG.fresh(owner: "resume")
            var ing = try await Ingestor.open(store: s, config: engineConfig(), batchSize: 200)
            for (i, l) in lines.prefix(1200).enumerated() {
                ing.feed(try Requests.quoteLine(Substring(l)))
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
            ing.feed(try Requests.quoteLine(Substring(l)))
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
        try await a.execute("DELETE FROM asset_leases WHERE asset IN ('BTC', 'ETH', 'SOL')")
        let t0: Int64 = 1_000_000
        #expect(try await a.claim(assets: ["BTC", "ETH"], ttl: 10_000, now: t0) == ["BTC", "ETH"])
        #expect(try await b.claim(assets: ["BTC", "ETH", "SOL"], ttl: 10_000, now: t0 + 1_000) == ["SOL"])
        #expect(try await a.claim(assets: ["BTC"], ttl: 10_000, now: t0 + 5_000) == ["BTC"])  // renewal
        // engine-a stops renewing; after expiry engine-b takes ETH, and BTC once its renewed lease runs out
        #expect(try await b.claim(assets: ["BTC", "ETH"], ttl: 10_000, now: t0 + 12_000) == ["ETH"])
        #expect(try await b.claim(assets: ["BTC", "ETH"], ttl: 10_000, now: t0 + 16_000) == ["BTC", "ETH"])
        #expect(try await a.claim(assets: ["BTC"], ttl: 10_000, now: t0 + 17_000) == [])
    }

    /// Several `volscale serve` processes: a commit is written only under the lease it names
    /// (fencing token checked in the transaction); a process whose lease was taken over
    /// writes nothing, and the new owner continues the asset's state and the one chain.
    @Test(.enabled(if: PG.available)) func fencedCommitsAndTakeover() async throws {
        let chain = "fence-spec"
        let store = try await PG.fresh(owner: chain)
        try await store.execute("DELETE FROM asset_leases WHERE asset LIKE 'FX-%'")
        try await store.execute("DELETE FROM asset_state WHERE chain = '\(chain)'")
        try await store.registerAssets(["FX-1", "FX-2"])
        func publication(_ asset: String, _ t: Int64, old: Double?, new: Double) -> Publication {
            Publication(
                sequence: 0, asset: asset, side: "long", timestamp: t, oldValue: old, newValue: new,
                maintenance: 0.8 * new, sigma: 0.01,
                binding: "model", modelVersion: "spec", inputFrom: 0, inputTo: t)
        }
        var state = AssetSnapshot(price: PriceState(), volatility: AssetVolatilityState())
        state.volatility.returns = 10
        func batch(_ process: String, _ fence: Int64, _ pubs: [Publication], returns: Int64) -> ClusterCommit {
            var s = state
            s.volatility.returns = returns
            return ClusterCommit(
                process: process, fences: ["FX-1": fence], quotes: [], publications: pubs, states: ["FX-1": s],
                inputs: [:], statusEvents: [])
        }
        // a takes FX-1; b cannot while a's lease runs
        let fa = try #require(try await store.acquire("FX-1", process: "a", ttl: 60_000))
        #expect(try await store.acquire("FX-1", process: "b", ttl: 60_000) == nil)
        #expect(
            try await store.commit(batch("a", fa, [publication("FX-1", 1, old: nil, new: 0.05)], returns: 11)) == [1])
        // b cannot write under a's lease, even naming a's token
        await #expect(throws: LeaseLost.self) {
            try await store.commit(batch("b", fa, [publication("FX-1", 2, old: 0.05, new: 0.06)], returns: 12))
        }
        // a's lease lapses (paused process); b takes FX-1 with a larger token
        try await store.execute("UPDATE asset_leases SET expires_at = 0 WHERE asset = 'FX-1'")
        let fb = try #require(try await store.acquire("FX-1", process: "b", ttl: 60_000))
        #expect(fb == fa + 1)
        #expect(try await store.renew(process: "a", fences: ["FX-1": fa], ttl: 60_000).isEmpty)
        // a wakes and tries to publish: refused, nothing written
        await #expect(throws: LeaseLost.self) {
            try await store.commit(batch("a", fa, [publication("FX-1", 2, old: 0.05, new: 0.07)], returns: 12))
        }
        #expect(try await store.publications(after: 0, limit: 10).count == 1)
        #expect(try await store.assetState("FX-1")?.state.volatility.returns == 11)
        // b continues from a's last committed state, numbered on the one chain
        #expect(
            try await store.commit(batch("b", fb, [publication("FX-1", 2, old: 0.05, new: 0.06)], returns: 12)) == [2])
        let rows = try await store.publications(after: 0, limit: 10)
        #expect(rows.map(\.publication.sequence) == [1, 2])
        #expect(rows.map(\.publication.oldValue) == [nil, 0.05])
        #expect(try await store.assetState("FX-1")?.state.volatility.returns == 12)
        #expect(try await store.verifyAudit().ok)
        // a graceful release lets another process take the asset at once
        try await store.release("FX-1", process: "b", fence: fb)
        #expect(try await store.acquire("FX-1", process: "a", ttl: 60_000) == fb + 1)
        #expect(try await store.leases().first { $0.asset == "FX-1" }?.owner == "a")
    }

    @Test(.enabled(if: PG.available)) func storeFactorySelectsByURL() async throws {
        let s = try await StoreFactory.open(PG.url!)
        #expect(s is PostgresStore)
        let l = try await StoreFactory.open(Paths.temp("f-\(UUID().uuidString).sqlite"))
        #expect(l is SQLiteStore)
    }
}
