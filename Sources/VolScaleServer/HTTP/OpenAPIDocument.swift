import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import VolScaleConfig
import Yams

/// openapi.yaml, the API's single source of truth: the build plugin generates the types and
/// the handler protocol from it, and the service serves the same file, as it is at
/// /openapi.yaml and as JSON at /openapi.json (converted once, at the first request).
enum OpenAPIDocument {
    /// The file: a package resource next to the executable (SwiftPM's
    /// `VolScale_VolScaleServer.resources`), or the source tree's copy.
    static let yaml: String? = Dashboard.resource("openapi.yaml")

    /// The document as JSON, converted once.
    static let document: Result<JSON, HTTPError> = {
        guard let yaml else { return .failure(HTTPError(.serviceUnavailable, message: missing)) }
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                return .failure(HTTPError(.serviceUnavailable, message: "openapi.yaml is empty"))
            }
            return .success(try convert(node))
        } catch {
            return .failure(HTTPError(.serviceUnavailable, message: "openapi.yaml cannot be read: \(error)"))
        }
    }()

    /// The document as JSON text, as it is (no venue's names).
    static let json: Result<String, HTTPError> = document.map(\.text)

    /// Names of the properties the document types as integers (ts, mpor, lookback, ...).
    /// Foundation's JSONDecoder reports a number that is not an integer where one is expected
    /// without its path ("not valid JSON"); `OpenAPIErrorMiddleware` finds the field with it.
    static let integerProperties = properties { $0["type"]?.string == "integer" }
    /// Names of the properties the document lets be null.
    static let nullableProperties = properties { $0["nullable"]?.bool == true }

    /// Names of the properties (of any schema) whose schema satisfies `test`.
    static func properties(where test: (JSON) -> Bool) -> Set<String> {
        guard let yaml, let node = try? Yams.compose(yaml: yaml), let doc = try? convert(node) else { return [] }
        var names = Set<String>()
        func walk(_ v: JSON) {
            if let members = v.members {
                for m in members {
                    if m.key == "properties", let props = m.value.members {
                        for p in props where test(p.value) { names.insert(p.key) }
                    }
                    walk(m.value)
                }
            } else if let a = v.array {
                a.forEach(walk)
            }
        }
        walk(doc)
        return names
    }

    static let missing =
        "openapi.yaml not found: VolScale_VolScaleServer.resources must stay next to the volscale executable"

    /// A YAML node as JSON: scalars by their resolved tag (null, bool, int, float, else string).
    static func convert(_ node: Node) throws -> JSON {
        switch node {
        case .scalar(let s):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(JSON.bool) ?? .string(s.string)
            case .int: return node.int.map { .number(Double($0)) } ?? .string(s.string)
            case .float: return node.float.map(JSON.number) ?? .string(s.string)
            default: return .string(s.string)
            }
        case .mapping(let m):
            return .object(try m.map { (key: $0.key.string ?? "", value: try convert($0.value)) })
        case .sequence(let q):
            return .array(try q.map(convert))
        case .alias:
            throw HTTPError(.serviceUnavailable, message: "openapi.yaml uses an alias")
        }
    }

    /// `/openapi.json` (the document specialised to the venue's names, `specialised(_:to:)`)
    /// or `/openapi.yaml` (the file as it is).
    /// The specialised document's text, built once for a venue's names (they do not change
    /// while the process runs) and kept.
    static func specialisedText(_ names: VenueVocabulary) throws -> String {
        if let kept = specialisedCache.withLock({ $0 }), kept.names == names { return kept.text }
        let text = specialised(try document.get(), to: names).text
        specialisedCache.withLock { $0 = (names, text) }
        return text
    }
    static let specialisedCache = Mutex<(names: VenueVocabulary, text: String)?>(nil)

    static func response(json names: VenueVocabulary?) throws -> Response {
        var headers = HTTPFields()
        let text: String
        if let names {
            text = try specialisedText(names)
            headers[.contentType] = "application/json"
        } else {
            guard let yaml else { throw HTTPError(.serviceUnavailable, message: missing) }
            text = yaml
            headers[.contentType] = "application/yaml"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
