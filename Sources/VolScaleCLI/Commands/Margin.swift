import ArgumentParser
import Foundation
import VolScaleConfig
import VolScaleCore
import VolScaleData
import VolScaleMargin

/// Shared loading for `margin` and `stress`.
struct BookInputs: ParsableArguments {
    @Option(help: "Book TOML: settings, [[asset]] risk parameters, [[instrument]] catalogue (see examples/book.toml).")
    var config: String
    @Option(help: "Accounts JSON (see examples/accounts.json).") var accounts: String
    @Option(help: "CSV with columns asset,price[,volatility] overriding the book's prices (volatility daily, decimal).")
    var prices: String?
    @Option(help: "standard (per-position, summed) or portfolio (joint scenarios).") var mode: MarginModeArgument =
        .standard

    func load() throws -> (book: MarginBook, accounts: [Account], errors: [AccountError]) {
        var cfg: BookConfig
        let file: (accounts: [Account], errors: [AccountError])
        do {
            cfg = try BookConfig.load(path: config)
            file = try AccountsFile.read(path: accounts)
        } catch { throw CommandFailure(error.description) }
        if let prices {
            do { try BookPrices.apply(path: prices, to: &cfg.book) } catch { throw CommandFailure(error.description) }
        }
        return (cfg.book, file.accounts, file.errors)
    }
}

enum MarginModeArgument: String, ExpressibleByArgument, CaseIterable {
    case standard, portfolio
    var mode: MarginMode { self == .standard ? .standard : .portfolio }
}

extension VolScaleCommand {
    /// `volscale margin --config book.toml --accounts accounts.json`
    public struct MarginCommand: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "margin",
            abstract: "Equity, initial and maintenance margin and status of each account.",
            discussion: """
                Amounts in the book's settlement currency. Equity = collateral at (1 - haircut) (borrowed balances at
                (1 + haircut)) + unrealised P&L of futures + value of options. Haircut = tail loss over the liquidation
                horizon + liquidity add-on spread/2 + kappa sigma sqrt(holding/ADV), within floor and cap.
                standard: per-position requirements summed (rate x notional, raised by the size rule; options: worst
                loss on the price x volatility grid). portfolio: the worse of the joint grid loss and the ES over
                joint historical scenarios, plus liquidity add-ons, never below (1 - max_offset) x the stand-alone sum.
                Status: healthy, margin call (equity < initial), liquidatable (equity < maintenance). Margin ratio =
                maintenance / equity. A bad account is reported with its id and field; the others are still evaluated.
                JSON: {"accounts": [{accountId, equity, initialMargin, maintenanceMargin, freeCollateral, marginRatio,
                status, liquidationPrice, explanation?}], "failed": [{accountId, error}]}.
                """
        )

        @OptionGroup var inputs: BookInputs
        @Flag(help: "Include each account's explanation tree.") var explain = false
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table

        public init() {}

        public func validate() throws {
            if format == .csv { throw ValidationError("margin prints table or json") }
        }

        public func run() throws {
            let (text, failures) = try renderWithFailures()
            try StandardOutput.write(text)
            if failures > 0 { throw ExitCode(2) }
        }

        public func render() throws -> String { try renderWithFailures().text }

        func renderWithFailures() throws -> (text: String, failures: Int) {
            let (book, accounts, fileErrors) = try inputs.load()
            let calc = MarginCalculator(book: book)
            let results = calc.evaluateAll(accounts, mode: inputs.mode.mode)
            var ok: [AccountResult] = []
            var failed = fileErrors
            for r in results {
                switch r {
                case .success(let a): ok.append(a)
                case .failure(let e): failed.append(e)
                }
            }
            let settlement = book.settings.settlement
            if format == .json {
                let obj = JSONValue.object([
                    ("mode", .string(inputs.mode.rawValue)),
                    ("settlement", .string(settlement)),
                    ("accounts", .array(ok.map { AccountJSON.result($0, explain: explain) })),
                    (
                        "failed",
                        .array(
                            failed.map {
                                .object([
                                    ("accountId", .string($0.accountId)), ("field", .string($0.field)),
                                    ("error", .string($0.description)),
                                ])
                            })
                    ),
                ])
                return (obj.rendered() + "\n", failed.count)
            }
            var t = TextTable(
                ["account", "equity", "initial", "maintenance", "free", "ratio", "status", "liq. price"],
                rightAligned: [1, 2, 3, 4, 5, 7])
            for r in ok {
                t.add([
                    r.accountId, Fmt.fixed(r.equity, 2), Fmt.fixed(r.initialMargin, 2),
                    Fmt.fixed(r.maintenanceMargin, 2),
                    Fmt.fixed(r.freeCollateral, 2), r.marginRatio.isFinite ? Fmt.fixed(r.marginRatio, 3) : "inf",
                    r.status.rawValue,
                    r.liquidationPrice.map { Fmt.sig($0, 7) } ?? "",
                ])
            }
            var out =
                "\(inputs.mode.rawValue.capitalized) margin, amounts in \(settlement); \(ok.count) accounts evaluated, \(failed.count) failed\n\n"
                + t.render() + "\n"
            if explain {
                for r in ok { out += "\n" + AccountJSON.tree(r.explanation) }
            }
            if !failed.isEmpty {
                out += "\nFailed:\n" + failed.map { "  \($0.description)" }.joined(separator: "\n") + "\n"
            }
            return (out, failed.count)
        }
    }
}

enum AccountJSON {
    static func result(_ r: AccountResult, explain: Bool) -> JSONValue {
        var o: [(String, JSONValue)] = [
            ("accountId", .string(r.accountId)), ("equity", .number(r.equity)),
            ("initialMargin", .number(r.initialMargin)),
            ("maintenanceMargin", .number(r.maintenanceMargin)), ("freeCollateral", .number(r.freeCollateral)),
            ("marginRatio", .num(r.marginRatio.isFinite ? r.marginRatio : nil)), ("status", .string(r.status.rawValue)),
            ("liquidationPrice", .num(r.liquidationPrice)),
        ]
        if explain { o.append(("explanation", node(r.explanation))) }
        return .object(o)
    }

    static func node(_ e: Explanation) -> JSONValue {
        var o: [(String, JSONValue)] = [("label", .string(e.label))]
        if let v = e.value { o.append(("value", .number(v))) }
        if !e.detail.isEmpty { o.append(("detail", .string(e.detail))) }
        if !e.children.isEmpty { o.append(("children", .array(e.children.map(node)))) }
        return .object(o)
    }

    static func tree(_ e: Explanation, indent: String = "") -> String {
        var line = indent + e.label
        if let v = e.value { line += ": " + Fmt.fixed(v, 2) }
        if !e.detail.isEmpty { line += "  (" + e.detail + ")" }
        return ([line] + e.children.map { tree($0, indent: indent + "  ") }).joined(separator: "\n")
            + (indent.isEmpty ? "\n" : "")
    }
}
