import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VolScaleConfig
import VolScaleData
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// The bundled sample: real prices from the repository's data folder, replayed into the
/// engine at start-up, the last bars of each then fed live.
public struct SampleFeed: Sendable {
    public struct Series: Sendable {
        public var asset: String
        public var file: String
        public var timestamps: [Int64]
        public var prices: [Double]
    }
    public var series: [Series]

    /// SPX (S&P 500 daily), EURUSD (hourly), BTC and ETH (daily, in US dollars) from `directory`.
    public static func load(directory: String) throws -> SampleFeed {
        let files = [("SPX", "sp500-daily.csv"), ("EURUSD", "eurusd-hourly.csv"), ("BTC", "btcusd-daily.csv"), ("ETH", "ethusd-daily.csv")]
        var out: [Series] = []
        for (asset, name) in files {
            let path = (directory as NSString).appendingPathComponent(name)
            let s = try PriceFileReader(skipBadRows: true).read(path: path).series
            out.append(Series(asset: asset, file: name, timestamps: s.timestamps, prices: s.close))
        }
        return SampleFeed(series: out)
    }

    public var assets: [String] { series.map(\.asset) }

    public static func engineConfig(assets: [String]) -> EngineConfig {
        var c = EngineConfig(assets: assets)
        c.aggregation.minSources = 1
        c.aggregation.maxAge = .max / 4
        c.aggregation.circuitBreaker = 0.25
        c.buffer = 0.25
        return c
    }
}

/// Everything `volscale serve` needs.
public struct ServeOptions: Sendable {
    public var dataDirectory = "volscale-data"
    /// Folder of the bundled sample; nil: no sample (the engine starts empty on `assets`).
    public var sampleDirectory: String? = "data"
    /// The engine's assets for a new store (default: the sample's).
    public var assets: [String]?
    public var bookPath: String? = "examples/book.toml"
    public var accountsPath: String? = "examples/accounts.json"
    public var server = ServerConfig()
    /// Sample bars held back at start-up and then fed live, per asset.
    public var liveBars = 300
    /// Live bars per second per asset.
    public var liveRate = 2.0
    /// Seconds without an accepted quote after which an asset is stale.
    public var maxQuoteAge = 60.0
    public init() {}
}

public enum VolScaleService {
    /// Builds the state (resuming the store when it exists), and returns it with the sample
    /// bars still to be fed live.
    public static func prepare(_ o: ServeOptions, logger: Logger) async throws -> (ServiceState, SampleFeed, [String: Int]) {
        try FileManager.default.createDirectory(atPath: o.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: (o.dataDirectory as NSString).appendingPathComponent("volscale.sqlite"))
        let sample = try o.sampleDirectory.map { try SampleFeed.load(directory: $0) } ?? SampleFeed(series: [])
        var book = MarginBook(assets: [], instruments: [])
        if let p = o.bookPath, FileManager.default.fileExists(atPath: p) {
            book = try BookConfig.load(path: p).book
        }
        let config = SampleFeed.engineConfig(assets: o.assets ?? sample.assets)
        let snapshot = try await store.loadSnapshot()
        var engine = snapshot.map { StreamingEngine(snapshot: $0) } ?? StreamingEngine(config: config)
        // Chart history: replay what the engine has consumed into a scratch engine (the
        // stored engine itself is not re-run).
        var scratch = StreamingEngine(config: config)
        var history: [String: [ServiceState.HistoryPoint]] = [:]
        var positions: [String: Int] = [:]
        let fresh = snapshot == nil
        for s in sample.series {
            let committed = fresh ? max(s.prices.count - o.liveBars, 0) : Int(try await store.inputPosition(s.file))
            positions[s.file] = committed
            for i in 0..<committed {
                let q = Quote(asset: s.asset, source: "sample", timestamp: s.timestamps[i], price: s.prices[i])
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
                let quotes = (0..<n).map { Quote(asset: s.asset, source: "sample", timestamp: s.timestamps[$0], price: s.prices[$0]) }
                _ = try await state.ingest(quotes)
                await state.setInputPosition(s.file, Int64(n))
                try await state.flush()
            }
            try await state.flush()
            logger.info("replayed the bundled sample into the engine")
        } else {
            engine = StreamingEngine(snapshot: snapshot!)
            state = ServiceState(engine: engine, store: store, book: book)
            for (file, n) in positions { await state.setInputPosition(file, Int64(n)) }
            await state.seedHistory(history)
            logger.info("resumed the engine from \(o.dataDirectory)")
        }
        // accounts: the store's once it has held any; a new store is seeded from the file
        var fileAccounts: [Account] = []
        if let a = o.accountsPath, FileManager.default.fileExists(atPath: a) {
            let file = try AccountsFile.read(path: a)
            fileAccounts = file.accounts
            for e in file.errors { logger.warning("accounts file: \(e.description)") }
        }
        let accounts = try await ServiceAPI.loadAccounts(state: state, store: store, file: fileAccounts)
        logger.info("accounts: \(accounts.loaded) from the store, \(accounts.seeded) seeded from the accounts file")
        // the publication log for the stream and the charts: the stored ones
        for p in try await store.publications(asset: nil, at: nil, limit: 20_000) { await state.appendStored(p.publication) }
        await state.seedHistory(history)
        return (state, sample, positions)
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
                _ = try? await state.ingest([Quote(asset: s.asset, source: "sample", timestamp: s.timestamps[i], price: s.prices[i])])
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
