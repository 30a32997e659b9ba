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
                Contagion: the impact on the assets sold spreads to the others through a correlation, as the conditional
                mean of their log moves (one asset sold: rho sigma_b / sigma_a times its move):
                  --contagion stressed   the --correlation rho between every pair (default)
                  --contagion ewma       the EWMA correlation (lambda 0.94) of the book's history files
                  --contagion none       no spill-over
                Between rounds each asset's daily volatility is re-estimated from its move by one EWMA step with
                --lambda (1 keeps it fixed), so haircuts, rates and the next impacts follow; option implied
                volatilities scale with it. A round's shortfall is paid by the --insurance-fund while it lasts, the
                rest by auto-deleveraging: profit (equity gained since before the shock) taken from the surviving
                accounts, highest gain over starting equity first, as a settlement-currency debit later rounds see.
                """
        )

        @OptionGroup var inputs: BookInputs
        @Option(help: "Moves per asset, e.g. \"BTC=-30%,ETH=-0.35\".") var shock: String?
        @Option(help: "Historical date whose returns are applied (assets with history).") var shockDate: String?
        @Option(
            name: .customLong("correlation"),
            help:
                "Stressed correlation, in [-1, 1]: moves the assets not named in --shock, and carries the cascade with --contagion stressed."
        )
        var stressedCorrelation: Double = 0.9
        @Option(help: "How the impact spreads: stressed (--correlation), ewma (history files) or none.") var contagion:
            Contagion = .stressed
        @Option(help: "Insurance fund at the start, settlement currency.") var insuranceFund: Double = 0
        @Option(help: "EWMA decay for re-estimating volatility between rounds, in (0, 1]; 1 keeps it fixed.")
        var lambda: Double = EWMA.riskMetricsLambda
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table

        public enum Contagion: String, ExpressibleByArgument, CaseIterable, Sendable { case stressed, ewma, none }

        public init() {}

        public func validate() throws {
            if (shock == nil) == (shockDate == nil) { throw ValidationError("give --shock or --shock-date") }
            if !(stressedCorrelation >= -1 && stressedCorrelation <= 1) {
                throw ValidationError("--correlation must be in [-1, 1]")
            }
            if format == .csv { throw ValidationError("stress prints table or json") }
            if !(insuranceFund >= 0 && insuranceFund.isFinite) {
                throw ValidationError("--insurance-fund must be a non-negative amount")
            }
            if !(lambda > 0 && lambda <= 1) { throw ValidationError("--lambda must be in (0, 1], got \(lambda)") }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        static func sorted(_ d: [String: Double]) -> JSONValue {
            .object(d.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })
        }

        public func render() throws -> String {
            let (book, accounts, fileErrors) = try inputs.load()
            let s: StressShock
            if let shock {
                var given: [String: Double] = [:]
                for part in shock.split(separator: ",") {
                    let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2, book.assets[kv[0]] != nil else {
                        throw CommandFailure("--shock: '\(part)' is not ASSET=MOVE with a known asset")
                    }
                    var text = kv[1]
                    var scale = 1.0
                    if text.hasSuffix("%") {
                        text.removeLast()
                        scale = 0.01
                    }
                    guard let v = Double(text), v * scale > -1, v * scale <= 10 else {
                        throw CommandFailure("--shock: '\(kv[1])' is not a move in (-100%, +1000%]")
                    }
                    given[kv[0]] = Foundation.log(1 + v * scale)
                }
                s = StressShock.withCorrelation(given, rho: stressedCorrelation, book: book)
            } else {
                let cfg: BookConfig
                do { cfg = try BookConfig.load(path: inputs.config) } catch { throw CommandFailure(error.description) }
                guard let date = shockDate, let t = Timestamp.parse(date) else {
                    throw CommandFailure("--shock-date: not a date")
                }
                var moves: [String: Double] = [:]
                for (name, series) in cfg.histories {
                    guard let i = series.timestamps.firstIndex(of: t), i > 0 else { continue }
                    moves[name] = Foundation.log(series.close[i] / series.close[i - 1])
                }
                guard !moves.isEmpty else {
                    throw CommandFailure("--shock-date \(date): no asset history has a return on that date")
                }
                s = StressShock(label: "historical returns of \(date)", moves: moves)
            }
            let correlation: StressCorrelation?
            do {
                switch contagion {
                case .none: correlation = nil
                case .stressed:
                    correlation = try StressCorrelation.uniform(stressedCorrelation, assets: book.assets.keys.sorted())
                case .ewma:
                    guard let c = try BookConfig.load(path: inputs.config).ewmaCorrelation() else {
                        throw CommandFailure(
                            "--contagion ewma needs at least two assets with a history file in \(inputs.config)")
                    }
                    correlation = c
                }
            } catch let e as CommandFailure { throw e } catch { throw CommandFailure("\(error)") }
            let cascade: CascadeSettings
            do {
                cascade = try CascadeSettings(correlation: correlation, lambda: lambda, insuranceFund: insuranceFund)
            } catch {
                throw CommandFailure(error.description)
            }
            let report = StressTest.run(
                book: book, accounts: accounts, mode: inputs.mode.mode, shock: s, cascade: cascade)
            let failed = fileErrors + report.failed
            if format == .json {
                return JSONValue.object([
                    ("shock", .string(s.label)),
                    ("moves", .object(s.moves.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
                    ("accounts", .integer(report.accounts)),
                    ("liquidatable", .integer(report.liquidatable)),
                    ("shortfall", .number(report.shortfall)),
                    ("insurancePaid", .number(report.insurancePaid)),
                    ("deleveraged", .number(report.deleveraged)),
                    ("uncovered", .number(report.uncovered)),
                    ("contagion", .string(contagion.rawValue)),
                    ("lambda", .number(lambda)),
                    (
                        "rounds",
                        .array(
                            report.rounds.map { r in
                                .object([
                                    ("round", .integer(r.round)),
                                    ("moves", Self.sorted(r.moves)),
                                    ("prices", Self.sorted(r.prices)),
                                    ("volatility", Self.sorted(r.volatility)),
                                    ("newlyLiquidatable", .array(r.newlyLiquidatable.map { .string($0) })),
                                    ("shortfall", .number(r.shortfall)),
                                    ("insurancePaid", .number(r.insurancePaid)),
                                    ("insuranceFund", .number(r.insuranceFund)),
                                    (
                                        "deleveraged",
                                        .array(
                                            r.deleveraged.map {
                                                .object([
                                                    ("account", .string($0.account)), ("amount", .number($0.amount)),
                                                ])
                                            })
                                    ),
                                    ("uncovered", .number(r.uncovered)),
                                    ("impact", Self.sorted(r.impact)),
                                    ("spillover", Self.sorted(r.spillover)),
                                ])
                            })
                    ),
                    ("failed", .array(failed.map { .string($0.description) })),
                ]).rendered() + "\n"
            }
            var t = TextTable(
                ["round", "liquidated", "shortfall", "fund paid", "deleveraged", "uncovered", "prices (daily vol)"],
                rightAligned: [0, 1, 2, 3, 4, 5])
            for r in report.rounds {
                t.add([
                    "\(r.round)", "\(r.newlyLiquidatable.count)", Fmt.fixed(r.shortfall, 2),
                    Fmt.fixed(r.insurancePaid, 2),
                    Fmt.fixed(r.deleveraged.reduce(0) { $0 + $1.amount }, 2), Fmt.fixed(r.uncovered, 2),
                    r.prices.sorted { $0.key < $1.key }.filter { book.assets[$0.key]?.volatility ?? 0 > 0 }
                        .map { "\($0.key) \(Fmt.sig($0.value, 6)) (\(Fmt.percent(r.volatility[$0.key] ?? 0, 2)))" }
                        .joined(separator: ", "),
                ])
            }
            let ccy = book.settings.settlement
            var out =
                "Stress: \(s.label)\n\(report.accounts) accounts: \(report.liquidatable) liquidatable, shortfall beyond collateral \(Fmt.fixed(report.shortfall, 2)) \(ccy); cascade stopped after \(report.rounds.count) round\(report.rounds.count == 1 ? "" : "s")\n"
            out +=
                "contagion \(contagion.rawValue)\(contagion == .stressed ? " (correlation \(Fmt.sig(stressedCorrelation, 3)))" : ""), volatility re-estimated with lambda \(Fmt.sig(lambda, 3)); "
            out +=
                "insurance fund paid \(Fmt.fixed(report.insurancePaid, 2)) of \(Fmt.fixed(insuranceFund, 2)), deleveraged \(Fmt.fixed(report.deleveraged, 2)), uncovered \(Fmt.fixed(report.uncovered, 2)) \(ccy)\n\n"
            out += t.render() + "\n"
            if !failed.isEmpty {
                out += "\nFailed:\n" + failed.map { "  \($0.description)" }.joined(separator: "\n") + "\n"
            }
            return out
        }
    }
}
