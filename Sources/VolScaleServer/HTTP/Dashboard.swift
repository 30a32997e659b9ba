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

    /// The source tree's copy of the resources (a development checkout): the target's root,
    /// one folder above this file's.
    static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// A file of the package's resources, or the source tree's copy.
    static func resource(_ name: String) -> String? {
        for url in [resources?.appendingPathComponent(name), sourceRoot.appendingPathComponent(name)].compactMap({ $0 })
        {
            if let data = FileManager.default.contents(atPath: url.path) {
                return String(decoding: data, as: UTF8.self)
            }
        }
        return nil
    }

    /// The dashboard's folder: `dashboard` in the resource folder (`resources`; looked up by
    /// hand rather than through `Bundle.module`, which stops the process when the folder is
    /// missing), else the source tree's `Resources/dashboard`; nil, and the routes answer 503
    /// naming the folder, when neither holds the page.
    static let folder: URL? = [
        resources?.appendingPathComponent("dashboard"), sourceRoot.appendingPathComponent("Resources/dashboard"),
    ]
    .compactMap { $0 }
    .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("index.html").path) }

    static let missing =
        "dashboard files not found: VolScale_VolScaleServer.resources/dashboard must stay next to the volscale executable"
}
