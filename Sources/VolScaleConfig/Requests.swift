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

/// Decoding of the service's request bodies, kept apart from HTTP so that the same code is
/// fuzzed (Fuzz/volscale-fuzz) and served. Every number is checked and bounded here.
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

    /// `POST /v1/prices`: one quote object, or `{"quotes": [...]}`.
    public static func quotes(_ json: JSON) throws(RequestError) -> [Quote] {
        let items: [JSON]
        var batched = false
        if let o = json.dictionary, let q = o["quotes"] {
            guard let a = q.array else { throw RequestError("quotes", "expected an array") }
            if let extra = o.keys.sorted().first(where: { $0 != "quotes" }) {
                throw RequestError(extra, "unknown field")
            }
            guard a.count <= maxQuotes else { throw RequestError("quotes", "at most \(maxQuotes) quotes per request") }
            items = a
            batched = true
        } else if json.members != nil {
            items = [json]
        } else {
            throw RequestError("", "expected a quote object or {\"quotes\": [...]}")
        }
        var quotes: [Quote] = []
        quotes.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let o = item.dictionary else {
                throw RequestError(batched ? "quotes[\(i)]" : "quote", "expected an object")
            }
            quotes.append(try quote(o, prefix: batched ? "quotes[\(i)]." : "", time: .epochMilliseconds))
        }
        return quotes
    }

    /// How a quote's time may be written.
    public enum QuoteTime: Sendable {
        /// The API's `ts`: epoch milliseconds, an integer.
        case epochMilliseconds
        /// Files of quote lines: `ts` or `timestamp`, an epoch number in s, ms, us or ns (told
        /// by its size) or a string (ISO 8601, or such a number).
        case lenient
    }

    /// One line of a quotes file (`volscale ingest`): `{"asset", "source", "ts" | "timestamp",
    /// "price", "confidence"?}`, the same checks as a request's quote, the time `.lenient`;
    /// other fields are allowed and not read.
    public static func quoteLine(_ line: Substring) throws(RequestError) -> Quote {
        let data = Data(line.utf8)
        guard let o = try json(data).dictionary else { throw RequestError("", "expected a quote object") }
        return try quote(o, prefix: "", time: .lenient)
    }

    /// A quote object's fields, each checked and bounded.
    static func quote(_ o: [String: JSON], prefix: String, time: QuoteTime) throws(RequestError) -> Quote {
        // the API refuses fields it does not know; a file's lines may carry others (volume, ids)
        if time == .epochMilliseconds,
            let extra = o.keys.sorted().first(where: { !["asset", "source", "ts", "price", "confidence"].contains($0) })
        {
            throw RequestError(prefix + extra, "unknown field")
        }
        func name(_ k: String) throws(RequestError) -> String {
            guard let v = o[k]?.string, !v.isEmpty, v.unicodeScalars.count <= maxNameLength,
                v.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
            else {
                throw RequestError(prefix + k, "expected a string of 1 to \(maxNameLength) printable characters")
            }
            return v
        }
        let asset = try name("asset")
        let source = try name("source")
        let range = Quote.timestampRange
        let ts: Int64
        switch time {
        case .epochMilliseconds:
            guard let v = o["ts"]?.number, let t = Checked.integer64(v, in: range) else {
                throw RequestError(
                    prefix + "ts",
                    "expected epoch milliseconds, an integer in [\(range.lowerBound), \(range.upperBound)] (years 1900-2100)"
                )
            }
            ts = t
        case .lenient:
            let key = o["ts"] != nil ? "ts" : "timestamp"
            let value = o[key]
            guard let t = value?.number.flatMap(Timestamp.epochMillis) ?? value?.string.flatMap(Timestamp.parse),
                range.contains(t)
            else {
                throw RequestError(
                    prefix + key, "expected an epoch time (s, ms, us or ns) or an ISO 8601 string, years 1900-2100")
            }
            ts = t
        }
        guard let price = o["price"]?.number, price > 0, price <= maxPrice else {
            throw RequestError(prefix + "price", "expected a number in (0, 1e15]")
        }
        var confidence: Double?
        if let c = o["confidence"] {
            guard let v = c.number, v >= 0, v <= maxPrice else {
                throw RequestError(prefix + "confidence", "expected a number in [0, 1e15]")
            }
            confidence = v
        }
        return Quote(asset: asset, source: source, timestamp: ts, price: price, confidence: confidence)
    }

    /// `POST /v1/margin/what-if`: an account (id optional) with `mode` and `explain`.
    public static func whatIf(_ json: JSON) throws(RequestError) -> (account: Account, mode: MarginMode, explain: Bool)
    {
        guard var o = json.dictionary else { throw RequestError("", "expected an account object") }
        var mode = MarginMode.standard
        if let m = o.removeValue(forKey: "mode") {
            guard let s = m.string, let parsed = MarginMode(rawValue: s) else {
                throw RequestError("mode", "expected standard or portfolio")
            }
            mode = parsed
        }
        var explain = false
        if let e = o.removeValue(forKey: "explain") {
            guard let b = e.bool else { throw RequestError("explain", "expected true or false") }
            explain = b
        }
        if let id = o["id"], id.string == nil { throw RequestError("id", "expected a string") }
        let id = o["id"]?.string ?? "what-if"
        switch AccountsFile.account(o, id: id) {
        case .success(let account): return (account, mode, explain)
        case .failure(let e): throw RequestError(e.field, e.reason)
        }
    }
}
