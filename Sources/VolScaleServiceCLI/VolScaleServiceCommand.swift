import ArgumentParser
import VolScaleCLI

/// The commands that run or read the live service: `volscale serve`, `ingest`, `replay`,
/// `params` and `audit` (the `volscale` executable adds them to the batch commands).
public enum VolScaleServiceCommand {
    public static let commands: [any ParsableCommand.Type] = [
        Ingest.self, Replay.self, Params.self, Audit.self, Serve.self,
    ]
}
