import Foundation
import Logging
import Testing
import VolScaleConfig
import VolScaleStore

@testable import VolScaleEngine
@testable import VolScaleServer

/// Every entry point that resumes a store margins an asset by the venue's model: `volscale
/// ingest` on a store `volscale serve` wrote publishes, for the same quotes, exactly what
/// `serve` publishes (issue 29's reproducer: it used to fall back to the engine's default
/// EWMA policy, 4.46% where the venue's GJR FHS policy published 3.52%).
@Suite struct ResumeEntryPointTests {
    static let policy = "GJR FHS-ES88 + stressed + floor (calibrated)"

    /// The example venue's S&P 500 asset alone, with its own policy.
    static func venue(_ dir: URL) throws -> String {
        // the first 2,100 days of the S&P 500 (1999-2007): the policy publishes from its 1,500th
        // return, and a shorter file keeps the test light beside the suites that run alongside
        let lines = try String(
            contentsOfFile: Fixture.root.appendingPathComponent("data/sp500-daily.csv").path, encoding: .utf8
        )
        .split(separator: "\n", omittingEmptySubsequences: false).prefix(2_101)
        let data = dir.appendingPathComponent("sp500-head.csv").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: data))
        let text = """
            [venue]
            name = "resume"
            live_bars = 300
            [[asset]]
            name = "SPX"
            price = 2500
            volatility = 0.01
            bar_seconds = 86400
            [asset.aggregation]
            min_sources = 1
            average_decay = 0.8
            [asset.policy]
            name = "\(policy)"
            volatility = "gjr"
            method = "fhs"
            measure = "es"
            confidence = 0.88
            lookback = 1000
            [asset.policy.controls]
            stressed_weight = 0.25
            stressed_period = "auto"
            floor_lookback = 2520
            [[asset.source]]
            name = "arch"
            file = "\(data)"

            """
        let path = dir.appendingPathComponent("venue.toml").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func ingestOnAServedStorePublishesTheVenuePolicy() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var o = ServeOptions()
        o.dataDirectory = dir.appendingPathComponent("data").path
        o.venuePath = try Self.venue(dir)
        let (state, sample, _) = try await VolScaleService.prepare(o, logger: Logger(label: "test"))
        try await state.flush()
        let spx = try #require(sample.series.first)
        let n = spx.prices.count - 300
        let quotes = (n..<(n + 5)).map {
            Quote(asset: "SPX", source: spx.source, timestamp: spx.timestamps[$0], price: spx.prices[$0])
        }

        // `volscale ingest --store DATA/volscale.sqlite`: the stored engine, nothing else
        let store = try SQLiteStore(path: dir.appendingPathComponent("data/volscale.sqlite").path)
        var ingestor = try await Ingestor.open(store: store, config: nil, batchSize: 1000)
        var ingested: [Publication] = []
        for q in quotes {
            guard case .success(let p) = ingestor.feed(q) else {
                Issue.record("refused \(q)")
                return
            }
            ingested += p
        }
        let served = try await state.ingest(quotes).publications
        #expect(served.count == 10, "five bars closed (the replay left the last one pending), two sides each")
        #expect(served.allSatisfy { $0.modelVersion == Self.policy })
        // bit for bit: every field of every publication
        #expect(ingested == served)
        #expect(
            zip(ingested, served).allSatisfy {
                $0.newValue.bitPattern == $1.newValue.bitPattern && $0.sigma.bitPattern == $1.sigma.bitPattern
            })
    }
}
