import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The commands that run or read the live service (`ingest`, `replay`, `params`, `audit`,
/// `serve`) are built into a second executable, `volscale-service`, installed next to
/// `volscale`; `volscale` depends on that target, so building `volscale` alone builds both
/// (SwiftPM then links the service's code into `volscale` too; Package.swift and
/// `VolScaleCommand.runDirectly` say how the batch commands keep their start-up time).
/// `volscale serve ...` replaces its process with
/// `volscale-service serve ...` (exec), so signals, exit status and standard streams are the
/// service's own.
public enum ServiceCommands {
    /// Each service command's name and one-line description (shown by both executables).
    public static let abstracts: [(name: String, abstract: String)] = [
        ("ingest", "Feed quotes into the live engine and its store (files or standard input)."),
        ("replay", "Drive the engine from a price history at a chosen speed, committing to the store."),
        ("params", "What the engine published, and when."),
        ("audit", "Audit-trail tools."),
        ("serve", "Run the risk service: HTTP API, live stream and dashboard."),
    ]

    public static func abstract(_ name: String) -> String {
        abstracts.first { $0.name == name }?.abstract ?? ""
    }

    /// The executable that runs the service commands.
    public static let executable = "volscale-service"

    /// True when `arguments` (without the program name) name a service command.
    public static func isServiceCommand(_ arguments: [String]) -> Bool {
        guard let first = arguments.first else { return false }
        return abstracts.contains { $0.name == first }
    }

    /// Replaces this process with `volscale-service` run on `arguments`: the one next to this
    /// executable, else the first on PATH. Returns the reason only when that fails.
    public static func exec(_ arguments: [String]) -> String {
        var cArgs: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) }
        cArgs.append(nil)
        defer { for p in cArgs { free(p) } }
        if let directory = Self.ownDirectory() { execv(directory + "/" + executable, cArgs) }  // returns only on failure
        execvp(executable, cArgs)
        let reason = String(cString: strerror(errno))
        return "volscale \(arguments.first ?? ""): cannot run \(executable) (\(reason)); it is built with "
            + "`swift build --product \(executable)` and installed next to volscale"
    }

    private static func ownDirectory() -> String? {
        #if os(Linux)
        guard let resolved = realpath("/proc/self/exe", nil) else { return nil }
        defer { free(resolved) }
        let path = String(cString: resolved)
        #else
        let path = CommandLine.arguments.first ?? ""
        #endif
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }
}

/// A name for `volscale --help`: the command runs in `volscale-service`.
public protocol ServiceCommandName { static var name: String { get } }

extension VolScaleCommand {
    /// `volscale ingest|replay|params|audit|serve`: listed in the help, run by `volscale-service`
    /// (`Main` hands the arguments over before parsing; this `run` does the same if reached).
    public struct Forwarded<Name: ServiceCommandName>: ParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: Name.name, abstract: ServiceCommands.abstract(Name.name),
                                 discussion: "Run by \(ServiceCommands.executable); `volscale \(Name.name) --help` shows its options.")
        }
        @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
        public init() {}
        public func run() throws {
            throw CommandFailure(ServiceCommands.exec([Name.name] + arguments))
        }
    }
    public enum IngestName: ServiceCommandName { public static let name = "ingest" }
    public enum ReplayName: ServiceCommandName { public static let name = "replay" }
    public enum ParamsName: ServiceCommandName { public static let name = "params" }
    public enum AuditName: ServiceCommandName { public static let name = "audit" }
    public enum ServeName: ServiceCommandName { public static let name = "serve" }
}
