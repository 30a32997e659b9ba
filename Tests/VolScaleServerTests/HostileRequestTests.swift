import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import VolScaleServer

/// The corpus in Tests/Fixtures/hostile-requests.json (issue 9's reproducers among them):
/// with every role, each request is answered with a 4xx, and the server keeps serving.
@Suite struct HostileRequestTests {
    struct Entry: Decodable {
        var method: String
        var path: String
        var body: String?
        var note: String
    }
    struct Corpus: Decodable { var requests: [Entry] }

    static func corpus() throws -> [Entry] {
        let url = Fixture.root.appendingPathComponent("Tests/Fixtures/hostile-requests.json")
        return try JSONDecoder().decode(Corpus.self, from: Data(contentsOf: url)).requests
    }

    @Test func everyHostileRequestIsA4xxForEveryRole() async throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 60)
        let app = buildApplication(state: try await Fixture.state(), config: Fixture.config())
        try await app.test(.router) { client in
            // some history, so that backtests and streams have something to refuse on their merits
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: Fixture.quotesBody())
            ) {
                #expect($0.status == .ok)
            }
            for role in [nil, "read", "ingest", "admin"] as [String?] {
                for e in corpus {
                    let method = HTTPRequest.Method(e.method) ?? .get
                    try await client.execute(
                        uri: e.path, method: method, headers: bearer(role), body: e.body.map { ByteBuffer(string: $0) }
                    ) { r in
                        #expect(
                            (400..<500).contains(Int(r.status.code)),
                            "\(role ?? "no key") \(e.method) \(e.path.prefix(80)) [\(e.note)]: \(r.status.code) \(String(buffer: r.body).prefix(200))"
                        )
                        if role == "admin", r.status == .badRequest {
                            // a 400 names what is wrong
                            #expect(String(buffer: r.body).contains("\"message\""), "\(e.note)")
                        }
                    }
                }
            }
            // still serving, and still right
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(
                uri: "/v1/margin/what-if", method: .post, headers: bearer("read"),
                body: ByteBuffer(
                    string:
                        "{\"collateral\":{\"USD\":10000},\"positions\":[{\"instrument\":\"BTC-PERP\",\"quantity\":1,\"entryPrice\":60000}]}"
                )
            ) {
                #expect($0.status == .ok)
            }
        }
    }

    /// A key in the query string works only for the read-only stream, never for writes.
    @Test func queryKeysOnlyOpenTheStream() async throws {
        let app = buildApplication(state: try await Fixture.state(), config: Fixture.config())
        try await app.test(.router) { client in
            var json = HTTPFields()
            json[.contentType] = "application/json"
            try await client.execute(
                uri: "/v1/policy?key=\(Fixture.keys["admin"]!)", method: .put, headers: json,
                body: ByteBuffer(string: "{\"buffer\":0.3}")
            ) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/v1/prices?key=\(Fixture.keys["admin"]!)", method: .post, headers: json,
                body: ByteBuffer(string: Fixture.quotesBody(count: 2))
            ) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/assets?key=\(Fixture.keys["read"]!)", method: .get) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/stream?key=\(Fixture.keys["read"]!)&since=0&limit=0", method: .get) {
                #expect($0.status == .ok)
            }
        }
    }
}
