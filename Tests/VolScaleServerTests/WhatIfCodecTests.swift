import Foundation
import NIOCore
import Testing
import VolScaleConfig
import VolScaleMargin

@testable import VolScaleServer

/// The what-if hot path reads the generated `Account` from JSONReader's tree by a direct
/// mapping and writes the generated `AccountMargin` with JSON's serializer (see
/// `ServiceAPI.whatIfFast`). Specification: they agree with the generated Codable code run
/// by Foundation: the same value when both accept a body, a refusal when Foundation
/// refuses, the field named the same way in the error, and the same JSON out. Bodies: the what-if bodies of the hostile corpus and a
/// set of valid and invalid accounts written for this test.
@Suite struct WhatIfCodecTests {
    static let bodies: [String] = {
        var out = [
            #"{"collateral":{"USD":60000,"BTC":0.5},"positions":[{"instrument":"BTC-PERP","quantity":5,"entryPrice":60500},{"instrument":"ETH-PERP","quantity":-100,"entryPrice":2950}]}"#,
            #"{"id":"a","mode":"portfolio","explain":true,"collateral":[{"asset":"USD","quantity":1e3}],"positions":[]}"#,
            #"{"positions":[{"instrument":"BTC-20250627-60000-C","quantity":1,"impliedVolatility":0.65}]}"#,
            #"{"collateral":{"USD":"lots"}}"#, #"{"collateral":[{"asset":"USD"}]}"#,
            #"{"collateral":[{"asset":"USD","quantity":1,"x":2}]}"#,
            #"{"positions":[{"instrument":"BTC-PERP","qty":1}]}"#,
            #"{"positions":[{"instrument":"BTC-PERP","quantity":true}]}"#,
            #"{"positions":{"instrument":"BTC-PERP"}}"#, #"{"positions":[1,2]}"#, #"{"mode":"fast"}"#,
            #"{"explain":"yes"}"#,
            #"{"colateral":{}}"#, #"[1,2]"#, #""text""#, #"{}"#, #"{"id":7}"#,
            #"{"positions":[{"instrument":"BTC-PERP","quantity":1e400}]}"#,
            #"{"positions":[{"instrument":"BTC-PERP","quantity":-0.0,"entryPrice":1.7976931348623157e308}]}"#,
            #"{"collateral":{"USD":1,"USD":2}}"#,
            #"{"positions":[{"instrument":"\u00e9\ud83d\ude00","quantity":0.1}]}"#,
        ]
        if let corpus = try? HostileRequestTests.corpus() {
            out += corpus.filter { $0.path == "/v1/margin/what-if" }.compactMap(\.body)
        }
        return out
    }()

    @Test(arguments: bodies) func agreesWithFoundationOnTheGeneratedTypes(_ body: String) throws {
        let data = Data(body.utf8)
        let foundation = Result { try JSONDecoder().decode(Components.Schemas.Account.self, from: data) }
        let tree = Result { try Components.Schemas.Account(ByteBuffer(bytes: data)) }
        switch (foundation, tree) {
        case (.success(let a), .success(let b)): #expect(a == b)
        case (.failure(let a as DecodingError), .failure(let b as DecodingError)):
            // the same field named (Foundation reports some number errors without a path:
            // then the service reads the body again, whichever decoder failed)
            if OpenAPIErrorMiddleware.pathed(a) && OpenAPIErrorMiddleware.pathed(b) {
                #expect(
                    OpenAPIErrorMiddleware.describe(OpenAPIErrorMiddleware.deepest(a)).split(separator: ":").first
                        == OpenAPIErrorMiddleware.describe(OpenAPIErrorMiddleware.deepest(b)).split(separator: ":")
                        .first)
            }
        case (.failure, .failure): break  // Foundation's own error for a number it cannot represent (1e400)
        case (.success(let a), .failure(let b)): Issue.record("Foundation accepts, tree refuses: \(a) / \(b)")
        case (.failure(let a), .success(let b)): Issue.record("Foundation refuses, tree accepts: \(a) / \(b)")
        }
    }
}

extension WhatIfCodecTests {
    /// The answer written through `JSON.text` is the JSON Foundation's encoder writes for the
    /// generated type (sorted keys), explanation tree included.
    @Test func marginAnswerIsTheGeneratedEncodersJSON() async throws {
        let state = try await Fixture.state()
        let account = try Components.Schemas.Account(ByteBuffer(string: Self.bodies[0]))
        for explain in [false, true] {
            let r = try await state.whatIf(ServiceAPI.account(account), mode: .portfolio, explain: explain)
            let answer = Components.Schemas.AccountMargin(r, explain: explain)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let foundation = try Requests.json(encoder.encode(answer))
            let ours = try Requests.json(Data(answer.json.text.utf8))
            #expect(ours == foundation)
            #expect(explain == (ours["explanation"] != nil))
        }
    }
}
