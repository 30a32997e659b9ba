import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VolScaleMargin

@testable import VolScaleCore
@testable import VolScaleData
@testable import VolScaleEngine
@testable import VolScaleServer

/// `POST /v1/assets/{asset}/chain` and `GET /v1/assets/{asset}/surface`: the bundled Deribit chain
/// sent as Deribit's book summary becomes BTC's implied volatility (the 30-day model-free index of
/// Tests/Fixtures/dvol-deribit.json), shown on the asset and blended into the publications.
@Suite struct ChainAPITests {
    static let asOf: Int64 = 1_590_103_260_000  // 2020-05-21T23:21:00Z, the fixture's moment

    /// The bundled chain as `public/get_book_summary_by_currency` returns it.
    static func bookSummary(timestamp: Int64 = asOf, rename: String? = nil) throws -> String {
        let chain = try OptionChainFileReader().read(
            path: Fixture.root.appendingPathComponent("data/deribit-btc-options-20200521.csv").path)
        func n(_ v: Double?) -> String { v.map { "\($0)" } ?? "null" }
        let records = chain.options.map { o in
            "{\"instrument_name\":\"\(rename ?? o.instrument)\",\"bid_price\":\(n(o.bid)),\"ask_price\":\(n(o.ask)),\"mark_price\":\(n(o.mark)),"
                + "\"underlying_price\":\(o.underlyingPrice),\"creation_timestamp\":\(timestamp)}"
        }
        return "{\"jsonrpc\":\"2.0\",\"result\":[\(records.joined(separator: ","))],\"usIn\":1}"
    }

    static func state(impliedWeight: Double? = nil) throws -> ServiceState {
        let c = try EngineConfig(
            assets: ["BTC", "ETH"],
            aggregation: AggregationPolicy(maxAge: AggregationPolicy.maxAgeLimit, minSources: 1),
            impliedWeight: impliedWeight, impliedMaxAge: 1000 * 86_400_000)
        return ServiceState(
            engine: StreamingEngine(config: c), store: nil, book: MarginBook(assets: [], instruments: []))
    }

    static var config: ServerConfig {
        var c = Fixture.config()
        c.maxBodyBytes = 1 << 20
        return c
    }

    @Test func chainBecomesTheImpliedVolatility() async throws {
        let fixture = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Fixture.root.appendingPathComponent("Tests/Fixtures/dvol-deribit.json")))
                as? [String: Any])
        let expected = try #require(fixture["index"] as? Double) / 100
        let app = buildApplication(state: try Self.state(), config: Self.config)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/assets/BTC/surface", method: .get, headers: bearer("read")) {
                #expect($0.status == .notFound)
            }
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: try Self.bookSummary())
            ) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                let body = try #require(
                    try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [String: Any])
                #expect(abs(try #require(body["impliedVolatility"] as? Double) - expected) < 1e-12 * expected)
                #expect(body["asOf"] as? Int == Int(Self.asOf))
                #expect(body["arbitrageFree"] as? Bool == true)
                #expect((body["expiries"] as? [Any])?.count == 7)
            }
            try await client.execute(uri: "/v1/assets/BTC", method: .get, headers: bearer("read")) { r in
                let body = try #require(
                    try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [String: Any])
                #expect(abs(try #require(body["impliedVolatility"] as? Double) - expected) < 1e-12 * expected)
            }
            try await client.execute(uri: "/v1/assets/BTC/surface", method: .get, headers: bearer("read")) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"svi\""))
            }
            // an older chain is refused; a read key may not send one; a chain of another coin is named
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: try Self.bookSummary(timestamp: Self.asOf - 60_000))
            ) { #expect($0.status == .conflict) }
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("read"),
                body: ByteBuffer(string: try Self.bookSummary())
            ) { #expect($0.status == .forbidden) }
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: try Self.bookSummary(rename: "ETH-26JUN20-200-C"))
            ) { r in
                #expect(r.status == .unprocessableContent)
                #expect(String(buffer: r.body).contains("result[0].instrument_name"))
            }
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(
                    string: "{\"result\":[{\"instrument_name\":\"BTC-26JUN20-9000-C\",\"underlying_price\":-1}]}")
            ) { r in
                #expect(r.status == .unprocessableContent)
                #expect(String(buffer: r.body).contains("result[0]: field 'underlying_price' is negative"))
            }
            // Deribit's records carry nulls in fields we do not read (last, price_change without trades)
            let withNulls = try Self.bookSummary(timestamp: Self.asOf + 60_000)
                .replacingOccurrences(
                    of: "\"creation_timestamp\"", with: "\"last\":null,\"price_change\":null,\"creation_timestamp\"")
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: withNulls)
            ) {
                #expect($0.status == .ok, "\(String(buffer: $0.body).prefix(300))")
            }
            try await client.execute(
                uri: "/v1/assets/DOGE/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: try Self.bookSummary())
            ) { #expect($0.status == .notFound) }
        }
    }

    /// With [engine] implied_weight 1 the publications after the chain use max(sigma, implied per bar):
    /// quiet quotes (0.1% moves) publish the chain's 102.6% a year, 5.37% a day, and say so.
    @Test func publicationsBlendTheChainsImpliedVolatility() async throws {
        let state = try Self.state(impliedWeight: 1)
        let app = buildApplication(state: state, config: Self.config)
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/v1/assets/BTC/chain", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: try Self.bookSummary())
            ) {
                #expect($0.status == .ok)
            }
            let quotes = (1...120).map { i in
                "{\"asset\":\"BTC\",\"source\":\"x\",\"ts\":\(Self.asOf + Int64(i) * 86_400_000),\"price\":\(9000 * (1 + 0.001 * sin(Double(i))))}"
            }
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: "{\"quotes\":[\(quotes.joined(separator: ","))]}")
            ) { #expect($0.status == .ok) }
        }
        let last = try #require(await state.latestPublications().first { $0.asset == "BTC" })
        let implied = try #require(await state.engine.volatility["BTC"]?.implied?.annualised)
        #expect(last.sigma == implied / 365.0.squareRoot())
        #expect(last.binding == "implied volatility")
    }
}
