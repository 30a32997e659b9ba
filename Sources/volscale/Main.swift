import VolScaleCLI

@main
struct Main {
    static func main() async {
        await VolScaleCommand.main()
    }
}
