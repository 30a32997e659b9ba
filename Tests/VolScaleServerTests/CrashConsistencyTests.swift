import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleEngine
@testable import VolScaleServer
@testable import VolScaleStore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `volscale serve` as a process: 8 clients ingest concurrently while the process is stopped
/// with SIGTERM or SIGKILL at random moments, then restarted; clients resend what was not
/// acknowledged. After every stop the store holds every acknowledged quote; at the end the
/// stored quotes are exactly the acknowledged ones, none twice, and the audit chain verifies.
@Suite(.serialized) struct CrashConsistencyTests {
    static var binary: String? {
        let candidates = [
            ".build/debug/volscale", ".build/x86_64-unknown-linux-gnu/debug/volscale",
            ".build/aarch64-unknown-linux-gnu/debug/volscale",
        ]
        return candidates.map { Fixture.root.appendingPathComponent($0).path }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// One client's state across rounds: its source name, the next quote number, and the
    /// batch it sent without an answer (to resend).
    final class Client: @unchecked Sendable {
        let source: String
        var next = 0
        var unacknowledged: [QuoteKey] = []
        var acknowledged: [QuoteKey] = []
        var resentAsDuplicates = 0
        init(_ i: Int) { source = "client-\(i)" }

        func makeBatch(_ n: Int) -> [QuoteKey] {
            (0..<n).map { _ in
                defer { next += 1 }
                return QuoteKey(
                    asset: next % 2 == 0 ? "BTC" : "ETH", source: source,
                    timestamp: 1_700_000_000_000 + Int64(next) * 1000)
            }
        }
    }

    static func body(_ keys: [QuoteKey]) -> Data {
        let items = keys.map { k in
            let base = k.asset == "BTC" ? 60_000.0 : 3_000.0
            return
                "{\"asset\":\"\(k.asset)\",\"source\":\"\(k.source)\",\"ts\":\(k.timestamp),\"price\":\(base * (1 + 0.002 * sin(Double(k.timestamp / 1000))))}"
        }
        return Data("{\"quotes\":[\(items.joined(separator: ","))]}".utf8)
    }

    /// POSTs a batch; true when answered 200 with every quote accepted or a duplicate.
    static func send(_ keys: [QuoteKey], port: Int, session: URLSession) async -> (ok: Bool, duplicates: Int) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/prices")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(Fixture.keys["ingest"]!)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body(keys)
        request.timeoutInterval = 20
        guard let (data, response) = try? await session.data(for: request),
            (response as? HTTPURLResponse)?.statusCode == 200,
            let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let accepted = o["accepted"] as? Int, let duplicates = o["duplicates"] as? Int
        else { return (false, 0) }
        #expect(
            accepted + duplicates == keys.count, "a batch is committed whole: \(String(decoding: data, as: UTF8.self))")
        return (accepted + duplicates == keys.count, duplicates)
    }

    /// A venue of BTC and ETH fed by the eight clients only (declared sources without files),
    /// one bar a year and quotes never too old: every quote a client sends is accepted, in
    /// whatever order the clients' timelines interleave.
    static func venue(_ dir: String) throws -> String {
        let sources = (0..<8).map { "[[asset.source]]\nname = \"client-\($0)\"\n" }.joined()
        let assets = [("BTC", 60_000), ("ETH", 3_000)].map { name, price in
            "[[asset]]\nname = \"\(name)\"\nprice = \(price)\nvolatility = 0.03\nbar_seconds = 31536000\n" + sources
        }
        let text = "[venue]\nname = \"crash\"\n[aggregation]\nmin_sources = 1\nmax_age = 3153600000\n" + assets.joined()
        let path = dir + "/venue.toml"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func start(_ binary: String, data: String, keys: String, port: Int) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = [
            "serve", "--data", data, "--port", String(port), "--keys", keys, "--config", try venue(data), "--no-replay",
            "--rate-limit", "1000000",
        ]
        p.currentDirectoryURL = Fixture.root
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: data + "/server.log") ?? FileHandle.nullDevice
        try p.run()
        return p
    }

    static func waitReady(port: Int, session: URLSession) async -> Bool {
        for _ in 0..<600 {
            if let (_, r) = try? await session.data(from: URL(string: "http://127.0.0.1:\(port)/ready")!),
                (r as? HTTPURLResponse)?.statusCode == 200
            {
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func acknowledgedQuotesSurviveSIGTERMAndSIGKILL() async throws {
        let binary = try #require(Self.binary, "build the volscale executable first (swift build)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-crash-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/server.log", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keysFile = dir + "/keys.json"
        let records = Role.allCases.map {
            APIKeyRecord(name: $0.rawValue, role: $0, secret: Fixture.keys[$0.rawValue]!)
        }
        try JSONEncoder().encode(records).write(to: URL(fileURLWithPath: keysFile))
        let port = 30_000 + Int(getpid() % 20_000)
        let session = URLSession(configuration: .ephemeral)
        let clients = (0..<8).map(Client.init)
        var rng = SystemRandomNumberGenerator()
        // at least 5 stops of each kind, in random order
        let signals = (Array(repeating: SIGTERM, count: 5) + Array(repeating: SIGKILL, count: 5)).shuffled(using: &rng)
        let database = dir + "/volscale.sqlite"
        for (round, signal) in signals.enumerated() {
            let server = try Self.start(binary, data: dir, keys: keysFile, port: port)
            let ready = await Self.waitReady(port: port, session: session)
            #expect(ready, "round \(round): server not ready")
            guard ready else {
                server.terminate()
                await server.exited()
                break
            }
            let stopAfter = Double.random(in: 0.3...1.5, using: &rng)
            await withTaskGroup(of: Void.self) { group in
                for c in clients {
                    group.addTask {
                        let deadline = Date().addingTimeInterval(stopAfter + 3)
                        while Date() < deadline {
                            let batch =
                                c.unacknowledged.isEmpty ? c.makeBatch(Int.random(in: 1...40)) : c.unacknowledged
                            c.unacknowledged = batch
                            let (ok, duplicates) = await Self.send(batch, port: port, session: session)
                            guard ok else { break }  // the server is going away: resend after the restart
                            c.acknowledged += batch
                            c.resentAsDuplicates += duplicates
                            c.unacknowledged = []
                        }
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(stopAfter))
                    kill(server.processIdentifier, signal)
                }
            }
            await server.exited()
            if signal == SIGTERM {
                #expect(
                    server.terminationReason == .exit && server.terminationStatus == 0, "round \(round): clean stop")
            }
            let stored = Set(try await SQLiteStore(path: database).allQuoteKeys())
            let acknowledged = clients.flatMap(\.acknowledged)
            let lost = acknowledged.filter { !stored.contains($0) }
            #expect(
                lost.isEmpty,
                "round \(round) (\(signal == SIGKILL ? "SIGKILL" : "SIGTERM")): \(lost.count) acknowledged quotes missing"
            )
        }
        // last round: every client resends what was not acknowledged, then a clean stop
        let server = try Self.start(binary, data: dir, keys: keysFile, port: port)
        #expect(await Self.waitReady(port: port, session: session))
        for c in clients where !c.unacknowledged.isEmpty {
            let (ok, duplicates) = await Self.send(c.unacknowledged, port: port, session: session)
            #expect(ok)
            if ok {
                c.acknowledged += c.unacknowledged
                c.resentAsDuplicates += duplicates
                c.unacknowledged = []
            }
        }
        kill(server.processIdentifier, SIGTERM)
        await server.exited()
        #expect(server.terminationStatus == 0)

        let rows = try await SQLiteStore(path: database).allQuoteKeys()
        let acknowledged = clients.flatMap(\.acknowledged)
        #expect(rows.count == Set(rows).count, "no quote stored twice")
        #expect(Set(rows) == Set(acknowledged), "stored \(rows.count), acknowledged \(acknowledged.count)")
        #expect(acknowledged.count == Set(acknowledged).count)
        #expect(acknowledged.count > 100, "the clients got work done: \(acknowledged.count)")
        print(
            "crash consistency: \(signals.count) stops, \(acknowledged.count) quotes acknowledged and stored, \(clients.map(\.resentAsDuplicates).reduce(0, +)) resent quotes answered as duplicates"
        )
        // the audit chain, checked by the command operators use
        let audit = Process()
        audit.executableURL = URL(fileURLWithPath: binary)
        audit.arguments = ["audit", "verify", "--store", database]
        let out = Pipe()
        audit.standardOutput = out
        try audit.run()
        await audit.exited()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(audit.terminationStatus == 0 && text.contains("intact"), "\(text)")
    }
}
