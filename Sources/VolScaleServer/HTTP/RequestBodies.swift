import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime
import VolScaleConfig
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleRisk
import VolScaleStore

/// The request body of the current request, kept for the handlers that must see more than
/// the generated type keeps (PUT /v1/policy: null and absent differ), and the name of the
/// key that sent it (the audit records who changed the policy).
enum RawBody {
    @TaskLocal static var current: ByteBuffer?
    @TaskLocal static var keyName: String?
    /// The key that sent it (its bound sources limit what it may quote).
    @TaskLocal static var key: APIKeyRecord?
}

/// Reads the body before the generated code does: at most `maxBytes` (413 beyond, at once
/// when Content-Length announces more), within `timeout` (408 when a chunk arrives after it;
/// a body that stops arriving meets the connection's idle timeout), so no client sizes an
/// allocation or holds one open by sending slowly; the bytes are kept in `RawBody` for the
/// handler and the error middleware. A refused body's connection is closed.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let maxBytes: Int
    let timeout: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.method == .post || request.method == .put else { return try await next(request, context) }
        let close: HTTPFields = [.connection: "close"]
        if let announced = request.headers[.contentLength].flatMap({ Int($0) }), announced > maxBytes {
            throw HTTPError(
                .contentTooLarge, headers: close,
                message: "request body of \(announced) bytes announced; at most \(maxBytes)")
        }
        // read here, chunk by chunk, in this task: a body that trickles is refused when a chunk
        // arrives after the deadline; one that stalls is closed by the connection's idle timeout
        var request = request
        var buffer = ByteBuffer()
        let deadline = ContinuousClock.now + timeout
        for try await chunk in request.body {
            guard buffer.readableBytes + chunk.readableBytes <= maxBytes else {
                throw HTTPError(.contentTooLarge, headers: close, message: "request body larger than \(maxBytes) bytes")
            }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
            if ContinuousClock.now > deadline {
                throw HTTPError(
                    .requestTimeout, headers: close, message: "the request body did not arrive within \(timeout)")
            }
        }
        request.body = RequestBody(buffer: buffer)
        // an option chain comes as the venue sends it, nulls and all (Deribit writes null for a
        // missing bid, a price change without trades, ...): its reader treats null as absent
        if !NullCheck.acceptsNull(request.uri.path), let field = NullCheck.forbiddenNull(in: buffer) {
            throw HTTPError(.badRequest, message: "\(field): null is not allowed here (omit the field instead)")
        }
        return try await RawBody.$current.withValue(buffer) { try await next(request, context) }
    }
}

/// The generated decoder reads `"field": null` as an absent field; the document allows null
/// only where it says `nullable` (the policy controls, where null switches a control off).
/// The body is parsed again only when the bytes `null` occur in it at all.
enum NullCheck {
    /// Routes whose bodies are a venue's documents, taken as they come.
    static func acceptsNull(_ path: String) -> Bool { path.hasPrefix("/v1/assets/") && path.hasSuffix("/chain") }

    static func forbiddenNull(in buffer: ByteBuffer) -> String? {
        let hasNull = buffer.withUnsafeReadableBytes { raw -> Bool in
            let b = raw.bindMemory(to: UInt8.self)
            guard b.count >= 4 else { return false }
            for i in 0...(b.count - 4) where b[i] == 0x6E && b[i + 1] == 0x75 && b[i + 2] == 0x6C && b[i + 3] == 0x6C {
                return true
            }
            return false
        }
        guard hasNull, case .success(let json) = buffer.withUnsafeReadableBytes({ Requests.parse($0) }) else {
            return nil
        }
        return json.firstMember { $1.isNull && !OpenAPIDocument.nullableProperties.contains($0) }
    }
}

/// The generated code reports a request it cannot decode, and a handler's error, as a
/// `ServerError`; this turns it into the service's error shape (`{"error": {"message"}}`)
/// with the field named: a handler's `HTTPError` as it is, a decoding error as a 400 naming
/// the JSON path and what was expected there.
struct OpenAPIErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do { return try await next(request, context) } catch let e as ServerError { throw Self.map(e) }
    }

    static func map(_ e: ServerError) -> any Error {
        if let http = e.underlyingError as? any HTTPResponseError { return http }
        if let d = e.underlyingError as? DecodingError { return map(d) }
        if e.httpStatus != .internalServerError { return HTTPError(e.httpStatus, message: e.causeDescription) }
        return e
    }

    /// A decoding error as a 400 naming the JSON path and what was expected there.
    static func map(_ d: DecodingError) -> HTTPError {
        if !pathed(d), let body = RawBody.current { return HTTPError(.badRequest, message: pathless(body)) }
        return HTTPError(.badRequest, message: describe(deepest(d)))
    }

    /// A oneOf that matched no schema carries one error per schema (in the runtime's
    /// `MultiError`, read here by reflection): the one deepest in the document is the one
    /// the client meant (a bad `quotes[3].ts` rather than "not a single quote").
    static func deepest(_ d: DecodingError) -> DecodingError {
        let candidates = nested(d).map(deepest)
        return candidates.max { context($0).codingPath.count < context($1).codingPath.count } ?? d
    }

    static func nested(_ d: DecodingError) -> [DecodingError] { nestedErrors(d).compactMap { $0 as? DecodingError } }

    static func nestedErrors(_ d: DecodingError) -> [any Error] {
        guard let inner = context(d).underlyingError,
            let errors = Mirror(reflecting: inner).children.first(where: { $0.label == "errors" })?.value
                as? [any Error]
        else { return [] }
        return errors
    }

    /// Whether every error in the tree is a decoding error with a path: false when the
    /// decoder failed on the text itself (invalid JSON, or a number it cannot represent as
    /// the type asked, which Foundation reports without a path or as an error of its own).
    static func pathed(_ d: DecodingError) -> Bool {
        if case .dataCorrupted(let c) = d, c.codingPath.isEmpty { return false }
        return nestedErrors(d).allSatisfy { ($0 as? DecodingError).map(pathed) ?? false }
    }

    /// Foundation's decoder reports invalid JSON and a number that is not an integer where
    /// the document expects one alike, with no path. The body, read again, tells which and where.
    static func pathless(_ body: ByteBuffer) -> String {
        let json: JSON
        switch body.withUnsafeReadableBytes({ Requests.parse($0) }) {
        case .failure(let e): return e.description
        case .success(let j): json = j
        }
        guard
            let field = json.firstMember(where: { key, value in
                OpenAPIDocument.integerProperties.contains(key)
                    && value.number.map { Checked.integer64($0, in: Int64.min...Int64.max) == nil } == true
            })
        else { return "the body does not match the documented shape" }
        return "\(field): expected an integer (see the bounds in /openapi.yaml)"
    }

    static func context(_ d: DecodingError) -> DecodingError.Context {
        switch d {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): return c
        @unknown default: return .init(codingPath: [], debugDescription: "\(d)")
        }
    }

    /// `positions[2].quantity: expected a number`.
    static func describe(_ d: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s
        }
        func expected(_ t: Any.Type) -> String {
            switch t {
            case is Double.Type, is Float.Type: return "expected a number"
            case is Int.Type, is Int64.Type, is Int32.Type: return "expected an integer"
            case is String.Type: return "expected a string"
            case is Bool.Type: return "expected true or false"
            default:
                let name = "\(t)"
                if name.hasPrefix("Array") { return "expected an array" }
                if name.hasPrefix("Dictionary") { return "expected an object" }
                return "expected an object of the documented shape"
            }
        }
        let c = context(d)
        var field = path(c.codingPath)
        let reason: String
        switch d {
        case .typeMismatch(let t, _): reason = expected(t)
        case .valueNotFound(let t, let ctx):
            reason =
                ctx.debugDescription.contains("oneOf")
                ? "matches none of the documented shapes" : "\(expected(t)), found null"
        case .keyNotFound(let k, _):
            field = path(c.codingPath + [k])
            reason = "missing"
        case .dataCorrupted:
            if c.debugDescription.hasPrefix("Additional properties are disabled") {
                reason = "unknown field"
            } else if let r = c.debugDescription.range(of: "from invalid String value ") {
                // a generated enum: the value is not one the document lists
                reason = "'\(c.debugDescription[r.upperBound...].prefix(64))' is not one of the documented values"
            } else if c.codingPath.isEmpty {
                reason = "request body is not valid JSON: \(c.debugDescription)"
            } else {
                reason = c.debugDescription
            }
        @unknown default: reason = "\(d)"
        }
        return field.isEmpty ? reason : "\(field): \(reason)"
    }
}
