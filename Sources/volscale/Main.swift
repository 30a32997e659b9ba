import VolScaleCLI

@main
struct Main {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if ServiceCommands.isServiceCommand(arguments) {
            // returns only when volscale-service cannot be run
            VolScaleCommand.exit(withError: CommandFailure(ServiceCommands.exec(arguments)))
        }
        await VolScaleCommand.main()
    }
}
