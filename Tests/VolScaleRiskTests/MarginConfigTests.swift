import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleConfig
@testable import VolScaleRisk

/// A config with a bad field names the file, the model and the field; nothing runs.
@Suite struct MarginConfigTests {
    let good = """
        [defaults]
        mpor = 2
        [[model]]
        name = "a"
        volatility = "ewma"
        lambda = 0.94
        method = "fhs"
        measure = "es"
        confidence = 0.975
        lookback = 500
        [model.controls]
        buffer = 0.25
        stressed_weight = 0.3
        stressed_period = "2008-09-01..2009-03-31"
        floor_lookback = 2520
        speed_limit_down = 0.1
        maintenance_confidence = 0.95
        """

    @Test func readsEveryField() throws {
        let c = try MarginConfig.parse(good, path: "m.toml")
        let m = try #require(c.models.first)
        #expect(m.mpor == 2 && m.lookback == 500 && m.confidence == 0.975)
        #expect(m.volatility == .ewma(lambda: 0.94) && m.method == .fhs && m.measure == .expectedShortfall)
        #expect(m.controls.buffer == 0.25 && m.controls.stressedWeight == 0.3 && m.controls.floorLookback == 2520)
        #expect(m.controls.stressedPeriod == .dates(start: 1_220_227_200_000, end: 1_238_457_600_000))
        #expect(m.controls.maintenance == .confidence(0.95))
    }

    @Test func theExampleConfigLoads() throws {
        let c = try MarginConfig.load(path: TestData.root.appendingPathComponent("examples/sp500-margin.toml").path)
        #expect(c.models.count >= 7)
        #expect(c.assets.first?.name == "SPX")
        #expect(FileManager.default.fileExists(atPath: c.assets[0].file))
    }

    static let bad: [(String, String)] = [
        ("lamda = 0.9", "m.toml: [[model]] 'a': unknown key 'lamda'"),
        ("confidence = 1.5", "m.toml: [[model]] #1: model 'a': confidence = 1.5: must be in (0.5, 1), e.g. 0.99"),
        ("mpor = -2", "m.toml: [[model]] #1: model 'a': mpor = -2.0: must be a positive number of bars"),
        ("measure = \"cvar\"", "m.toml: [[model]] 'a': measure: expected one of var, es"),
        ("lookback = 1.5", "m.toml: [[model]] 'a': lookback: expected a whole number"),
        (
            "distribution = \"t\"",
            "m.toml: [[model]] 'a': distribution = \"t\" needs nu, or a garch/gjr volatility to fit it"
        ),
    ]

    @Test(arguments: 0..<6)
    func badFieldsAreNamed(_ i: Int) {
        let (line, message) = Self.bad[i]
        let text = "[[model]]\nname = \"a\"\n\(line)\n"
        do {
            _ = try MarginConfig.parse(text, path: "m.toml")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.description.hasPrefix(message), "got: \(error.description)")
        }
    }

    @Test func badControlsAreNamed() {
        let cases: [(String, String)] = [
            ("buffer = 0.1", "buffer = 0.1: EMIR Art. 28 requires at least 0.25"),
            ("stressed_weight = 0.2", "stressed_weight = 0.2: EMIR Art. 28 requires at least 0.25"),
            ("bufer = 0.3", "unknown key 'bufer'"),
            ("stressed_period = \"2008\"", "stressed_period: '2008' is not \"auto\""),
        ]
        for (line, message) in cases {
            do {
                _ = try MarginConfig.parse("[[model]]\nname = \"a\"\n[model.controls]\n\(line)\n", path: "m.toml")
                Issue.record("accepted \(line)")
            } catch {
                #expect(error.description.contains(message), "got: \(error.description)")
            }
        }
    }

    @Test func syntaxErrorsAndEmptyConfigs() {
        #expect(throws: ConfigError.self) { try MarginConfig.parse("[[model]\nname = 1", path: "m.toml") }
        #expect(throws: ConfigError(file: "m.toml", location: "", reason: "no [[model]] entries")) {
            try MarginConfig.parse("[data]\n", path: "m.toml")
        }
        #expect(throws: ConfigError.self) {
            try MarginConfig.parse("[[model]]\nname = \"a\"\n[[model]]\nname = \"a\"\n", path: "m.toml")
        }
    }
}
