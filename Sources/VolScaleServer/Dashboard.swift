import Foundation

/// The dashboard: one page and its script, package resources in Resources/dashboard (served
/// by the process, no CDN; charts drawn as SVG, updated live from the event stream). Read
/// once, at the first request.
enum Dashboard {
    /// The resource folder: SwiftPM copies it into `VolScale_VolScaleServer.resources` next to
    /// the executable (and the test bundle). Looked up by hand rather than through
    /// `Bundle.module`, which stops the process when the folder is missing; then the source
    /// tree's copy (a development checkout) is used, or the routes answer 503 naming the folder.
    static let folder: URL? = {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(exe.appendingPathComponent("VolScale_VolScaleServer.resources/dashboard"))
        }
        for b in Bundle.allBundles { candidates.append(b.bundleURL.deletingLastPathComponent().appendingPathComponent("VolScale_VolScaleServer.resources/dashboard")) }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/dashboard"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }
    }()

    static func file(_ name: String) -> String? {
        guard let folder, let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static let html = file("index.html")
    static let script = file("dashboard.js")
    static let missing = "dashboard files not found: VolScale_VolScaleServer.resources/dashboard must stay next to the volscale executable"
}
