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
            out.append(
                Series(
                    asset: src.asset, source: src.name, file: (src.path as NSString).lastPathComponent,
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
    /// A PostgreSQL store (postgres://…) shared by several processes; nil: SQLite in `dataDirectory`.
    public var storeURL: String?
    /// This process's name among several (unique per process; default host-pid).
    public var processName: String?
    /// Lease period in seconds (several processes): a dead process's assets move within it
    /// (nil: the venue file's, else 10).
    public var leaseSeconds: Double?
    public init() {}

    /// The store and lease of a venue: the flags', else the venue file's `[storage]`.
    public func storage(_ venue: VenueConfig) -> (url: String?, leaseSeconds: Double) {
        (storeURL ?? venue.storeURL, leaseSeconds ?? venue.leaseSeconds ?? 10)
    }
}

public enum VolScaleService {
    /// Builds the state (resuming the store when it exists), and returns it with the sample
    /// bars still to be fed live.
    public static func prepare(_ o: ServeOptions, logger: Logger) async throws -> (
        ServiceState, SampleFeed, VenueConfig
    ) {
        // the venue's live_bars, unless overridden, are held back: read once for the setting
        let liveBars = try o.liveBars ?? VenueConfig.load(path: o.venuePath).liveBars
        let venue = try VenueConfig.load(path: o.venuePath, holdBack: o.replaySources ? liveBars : 0)
        if o.storage(venue).url != nil {
            let (state, sample) = try await prepareShared(o, venue: venue, logger: logger)
            return (state, sample, venue)
        }
        try FileManager.default.createDirectory(atPath: o.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: (o.dataDirectory as NSString).appendingPathComponent("volscale.sqlite"))
        let sample = o.replaySources ? try SampleFeed.load(venue.sources) : SampleFeed(series: [])
        let book = venue.book.book
        let config = venue.engine
        let snapshot = try await store.loadSnapshot()
        if let snapshot, snapshot.config.assets != config.assets {
            logger.warning(
                "the store's engine has assets \(snapshot.config.assets), the venue file \(config.assets): the store's engine is resumed as it is"
            )
        }
        let engine =
            try snapshot.map { try StreamingEngine(snapshot: $0, policies: venue.policies) }
            ?? StreamingEngine(config: config, policies: venue.policies)
        var positions: [String: Int] = [:]
        let fresh = snapshot == nil
        for s in sample.series {
            positions[s.file] = fresh ? max(s.prices.count - liveBars, 0) : Int(try await store.inputPosition(s.file))
        }
        let history = chartHistory(sample, config: config, positions: positions)
        let state: ServiceState
        if fresh {
            // replay the sample through the real engine and store it
            state = ServiceState(engine: engine, store: store, book: book)
            for s in sample.series {
                let n = positions[s.file]!
                let quotes = (0..<n).map {
                    Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[$0], price: s.prices[$0])
                }
                _ = try await state.ingest(quotes)
                await state.setInputPosition(s.file, Int64(n))
                try await state.flush()
            }
            try await state.flush()
            logger.info("replayed the venue's source files into the engine")
        } else {
            state = ServiceState(engine: engine, store: store, book: book)
            for (file, n) in positions { await state.setInputPosition(file, Int64(n)) }
            logger.info("resumed the engine from \(o.dataDirectory)")
        }
        try await loadAccounts(venue, state: state, store: store, logger: logger)
        // the publication log for the stream and the charts: the stored ones
        let stored = try await store.publications(asset: nil, at: nil, limit: 20_000).map(\.publication)
        for p in stored { await state.appendStored(p) }
        await state.seedHistory(history)
        // the book at the latest stored parameter sets (a resumed store), then every account's status
        if !fresh { await state.restoreParameterSets(stored) }
        await state.remarginAll()
        return (state, sample, venue)
    }

    /// Accounts: the store's once it has held any; a new store is seeded from the venue's file.
    static func loadAccounts(_ venue: VenueConfig, state: ServiceState, store: any EngineStore, logger: Logger)
        async throws
    {
        var fileAccounts: [Account] = []
        if let a = venue.accountsPath, FileManager.default.fileExists(atPath: a) {
            let file = try AccountsFile.read(path: a)
            fileAccounts = file.accounts
            for e in file.errors { logger.warning("accounts file: \(e.description)") }
        }
        let accounts = try await ServiceAPI.loadAccounts(state: state, store: store, file: fileAccounts)
        logger.info("accounts: \(accounts.loaded) from the store, \(accounts.seeded) seeded from the accounts file")
    }

    /// Chart history: the sample's first `positions` bars replayed into a scratch engine (the
    /// stored engine itself is not re-run).
    static func chartHistory(_ sample: SampleFeed, config: EngineConfig, positions: [String: Int]) -> [String:
        [ServiceState.HistoryPoint]]
    {
        var scratch = StreamingEngine(config: config)
        var history: [String: [ServiceState.HistoryPoint]] = [:]
        for s in sample.series {
            for i in 0..<min(positions[s.file] ?? 0, s.prices.count) {
                let q = Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[i], price: s.prices[i])
                _ = scratch.ingest(q)
                if let agg = scratch.aggregator.states[s.asset]?.aggregate {
                    history[s.asset, default: []].append(
                        .init(
                            t: q.timestamp, price: agg,
                            sigma: scratch.volatility[s.asset]?.variance.map { $0.squareRoot() }))
                }
            }
        }
        return history
    }

    /// Several processes on one PostgreSQL store: the engine starts from every asset's
    /// stored state (followed, not owned: the assets are taken by `ClusterService`), the
    /// accounts and the chain's publications from the store.
    static func prepareShared(_ o: ServeOptions, venue: VenueConfig, logger: Logger) async throws -> (
        ServiceState, SampleFeed
    ) {
        guard let url = o.storage(venue).url else { throw StoreError(store: "serve", reason: "no store URL") }
        let store = try await PostgresStore.connect(url: url)
        let sample = o.replaySources ? try SampleFeed.load(venue.sources) : SampleFeed(series: [])
        var engine = try StreamingEngine(config: venue.engine, policies: venue.policies)
        let storedConfig = try await store.venueConfig()
        if let c = storedConfig { try engine.adoptControls(from: c.config) }
        var versions: [String: Int64] = [:]
        for (asset, _) in try await store.assetStateVersions() where venue.engine.assets.contains(asset) {
            guard let s = try await store.assetState(asset) else { continue }
            engine.adopt(asset, s.state, following: true)
            versions[asset] = s.version
        }
        let state = ServiceState(engine: engine, store: store, book: venue.book.book)
        let process =
            o.processName ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        await state.joinCluster(
            store: store, process: process, lease: Int64(o.storage(venue).leaseSeconds * 1000),
            inputs: Dictionary(sample.series.map { ($0.file, $0.asset) }, uniquingKeysWith: { a, _ in a }))
        var positions: [String: Int] = [:]
        for s in sample.series { positions[s.file] = Int(clamping: try await store.inputPosition(s.file)) }
        await state.seedHistory(chartHistory(sample, config: venue.engine, positions: positions))
        let accountEvent = try await store.lastAccountEvent()
        try await loadAccounts(venue, state: state, store: store, logger: logger)
        let stored = try await store.publications(asset: nil, at: nil, limit: 20_000).map(\.publication)
        for p in stored { await state.appendStored(p) }
        await state.restoreParameterSets(stored)
        await state.startFollowing(
            sequence: stored.last?.sequence ?? 0, accountEvent: accountEvent, versions: versions,
            configVersion: storedConfig?.version ?? 0)
        await state.remarginAll()
        logger.info(
            "process \(process) joined venue '\(venue.name)' on \(url.split(separator: "@").last.map(String.init) ?? "PostgreSQL"): \(versions.count) assets stored, chain at sequence \(stored.last?.sequence ?? 0)"
        )
        return (state, sample)
    }

    /// Replays one asset's held-back history into the engine and commits it (a new venue:
    /// the first process to own the asset does it).
    public static func replayHistory(state: ServiceState, sample: SampleFeed, asset: String, liveBars: Int) async throws
    {
        for s in sample.series where s.asset == asset {
            let n = max(s.prices.count - liveBars, 0)
            var i = Int(await state.inputPosition(s.file))
            while i < n {
                let j = min(i + 5000, n)
                _ = try await state.ingest(
                    (i..<j).map {
                        Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[$0], price: s.prices[$0])
                    })
                await state.setInputPosition(s.file, Int64(j))
                try await state.flush()
                i = j
            }
        }
    }

    /// Feeds the held-back sample bars, one per asset every 1/rate seconds, from each file's
    /// position in the state; returns when every series is fed (or on cancellation). With
    /// several processes it feeds only the assets this one owns, and keeps going: an asset
    /// may be taken over later.
    public static func liveFeed(state: ServiceState, sample: SampleFeed, rate: Double) async {
        let shared = await state.isClustered
        while !Task.isCancelled {
            var fed = false
            for s in sample.series {
                guard let p = await state.feedPosition(s.file, asset: s.asset) else { continue }
                let i = Int(clamping: p)
                guard i < s.prices.count else { continue }
                let result = try? await state.ingest(
                    [Quote(asset: s.asset, source: s.source, timestamp: s.timestamps[i], price: s.prices[i])],
                    forward: false)
                // handed over meanwhile: the line is the new owner's to feed
                if result?.rejected[ServiceState.notOwned] != nil { continue }
                await state.setInputPosition(s.file, Int64(i + 1))
                fed = true
            }
            if !fed && !shared { return }
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
    let rate: Double
    let logger: Logger
    public init(state: ServiceState, sample: SampleFeed, rate: Double, logger: Logger = Logger(label: "volscale")) {
        self.state = state
        self.sample = sample
        self.rate = rate
        self.logger = logger
    }
    public var description: String { "LiveFeed(\(sample.assets.joined(separator: ", ")))" }
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await VolScaleService.liveFeed(state: state, sample: sample, rate: rate)
        }
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
        logger.info("the bundled sample feed has no bars left; the service goes on serving and ingesting")
        try? await gracefulShutdown()
    }
}
