import Foundation

/// The dashboard: one page and its script, package resources in Resources/dashboard, served
/// by Hummingbird's file middleware (no CDN; charts drawn as SVG, updated live from the
/// event stream).
enum Dashboard {
    /// The package's resource folder (`VolScale_VolScaleServer.resources`), found as below.
    static let resources: URL? = {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(exe.appendingPathComponent("VolScale_VolScaleServer.resources"))
        }
        for b in Bundle.allBundles {
            candidates.append(
                b.bundleURL.deletingLastPathComponent().appendingPathComponent("VolScale_VolScaleServer.resources"))
        }
        return candidates.first {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("openapi.yaml").path)
        }
    }()

    /// A file of the package's resources, or the source tree's copy (a development checkout:
    /// the target's root, one folder above this file's).
    static func resource(_ name: String) -> String? {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(name)
        for url in [resources?.appendingPathComponent(name), source].compactMap({ $0 }) {
            if let data = FileManager.default.contents(atPath: url.path) {
                return String(decoding: data, as: UTF8.self)
            }
        }
        return nil
    }

    /// The resource folder: SwiftPM copies it into `VolScale_VolScaleServer.resources` next to
    /// the executable (and the test bundle). Looked up by hand rather than through
    /// `Bundle.module`, which stops the process when the folder is missing; then the source
    /// tree's copy (a development checkout) is used, or the routes answer 503 naming the folder.
    static let folder: URL? = {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(exe.appendingPathComponent("VolScale_VolScaleServer.resources/dashboard"))
        }
        for b in Bundle.allBundles {
            candidates.append(
                b.bundleURL.deletingLastPathComponent().appendingPathComponent(
                    "VolScale_VolScaleServer.resources/dashboard"))
        }
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Resources/dashboard"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }
    }()

    static let missing =
        "dashboard files not found: VolScale_VolScaleServer.resources/dashboard must stay next to the volscale executable"
}
