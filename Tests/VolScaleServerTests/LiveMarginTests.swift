import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VolScaleConfig
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

@testable import VolScaleServer

/// One live system (issue 10): quotes from several sources drive the engine's parameter
/// sets, and every account's margin follows the latest set: exactly, at the sequence it
/// names, and re-margined (with status events) when a set changes.
@Suite(.serialized) struct LiveMarginTests {
    /// A venue of one asset fed by three sources (two must agree), daily bars.
    static let venueText = """
        [venue]
        name = "test"
        [settings]
        settlement = "USD"
        confidence = 0.99
        mpor = 1
        liquidation_horizon = 2
        maintenance_fraction = 0.8
        [engine]
        buffer = 0.25
        [aggregation]
        min_sources = 2
        max_age = 3600
        max_deviation = 0.05
        circuit_breaker = 0.15
        [[asset]]
        name = "BTC"
        price = 60000
        volatility = 0.03
        adv = 2e10
        spread = 0.0002
        impact_threshold = 1e6
        size_rule = { base = 0.0, f = 1e-4 }
        haircut_floor = 0.02
        haircut_cap = 0.9
        bar_seconds = 86400
        [[asset.source]]
        name = "a"
        file = "unused.csv"
        [[asset.source]]
        name = "b"
        file = "unused.csv"
        [[asset.source]]
        name = "c"
        file = "unused.csv"
        [[instrument]]
        symbol = "BTC-PERP"
        kind = "perpetual"
        underlying = "BTC"
        """

    struct Live {
        let state: ServiceState
        let app: any ApplicationProtocol
        let dir: URL
    }

    static func live() async throws -> Live {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let venue = try VenueConfig.parse(venueText, path: dir.appendingPathComponent("venue.toml").path)
        let store = try SQLiteStore(path: dir.appendingPathComponent("store.sqlite").path)
        let state = ServiceState(engine: StreamingEngine(config: venue.engine), store: store, book: venue.book.book)
        return Live(state: state, app: buildApplication(state: state, config: Fixture.config()), dir: dir)
    }

    static let day: Int64 = 86_400_000
    static let start: Int64 = 1_600_000_000_000

    /// Quotes of day `i` at `price` from the three sources (a hair apart).
    static func day(_ i: Int, _ price: Double) -> String {
        let items = ["a", "b", "c"].enumerated().map { k, s in
            "{\"asset\":\"BTC\",\"source\":\"\(s)\",\"ts\":\(start + Int64(i) * day),\"price\":\(price * (1 + 0.0001 * Double(k)))}"
        }
        return "{\"quotes\":[\(items.joined(separator: ","))]}"
    }

    static func post(_ client: any TestClientProtocol, _ body: String) async throws {
        try await client.execute(
            uri: "/v1/prices", method: .post, headers: bearer("ingest"), body: ByteBuffer(string: body)
        ) { r in
            #expect(r.status == .ok, "\(String(buffer: r.body))")
        }
    }

    static func json(_ r: TestResponse) throws -> JSON { try Requests.json(Data(buffer: r.body)) }

    /// Calm days: a 0.5% daily wobble around 60,000 (enough bars for the EWMA seed).
    static func calm(_ i: Int) -> Double { 60_000 * (1 + 0.005 * sin(Double(i))) }

    /// The published set `sequence` names: its long and short publications.
    static func set(_ state: ServiceState, _ sequence: Int64) async throws -> (long: Publication, short: Publication) {
        let pubs = await state.publications(asset: "BTC", limit: 50)
        let long = try #require(pubs.first { $0.sequence == sequence - 1 && $0.side == "long" })
        let short = try #require(pubs.first { $0.sequence == sequence && $0.side == "short" })
        return (long, short)
    }

    @Test func marginIsThePublishedRateTimesThePublishedPriceAtEverySequence() async throws {
        let live = try await Self.live()
        defer { try? FileManager.default.removeItem(at: live.dir) }
        try await live.app.test(.router) { client in
            for i in 0..<80 { try await Self.post(client, Self.day(i, Self.calm(i))) }
            let account =
                #"{"collateral":{"BTC":0.5,"USD":10000},"positions":[{"instrument":"BTC-PERP","quantity":-0.2,"entryPrice":59000}]}"#
            try await client.execute(
                uri: "/v1/accounts/exact", method: .put, headers: bearer("ingest"), body: ByteBuffer(string: account)
            ) { #expect($0.status == .ok) }
            var seen = Set<Int64>()
            for i in 80..<84 {
                try await Self.post(client, Self.day(i, Self.calm(i) * (i % 2 == 0 ? 1.02 : 0.99)))
                try await client.execute(
                    uri: "/v1/accounts/exact/margin?explain=true", method: .get, headers: bearer("read")
                ) { r in
                    #expect(r.status == .ok)
                    let o = try Self.json(r)
                    let sequence = try #require(o["sequence"]?.number.flatMap { Int64(exactly: $0) })
                    seen.insert(sequence)
                    let set = try await Self.set(live.state, sequence)
                    let price = try #require(set.short.price)
                    // the definition, to the last bit: rate x |quantity| x price
                    #expect(o["initialMargin"]?.number == set.short.newValue * (0.2 * 1 * price))
                    // coin collateral counts at (1 - published haircut) x published price
                    let equity = try #require(
                        o["explanation"]?["children"]?.array?.first { $0["label"]?.string == "margin equity" })
                    let btc = try #require(equity["children"]?.array?.first { $0["label"]?.string == "BTC balance" })
                    let haircut = try #require(set.long.haircut)
                    #expect(btc["value"]?.number == 0.5 * price * (1 - haircut))
                    // and the rest of equity: the dollars and the short's P&L at the same price
                    #expect(
                        abs(
                            (o["equity"]?.number ?? 0) - (0.5 * price * (1 - haircut) + 10_000 - 0.2 * (price - 59_000))
                        ) < 1e-9)
                    // the set is the latest one
                    let latest = await live.state.latestPublications().filter { $0.asset == "BTC" }.map(\.sequence)
                        .max()
                    #expect(sequence == latest)
                }
            }
            #expect(seen.count == 4, "four successive publications, four sequences: \(seen.sorted())")
        }
    }

    @Test func aVolatilityBurstRaisesRatesAndHaircutsAndRemarginsTheAccount() async throws {
        let live = try await Self.live()
        defer { try? FileManager.default.removeItem(at: live.dir) }
        let subscription = try await live.state.subscribe(since: nil)
        try await live.app.test(.router) { client in
            for i in 0..<80 { try await Self.post(client, Self.day(i, Self.calm(i))) }
            let calm = await live.state.latestPublications().filter { $0.asset == "BTC" }
            let price = try #require(calm.first?.price)
            let account =
                "{\"collateral\":{\"USD\":4000},\"positions\":[{\"instrument\":\"BTC-PERP\",\"quantity\":1,\"entryPrice\":\(price)}]}"
            try await client.execute(
                uri: "/v1/accounts/burst", method: .put, headers: bearer("ingest"), body: ByteBuffer(string: account)
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/accounts/burst/margin", method: .get, headers: bearer("read")) { r in
                let status = try Self.json(r)["status"]?.string
                #expect(status == "healthy")
            }
            // the burst: +-8% a day, from all three sources, ending where it began
            for (k, i) in (80..<86).enumerated() {
                try await Self.post(client, Self.day(i, price * (k % 2 == 0 ? 1.08 : 1.0)))
            }
            try await Self.post(client, Self.day(86, price))
            let burst = await live.state.latestPublications().filter { $0.asset == "BTC" }
            for side: PublicationSide in [.rates(.long), .rates(.short)] {
                let before = try #require(calm.first { $0.side == side })
                let after = try #require(burst.first { $0.side == side })
                #expect(after.newValue > 2 * before.newValue, "\(side) rate \(before.newValue) -> \(after.newValue)")
                let h0 = try #require(before.haircut)
                let h1 = try #require(after.haircut)
                #expect(h1 > h0, "\(side) haircut \(h0) -> \(h1)")
                #expect(after.status == .stable)
            }
            // re-margined: its status changed, in its history ...
            try await client.execute(uri: "/v1/accounts/burst/margin", method: .get, headers: bearer("read")) { r in
                let status = try Self.json(r)["status"]?.string
                #expect(status != "healthy")
            }
            try await live.state.flush()
            try await client.execute(uri: "/v1/accounts/burst/history", method: .get, headers: bearer("read")) { r in
                let events = try #require(try Self.json(r).array)
                let status = events.filter { $0["kind"]?.string == "status" }
                #expect(status.count >= 1)
                #expect(status.last?["detail"]?.string?.hasPrefix("healthy -> ") == true, "\(status)")
                #expect(status.last?["by"]?.string == "engine")
            }
        }
        // ... and on the stream, as the message both SSE and WebSocket send (closed first:
        // what it buffered is still delivered, and the loop cannot wait for ever)
        await live.state.closeStreams()
        var change: AccountMonitor.Change?
        for await e in subscription.events {
            if case .account(let c, _) = e, c.id == "burst" {
                change = c
                break
            }
        }
        let c = try #require(change)
        #expect(c.old == .healthy && c.new != .healthy && (c.marginRatio ?? 0) > 0)
        let text = try #require(StreamEvent.account(c, time: 1).message).text(JSONEncoder())
        #expect(
            text.contains(#""event":"account""#) && text.contains(#""account":"burst""#)
                && text.contains(#""old":"healthy""#))
    }
}
