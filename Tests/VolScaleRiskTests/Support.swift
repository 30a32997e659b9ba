import Foundation

enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func json(_ name: String) throws -> [String: Any] {
        let d = try Data(contentsOf: root.appendingPathComponent("Tests/Fixtures").appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: d) as! [String: Any]
    }
    static func data(_ name: String) -> String { root.appendingPathComponent("data").appendingPathComponent(name).path }
}

func close(_ a: Double, _ b: Double, rel: Double = 0, abs: Double = 0) -> Bool {
    Swift.abs(a - b) <= rel * max(Swift.abs(a), Swift.abs(b)) + abs
}
