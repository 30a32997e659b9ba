import Foundation
import VolScaleCore
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

    /// A JSON document (objects nested at most 64 deep).
    public static func json(_ data: Data) throws(RequestError) -> Any {
        // one pass over the bytes (through a raw buffer: Data's own iterator costs ~10 ns a byte)
        let tooDeep = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            var depth = 0, inString = false, escaped = false
            for b in bytes {
                if inString {
                    if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                    continue
                }
                switch b {
                case 0x22: inString = true
                case 0x7B, 0x5B:
                    depth += 1
                    if depth > 64 { return true }
                case 0x7D, 0x5D: depth -= 1
                default: break
                }
            }
            return false
        }
        if tooDeep { throw RequestError("", "JSON nested deeper than 64 levels") }
        do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw RequestError("", "request body is not valid JSON")
        }
    }

    /// A JSON boolean (not the numbers 0 and 1, which Foundation on Linux also casts to Bool).
    public static func bool(_ v: Any?) -> Bool? {
        guard let n = v as? NSNumber, n.objCType.pointee == CChar(UInt8(ascii: "c")) else { return nil }
        return n.boolValue
    }

    /// `POST /v1/prices`: one quote object, or `{"quotes": [...]}`.
    public static func quotes(_ json: Any) throws(RequestError) -> [Quote] {
        let items: [Any]
        var batched = false
        if let o = json as? [String: Any], let q = o["quotes"] {
            guard let a = q as? [Any] else { throw RequestError("quotes", "expected an array") }
            if let extra = o.keys.sorted().first(where: { $0 != "quotes" }) { throw RequestError(extra, "unknown field") }
            guard a.count <= maxQuotes else { throw RequestError("quotes", "at most \(maxQuotes) quotes per request") }
            items = a
            batched = true
        } else if json is [String: Any] {
            items = [json]
        } else {
            throw RequestError("", "expected a quote object or {\"quotes\": [...]}")
        }
        var quotes: [Quote] = []
        quotes.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            let prefix = batched ? "quotes[\(i)]." : ""
            guard let o = item as? [String: Any] else { throw RequestError(batched ? "quotes[\(i)]" : "quote", "expected an object") }
            if let extra = o.keys.sorted().first(where: { !["asset", "source", "ts", "price", "confidence"].contains($0) }) {
                throw RequestError(prefix + extra, "unknown field")
            }
            func name(_ k: String) throws(RequestError) -> String {
                guard let v = o[k] as? String, !v.isEmpty, v.unicodeScalars.count <= maxNameLength,
                      v.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
                    throw RequestError(prefix + k, "expected a string of 1 to \(maxNameLength) printable characters")
                }
                return v
            }
            let asset = try name("asset"), source = try name("source")
            let range = Quote.timestampRange
            guard let tsValue = AccountsFile.number(o["ts"]), let ts = Checked.integer64(tsValue, in: range) else {
                throw RequestError(prefix + "ts", "expected epoch milliseconds, an integer in [\(range.lowerBound), \(range.upperBound)] (years 1900-2100)")
            }
            guard let price = AccountsFile.number(o["price"]), price > 0, price <= maxPrice else {
                throw RequestError(prefix + "price", "expected a number in (0, 1e15]")
            }
            var confidence: Double?
            if let c = o["confidence"] {
                guard let v = AccountsFile.number(c), v >= 0, v <= maxPrice else { throw RequestError(prefix + "confidence", "expected a number in [0, 1e15]") }
                confidence = v
            }
            quotes.append(Quote(asset: asset, source: source, timestamp: ts, price: price, confidence: confidence))
        }
        return quotes
    }

    /// `POST /v1/margin/what-if`: an account (id optional) with `mode` and `explain`.
    public static func whatIf(_ json: Any) throws(RequestError) -> (account: Account, mode: MarginMode, explain: Bool) {
        guard var o = json as? [String: Any] else { throw RequestError("", "expected an account object") }
        var mode = MarginMode.standard
        if let m = o.removeValue(forKey: "mode") {
            guard let s = m as? String, let parsed = MarginMode(rawValue: s) else { throw RequestError("mode", "expected standard or portfolio") }
            mode = parsed
        }
        var explain = false
        if let e = o.removeValue(forKey: "explain") {
            guard let b = bool(e) else { throw RequestError("explain", "expected true or false") }
            explain = b
        }
        if let id = o["id"], !(id is String) { throw RequestError("id", "expected a string") }
        let id = (o["id"] as? String) ?? "what-if"
        switch AccountsFile.account(o, id: id) {
        case let .success(account): return (account, mode, explain)
        case let .failure(e): throw RequestError(e.field, e.reason)
        }
    }
}
