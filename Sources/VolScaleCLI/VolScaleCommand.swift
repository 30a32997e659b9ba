import ArgumentParser
import VolScaleCore
import VolScaleData

/// The `volscale` command line.
public struct VolScaleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "volscale",
        abstract: "Volatility models, implied volatility and correlations for volatility-scaled margins.",
        discussion: """
            Conventions everywhere: returns are log returns ln(P_t/P_{t-1}) in decimal units \
            (0.01 = 1%); a volatility is a per-period standard deviation in decimal units unless \
            labelled annualised (sigma * sqrt(periods per year)); sigma_t is the forecast for \
            return t made with information up to t-1.
            """,
        version: "0.1.0",
        subcommands: batchCommands
    )

    /// The batch commands (files in, numbers out); the executable adds the service's.
    public static let batchCommands: [any ParsableCommand.Type] = [
        Vol.self, ImpliedVol.self, Surface.self, OptionsCommand.self, Corr.self, Liquidity.self, RegimesCommand.self,
        Haircuts.self, BacktestCommand.self, MarginRates.self, MarginCommand.self, StressCommand.self,
    ]

    public init() {}

    /// Runs `arguments` (without the program name) when they name a batch subcommand and parse
    /// as one, parsing that subcommand on its own rather than the whole command tree: the full
    /// parser reflects every subcommand's options, and each first cast to a protocol makes the
    /// Swift runtime scan every conformance in the binary (about 1 ms of a 10 ms GARCH run,
    /// measured with `scripts/bench-read.sh`). Errors from running it are reported as `main()`
    /// reports them.
    ///
    /// Returns false, having run nothing, when they don't parse that way (help, version, a
    /// usage error, a service command): the caller then runs `main()`, whose messages name the
    /// whole command path (`volscale vol ...`).
    public static func runDirectly(_ arguments: [String]) -> Bool {
        guard let name = arguments.first,
            let subcommand = batchCommands.first(where: { $0._commandName == name }),
            var command = try? subcommand.parseAsRoot(Array(arguments.dropFirst())),
            // (a help request parses as ArgumentParser's own help command, which would name
            // the subcommand alone)
            ObjectIdentifier(type(of: command)) == ObjectIdentifier(subcommand)
        else { return false }
        do {
            try command.run()
        } catch {
            exit(withError: error)
        }
        return true
    }
}

/// A batch command whose whole output is one string (`run` writes it to standard output):
/// what tests and embedding code call instead of `run`.
public protocol RenderingCommand: ParsableCommand {
    func render() throws -> String
}

extension VolScaleCommand.Vol: RenderingCommand {}
extension VolScaleCommand.ImpliedVol: RenderingCommand {}
extension VolScaleCommand.Corr: RenderingCommand {}
extension VolScaleCommand.Liquidity: RenderingCommand {}
extension VolScaleCommand.RegimesCommand: RenderingCommand {}
extension VolScaleCommand.Haircuts: RenderingCommand {}
extension VolScaleCommand.BacktestCommand: RenderingCommand {}
extension VolScaleCommand.MarginRates: RenderingCommand {}
extension VolScaleCommand.MarginCommand: RenderingCommand {}
extension VolScaleCommand.StressCommand: RenderingCommand {}

/// Output formats shared by every command.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, csv
}

/// Options for reading price files, shared by the commands that take them.
public struct DataOptions: ParsableArguments {
    @Option(name: .customLong("column"), help: "Price column to use instead of 'close' (CSV with a header).")
    public var column: String?

    @Option(help: "Input format: auto, csv (with header), kline (headerless exchange klines), jsonl (ticks).")
    public var inputFormat: PriceFileReader.Format = .auto

    @Flag(help: "Skip bad rows instead of stopping at the first; the counts by reason are reported.")
    public var skipBadRows = false

    @Option(help: "Periods per year for annualising (default: inferred from the timestamps, and reported).")
    public var periodsPerYear: Double?

    public init() {}

    func validatePeriods() throws {
        if let p = periodsPerYear, !(p > 0 && p.isFinite) {
            throw ValidationError("--periods-per-year must be a positive number, got \(p)")
        }
    }

    var reader: PriceFileReader { PriceFileReader(format: inputFormat, column: column, skipBadRows: skipBadRows) }

    /// Reads a file, turning data errors into a clean command failure.
    func load(_ path: String) throws -> PriceFileReader.Output {
        do { return try reader.read(path: path) } catch { throw CommandFailure(error.description) }
    }

    /// Reads a file (with its volumes when asked), reports skipped rows on standard error,
    /// and returns the series.
    func series(_ path: String, volume: Bool = false) throws -> PriceSeries {
        var r = reader
        r.volume = volume
        let out: PriceFileReader.Output
        do { out = try r.read(path: path) } catch { throw CommandFailure(error.description) }
        for line in out.skipped.lines { printError("\(path): \(line)") }
        return out.series
    }

    func sampling(for series: PriceSeries) -> Sampling { sampling(series.sampling) }

    /// The inferred sampling, or --periods-per-year when given.
    func sampling(_ inferred: Sampling) -> Sampling {
        var s = inferred
        if let p = periodsPerYear {
            s.periodsPerYear = p
            s.reason = "set by --periods-per-year (inferred: \(s.reason))"
        }
        return s
    }
}

extension PriceFileReader.Format: ExpressibleByArgument {}

/// A failure with a message for the user; argument-parser prints it to standard error
/// and exits with status 1.
package struct CommandFailure: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
