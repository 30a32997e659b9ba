import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VolScaleMargin
import VolScaleStore

@testable import VolScaleServer

enum Browser {
    static var path: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }
    static var required: Bool { ProcessInfo.processInfo.environment["VOLSCALE_REQUIRE_BROWSER"] == "1" }

    /// Runs headless Chromium and returns its output (the DOM with --dump-dom), waiting on a
    /// Dispatch thread: a blocking wait on one of Swift concurrency's threads (two on this
    /// machine) can leave the in-process server under test without a thread to answer the
    /// browser, which then waits for ever (seen in CI with other suites running alongside).
    static func run(_ args: [String], timeout: Double = 60) async throws -> String {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
            DispatchQueue.global().async { c.resume(with: Result { try runBlocking(args, timeout: timeout) }) }
        }
    }

    /// Killed after `timeout` seconds: a browser that hangs must not hang the test run.
    static func runBlocking(_ args: [String], timeout: Double) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path!)
        // a profile of its own: two browsers on one profile hand over to each other and print nothing
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "volscale-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        p.arguments =
            [
                "--headless=old", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000",
                "--user-data-dir=\(profile.path)",
            ] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            if p.isRunning { kill(pid, SIGKILL) }
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// The dashboard as a person sees it: a real browser loads it from a running server.
@Suite(.serialized) struct BrowserTests {
    @Test func dashboardShowsChartsWithData() async throws {
        if Browser.path == nil {
            #expect(!Browser.required, "VOLSCALE_REQUIRE_BROWSER=1 but no Chromium found")
            return
        }
        let app = buildApplication(state: try await Fixture.state(), config: Fixture.config())
        try await app.test(.live) { client in
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: Fixture.quotesBody())
            ) { r in
                #expect(r.status == .ok)
            }
            let port = client.port!
            let url = "http://127.0.0.1:\(port)/?key=read-secret&asset=BTC&stream=0"
            let dom = try await Browser.run(["--dump-dom", url])
            #expect(dom.contains("BTC"))
            #expect(
                dom.components(separatedBy: "<polyline").count - 1 == 4,
                "price, volatility, rate and haircut charts drawn")
            #expect(dom.contains("Current parameter set and why") && dom.contains("haircut"))
            #expect(!dom.contains("Loading…"))
            // a screenshot for people to look at (best effort: the DOM checks above are the test)
            let shot = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-dashboard.png").path
            _ = try? await Browser.run(["--window-size=1300,1000", "--screenshot=\(shot)", url], timeout: 30)
        }
    }

    /// The accounts page: every stored account with its margin and status; an account's
    /// detail shows its explanation tree and its history.
    @Test func accountsPageShowsStatusAndExplanation() async throws {
        if Browser.path == nil {
            #expect(!Browser.required, "VOLSCALE_REQUIRE_BROWSER=1 but no Chromium found")
            return
        }
        let store = try SQLiteStore(
            path: FileManager.default.temporaryDirectory.appendingPathComponent(
                "volscale-browser-\(UUID().uuidString).sqlite"
            ).path)
        let state = try await AccountsAPITests.state(store: store)
        _ = try await ServiceAPI.loadAccounts(
            state: state, store: store,
            file: [
                Account(
                    id: "rich", collateral: [("USD", 1_000_000)],
                    positions: [Position(instrument: "BTC-PERP", quantity: 1, entryPrice: 60_000)]),
                Account(
                    id: "thin", collateral: [("USD", 100)],
                    positions: [Position(instrument: "BTC-PERP", quantity: 10, entryPrice: 60_000)]),
            ])
        let app = buildApplication(state: state, config: Fixture.config())
        try await app.test(.live) { client in
            let port = client.port!
            let list = try await Browser.run([
                "--dump-dom", "http://127.0.0.1:\(port)/?key=read-secret&page=accounts&stream=0",
            ])
            #expect(list.contains("<table id=\"accounts\">"))
            // every asset's parameter set, rates and haircuts side by side
            #expect(list.contains("<table id=\"venue\">") && list.contains("haircut held / borrowed"))
            #expect(list.contains(">rich<") && list.contains(">thin<"))
            #expect(list.contains(">healthy<") && list.contains(">liquidatable<"), "statuses shown")
            let detail = try await Browser.run([
                "--dump-dom", "http://127.0.0.1:\(port)/?key=read-secret&page=accounts&account=thin&stream=0",
            ])
            #expect(detail.contains("id=\"account-detail\""))
            #expect(detail.contains("margin equity") && detail.contains("standard margin"), "explanation tree")
            #expect(detail.contains("accounts file"), "history: seeded from the accounts file")
            let shot = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-accounts.png").path
            _ = try? await Browser.run(
                [
                    "--window-size=1300,1000", "--screenshot=\(shot)",
                    "http://127.0.0.1:\(port)/?key=read-secret&page=accounts&account=thin&stream=0",
                ], timeout: 30)
        }
    }
}
