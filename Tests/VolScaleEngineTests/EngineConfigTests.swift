import Foundation
import Testing
import VolScaleRisk

@testable import VolScaleEngine

/// The live engine's settings are values built valid: the initialisers and the decoder of a
/// snapshot refuse what is out of range, naming the field; nothing is checked later.
@Suite struct EngineConfigTests {
    @Test func settingsOutOfRangeAreRefusedWhenBuilt() {
        let cases: [(() throws -> Any, EngineConfigError)] = [
            (
                { try EngineConfig(assets: ["BTC", "BTC"]) },
                EngineConfigError(field: "assets", value: "BTC,BTC", reason: "an asset is named twice")
            ),
            (
                { try EngineConfig(assets: [""]) },
                EngineConfigError(field: "assets", value: "''", reason: "an asset name is 1 to 128 bytes")
            ),
            (
                { try EngineConfig(assets: ["BTC"], lambda: 1) },
                EngineConfigError(field: "lambda", value: "1.0", reason: "must be in (0, 1)")
            ),
            (
                { try EngineConfig(assets: ["BTC"], mpor: 0) },
                EngineConfigError(field: "mpor", value: "0", reason: "must be 1 to 250 bars")
            ),
            // the controls as the batch models check them
            (
                { try EngineConfig(assets: ["BTC"], hardFloor: 0.1, hardCap: 0.1) },
                EngineConfigError(field: "hard_cap", value: "0.1", reason: "must be positive and above hard_floor")
            ),
            (
                { try EngineConfig(assets: ["BTC"], buffer: 0.2) },
                EngineConfigError(field: "buffer", value: "0.2", reason: "EMIR Art. 28 requires at least 0.25")
            ),
            (
                { try EngineConfig(assets: ["BTC"], maintenanceFraction: 1.5) },
                EngineConfigError(field: "maintenance_fraction", value: "1.5", reason: "must be in (0, 1]")
            ),
            (
                { try EngineConfig(assets: ["BTC"], settings: ["ETH": .none]) },
                EngineConfigError(
                    field: "settings", value: "ETH", reason: "settings for an asset the engine does not margin")
            ),
            (
                { try AggregationPolicy(minSources: 3, maxSourcesPerAsset: 2) },
                EngineConfigError(
                    field: "aggregation.minSources", value: "3", reason: "must be 1 to the sources kept (2)")
            ),
            (
                { try AggregationPolicy(maxAge: 0) },
                EngineConfigError(
                    field: "aggregation.maxAge", value: "0", reason: "must be 1 to 2305843009213693952 ms")
            ),
            (
                { try AggregationPolicy(averageDecay: 1) },
                EngineConfigError(field: "aggregation.averageDecay", value: "1.0", reason: "must be in [0, 1)")
            ),
            (
                { try AssetSettings(spread: 1) },
                EngineConfigError(field: "settings.spread", value: "1.0", reason: "must be in [0, 1)")
            ),
            (
                { try AssetSettings(haircutFloor: 0.3, haircutCap: 0.2) },
                EngineConfigError(
                    field: "settings.haircutCap", value: "0.2", reason: "must be in [0, 1], not below the floor")
            ),
        ]
        for (build, expected) in cases {
            #expect(throws: expected) { _ = try build() }
        }
    }

    /// A snapshot round-trips; one whose settings were edited out of range (a cap of 0 would
    /// publish every rate as 0) is refused when read, naming the field.
    @Test func snapshotsAreCheckedWhenRead() throws {
        let config = try EngineConfig(
            assets: ["BTC"], aggregation: AggregationPolicy(minSources: 1), hardCap: 0.5,
            settings: ["BTC": AssetSettings(barsPerDay: 24)])
        let snapshot = StreamingEngine(config: config).snapshot
        let data = try JSONEncoder().encode(snapshot)
        #expect(try JSONDecoder().decode(EngineSnapshot.self, from: data) == snapshot)
        let edits: [(String, String, EngineConfigError)] = [
            (
                "\"hardCap\":0.5", "\"hardCap\":0",
                EngineConfigError(field: "hard_cap", value: "0.0", reason: "must be positive and above hard_floor")
            ),
            (
                "\"minSources\":1", "\"minSources\":0",
                EngineConfigError(
                    field: "aggregation.minSources", value: "0", reason: "must be 1 to the sources kept (32)")
            ),
            (
                "\"barsPerDay\":24", "\"barsPerDay\":-1",
                EngineConfigError(field: "settings.barsPerDay", value: "-1.0", reason: "must be in [1/7, 86400]")
            ),
        ]
        let text = try #require(String(data: data, encoding: .utf8))
        for (from, to, expected) in edits {
            #expect(text.contains(from), "\(from)")
            let edited = Data(text.replacingOccurrences(of: from, with: to).utf8)
            #expect(throws: expected) { _ = try JSONDecoder().decode(EngineSnapshot.self, from: edited) }
        }
    }

    /// A policy change that would leave the controls invalid throws and changes nothing: no
    /// publication, no sequence number, the old controls.
    @Test func invalidPolicyChangesChangeNothing() throws {
        var engine = StreamingEngine(config: try EngineConfig(assets: ["BTC"], hardFloor: 0.02))
        let before = engine.config
        #expect(
            throws: EngineConfigError(field: "hard_cap", value: "0.01", reason: "must be positive and above hard_floor")
        ) {
            _ = try engine.updatePolicy(
                buffer: nil, speedLimitUp: nil, speedLimitDown: nil, hardFloor: nil, hardCap: .some(0.01),
                maintenanceFraction: nil, by: "admin", at: 0)
        }
        #expect(engine.config == before && engine.sequence == 0)
        let p = try engine.updatePolicy(
            buffer: nil, speedLimitUp: nil, speedLimitDown: nil, hardFloor: .some(nil), hardCap: .some(0.01),
            maintenanceFraction: nil, by: "admin", at: 0)
        #expect(p.binding.stored == "hardFloor: 0.02 -> none; hardCap: none -> 0.01")
        #expect(
            engine.config.controls.hardCap == 0.01 && engine.config.controls.hardFloor == nil && engine.sequence == 1)
    }
}
