import VolScaleCLI

/// Synchronous: every batch command runs on the main thread (no concurrency runtime to
/// start); the service commands hand over to volscale-service before any parsing, and a batch
/// command that parses on its own runs without the whole command tree being parsed.
@main
struct Main {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if ServiceCommands.isServiceCommand(arguments) {
            // returns only when volscale-service cannot be run
            VolScaleCommand.exit(withError: CommandFailure(ServiceCommands.exec(arguments)))
        }
        if VolScaleCommand.runDirectly(arguments) { return }
        VolScaleCommand.main()
    }
}
