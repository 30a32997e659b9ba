import Foundation
import Testing
import VolScaleConfig
import VolScaleTestSupport

@testable import VolScaleEngine
@testable import VolScaleStore

enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func temp(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volscale-tests-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }
    /// The volscale executable built alongside the tests.
    static var binary: String? {
        let candidates = [
            ".build/debug/volscale", ".build/x86_64-unknown-linux-gnu/debug/volscale",
            ".build/aarch64-unknown-linux-gnu/debug/volscale",
        ]
        return candidates.map { root.appendingPathComponent($0).path }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }
}

/// Quotes from three sources for two assets, one line each, in time order.
func quoteLines(count: Int, seed: UInt64 = 5) -> [String] {
    var s = seed
    func u() -> Double {
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(s >> 11) / Double(1 << 53)
    }
    var lines: [String] = []
    var prices = ["BTC": 60_000.0, "ETH": 3_000.0]
    var t: Int64 = 1_700_000_000_000
    while lines.count < count {
        t += 1000
        for asset in ["BTC", "ETH"] {
            prices[asset]! *= exp((u() - 0.5) * 0.004)
            for src in ["a", "b", "c"] where lines.count < count {
                let p = prices[asset]! * (1 + (u() - 0.5) * 0.0004)
                lines.append("{\"asset\":\"\(asset)\",\"source\":\"\(src)\",\"ts\":\(t),\"price\":\(p)}")
            }
        }
    }
    return lines
}

func engineConfig() throws -> EngineConfig {
    try EngineConfig(assets: ["BTC", "ETH"], aggregation: AggregationPolicy(minSources: 2))
}

/// Shared checks for any store implementation.
enum StoreSpec {
    /// A policy change is stored as a record of its own (the `policy_changes` table), in the
    /// one audit chain with the parameter sets around it: read back whole, by itself and in
    /// sequence with the sets, and an alteration of its row breaks the chain at it.
    static func policyChanges(_ store: any EngineStore, tamper: (String) async throws -> Void) async throws {
        let set = { (n: Int64) in
            Publication(
                sequence: n, asset: "BTC", side: "long", timestamp: 100 * n, oldValue: nil, newValue: 0.05,
                maintenance: 0.04, sigma: 0.02,
                binding: "model", modelVersion: "t", inputFrom: 1, inputTo: 100 * n, price: 61_000, stablePrice: 60_900,
                haircut: 0.07, status: .stable)
        }
        let change = Publication.policyChange(
            sequence: 2, by: "admin", at: 150, changes: "buffer: none -> 0.5; hardCap: none -> 0.4",
            maintenance: 0.8, modelVersion: "t")
        let batch = CommitBatch(
            quotes: [], publications: [set(1), change, set(3)],
            snapshot: StreamingEngine(config: try engineConfig()).snapshot)
        try await store.commit(batch)
        #expect(
            try await store.publications(asset: nil, at: nil, limit: 10).map(\.publication) == [set(1), change, set(3)])
        #expect(
            try await store.publications(asset: Publication.policyAsset, at: nil, limit: 10).map(\.publication) == [
                change
            ])
        #expect(try await store.publications(asset: nil, at: 160, limit: 10).map(\.publication) == [set(1), change])
        #expect(try await store.verifyAudit() == AuditReport(checked: 3, firstBroken: nil))
        try await tamper("UPDATE policy_changes SET changes = 'buffer: none -> 5' WHERE seq = 2")
        let altered = try await store.verifyAudit()
        #expect(altered.firstBroken?.sequence == 2 && altered.firstBroken?.reason.contains("altered") == true)
    }

    /// Three publications as stores before `policy_changes` held them, with their chain: a
    /// parameter set, a policy change under the asset "policy", and a row under that name
    /// of another shape (a sigma), which is not a policy change as the engine writes them.
    static func legacyChain() -> [(Publication, previous: String, hash: String)] {
        let pubs = [
            Publication(
                sequence: 1, asset: "BTC", side: "long", timestamp: 100, oldValue: nil, newValue: 0.05,
                maintenance: 0.04, sigma: 0.02,
                binding: "model", modelVersion: "t", inputFrom: 1, inputTo: 100),
            Publication.policyChange(
                sequence: 2, by: "admin", at: 150, changes: "buffer: none -> 0.5", maintenance: 0.8, modelVersion: "t"),
            Publication(
                sequence: 3, asset: "policy", side: "ops", timestamp: 160, oldValue: nil, newValue: 0, maintenance: 0.8,
                sigma: 0.5,
                binding: "odd", modelVersion: "t", inputFrom: 160, inputTo: 160),
        ]
        var previous = AuditChain.genesis
        return pubs.map { p in
            let h = AuditChain.hash(p, previous: previous)
            defer { previous = h }
            return (p, previous, h)
        }
    }

    static func roundTripAndAudit(_ store: any EngineStore, tamper: (String) async throws -> Void) async throws {
        var ing = try await Ingestor.open(store: store, config: engineConfig(), batchSize: 100)
        var reference = StreamingEngine(config: try engineConfig())
        var acceptedKeys: [QuoteKey] = []
        for (i, line) in quoteLines(count: 3000).enumerated() {
            let q = try Requests.quoteLine(Substring(line))
            ing.feed(q)
            if case .success = reference.ingest(q) { acceptedKeys.append(QuoteKey(q)) }
            if ing.pending >= 100 { try await ing.commit(input: ("quotes", Int64(i + 1))) }
        }
        try await ing.commit(input: ("quotes", 3000))
        #expect(try await store.loadSnapshot() == reference.snapshot)
        #expect(try await store.quoteCount() == reference.accepted)
        #expect(try await store.inputPosition("quotes") == 3000)
        // exactly-once lookups: the stored keys are found, keys never stored are not
        let probe = Array(acceptedKeys.prefix(40)) + Array(acceptedKeys.suffix(40))
        let never = [
            QuoteKey(asset: "BTC", source: "nobody", timestamp: 1), QuoteKey(asset: "ETH", source: "a", timestamp: 5),
        ]
        #expect(try await store.storedQuoteKeys(probe + never) == Set(probe))
        #expect(try await store.storedQuoteKeys([]) == [])
        let report = try await store.verifyAudit()
        #expect(report.ok && report.checked == Int(reference.sequence) && report.checked > 100)
        let latest = try await store.publications(asset: "BTC", at: nil, limit: 2)
        #expect(latest.count == 2 && latest.allSatisfy { $0.publication.asset == "BTC" })
        // altering a stored row is detected, and names the row
        try await tamper("UPDATE publications SET new_value = new_value * 0.5 WHERE seq = 50")
        let altered = try await store.verifyAudit()
        #expect(altered.firstBroken?.sequence == 50)
        #expect(altered.firstBroken?.reason.contains("altered") == true)
    }
}

@Suite(.serialized) struct SQLiteStoreTests {
    @Test func roundTripAuditAndTampering() async throws {
        let path = Paths.temp("roundtrip-\(UUID().uuidString).sqlite")
        let store = try SQLiteStore(path: path)
        try await StoreSpec.roundTripAndAudit(store) { sql in try store.execute(sql) }
        // deleting a row is detected at the gap
        // undo is impossible: hash stays broken
        try store.execute("UPDATE publications SET new_value = new_value * 2 WHERE seq = 50")
        let s2 = try SQLiteStore(path: Paths.temp("delete-\(UUID().uuidString).sqlite"))
        var ing = try await Ingestor.open(store: s2, config: engineConfig(), batchSize: 500)
        for line in quoteLines(count: 1500) { ing.feed(try Requests.quoteLine(Substring(line))) }
        try await ing.commit(input: nil)
        #expect(try await s2.verifyAudit().ok)
        try s2.execute("DELETE FROM publications WHERE seq = 7")
        let r = try await s2.verifyAudit()
        #expect(r.firstBroken?.sequence == 8 && r.firstBroken?.reason.contains("missing") == true)
    }

    @Test func policyChangesAreRecordsOfTheirOwn() async throws {
        let store = try SQLiteStore(path: Paths.temp("policy-\(UUID().uuidString).sqlite"))
        try await StoreSpec.policyChanges(store) { sql in try store.execute(sql) }
    }

    /// A store written before policy changes had a table of their own: opening it moves its
    /// "policy" rows to `policy_changes`, and the chain still verifies; a row of another
    /// shape under that name stays where it was.
    @Test func legacyPolicyRowsMoveAndTheChainHolds() async throws {
        let path = Paths.temp("legacy-\(UUID().uuidString).sqlite")
        let rows = StoreSpec.legacyChain()
        do {
            let old = try SQLiteStore(path: path, migratingUpTo: "v3-parameter-sets")
            for (p, previous, hash) in rows {
                try old.execute(
                    """
                    INSERT INTO publications(seq, asset, side, ts, old_value, new_value, maintenance, sigma, binding, model_version, input_from, input_to, prev_hash, hash)
                    VALUES (\(p.sequence), '\(p.asset)', '\(p.side.stored)', \(p.timestamp), \(p.oldValue.map { "\($0)" } ?? "NULL"), \(p.newValue),
                            \(p.maintenance), \(p.sigma), '\(p.binding.stored)', '\(p.modelVersion)', \(p.inputFrom), \(p.inputTo), '\(previous)', '\(hash)')
                    """)
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(try await store.verifyAudit() == AuditReport(checked: rows.count, firstBroken: nil))
        #expect(try await store.publications(asset: nil, at: nil, limit: 10).map(\.publication) == rows.map(\.0))
        #expect(
            try store.count("SELECT COUNT(*) FROM policy_changes") == 1
                && store.count("SELECT COUNT(*) FROM publications") == 2)
        try store.execute("UPDATE policy_changes SET author = 'someone else' WHERE seq = 2")
        #expect(try await store.verifyAudit().firstBroken?.sequence == 2)
    }

    /// A stored state whose settings are out of range (an earlier version accepted a hard
    /// cap of 0) is not resumed: the error names the store, the field and the reason.
    @Test func invalidStoredSettingsAreNamedNotResumed() async throws {
        let path = Paths.temp("settings-\(UUID().uuidString).sqlite")
        let store = try SQLiteStore(path: path)
        try await store.commit(
            CommitBatch(quotes: [], publications: [], snapshot: StreamingEngine(config: try engineConfig()).snapshot))
        #expect(try await store.loadSnapshot() != nil)
        try store.execute("UPDATE engine_state SET snapshot = json_set(CAST(snapshot AS TEXT), '$.config.hardCap', 0)")
        do {
            _ = try await store.loadSnapshot()
            Issue.record("a stored hard cap of 0 was resumed")
        } catch {
            #expect(
                "\(error)"
                    == "\(path): the stored engine state cannot be resumed: hard_cap = 0.0: must be positive and above hard_floor"
            )
        }
    }

    @Test func readOnlyDatabaseIsAClearErrorAndLosesNothing() async throws {
        let path = Paths.temp("ro-\(UUID().uuidString).sqlite")
        do {
            let store = try SQLiteStore(path: path)
            var ing = try await Ingestor.open(store: store, config: engineConfig(), batchSize: 100)
            for line in quoteLines(count: 300) { ing.feed(try Requests.quoteLine(Substring(line))) }
            try await ing.commit(input: nil)
        }
        let before = try await SQLiteStore(path: path).quoteCount()
        // reopen read-only: GRDB's read-only configuration
        let ro = try ReadOnlyProbe.commit(path: path)
        #expect(ro.contains("read-only") || ro.contains("readonly") || ro.contains("attempt to write"), "got: \(ro)")
        #expect(try await SQLiteStore(path: path).quoteCount() == before)
    }

    /// A child process ingesting ticks is killed with SIGKILL at random points and
    /// restarted: every acknowledged tick is there, none is stored twice, and the resumed
    /// state equals an uninterrupted run.
    @Test func crashSafetyUnderSIGKILL() async throws {
        let binary = try #require(Paths.binary, "build the volscale executable first (swift build)")
        let lines = quoteLines(count: 12_000)
        let input = Paths.temp("quotes-\(UUID().uuidString).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let db = Paths.temp("crash-\(UUID().uuidString).sqlite")
        var reference = StreamingEngine(config: try engineConfig())
        for l in lines { _ = reference.ingest(try Requests.quoteLine(Substring(l))) }

        var seed: UInt64 = UInt64(Date().timeIntervalSince1970)
        var kills = 0
        var finished = false
        var attempts = 0
        while !finished && attempts < 30 {
            attempts += 1
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = [
                "ingest", "--store", db, "--assets", "BTC,ETH", "--min-sources", "2", "--batch", "97", "--ack", input,
            ]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let killAfter = kills < 5 ? Int(seed >> 33) % 25 + 1 : Int.max
            // the child's acknowledgements read, and the kill sent, off Swift concurrency's threads
            nonisolated(unsafe) let child = p
            nonisolated(unsafe) let output = out
            let lastAcked = try await offThePool { () -> Int64 in
                var acks = 0
                var lastAcked: Int64 = 0
                var pending = Data()
                let reader = output.fileHandleForReading
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let nl = pending.firstIndex(of: 10) {
                        let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...nl)
                        let parts = line.split(separator: " ")
                        if parts.count == 3, parts[0] == "ack", let q = Int64(parts[2]) {
                            acks += 1
                            lastAcked = q
                        }
                    }
                    if acks >= killAfter {
                        kill(child.processIdentifier, SIGKILL)
                        break
                    }
                }
                child.waitUntilExit()
                return lastAcked
            }
            if p.terminationReason == .uncaughtSignal {
                kills += 1
                // everything acknowledged before the kill is in the store
                let stored = try await SQLiteStore(path: db).quoteCount()
                #expect(stored >= lastAcked, "acknowledged \(lastAcked), stored \(stored)")
            } else {
                #expect(p.terminationStatus == 0)
                finished = true
            }
        }
        #expect(finished && kills >= 3)
        let store = try SQLiteStore(path: db)
        #expect(try await store.quoteCount() == reference.accepted)  // nothing lost, nothing twice
        #expect(try await store.loadSnapshot() == reference.snapshot)  // same state as without kills
        #expect(try await store.verifyAudit().ok)
    }
}

/// Opens a database read-only through the store's own error mapping.
enum ReadOnlyProbe {
    static func commit(path: String) throws -> String {
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path) }
        if getuid() == 0 {
            // root ignores file permissions: use SQLite's query_only switch instead
            let store = try SQLiteStore(path: path)
            try store.execute("PRAGMA query_only = 1")
            let sem = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var message = ""
            Task {
                do {
                    try await store.commit(
                        CommitBatch(
                            quotes: [Quote(asset: "BTC", source: "x", timestamp: 1, price: 1)], publications: [],
                            snapshot: StreamingEngine(config: try engineConfig()).snapshot))
                } catch { message = "\(error)" }
                sem.signal()
            }
            sem.wait()
            return message
        }
        do {
            _ = try SQLiteStore(path: path)
            return "opened"
        } catch { return "\(error)" }
    }
}

extension StoreSpec {
    /// Accounts: versions count every change (a deletion and a re-creation included),
    /// history is newest first and pages by event number, the list pages in id order (byte
    /// order, so both stores agree), and concurrent writers never give out one version twice.
    static func accounts(_ store: any EngineStore, prefix: String) async throws {
        #expect(try await store.account("\(prefix)a") == nil)
        let a1 = try await store.putAccount(id: "\(prefix)a", document: "{\"v\":1}", time: 10, by: "k1")
        #expect(a1.version == 1)
        #expect(try await store.accountsEverStored())
        let a2 = try await store.putAccount(id: "\(prefix)a", document: "{\"v\":2}", time: 20, by: "k2")
        #expect(a2.version == 2 && a2.updated == 20)
        #expect(try await store.account("\(prefix)a") == a2)
        try await store.recordAccountEvent(
            id: "\(prefix)a", time: 25, kind: "status", by: "engine", detail: "healthy -> margin call")
        let deleted = try await store.deleteAccount(id: "\(prefix)a", time: 30, by: "k3")
        #expect(deleted?.version == 3 && deleted?.document == "{\"v\":2}")
        #expect(try await store.deleteAccount(id: "\(prefix)a", time: 31, by: "k3") == nil)
        #expect(try await store.account("\(prefix)a") == nil)
        let again = try await store.putAccount(id: "\(prefix)a", document: "{\"v\":4}", time: 40, by: "k1")
        #expect(again.version == 4)
        let history = try await store.accountHistory("\(prefix)a", before: nil, limit: 10)
        #expect(history.map(\.kind) == ["put", "delete", "status", "put", "put"])
        #expect(history.map(\.version) == [4, 3, 2, 2, 1])
        #expect(history[2].detail == "healthy -> margin call" && history[1].by == "k3")
        let older = try await store.accountHistory("\(prefix)a", before: history[1].number, limit: 2)
        #expect(older.map(\.kind) == ["status", "put"])
        // ids in byte order ("B" < "a" < "b"), a page at a time
        for id in ["b", "B", "a2", "a10"] {
            _ = try await store.putAccount(id: "\(prefix)\(id)", document: "{}", time: 50, by: "k")
        }
        var ids: [String] = []
        var after: String? = prefix
        while true {
            let page = try await store.accounts(after: after, limit: 2).filter { $0.id.hasPrefix(prefix) }
            ids += page.map(\.id)
            guard page.count == 2 else { break }
            after = page.last?.id
        }
        #expect(ids == ["B", "a", "a10", "a2", "b"].map { "\(prefix)\($0)" })
        // eight concurrent writers to one account: versions 1...40, each once
        let id = "\(prefix)busy"
        let versions = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for w in 0..<8 {
                group.addTask {
                    var v: [Int64] = []
                    for i in 0..<5 {
                        v.append(
                            try await store.putAccount(
                                id: id, document: "{\"w\":\(w),\"i\":\(i)}", time: 60, by: "w\(w)"
                            ).version)
                    }
                    return v
                }
            }
            var all: [Int64] = []
            for try await v in group { all += v }
            return all
        }
        #expect(versions.sorted() == Array(1...40))
        // one commit carries a parameter set and the status change it caused: the set reads
        // back whole (price, stable price, haircut, status), chained, and the change is in
        // the account's history at its current version, by the engine
        let set = Publication(
            sequence: 1, asset: "BTC", side: "long", timestamp: 70, oldValue: nil, newValue: 0.05, maintenance: 0.04,
            sigma: 0.02,
            binding: "model", modelVersion: "t", inputFrom: 1, inputTo: 70, price: 61_000.5, stablePrice: 60_900.25,
            haircut: 0.0725, status: .stable)
        var batch = CommitBatch(
            quotes: [], publications: [set], snapshot: StreamingEngine(config: try engineConfig()).snapshot)
        batch.statusEvents = [
            AccountStatusRecord(
                id: "\(prefix)a", time: 70, detail: "healthy -> margin call (margin ratio 0.9000, sequence 1)")
        ]
        try await store.commit(batch)
        #expect(try await store.publications(asset: "BTC", at: nil, limit: 10).last?.publication == set)
        #expect(try await store.verifyAudit().ok)
        let status = try await store.accountHistory("\(prefix)a", before: nil, limit: 1).first
        #expect(status?.kind == "status" && status?.by == "engine" && status?.version == 4 && status?.time == 70)
        #expect(status?.detail == "healthy -> margin call (margin ratio 0.9000, sequence 1)")
    }
}

@Suite struct AccountStoreTests {
    @Test func sqliteAccounts() async throws {
        try await StoreSpec.accounts(
            try SQLiteStore(path: Paths.temp("accounts-\(UUID().uuidString).sqlite")), prefix: "")
    }

    @Test(.enabled(if: PG.available)) func postgresAccounts() async throws {
        let store = try await PG.fresh(owner: "accounts")
        // accounts are shared by every owner: this test's own ids
        let prefix = "t\(UInt32.random(in: 0...UInt32.max))-"
        try await StoreSpec.accounts(store, prefix: prefix)
    }
}
