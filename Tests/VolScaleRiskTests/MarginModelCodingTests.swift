import Foundation
import Testing

@testable import VolScaleRisk

/// A stored margin model reads back equal, and a stored value out of range is refused with
/// its field named (decoding runs the validating initialisers).
@Suite struct MarginModelCodingTests {
    static func model() throws -> MarginModel {
        let controls = try MarginControls(
            buffer: 0.25, stressedWeight: 0.25, stressedPeriod: .dates(start: 0, end: 86_400_000),
            floorLookback: 2520, speedLimitUp: 0.5,
            calibration: CoverageCalibration(target: 0.01, halfLife: 250, gain: 2, minimum: 0.8, maximum: 3),
            hardCap: 0.9, maintenance: .confidence(0.95))
        return try MarginModel(
            name: "gjr-t",
            volatility: .garch(asymmetric: true, distribution: .studentT, refitEvery: 250, minimumFit: 500),
            measure: .expectedShortfall, method: .fhs, confidence: 0.99, mpor: 2, lookback: 1000, controls: controls,
            impliedWeight: 1, testConfidence: 0.99)
    }

    @Test func roundTrips() throws {
        let m = try Self.model()
        #expect(try JSONDecoder().decode(MarginModel.self, from: JSONEncoder().encode(m)) == m)
        let plain = try MarginModel(
            name: "ewma", volatility: .ewma(lambda: 0.94), measure: .valueAtRisk, method: .parametric,
            confidence: 0.99, mpor: 1, lookback: 250)
        #expect(try JSONDecoder().decode(MarginModel.self, from: JSONEncoder().encode(plain)) == plain)
    }

    @Test func outOfRangeValuesAreRefusedByName() throws {
        let text = String(decoding: try JSONEncoder().encode(try Self.model()), as: UTF8.self)
        for (from, to, field) in [
            ("\"confidence\":0.99", "\"confidence\":2", "confidence"),
            ("\"hardCap\":0.9", "\"hardCap\":-1", "hard_cap"),
            ("\"speedLimitUp\":0.5", "\"speedLimitUp\":1e-300", "speed_limit_up"),
        ] {
            #expect(text.contains(from))
            #expect {
                try JSONDecoder().decode(
                    MarginModel.self, from: Data(text.replacingOccurrences(of: from, with: to).utf8))
            } throws: { "\($0)".contains(field) }
        }
    }
}
