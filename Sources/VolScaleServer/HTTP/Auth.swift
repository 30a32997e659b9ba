import Foundation
import HTTPTypes
import Hummingbird
import VolScaleStore

/// Roles, each including the ones below it: read < ingest < admin.
public enum Role: String, Sendable, Codable, Comparable, CaseIterable {
    case read, ingest, admin
    var rank: Int { self == .read ? 0 : (self == .ingest ? 1 : 2) }
    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

/// An API key as stored: its name, role and the SHA-256 of the secret (never the secret),
/// and, for a key that sends quotes, the sources it may send for.
public struct APIKeyRecord: Sendable, Codable, Equatable {
    public var name: String
    public var role: Role
    public var sha256: String
    /// The price sources this key may quote as: "ASSET/SOURCE" (one asset's source) or
    /// "SOURCE" (that source of every asset). nil: any source the venue declares. A quote
    /// for another source is refused with 403 and nothing of its request is applied.
    public var sources: [String]?

    /// Whether this key may send a quote of `asset` from `source`.
    public func mayQuote(asset: String, source: String) -> Bool {
        guard let sources else { return true }
        return sources.contains(source) || sources.contains("\(asset)/\(source)")
    }

    public init(name: String, role: Role, secret: String) {
        self.name = name
        self.role = role
        self.sha256 = APIKeyRecord.hash(secret)
    }

    public init(name: String, role: Role, sha256: String) {
        self.name = name
        self.role = role
        self.sha256 = sha256
    }

    public static func hash(_ secret: String) -> String { AuditChain.sha256Hex(secret) }

    /// A new random secret (32 hex characters).
    public static func newSecret() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

/// Key lookup and per-key token-bucket rate limits. A lock, not an actor: every request
/// passes here, and an actor hop per request would serialise them.
public final class Authenticator: @unchecked Sendable {
    let keys: [String: APIKeyRecord]  // by hash
    let ratePerSecond: Double
    let burst: Double
    var buckets: [String: (tokens: Double, at: Double)] = [:]
    let lock = NSLock()

    public init(keys: [APIKeyRecord], ratePerSecond: Double, burst: Double) {
        self.keys = Dictionary(keys.map { ($0.sha256, $0) }, uniquingKeysWith: { $1 })
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    /// The key's record if it exists, has `role` and is within its rate; otherwise the
    /// HTTP error to answer with (401, 403, or 429 with Retry-After).
    public func authorize(secret: String?, role: Role) throws -> APIKeyRecord {
        guard let secret, !secret.isEmpty else {
            throw HTTPError(
                .unauthorized, message: "an API key is required: header 'Authorization: Bearer KEY' or 'X-API-Key'")
        }
        guard let key = keys[APIKeyRecord.hash(secret)] else {
            throw HTTPError(.unauthorized, message: "unknown API key")
        }
        guard key.role >= role else {
            throw HTTPError(
                .forbidden, message: "key '\(key.name)' has role \(key.role.rawValue); this needs \(role.rawValue)")
        }
        let now = Date().timeIntervalSince1970
        lock.lock()
        defer { lock.unlock() }
        var b = buckets[key.name] ?? (burst, now)
        b.tokens = min(burst, b.tokens + (now - b.at) * ratePerSecond)
        b.at = now
        guard b.tokens >= 1 else {
            buckets[key.name] = b
            let wait = Int(((1 - b.tokens) / ratePerSecond).rounded(.up))
            throw HTTPError(
                .tooManyRequests, headers: [.retryAfter: String(max(wait, 1))],
                message: "rate limit of \(ratePerSecond) requests per second exceeded for key '\(key.name)'")
        }
        b.tokens -= 1
        buckets[key.name] = b
        return key
    }
}

extension Request {
    /// The API key from `Authorization: Bearer` or `X-API-Key`; from the `key` query
    /// parameter only where `allowQuery` (the read-only stream, for EventSource, which
    /// cannot set headers).
    func apiKey(allowQuery: Bool) -> String? {
        if let auth = headers[.authorization], auth.hasPrefix("Bearer ") { return String(auth.dropFirst(7)) }
        if let name = HTTPField.Name("X-API-Key"), let k = headers[name] { return k }
        guard allowQuery, let k = uri.queryParameters.get("key") else { return nil }
        return String(k)
    }
}
