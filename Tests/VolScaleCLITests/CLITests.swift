import ArgumentParser
import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleCLI

/// What a batch command prints for `args` (parsed as `volscale` parses them).
func renderCommand(_ args: [String]) throws -> String {
    guard let c = try VolScaleCommand.parseAsRoot(args) as? any RenderingCommand else {
        Issue.record("not a batch command: \(args)")
        return ""
    }
    return try c.render()
}

/// The command line as users and other tools see it: output keys, units and messages.
@Suite struct CLITests {

    func output(_ args: [String]) throws -> String { try renderCommand(args) }

    /// Each command fails with an error whose text contains its message.
    func expectErrors(_ cases: [([String], String)], sourceLocation: SourceLocation = #_sourceLocation) {
        for (args, message) in cases {
            do {
                _ = try output(args)
                Issue.record("no error for \(args)", sourceLocation: sourceLocation)
            } catch {
                #expect("\(error)".contains(message), "got: \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    func json(_ args: [String]) throws -> [String: Any] {
        let text = try output(args)
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// The methodology page's reference table (arch 8.0.0, normal GARCH on the S&P 500).
    @Test func garchJSONMatchesTheMethodologyTable() throws {
        let j = try json(["vol", TestData.data("sp500-daily.csv"), "--model", "garch", "--format", "json"])
        #expect(j["model"] as? String == "garch")
        #expect(j["observations"] as? Int == 5030)
        let p = try #require(j["parameters"] as? [String: Double])
        #expect(abs(p["mu"]! * 100 - 0.052367) < 5e-6)
        #expect(abs(p["omega"]! * 1e4 - 0.017744) < 5e-6)
        #expect(abs(p["alpha"]! - 0.101899) < 5e-6)
        #expect(abs(p["beta"]! - 0.885263) < 5e-6)
        let ll = try #require(j["logLikelihood"] as? Double)
        let llPercent = ll - 5030 * log(100.0)
        #expect(llPercent >= -6941.5391 - 1e-4, "percent-unit logL \(llPercent)")
        let v = try #require(j["volatility"] as? [String: Any])
        let next = try #require(v["next"] as? Double)
        let annualized = try #require(v["annualized"] as? Double)
        #expect(abs(annualized - next * sqrt(252)) < 1e-15)
        #expect((v["last"] as? Double ?? 0) > 0)
    }

    @Test func tDistributionReportsNu() throws {
        let j = try json([
            "vol", TestData.data("sp500-daily.csv"), "--model", "garch", "--dist", "t", "--format", "json",
        ])
        let p = try #require(j["parameters"] as? [String: Double])
        #expect(abs(p["nu"]! - 6.509363) < 1e-3)
        #expect(abs(p["alpha"]! - 0.099492) < 2e-3)
        #expect(abs((j["logLikelihood"] as! Double) - 5030 * log(100.0) - -6834.4792) < 1e-3)
    }

    /// EGARCH and the skewed t through the command: arch's keys (`omega`, `alpha`, `gamma`,
    /// `beta`; `nu` and `skew` for arch's `eta` and `lambda`), and arch's fit (fixtures from
    /// `scripts/make_fixtures.py arch_composed`).
    @Test(arguments: [
        ("egarch", "skewt", "egarch-skewt"), ("egarch", "normal", "egarch-normal"), ("gjr", "skewt", "gjr-skewt"),
    ])
    func composedModelsUseArchNames(_ model: String, _ dist: String, _ fixture: String) throws {
        let j = try json([
            "vol", TestData.data("sp500-daily.csv"), "--model", model, "--dist", dist, "--format", "json",
        ])
        let ref = try TestData.json(fixture + ".json")
        let p = try #require(j["parameters"] as? [String: Double])
        let expected = try #require(ref["parameters"] as? [String: Double])
        #expect(Set(p.keys) == Set(expected.keys))
        for key in ["alpha", "gamma", "beta", "skew"] where expected[key] != nil {
            #expect(abs(p[key]! - expected[key]!) <= 5e-3, "\(fixture) \(key) \(p[key]!) vs \(expected[key]!)")
        }
        let ll = try #require(j["logLikelihood"] as? Double)
        let refLL = try #require(ref["logLikelihood"] as? Double)
        #expect(ll >= refLL - 1e-6 * abs(refLL), "\(fixture) logL \(ll) vs arch \(refLL)")
        #expect(Set((j["standardErrors"] as? [String: Double] ?? [:]).keys) == Set(expected.keys))
    }

    /// CSV path: sigma_t per return equals arch's conditional volatility.
    @Test func garchCSVMatchesArchConditionalVolatility() throws {
        let text = try output(["vol", TestData.data("sp500-daily.csv"), "--model", "garch", "--format", "csv"])
        let lines = text.split(separator: "\n")
        #expect(lines.first == "date,return,volatility")
        #expect(lines.count == 5031)
        #expect(lines[1].hasPrefix("1999-01-05,"))
        let ref = try #require(try TestData.json("garch-normal.json")["conditionalVolatility"] as? [Double])
        var worst = 0.0
        for (i, line) in lines.dropFirst().enumerated() where i >= 50 {
            let v = Double(line.split(separator: ",")[2])!
            worst = max(worst, abs(v - ref[i]) / ref[i])
        }
        #expect(worst < 1e-3, "worst relative error \(worst)")
    }

    @Test func ewmaCSVMatchesArchToNineDigits() throws {
        let text = try output(["vol", TestData.data("sp500-daily.csv"), "--model", "ewma", "--format", "csv"])
        let ref = try #require(try TestData.json("ewma-sp500.json")["conditionalVolatility"] as? [Double])
        for (i, line) in text.split(separator: "\n").dropFirst().enumerated() {
            let v = Double(line.split(separator: ",")[2])!
            #expect(abs(v - ref[i]) <= 1e-9 * ref[i])
        }
    }

    @Test func rollingCSVLeavesVolatilityEmptyWhileTheWindowFills() throws {
        let text = try output([
            "vol", TestData.data("sp500-daily.csv"), "--model", "parkinson", "--window", "10", "--format", "csv",
        ])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[1].hasSuffix(","))  // return 0: no full window before it
        #expect(lines[9].hasSuffix(","))  // return 8 (bars 0..8: 9 bars)
        #expect(!lines[10].hasSuffix(","))  // return 9: window of bars 0..9
    }

    @Test func jsonKeysForEveryModel() throws {
        for model in VolScaleCommand.Vol.Model.allCases {
            let j = try json(["vol", TestData.data("sp500-daily.csv"), "--model", model.rawValue, "--format", "json"])
            for key in ["model", "observations", "parameters", "volatility", "sampling"] {
                #expect(j[key] != nil, "\(model.rawValue) lacks \(key)")
            }
            let v = try #require(j["volatility"] as? [String: Any])
            #expect(v["next"] is Double && v["annualized"] is Double && v["last"] is Double, "\(model.rawValue)")
            if model == .garch || model == .gjr || model == .egarch {
                #expect(j["logLikelihood"] is Double)
            } else {
                #expect(j["logLikelihood"] == nil)
            }
        }
    }

    @Test func tableStatesUnitsAndPeriods() throws {
        let text = try output(["vol", TestData.data("btcusd-monthly.csv"), "--model", "ewma", "--lambda", "0.97"])
        #expect(text.contains("12 periods per year (monthly bars: 12 per year)"))
        #expect(text.contains("per period") && text.contains("annualised"))
        let over = try output(["vol", TestData.data("btcusd-monthly.csv"), "--periods-per-year", "365"])
        #expect(over.contains("set by --periods-per-year"))
    }

    @Test func impliedVolatilityOneOptionAndChain() throws {
        let j = try json([
            "iv", "--price", "10", "--forward", "100", "--strike", "105", "--expiry", "0.5", "--format", "json",
        ])
        let iv = try #require(j["impliedVolatility"] as? Double)
        #expect(abs((j["repricedPrice"] as! Double) - 10) < 1e-12)
        #expect(iv > 0.2 && iv < 0.5)
        let c = try json([
            "iv", "--chain", TestData.data("vix-whitepaper-chain.csv"), "--rate", "0.0038", "--format", "json",
        ])
        let ref = try TestData.json("vix-whitepaper.json")["index"] as! Double
        #expect(abs((c["index"] as! Double) - ref) < 1e-9)
    }

    @Test func correlationOfAlignedFiles() throws {
        let j = try json([
            "corr", TestData.data("sp500-daily.csv"), TestData.data("sp500-daily.csv"), "--format", "json",
        ])
        let corr = try #require(j["correlation"] as? [[Double]])
        #expect(abs(corr[0][1] - 1) < 1e-12)
        #expect(j["observations"] as? Int == 5030)
    }

    // MARK: bad input: the message, not just the failure

    @Test func badInputMessages() throws {
        let cases: [([String], String)] = [
            (["vol", TestData.data("vix-daily.csv"), "--column", "vix"], "vix-daily.csv:13: field 'vix' is empty"),
            (["vol", "/no/such/file.csv"], "/no/such/file.csv: cannot read: no such file"),
            (
                ["vol", TestData.data("vix-daily.csv")],
                "vix-daily.csv:1: no column 'price' in the header (columns: date, vix)"
            ),
            (
                ["vol", TestData.data("vix-daily.csv"), "--column", "vix", "--skip-bad-rows", "--model", "parkinson"],
                "parkinson needs open, high, low and close columns"
            ),
        ]
        expectErrors(cases)
        let invalid: [([String], String)] = [
            (["vol", "x.csv", "--model", "ewma", "--lambda", "1.5"], "--lambda must be strictly between 0 and 1"),
            (["vol", "x.csv", "--model", "ewma", "--dist", "t"], "--dist applies to garch, gjr and egarch only"),
            (
                ["vol", "x.csv", "--model", "egarch", "--horizon", "2"],
                "egarch has an analytic forecast one step ahead only"
            ),
            (
                ["vol", "x.csv", "--model", "garch", "--window", "5"],
                "--window applies to close-to-close and range estimators only"
            ),
            (["vol", "x.csv", "--periods-per-year=-3"], "--periods-per-year must be a positive number"),
            (["iv", "--price", "1"], "give --price, --strike, --expiry"),
        ]
        for (args, message) in invalid {
            do {
                _ = try VolScaleCommand.parseAsRoot(args)
                Issue.record("accepted \(args)")
            } catch {
                #expect(
                    VolScaleCommand.message(for: error).contains(message), "got: \(VolScaleCommand.message(for: error))"
                )
            }
        }
    }

    /// Devices, sparse files and directories are refused at once, before they are read whole
    /// (issue 28: /dev/zero used 8.4 GB, a 2 GB sparse venue file was read and accepted).
    @Test func binaryFilesDevicesAndDirectoriesAreRefusedAtOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("volscale-bounds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let sparse = dir.appendingPathComponent("sparse.csv").path
        #expect(FileManager.default.createFile(atPath: sparse, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: sparse))
        try handle.truncate(atOffset: 2 << 30)  // 2 GiB of holes: no disk used
        try handle.close()
        let accounts = TestData.root.appendingPathComponent("examples/accounts.json").path
        let cases: [([String], String)] = [
            (["vol", "/dev/zero"], "/dev/zero: unrecognised format: a NUL byte at offset 0"),
            (["vol", sparse], "sparse.csv: unrecognised format: a NUL byte at offset 0"),
            (["vol", dir.path], "cannot read: is a directory"),
            (
                ["margin", "--config", sparse, "--accounts", accounts],
                "sparse.csv: cannot read: 2147483648 bytes, more than the 16 MiB"
            ),
            (["margin", "--config", dir.path, "--accounts", accounts], "cannot read: is a directory"),
            (
                ["margin", "--config", "/dev/zero", "--accounts", accounts],
                "/dev/zero: cannot read: not a regular file"
            ),
        ]
        expectErrors(cases)
    }

    @Test func arbitragePriceIsAnErrorNotNaN() throws {
        do {
            _ = try output(["iv", "--price", "3", "--forward", "105", "--strike", "100", "--expiry", "1"])
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("below the discounted intrinsic value 5"))
        }
    }

    @Test func skippedRowsAreReportedInJSON() throws {
        let j = try json([
            "vol", TestData.data("vix-daily.csv"), "--column", "vix", "--skip-bad-rows", "--format", "json",
        ])
        let skipped = try #require(j["skippedRows"] as? [String: Int])
        #expect(skipped["empty field 'vix'"] == 46)
    }

    @Test func helpExplainsUnits() {
        let help = VolScaleCommand.helpMessage(for: VolScaleCommand.Vol.self)
        #expect(help.contains("per-period standard deviation"))
        #expect(help.contains("annualised"))
        #expect(VolScaleCommand.helpMessage(for: VolScaleCommand.ImpliedVol.self).contains("continuously compounded"))
        #expect(VolScaleCommand.helpMessage(for: VolScaleCommand.Corr.self).contains("per period"))
    }

    /// `--stream` (constant memory, block by block) prints what the batch run prints, for each
    /// one-pass model, as JSON and as CSV, on a plain file and on the zip archive of klines.
    @Test(arguments: ["ewma", "close-to-close", "parkinson", "yang-zhang"])
    func streamingEqualsBatch(_ model: String) throws {
        for file in [
            TestData.data("sp500-daily.csv"),
            TestData.root.appendingPathComponent("Tests/Fixtures/archives/BTCUSD-1d-klines.zip").path,
        ] {
            for format in ["json", "csv", "table"] {
                let args = ["vol", file, "--model", model, "--format", format]
                let batch = try output(args)
                guard let c = try VolScaleCommand.parseAsRoot(args + ["--stream"]) as? VolScaleCommand.Vol else {
                    Issue.record("not vol")
                    return
                }
                var streamed = ""
                try c.renderStreaming { streamed += $0 }
                #expect(streamed == batch, "\(model) \(format) \(file)")
                #expect(batch.count > 100)
            }
        }
    }

    @Test func streamRefusesWholeSampleModels() {
        #expect(throws: (any Error).self) {
            _ = try VolScaleCommand.parseAsRoot([
                "vol", TestData.data("sp500-daily.csv"), "--model", "garch", "--stream",
            ])
        }
    }

    /// A write that fails (a full disk, here /dev/full) is an error: exit 1 with the reason,
    /// not exit 0 with a truncated file.
    @Test func failedWriteToStandardOutputIsAnError() throws {
        let fd = open("/dev/full", O_WRONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var out = StandardOutput(fd: fd)
        try out.append("date,return,volatility\n")
        #expect(throws: CommandFailure.self) { try out.flush() }
        let binary = try Self.debugExecutable("volscale")
        for extra in [[], ["--stream"]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["vol", TestData.data("sp500-daily.csv"), "--format", "csv"] + extra
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
            let err = Pipe()
            p.standardError = err
            try p.run()
            p.waitUntilExit()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus == 1, "\(extra)")
            #expect(message.contains("cannot write to standard output: No space left on device"), "\(message)")
        }
    }

    /// A batch command that parses on its own runs without the whole command tree being parsed
    /// (`VolScaleCommand.runDirectly`); anything else (help, a usage error) falls back to the
    /// full parser, so messages still name `volscale vol`, and nothing runs twice.
    @Test func batchCommandsRunDirectlyAndFallBackForMessages() throws {
        let binary = try Self.debugExecutable("volscale")
        let file = TestData.data("sp500-daily.csv")
        let ok = try Self.runProcess(binary, ["vol", file, "--model", "ewma", "--format", "json"])
        #expect(ok.status == 0 && ok.err.isEmpty, "\(ok.err)")
        let direct = try VolScaleCommand.Vol.parse([file, "--model", "ewma", "--format", "json"]).render()
        #expect(ok.out == direct + "\n" || ok.out == direct, "the direct path writes what render() gives, once")
        let usage = try Self.runProcess(binary, ["vol", file, "--model", "nope"])
        #expect(usage.status == 64 && usage.err.contains("Usage: volscale vol"), "\(usage.err)")
        let help = try Self.runProcess(binary, ["vol", "--help"])
        #expect(help.status == 0 && help.out.contains("USAGE: volscale vol"), "\(help.out)")
        let missing = try Self.runProcess(binary, ["vol", "/nonexistent/prices.csv"])
        #expect(missing.status == 1 && missing.err.contains("/nonexistent/prices.csv"), "\(missing.err)")
        #expect(missing.err.components(separatedBy: "Error:").count == 2, "reported once: \(missing.err)")
        #expect(!VolScaleCommand.runDirectly(["vol", "--help"]))
        #expect(!VolScaleCommand.runDirectly(["serve", "--port", "1"]))
        #expect(!VolScaleCommand.runDirectly(["no-such-command"]))
        #expect(!VolScaleCommand.runDirectly([]))
    }

    static func debugExecutable(_ name: String) throws -> String {
        let candidates = [
            ".build/debug", ".build/x86_64-unknown-linux-gnu/debug", ".build/aarch64-unknown-linux-gnu/debug",
        ]
        return try #require(
            candidates.map { TestData.root.appendingPathComponent($0 + "/" + name).path }.first {
                FileManager.default.isExecutableFile(atPath: $0)
            }, "build the \(name) executable first (swift build)")
    }

    static func runProcess(_ binary: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, o, e)
    }

    /// One executable: `volscale serve` (and the other service commands) run in the same
    /// process as the batch commands; the top-level help lists both.
    @Test func serviceCommandsRunInTheOneExecutable() throws {
        let candidates = [
            ".build/debug", ".build/x86_64-unknown-linux-gnu/debug", ".build/aarch64-unknown-linux-gnu/debug",
        ]
        let directory = try #require(
            candidates.map { TestData.root.appendingPathComponent($0).path }.first {
                FileManager.default.isExecutableFile(atPath: $0 + "/volscale")
            }, "build the executable first (swift build)")
        let help = try Self.runProcess(directory + "/volscale", ["serve", "--help"])
        #expect(help.status == 0)
        #expect(help.out.contains("--lease-seconds") && help.out.contains("--rate-limit"), "\(help.out)")
        let top = try Self.runProcess(directory + "/volscale", ["--help"])
        for name in ["serve", "ingest", "replay", "params", "audit", "vol", "backtest"] {
            #expect(top.out.contains("  \(name) "), "\(name)")
        }
        // a service command's error is its own, with the usual status
        let bad = try Self.runProcess(directory + "/volscale", ["params", "--store", "/nonexistent/x.sqlite"])
        #expect(bad.status == 1)
        #expect(bad.err.contains("/nonexistent/x.sqlite"), "\(bad.err)")
    }
}
