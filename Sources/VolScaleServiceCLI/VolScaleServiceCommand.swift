import ArgumentParser
import VolScaleCLI

/// The `volscale-service` executable: the commands that run or read the live service.
/// `volscale serve ...` (and `ingest`, `replay`, `params`, `audit`) hand over to it; see
/// `ServiceCommands` for why they are a separate executable.
public struct VolScaleServiceCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "volscale",
        abstract: "The live service: engine, store, HTTP API (the batch commands are in `volscale`).",
        version: VolScaleCommand.configuration.version,
        subcommands: [Ingest.self, Replay.self, Params.self, Audit.self, Serve.self]
    )

    public init() {}
}
