import Foundation
import VolScaleConfig
import VolScaleEngine
import VolScaleRisk
import VolScaleStore

/// `volscale-bench checkpoint [BARS]`: an engine whose one asset is margined by the example
/// venue's S&P 500 policy (GJR FHS with stressed weighting and floor, refitted every 250 bars
/// on the last 2,520 returns) and aggregated by its rules, fed BARS one-minute bars (default
/// 1,000,000: a million daily bars would run past the year 2100, which the engine refuses;
/// the policy's windows are in bars either way) of a synthetic
/// GARCH-like return series; at bars 10,000, 100,000 and BARS: the size of the stored engine
/// state (JSON) and of the asset's walker checkpoint, and what a commit to SQLite of one bar
/// (its quote, its two publications and the engine state) costs, median of 21 commits.
/// Prints one JSON object per measurement point.
func checkpointBenchmark(bars: Int) async throws {
    let venue = try VenueConfig.load(path: "examples/venue.toml")
    guard let policy = venue.policies["SPX"] else { throw BenchError("the example venue has no SPX policy") }
    let minute: Int64 = 60_000
    let settings = try AssetSettings(
        aggregation: venue.engine.settings("SPX").aggregation, barMillis: minute, barsPerDay: 1_440, sources: ["arch"])
    let config = try EngineConfig(
        assets: ["SPX"], aggregation: venue.engine.aggregation, barMillis: minute, settings: ["SPX": settings])
    var engine = try StreamingEngine(config: config, policies: ["SPX": policy])
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-checkpoint-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try SQLiteStore(path: dir.appendingPathComponent("bench.sqlite").path)
    let t0: Int64 = 946_684_800_000
    // a GARCH(1,1) return series with a pull back to the starting price (so 1,000,000 bars stay in range)
    var seed: UInt64 = 7
    func uniform() -> Double {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Double(seed >> 11) + 0.5) / Double(1 << 53)
    }
    func normal() -> Double {
        (-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * Double.pi * uniform())
    }
    var variance = 1e-4
    var logPrice = Foundation.log(2500.0)
    var pendingQuotes: [Quote] = []
    var pendingPublications: [Publication] = []
    var i = 0
    func feedOne() throws {
        let r = variance.squareRoot() * normal() - 0.001 * (logPrice - Foundation.log(2500.0))
        variance = 2e-6 + 0.08 * r * r + 0.9 * variance
        logPrice += r
        let q = Quote(asset: "SPX", source: "arch", timestamp: t0 + Int64(i) * minute, price: Foundation.exp(logPrice))
        switch engine.ingest(q) {
        case .success(let pubs):
            pendingQuotes.append(q)
            pendingPublications += pubs
        case .failure(let reason): throw BenchError("bar \(i) refused: \(reason) \(engine.lastRefusal ?? "")")
        }
        i += 1
    }
    func commit() async throws -> Double {
        let start = now()
        try await store.commit(
            CommitBatch(quotes: pendingQuotes, publications: pendingPublications, snapshot: engine.snapshot))
        pendingQuotes.removeAll(keepingCapacity: true)
        pendingPublications.removeAll(keepingCapacity: true)
        return now() - start
    }
    let points = [10_000, 100_000, bars].filter { $0 <= bars }
    let began = now()
    for point in points {
        while i < point - 21 {
            try feedOne()
            if pendingQuotes.count >= 10_000 { _ = try await commit() }
        }
        _ = try await commit()
        var costs: [Double] = []
        while i < point {
            try feedOne()
            costs.append(try await commit())
        }
        costs.sort()
        let snapshot = engine.snapshot
        let encoded = try JSONEncoder().encode(snapshot)
        let walker = try JSONEncoder().encode(snapshot.volatility["SPX"]?.policyState)
        let state = snapshot.volatility["SPX"]?.policyState
        let line: [String: Any] = [
            "bars": i, "engineStateBytes": encoded.count, "walkerCheckpointBytes": walker.count,
            "keptReturns": state?.returns.count ?? 0, "scenarioWindow": state?.window.count ?? 0,
            "floorWindow": state?.floorWindow.count ?? 0, "stressedScenarios": state?.stressedValues?.count ?? 0,
            "fits": state?.fits ?? 0, "commitMedianMs": costs[costs.count / 2] * 1e3,
            "elapsedSeconds": now() - began,
        ]
        let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
