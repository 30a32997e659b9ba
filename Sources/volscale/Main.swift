import ArgumentParser
import VolScaleCLI
import VolScaleServiceCLI

/// `volscale`: the batch commands and the service's, in one process.
struct VolScale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volscale",
        abstract: VolScaleCommand.configuration.abstract,
        discussion: VolScaleCommand.configuration.discussion,
        version: VolScaleCommand.configuration.version,
        subcommands: VolScaleCommand.batchCommands + VolScaleServiceCommand.commands
    )
}

@main
struct Main {
    static func main() async {
        // a batch command is parsed on its own (`VolScaleCommand.runDirectly` says why);
        // help, usage errors and the service commands go through the whole tree
        if VolScaleCommand.runDirectly(Array(CommandLine.arguments.dropFirst())) { return }
        await VolScale.main()
    }
}
