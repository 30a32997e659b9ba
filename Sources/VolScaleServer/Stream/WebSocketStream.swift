import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// `GET /v1/ws?since=SEQ`: the events of the SSE stream over a WebSocket, one text message
/// each: `{"event": "publication"|"status"|"dropped", "id": SEQ (publications), "data": {...}}`.
/// Resume by sequence as with SSE; a client too slow to keep up gets a `dropped` message with
/// `resumeSince` and the socket is closed. Keys as for the stream: header, or `?key=` (the
/// browser's WebSocket cannot set headers). A request that cannot be upgraded (no key, a bad
/// `since`, too many streams) falls through to the HTTP route, which says why.
enum WebSocketStream {
    /// Largest `since` the document declares (2^53 - 1, beyond any sequence a service reaches).
    static let maxSince: Int64 = 9_007_199_254_740_991

    /// A `since` value (query parameter or Last-Event-ID header): nil when absent; 400 naming
    /// `field` when not an integer in [0, maxSince]. Shared by the SSE stream and the WebSocket.
    static func since(_ text: String?, field: String = "since") throws -> Int64? {
        guard let text else { return nil }
        guard let n = Int64(text), n >= 0, n <= maxSince else {
            throw HTTPError(.badRequest, message: "\(field): expected an integer in [0, \(maxSince)]")
        }
        return n
    }

    /// HTTP/1 with the WebSocket upgrade, behind a `RequestHeadGuard` (the first head of a
    /// connection within `headTimeout`, its request line and head within the limits).
    static func server(
        state: ServiceState, auth: Authenticator, http1: HTTP1Channel.Configuration, headTimeout: TimeAmount,
        idleTimeout: TimeAmount, maxLineBytes: Int, maxHeadBytes: Int
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedChildChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, configuration: .init(http1: http1),
                    shouldUpgrade: shouldUpgrade(state: state, auth: auth)),
                timeout: headTimeout, idleTimeout: idleTimeout, maxLineBytes: maxLineBytes, maxHeadBytes: maxHeadBytes)
        }
    }

    static func shouldUpgrade(state: ServiceState, auth: Authenticator)
        -> @Sendable (HTTPRequest, any Channel, Logger) async throws -> ShouldUpgradeResult<
            WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
        >
    {
        { request, _, _ in
            guard let target = request.path, target == "/v1/ws" || target.hasPrefix("/v1/ws?") else {
                return .dontUpgrade
            }
            let query = URI(target).queryParameters
            var secret: String?
            if let a = request.headerFields[.authorization], a.hasPrefix("Bearer ") { secret = String(a.dropFirst(7)) }
            if secret == nil, let name = HTTPField.Name("X-API-Key") { secret = request.headerFields[name] }
            if secret == nil { secret = query.get("key").map { String($0) } }
            // `since` is optional: absent, the client gets live events only (a `try?` here
            // would read an absent `since` as a refusal)
            let parsed = Result { try since(query.get("since").map { String($0) }) }
            guard (try? auth.authorize(secret: secret, role: .read)) != nil, case .success(let since) = parsed,
                let subscription = try? await state.subscribe(since: since)
            else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in
                // the client's side is read only to notice that it left: then the sender stops
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await _ in inbound {}
                    }
                    group.addTask {
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = [.sortedKeys]
                        var last = since ?? 0
                        for await e in subscription.events {
                            if subscription.flag.closed { break }
                            guard let message = e.message else { continue }  // a closed socket ends the inbound task
                            if let id = message.id { last = id }
                            try await outbound.write(.text(message.text(encoder)))
                        }
                        if subscription.flag.dropped {
                            try await outbound.write(.text(StreamEvent.dropped(resumeSince: last).text(encoder)))
                        }
                    }
                    // whichever ends first (the client left, or the stream ended) ends both
                    try await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}
