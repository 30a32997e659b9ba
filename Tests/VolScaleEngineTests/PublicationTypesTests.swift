import Foundation
import Testing
import VolScaleRisk

@testable import VolScaleEngine

/// Publications carry typed sides and bindings, stored, hashed and sent as the strings they
/// always were: every stored string reads back as the value it was written from.
@Suite struct PublicationTypesTests {
    @Test func storedStringsReadBackAsTheirValues() {
        for c in BindingControl.allCases {
            #expect(PublicationBinding(stored: c.rawValue) == .control(c))
            #expect(PublicationBinding.control(c).stored == c.rawValue)
        }
        let others: [PublicationBinding] = [.impliedVolatility, .circuitBreaker, .policyChanges("buffer: none -> 0.3")]
        for b in others { #expect(PublicationBinding(stored: b.stored) == b, "\(b)") }
        #expect(PublicationBinding.impliedVolatility.stored == "implied volatility")
        #expect(PublicationBinding.circuitBreaker.stored == "circuit breaker (no loosening while unstable)")
        #expect(PublicationSide(stored: "long") == .rates(.long) && PublicationSide(stored: "short") == .rates(.short))
        #expect(PublicationSide(stored: "admin-key") == .policyChange(by: "admin-key"))
        #expect(PublicationSide.rates(.short).side == .short && PublicationSide.policyChange(by: "x").side == nil)
    }

    /// A change of the controls is typed as one whatever its author is called, and its JSON is
    /// the strings of before (snapshots and clients read the same documents).
    @Test func policyChangesAndJSONKeepTheirStrings() throws {
        let change = Publication(
            sequence: 7, asset: Publication.policyAsset, side: "long", timestamp: 1, oldValue: nil, newValue: 0,
            maintenance: 0.8, sigma: 0, binding: "smoothing", modelVersion: "m", inputFrom: 1, inputTo: 1)
        #expect(change.side == .policyChange(by: "long") && change.binding == .policyChanges("smoothing"))
        let rates = Publication(
            sequence: 8, asset: "BTC", side: .rates(.long), timestamp: 2, oldValue: 0.1, newValue: 0.12,
            maintenance: 0.096, sigma: 0.03, binding: .control(.floor), modelVersion: "m", inputFrom: 1, inputTo: 2)
        let json = try #require(String(data: try JSONEncoder().encode(rates), encoding: .utf8))
        #expect(json.contains("\"side\":\"long\"") && json.contains("\"binding\":\"historical floor\""), "\(json)")
        #expect(try JSONDecoder().decode(Publication.self, from: Data(json.utf8)) == rates)
    }
}
