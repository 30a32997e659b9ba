import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VolScaleCLI
import VolScaleServer

extension VolScaleServiceCommand {
    /// `volscale serve`
    public struct Serve: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Run the risk service: HTTP API, live stream and dashboard.",
            discussion: """
                With no arguments: the example venue (examples/venue.toml: real BTC, ETH, S&P 500 and EUR/USD prices from data/,
                replayed into the engine, their last bars then fed live; aggregation, staleness and circuit breaker on; the
                accounts of examples/accounts.json) on SQLite in ./volscale-data. API keys come from --keys (JSON: [{"name", "role":
                read|ingest|admin, "sha256"}]) or, without it, three keys are generated and printed once; only their
                SHA-256 is kept. Configuration by flags or environment: VOLSCALE_HOST, VOLSCALE_PORT, VOLSCALE_DATA.
                """
        )

        @Option(
            help:
                "A PostgreSQL store shared by several processes (postgres://user:password@host:port/db[?owner=CHAIN]); default: the venue file's [storage] url, else SQLite in --data."
        )
        var store: String? = ProcessInfo.processInfo.environment["VOLSCALE_STORE"]
        @Option(help: "This process's name among several on one store (unique; default host-pid).") var name: String?
        @Option(
            help:
                "Lease period in seconds, in [1, 3600] (several processes; default: the venue file's [storage] lease_seconds, else 10): a dead process's assets move to a live one within it."
        )
        var leaseSeconds: Double?
        @Option(help: "Data folder (SQLite store).") var data: String =
            ProcessInfo.processInfo.environment["VOLSCALE_DATA"] ?? "volscale-data"
        @Option(help: "Venue file (TOML): book, price sources, aggregation, live policy.") var config: String =
            "examples/venue.toml"
        @Flag(help: "Do not replay the venue's source files: the engine starts empty and only the API feeds it.")
        var noReplay = false
        @Option(help: "Listen address.") var host: String =
            ProcessInfo.processInfo.environment["VOLSCALE_HOST"] ?? "127.0.0.1"
        @Option(help: "Listen port, 0 to 65535.") var port: Int =
            Int(ProcessInfo.processInfo.environment["VOLSCALE_PORT"] ?? "") ?? 8080
        @Option(help: "JSON file of API keys (name, role, sha256).") var keys: String?
        @Option(help: "Requests per second allowed per key (token bucket; burst twice that), in (0, 10000000].")
        var rateLimit: Double = 1000
        @Option(help: "Live bars per second per source, in [0.001, 1000] (default: the venue file's).") var liveRate:
            Double?
        @Option(
            help:
                "Seconds without an accepted quote after which an asset is reported stale, in [1, 86400] (default: the venue file's)."
        ) var maxQuoteAge: Double?

        public func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port: expected 0 to 65535, got \(port)") }
            guard rateLimit > 0, rateLimit <= 10_000_000 else {
                throw ValidationError("--rate-limit: expected a number in (0, 10000000]")
            }
            if let liveRate, !(liveRate >= 0.001 && liveRate <= 1000) {
                throw ValidationError("--live-rate: expected a number in [0.001, 1000]")
            }
            if let store, !(store.hasPrefix("postgres://") || store.hasPrefix("postgresql://")) {
                throw ValidationError(
                    "--store: expected postgres://user:password@host:port/database (SQLite is the default: --data)")
            }
            if let leaseSeconds, !(leaseSeconds >= 1 && leaseSeconds <= 3600) {
                throw ValidationError("--lease-seconds: expected a number of seconds in [1, 3600]")
            }
            if let name, name.isEmpty || name.count > 64 || name.contains(where: { $0.isWhitespace }) {
                throw ValidationError("--name: expected 1 to 64 characters without spaces")
            }
            if let maxQuoteAge, !(maxQuoteAge >= 1 && maxQuoteAge <= 86_400) {
                throw ValidationError("--max-quote-age: expected a number of seconds in [1, 86400]")
            }
        }

        public init() {}

        public func run() async throws {
            var logger = Logger(label: "volscale")
            logger.logLevel = .info
            var o = ServeOptions()
            o.dataDirectory = data
            o.venuePath = Self.venue(config)
            o.replaySources = !noReplay
            o.server.host = host
            o.server.port = port
            o.server.ratePerSecond = rateLimit
            o.server.burst = max(2 * rateLimit, 10)
            o.liveRate = liveRate
            o.maxQuoteAge = maxQuoteAge
            o.storeURL = store
            o.processName = name
            o.leaseSeconds = leaseSeconds
            var printed: [(String, String, String)] = []
            if let keys {
                do {
                    o.server.keys = try JSONDecoder().decode(
                        [APIKeyRecord].self, from: Data(contentsOf: URL(fileURLWithPath: keys)))
                } catch { throw CommandFailure("\(keys): \(error)") }
            } else {
                for role in Role.allCases {
                    let secret = APIKeyRecord.newSecret()
                    o.server.keys.append(APIKeyRecord(name: "generated-\(role.rawValue)", role: role, secret: secret))
                    printed.append((role.rawValue, "generated-\(role.rawValue)", secret))
                }
            }
            let (state, sampleFeed, venue) = try await VolScaleService.prepare(o, logger: logger)
            await state.setMaxQuoteAge(Int64((o.maxQuoteAge ?? venue.maxQuoteAge) * 1000))
            var services: [any Service] = [
                LiveFeedService(state: state, sample: sampleFeed, rate: o.liveRate ?? venue.liveRate, logger: logger)
            ]
            let storage = o.storage(venue)
            if let shared = await state.clusterStore, let process = await state.clusterProcess {
                let liveBars = o.liveBars ?? venue.liveBars
                let replay = o.replaySources
                services.append(
                    ClusterService(
                        state: state, store: shared, process: process, address: "\(host):\(port)",
                        assets: venue.engine.assets,
                        lease: Int64(storage.leaseSeconds * 1000), logger: logger
                    ) { asset in
                        if replay {
                            try await VolScaleService.replayHistory(
                                state: state, sample: sampleFeed, asset: asset, liveBars: liveBars)
                        }
                    })
            }
            let app = buildApplication(state: state, config: o.server, logger: logger, services: services)
            let read = printed.first { $0.0 == "read" }?.2
            var banner =
                "VolScale is serving venue '\(venue.name)' (\(Self.absolute(o.venuePath))) on http://\(host):\(port)\n"
            if let process = await state.clusterProcess {
                banner +=
                    "  as process \(process) of the venue's processes on PostgreSQL (lease \(storage.leaseSeconds) s)\n"
            } else {
                banner +=
                    "  data: \(Self.absolute((o.dataDirectory as NSString).appendingPathComponent("volscale.sqlite"))) (SQLite)\n"
            }
            for (role, name, secret) in printed { banner += "  API key \(name) (\(role)): \(secret)\n" }
            if let read { banner += "Open the dashboard: http://\(host):\(port)/?key=\(read)\n" }
            FileHandle.standardOutput.write(Data(banner.utf8))
            // SIGTERM/SIGINT: streams are closed first, then the server answers what is in
            // flight, then the store writer drains its queue (services stop in reverse order).
            let group = ServiceGroup(
                configuration: .init(
                    services: [app, StreamCloser(state: state)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}

extension VolScaleServiceCommand.Serve {
    /// A path as the operator can find it from anywhere.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// The venue file: as given; the default (`examples/venue.toml`), when it is not below the
    /// working directory, is looked for above the executable (`REPO/.build/debug/volscale`), so
    /// the example venue runs from any directory.
    static func venue(_ given: String) -> String {
        guard given == "examples/venue.toml", !FileManager.default.fileExists(atPath: given),
            let executable = Bundle.main.executableURL?.resolvingSymlinksInPath()
        else { return given }
        var dir = executable.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent(given).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return given
    }
}
