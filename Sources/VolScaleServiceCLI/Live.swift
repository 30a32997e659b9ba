import ArgumentParser
import Foundation
import VolScaleCLI
import VolScaleConfig
import VolScaleData
import VolScaleEngine
import VolScaleStore

extension VolScaleServiceCommand {
    /// Options shared by the live-engine commands.
    struct StoreOptions: ParsableArguments {
        @Option(
            help:
                "Store URL: a SQLite path (sqlite:PATH or PATH, WAL) or postgres://user:password@host:port/db[?owner=NAME]."
        )
        var store: String = "volscale.sqlite"
    }

    /// `volscale ingest`
    public struct Ingest: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "ingest",
            abstract: "Feed quotes into the live engine and its store (files or standard input).",
            discussion: """
                Input: JSON lines {"asset": "BTC", "source": "binance", "ts": 1700000000000, "price": 60000.5,
                "confidence": 3.2} (ts epoch s/ms/us or ISO 8601), or with --asset and --source any price file
                volscale reads (CSV, klines, ticks), each row a quote. Rules: quotes per (asset, source) must move
                forward in time: an equal timestamp is a duplicate, an earlier one out of order; both are rejected
                and counted, as are non-finite or non-positive prices, unknown assets, timestamps beyond the clock,
                stale or too-uncertain quotes and sources too far from the median. Accepted quotes, publications and
                the engine state are committed together every --batch quotes (and at the end); with --ack a line
                "ack LINES QUOTES" is printed after each commit: everything acknowledged is durable. A restart on
                the same file resumes after the last committed line.
                """
        )

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Input files ('-' for standard input).") var files: [String] = ["-"]
        @Option(help: "Assets to track, for a new store (comma separated).") var assets: String?
        @Option(help: "Minimum agreeing sources for an aggregate (new store).") var minSources: Int = 1
        @Option(help: "Bar length in seconds for volatility (0: every aggregate is a bar; new store).") var barSeconds:
            Int = 0
        @Option(help: "With a price file: the asset its rows quote.") var asset: String?
        @Option(help: "With a price file: the source name.") var source: String = "file"
        @Option(help: "Quotes per commit.") var batch: Int = 1000
        @Flag(help: "Print 'ack LINES QUOTES' after each commit.") var ack = false

        public init() {}

        public func validate() throws {
            if !(1...1_000_000).contains(batch) { throw ValidationError("--batch: expected 1 to 1000000") }
            if !(1...AggregationPolicy.defaultMaxSources).contains(minSources) {
                throw ValidationError("--min-sources: expected 1 to \(AggregationPolicy.defaultMaxSources)")
            }
            if !(0...31_536_000).contains(barSeconds) {
                throw ValidationError("--bar-seconds: expected 0 to 31536000 (one year)")
            }
        }

        public func run() async throws {
            let store: any EngineStore
            do { store = try await StoreFactory.open(storeOptions.store) } catch { throw CommandFailure("\(error)") }
            var config: EngineConfig?
            if let assets {
                do {
                    // one source: every quote is its own aggregate, however old (a file replayed)
                    let rules = try AggregationPolicy(
                        maxAge: minSources == 1 ? AggregationPolicy.maxAgeLimit : AggregationPolicy.standard.maxAge,
                        minSources: minSources)
                    config = try EngineConfig(
                        assets: assets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                        aggregation: rules, barMillis: Int64(barSeconds) * 1000)
                } catch { throw CommandFailure("--assets, --min-sources or --bar-seconds: \(error)") }
            }
            var ingestor: Ingestor
            do { ingestor = try await Ingestor.open(store: store, config: config, batchSize: batch) } catch {
                throw CommandFailure("\(error)")
            }
            var bad = 0
            for file in files {
                let name = file == "-" ? "<stdin>" : file
                let skip = file == "-" ? 0 : try await store.inputPosition(name)
                var lineNo: Int64 = 0
                func commit() async throws {
                    do { try await ingestor.commit(input: file == "-" ? nil : (name, lineNo)) } catch {
                        throw CommandFailure("\(error)")
                    }
                    if ack { FileHandle.standardOutput.write(Data("ack \(lineNo) \(ingestor.committedQuotes)\n".utf8)) }
                }
                if let asset {
                    let out: PriceFileReader.Output
                    do { out = try PriceFileReader(skipBadRows: true).read(path: file) } catch {
                        throw CommandFailure(error.description)
                    }
                    for (t, p) in zip(out.series.timestamps, out.series.close) {
                        lineNo += 1
                        if lineNo <= skip { continue }
                        ingestor.feed(Quote(asset: asset, source: source, timestamp: t, price: p))
                        if ingestor.pending >= batch { try await commit() }
                    }
                } else {
                    let handle: FileHandle
                    if file == "-" {
                        handle = .standardInput
                    } else {
                        guard let h = FileHandle(forReadingAtPath: file) else {
                            throw CommandFailure("\(file): cannot read")
                        }
                        handle = h
                    }
                    var reader = LineReader(handle)
                    while let line = reader.next() {
                        lineNo += 1
                        if lineNo <= skip { continue }
                        let q: Quote
                        do { q = try Requests.quoteLine(line) } catch {
                            bad += 1
                            if bad <= 5 { printError("\(name):\(lineNo): not a quote line: \(error)") }
                            continue
                        }
                        ingestor.feed(q)
                        if ingestor.pending >= batch { try await commit() }
                    }
                }
                try await commit()
            }
            let rej = ingestor.engine.rejections.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                "\($0.key.rawValue) \($0.value)"
            }
            printError(
                "ingested: \(ingestor.engine.accepted) quotes accepted in total; rejected: \(rej.isEmpty ? "none" : rej.joined(separator: ", "))\(bad > 0 ? "; \(bad) unreadable lines" : "")"
            )
        }
    }

    /// `volscale params`
    public struct Params: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "params",
            abstract: "What the engine published, and when.",
            discussion:
                "Rates are decimal fractions of notional; sigma per bar, decimal. --at TIME shows the rates in force then."
        )
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "Only this asset.") var asset: String?
        @Option(help: "Rates in force at this time (ISO 8601 or epoch).") var at: String?
        @Option(help: "Most recent N publications.") var limit: Int = 20
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table
        public init() {}

        public func run() async throws {
            let store: any EngineStore
            do { store = try await StoreFactory.open(storeOptions.store) } catch { throw CommandFailure("\(error)") }
            var atMs: Int64?
            if let at {
                guard let t = Timestamp.parse(at) else { throw CommandFailure("--at: '\(at)' is not a time") }
                atMs = t
            }
            let rows = try await store.publications(asset: asset, at: atMs, limit: limit)
            if format == .json {
                try StandardOutput.write(
                    JSONValue.array(
                        rows.map { r in
                            let p = r.publication
                            return .object([
                                ("sequence", .integer(Int(p.sequence))), ("asset", .string(p.asset)),
                                ("side", .string(p.side.stored)),
                                ("time", .string(Timestamp.format(p.timestamp, dateOnly: false))),
                                ("old", .num(p.oldValue)),
                                ("new", .number(p.newValue)), ("maintenance", .number(p.maintenance)),
                                ("sigma", .number(p.sigma)),
                                ("setBy", .string(p.binding.stored)), ("modelVersion", .string(p.modelVersion)),
                                ("inputsFrom", .string(Timestamp.format(p.inputFrom, dateOnly: false))),
                                ("inputsTo", .string(Timestamp.format(p.inputTo, dateOnly: false))),
                                ("hash", .string(r.hash)),
                            ])
                        }
                    ).rendered() + "\n")
                return
            }
            var t = TextTable(
                ["seq", "time", "asset", "side", "old", "new", "maintenance", "sigma", "set by"],
                rightAligned: [0, 4, 5, 6, 7])
            for r in rows {
                let p = r.publication
                t.add([
                    "\(p.sequence)", Timestamp.format(p.timestamp, dateOnly: false), p.asset, p.side.stored,
                    p.oldValue.map { Fmt.percent($0, 3) } ?? "-",
                    Fmt.percent(p.newValue, 3), Fmt.percent(p.maintenance, 3), Fmt.percent(p.sigma, 3),
                    p.binding.stored,
                ])
            }
            try StandardOutput.write(t.render() + "\n")
        }
    }

    /// `volscale audit verify`
    public struct Audit: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "audit", abstract: "Audit-trail tools.", subcommands: [Verify.self])
        public init() {}

        public struct Verify: AsyncParsableCommand {
            public static let configuration = CommandConfiguration(
                commandName: "verify",
                abstract: "Recompute the publication hash chain and report the first broken link.")
            @OptionGroup var storeOptions: StoreOptions
            public init() {}
            public func run() async throws {
                let store: any EngineStore
                do { store = try await StoreFactory.open(storeOptions.store) } catch {
                    throw CommandFailure("\(error)")
                }
                let report = try await store.verifyAudit()
                if let b = report.firstBroken {
                    try StandardOutput.write(
                        "audit chain BROKEN at sequence \(b.sequence): \(b.reason) (\(report.checked) publications verified before it)\n"
                    )
                    throw ExitCode(1)
                }
                try StandardOutput.write("audit chain intact: \(report.checked) publications verified\n")
            }
        }
    }

    /// `volscale replay`
    public struct Replay: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Drive the engine from a price history at a chosen speed, committing to the store.",
            discussion: "--speed 0 runs as fast as possible; --speed N plays N bars per second.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Price file (CSV, klines or ticks).") var file: String
        @Option(help: "Asset name for the file's prices.") var asset: String
        @Option(help: "Bars per second (0 = as fast as possible).") var speed: Double = 0
        @Option(help: "Quotes per commit.") var batch: Int = 1000
        public init() {}

        public func validate() throws {
            if !(1...1_000_000).contains(batch) { throw ValidationError("--batch: expected 1 to 1000000") }
            if !(speed >= 0 && speed <= 1_000_000) {
                throw ValidationError("--speed: expected 0 to 1000000 bars per second")
            }
        }

        public func run() async throws {
            let store: any EngineStore
            do { store = try await StoreFactory.open(storeOptions.store) } catch { throw CommandFailure("\(error)") }
            let c: EngineConfig
            do {
                c = try EngineConfig(
                    assets: [asset],
                    aggregation: AggregationPolicy(
                        maxAge: AggregationPolicy.maxAgeLimit, minSources: 1, circuitBreaker: 10))
            } catch { throw CommandFailure("--asset: \(error)") }
            var ing = try await Ingestor.open(store: store, config: c, batchSize: batch)
            let out: PriceFileReader.Output
            do { out = try PriceFileReader(skipBadRows: true).read(path: file) } catch {
                throw CommandFailure(error.description)
            }
            let skip = try await store.inputPosition(file)
            var line: Int64 = 0
            var published = 0
            for (t, p) in zip(out.series.timestamps, out.series.close) {
                line += 1
                if line <= skip { continue }
                if case .success(let pubs) = ing.feed(Quote(asset: asset, source: "replay", timestamp: t, price: p)) {
                    published += pubs.count
                }
                if ing.pending >= batch || speed > 0 { try await ing.commit(input: (file, line)) }
                if speed > 0 { try await Task.sleep(nanoseconds: UInt64(1e9 / speed)) }
            }
            try await ing.commit(input: (file, line))
            let sigma = ing.engine.volatility[asset]?.variance.map { $0.squareRoot() }
            try StandardOutput.write(
                "replayed \(line - skip) bars of \(asset); \(published) publications; sigma per bar \(sigma.map { JSONValue.format($0) } ?? "not yet seeded")\n"
            )
        }
    }
}

/// Reads a file handle line by line in 1 MiB chunks (no whole-file load).
struct LineReader {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var start = 0
    var done = false
    init(_ handle: FileHandle) { self.handle = handle }

    mutating func next() -> Substring? {
        while true {
            if let i = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Substring(decoding: buffer[start..<i], as: UTF8.self)
                start = i + 1
                return line
            }
            if done {
                guard start < buffer.count else { return nil }
                let line = Substring(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { done = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}
