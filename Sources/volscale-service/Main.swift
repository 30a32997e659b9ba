import VolScaleServiceCLI

@main
struct Main {
    static func main() async {
        await VolScaleServiceCommand.main()
    }
}
