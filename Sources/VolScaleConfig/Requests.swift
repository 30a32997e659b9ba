import Foundation
import VolScaleCore
import VolScaleData
import VolScaleEngine
import VolScaleMargin

/// Why a request body was refused: the field (a path such as `quotes[3].ts`) and the reason.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}

/// The JSON reader the service and the command line share, and the quote lines `volscale
/// ingest` reads, kept apart from HTTP so that the same code is fuzzed (Fuzz/volscale-fuzz)
/// and run. (The API's bodies are decoded by the types generated from openapi.yaml, the
/// what-if body by `AccountDocument`.) Every number is checked and bounded here.
public enum Requests {
    /// Most quotes in one request.
    public static let maxQuotes = 10_000
    /// Longest asset or source name, in Unicode scalars (JSON Schema's maxLength).
    public static let maxNameLength = 64
    /// Prices and confidences are in (0, maxPrice].
    public static let maxPrice = 1e15

    /// A JSON document (objects and arrays nested at most 64 deep).
    public static func json(_ data: Data) throws(RequestError) -> JSON {
        try data.withUnsafeBytes { bytes in parse(bytes) }.get()
    }

    /// `JSONReader.parse` as a value (the buffer accessors of Data and ByteBuffer rethrow
    /// untyped errors).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<JSON, RequestError> {
        do throws(RequestError) { return .success(try JSONReader.parse(bytes)) } catch { return .failure(error) }
    }

    /// One line of a quotes file (`volscale ingest`): `{"asset", "source", "ts" | "timestamp",
    /// "price", "confidence"?}`, each field checked and bounded as the API's quotes are; the
    /// time an epoch number in s, ms, us or ns (told by its size) or a string (ISO 8601, or such
    /// a number); other fields (volumes, ids) are allowed and not read.
    public static func quoteLine(_ line: Substring) throws(RequestError) -> Quote {
        let data = Data(line.utf8)
        guard let o = try json(data).dictionary else { throw RequestError("", "expected a quote object") }
        func name(_ k: String) throws(RequestError) -> String {
            guard let v = o[k]?.string, !v.isEmpty, v.unicodeScalars.count <= maxNameLength,
                v.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
            else {
                throw RequestError(k, "expected a string of 1 to \(maxNameLength) printable characters")
            }
            return v
        }
        let asset = try name("asset")
        let source = try name("source")
        let range = Quote.timestampRange
        let key = o["ts"] != nil ? "ts" : "timestamp"
        let value = o[key]
        guard let ts = value?.number.flatMap(Timestamp.epochMillis) ?? value?.string.flatMap(Timestamp.parse),
            range.contains(ts)
        else {
            throw RequestError(
                key, "expected an epoch time (s, ms, us or ns) or an ISO 8601 string, years 1900-2100")
        }
        guard let price = o["price"]?.number, price > 0, price <= maxPrice else {
            throw RequestError("price", "expected a number in (0, 1e15]")
        }
        var confidence: Double?
        if let c = o["confidence"] {
            guard let v = c.number, v >= 0, v <= maxPrice else {
                throw RequestError("confidence", "expected a number in [0, 1e15]")
            }
            confidence = v
        }
        return Quote(asset: asset, source: source, timestamp: ts, price: price, confidence: confidence)
    }
}
