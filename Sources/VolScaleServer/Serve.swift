import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VolScaleConfig
import VolScaleData
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// The venue's price sources read from files (the bundled sample of real prices): replayed
/// into the engine at start-up, the last bars of each then fed live.
public struct SampleFeed: Sendable {
    public struct Series: Sendable {
        public var asset: String
        /// The source name its quotes carry.
        public var source: String
        /// The file's name: the key of its read position in the store.
        public var file: String
        public var timestamps: [Int64]
        public var prices: [Double]
    }
    public var series: [Series]

    /// Reads the venue's sources (closes, or the column a source names).
    public static func load(_ sources: [VenueConfig.Source]) throws -> SampleFeed {
        var out: [Series] = []
        for src in sources {
            let s = try PriceFileReader(column: src.column, skipBadRows: true).read(path: src.path).series
            out.append(Series(asset: src.asset, source: src.name, file: (src.path as NSString).lastPathComponent,
                              timestamps: s.timestamps, prices: s.close))
        }
        return SampleFeed(series: out)
    }

    public var assets: [String] { series.map(\.asset) }
}

/// Everything `volscale serve` needs.
public struct ServeOptions: Sendable {
    public var dataDirectory = "volscale-data"
    /// The venue file: book, sources, aggregation, live policy.
    public var venuePath = "examples/venue.toml"
    /// Replay the venue's source files (false: the engine starts empty and only the API feeds it).
    public var replaySources = true
    public var server = ServerConfig()
    /// Overrides of the venue file's [venue] settings.
    public var liveBars: Int?
    public var liveRate: Double?
    public var maxQuoteAge: Double?
    public init() {}
}

public enum VolScaleService {
    /// Builds the state (resuming the store when it exists), and returns it with the sample
    /// bars still to be fed live.
    public static func prepare(_ o: ServeOptions, logger: Logger) async throws -> (ServiceState, SampleFeed, [String: Int], VenueConfig) {
        // the venue's live_bars, unless overridden, are held back: read once for the setting
        let liveBars = try o.liveBars ?? VenueConfig.load(path: o.venuePath).liveBars
        let venue = try VenueConfig.load(path: o.venuePath, holdBack: o.replaySources ? liveBars : 0)
        try FileManager.default.createDirectory(atPath: o.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: (o.dataDirectory as NSString).appendingPathComponent("volscale.sqlite"))
        let sample = o.replaySources ? try SampleFeed.load(venue.sources) : SampleFeed(series: [])
        let book = venue.book.book
        let config = venue.engine
        let snapshot = try await store.loadSnapshot()
        if let snapshot, snapshot.config.assets != config.assets {
            logger.warning("the store's engine has assets \(snapshot.config.assets), the venue file \(config.assets): the store's engine is resumed as it is")
        }
        let engine = try snapshot.map { try StreamingEngine(snapshot: $0, policies: venue.policies) } ?? StreamingEngine(config: config, policies: venue.policies)
        // Chart history: replay what the engine has consumed into a scratch engine (the
        // stored engine itself is not re-run).
        var scratch = StreamingEngine(config: config)
        var history: [String: [ServiceState.HistoryPoint]] = [:]
        var positions: [String: Int] = [:]
        let fresh = snapshot == nil
        for s in sample.series {
            let committed = fresh ? max(s.prices.count - liveBars, 0) : Int(try await store.inputPosition(s.file))
            positions[s.file] = committed
            for i in 0..<committed {
                let q = Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[i], price: s.prices[i])
                _ = scratch.ingest(q)
                if let agg = scratch.aggregator.states[s.asset]?.aggregate {
                    history[s.asset, default: []].append(.init(t: q.timestamp, price: agg, sigma: scratch.volatility[s.asset]?.variance.map { $0.squareRoot() }))
                }
            }
        }
        let state: ServiceState
        if fresh {
            // replay the sample through the real engine and store it
            state = ServiceState(engine: engine, store: store, book: book)
            for s in sample.series {
                let n = positions[s.file]!
                let quotes = (0..<n).map { Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[$0], price: s.prices[$0]) }
                _ = try await state.ingest(quotes)
                await state.setInputPosition(s.file, Int64(n))
                try await state.flush()
            }
            try await state.flush()
            logger.info("replayed the venue's source files into the engine")
        } else {
            state = ServiceState(engine: engine, store: store, book: book)
            for (file, n) in positions { await state.setInputPosition(file, Int64(n)) }
            await state.seedHistory(history)
            logger.info("resumed the engine from \(o.dataDirectory)")
        }
        // accounts: the store's once it has held any; a new store is seeded from the file
        var fileAccounts: [Account] = []
        if let a = venue.accountsPath, FileManager.default.fileExists(atPath: a) {
            let file = try AccountsFile.read(path: a)
            fileAccounts = file.accounts
            for e in file.errors { logger.warning("accounts file: \(e.description)") }
        }
        let accounts = try await ServiceAPI.loadAccounts(state: state, store: store, file: fileAccounts)
        logger.info("accounts: \(accounts.loaded) from the store, \(accounts.seeded) seeded from the accounts file")
        // the publication log for the stream and the charts: the stored ones
        let stored = try await store.publications(asset: nil, at: nil, limit: 20_000).map(\.publication)
        for p in stored { await state.appendStored(p) }
        await state.seedHistory(history)
        // the book at the latest stored parameter sets (a resumed store), then every account's status
        if !fresh { await state.restoreParameterSets(stored) }
        await state.remarginAll()
        return (state, sample, positions, venue)
    }

    /// Feeds the held-back sample bars, one per asset every 1/rate seconds; returns when
    /// every series is fed (or on cancellation).
    public static func liveFeed(state: ServiceState, sample: SampleFeed, positions: [String: Int], rate: Double) async {
        var next = positions
        while !Task.isCancelled {
            var fed = false
            for s in sample.series {
                let i = next[s.file] ?? s.prices.count
                guard i < s.prices.count else { continue }
                _ = try? await state.ingest([Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[i], price: s.prices[i])])
                next[s.file] = i + 1
                await state.setInputPosition(s.file, Int64(i + 1))
                fed = true
            }
            if !fed { return }
            try? await Task.sleep(for: .seconds(1 / min(max(rate, 0.001), 1000)))
        }
    }
}

/// Runs the sample's live feed as a service next to the HTTP server. The end of the feed is
/// an ordinary event: it is logged once and the service waits for shutdown (a finished
/// service would otherwise stop the whole process).
public struct LiveFeedService: Service, CustomStringConvertible {
    let state: ServiceState
    let sample: SampleFeed
    let positions: [String: Int]
    let rate: Double
    let logger: Logger
    public init(state: ServiceState, sample: SampleFeed, positions: [String: Int], rate: Double, logger: Logger = Logger(label: "volscale")) {
        self.state = state
        self.sample = sample
        self.positions = positions
        self.rate = rate
        self.logger = logger
    }
    public var description: String { "LiveFeed(\(sample.assets.joined(separator: ", ")))" }
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await VolScaleService.liveFeed(state: state, sample: sample, positions: positions, rate: rate)
        }
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
        logger.info("the bundled sample feed has no bars left; the service goes on serving and ingesting")
        try? await gracefulShutdown()
    }
}
