import ArgumentParser
import Foundation
import VolScaleConfig
import VolScaleCore
import VolScaleData
import VolScaleMargin

extension VolScaleCommand {
    /// `volscale stress --config book.toml --accounts accounts.json --shock ...`
    public struct StressCommand: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "stress",
            abstract: "Shock every account, count liquidations and shortfall, and run the liquidation cascade.",
            discussion: """
            --shock "BTC=-30%,ETH=-35%": price moves per asset (percent or decimal simple returns); assets not named
            move with --correlation rho: rho * sigma_b * (average move of the named assets in their own sigmas).
            --shock-date YYYY-MM-DD: every asset with a history file moves by its log return on that date.
            Round 1 evaluates all accounts at the shocked prices; liquidatable accounts are closed, their sales move
            each price by kappa sigma sqrt(sold value / ADV) (square-root impact), and the next round is evaluated,
            until a round liquidates nobody. Shortfall = sum of max(0, -equity) of liquidated accounts.
            """
        )

        @OptionGroup var inputs: BookInputs
        @Option(help: "Moves per asset, e.g. \"BTC=-30%,ETH=-0.35\".") var shock: String?
        @Option(help: "Historical date whose returns are applied (assets with history).") var shockDate: String?
        @Option(help: "Stressed correlation for assets not named in --shock, in [-1, 1].") var correlation: Double = 0.9
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table

        public init() {}

        public func validate() throws {
            if (shock == nil) == (shockDate == nil) { throw ValidationError("give --shock or --shock-date") }
            if !(correlation >= -1 && correlation <= 1) { throw ValidationError("--correlation must be in [-1, 1]") }
            if format == .csv { throw ValidationError("stress prints table or json") }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            let (book, accounts, fileErrors) = try inputs.load()
            let s: StressShock
            if let shock {
                var given: [String: Double] = [:]
                for part in shock.split(separator: ",") {
                    let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2, book.assets[kv[0]] != nil else { throw CommandFailure("--shock: '\(part)' is not ASSET=MOVE with a known asset") }
                    var text = kv[1]
                    var scale = 1.0
                    if text.hasSuffix("%") { text.removeLast(); scale = 0.01 }
                    guard let v = Double(text), v * scale > -1, v * scale <= 10 else {
                        throw CommandFailure("--shock: '\(kv[1])' is not a move in (-100%, +1000%]")
                    }
                    given[kv[0]] = Foundation.log(1 + v * scale)
                }
                s = StressShock.withCorrelation(given, rho: correlation, book: book)
            } else {
                let cfg: BookConfig
                do { cfg = try BookConfig.load(path: inputs.config) } catch { throw CommandFailure(error.description) }
                guard let date = shockDate, let t = Timestamp.parse(date) else { throw CommandFailure("--shock-date: not a date") }
                var moves: [String: Double] = [:]
                for (name, series) in cfg.histories {
                    guard let i = series.timestamps.firstIndex(of: t), i > 0 else { continue }
                    moves[name] = Foundation.log(series.close[i] / series.close[i - 1])
                }
                guard !moves.isEmpty else { throw CommandFailure("--shock-date \(date): no asset history has a return on that date") }
                s = StressShock(label: "historical returns of \(date)", moves: moves)
            }
            let report = StressTest.run(book: book, accounts: accounts, mode: inputs.mode.mode, shock: s)
            let failed = fileErrors + report.failed
            if format == .json {
                return JSONValue.object([
                    ("shock", .string(s.label)),
                    ("moves", .object(s.moves.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                    ("accounts", .integer(report.accounts)),
                    ("liquidatable", .integer(report.liquidatable)),
                    ("shortfall", .number(report.shortfall)),
                    ("rounds", .array(report.rounds.map { r in .object([
                        ("round", .integer(r.round)),
                        ("prices", .object(r.prices.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                        ("newlyLiquidatable", .array(r.newlyLiquidatable.map { .string($0) })),
                        ("shortfall", .number(r.shortfall)),
                        ("impact", .object(r.impact.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                    ]) })),
                    ("failed", .array(failed.map { .string($0.description) })),
                ]).rendered() + "\n"
            }
            var t = TextTable(["round", "liquidated", "shortfall", "prices after impact"], rightAligned: [0, 1, 2])
            for r in report.rounds {
                let next = r.prices.merging(r.impact.mapValues { $0 }) { p, m in p * Foundation.exp(m) }
                t.add(["\(r.round)", "\(r.newlyLiquidatable.count)", Fmt.fixed(r.shortfall, 2),
                       next.sorted { $0.key < $1.key }.filter { book.assets[$0.key]?.volatility ?? 0 > 0 }.map { "\($0.key) \(Fmt.sig($0.value, 6))" }.joined(separator: ", ")])
            }
            var out = "Stress: \(s.label)\n\(report.accounts) accounts: \(report.liquidatable) liquidatable, shortfall beyond collateral \(Fmt.fixed(report.shortfall, 2)) \(book.settings.settlement); cascade stopped after \(report.rounds.count) round\(report.rounds.count == 1 ? "" : "s")\n\n"
            out += t.render() + "\n"
            if !failed.isEmpty { out += "\nFailed:\n" + failed.map { "  \($0.description)" }.joined(separator: "\n") + "\n" }
            return out
        }
    }
}
