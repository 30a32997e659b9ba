import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VolScaleConfig
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleRisk

/// One route: method, path template, the role it needs (nil: public), and its handler: one
/// of the Hummingbird handlers below, or nil for an operation of the generated `APIProtocol`
/// (APIHandlers.swift), registered through `RoleRoutingTransport` on the group of its role.
public struct ServiceRoute: Sendable {
    public var method: HTTPRequest.Method
    public var path: String
    public var role: Role?
    var handler: Handler?
    /// Whether the key may come in the query string (`?key=`): only the read-only streams,
    /// which browsers' EventSource and WebSocket open without headers. Never writes or admin
    /// routes: query strings end up in proxy logs and browser history.
    var keyInQuery: Bool { handler == .stream || handler == .webSocket }

    /// The routes openapi.yaml describes but the generator does not serve: text, files,
    /// streams.
    enum Handler: Sendable {
        case metrics, openapiJSON, openapiYAML, stream, webSocket
        /// the dashboard's files (Hummingbird's FileMiddleware)
        case dashboardFile
    }
}

/// The handlers. Errors are `HTTPError`s with a message naming the field; nothing that a
/// request contains can cause a 500.
struct ServiceAPI: Sendable {
    let state: ServiceState
    let auth: Authenticator
    let metrics: ServiceMetrics
    let config: ServerConfig

    static let routes: [ServiceRoute] = [
        .init(method: .get, path: "/health", role: nil),
        .init(method: .get, path: "/ready", role: nil),
        .init(method: .get, path: "/metrics", role: .read, handler: .metrics),
        .init(method: .get, path: "/openapi.json", role: nil, handler: .openapiJSON),
        .init(method: .get, path: "/openapi.yaml", role: nil, handler: .openapiYAML),
        .init(method: .get, path: "/", role: nil, handler: .dashboardFile),
        .init(method: .get, path: "/dashboard.js", role: nil, handler: .dashboardFile),
        .init(method: .get, path: "/v1/assets", role: .read),
        .init(method: .get, path: "/v1/assets/{asset}", role: .read),
        .init(method: .get, path: "/v1/assets/{asset}/history", role: .read),
        .init(method: .post, path: "/v1/assets/{asset}/chain", role: .ingest),
        .init(method: .get, path: "/v1/assets/{asset}/surface", role: .read),
        .init(method: .get, path: "/v1/rates", role: .read),
        .init(method: .get, path: "/v1/rates/{asset}/history", role: .read),
        .init(method: .post, path: "/v1/prices", role: .ingest),
        .init(method: .post, path: "/v1/margin/what-if", role: .read),
        .init(method: .get, path: "/v1/stream", role: .read, handler: .stream),
        .init(method: .get, path: "/v1/ws", role: .read, handler: .webSocket),
        .init(method: .get, path: "/v1/policy", role: .read),
        .init(method: .put, path: "/v1/policy", role: .admin),
        .init(method: .get, path: "/v1/accounts", role: .read),
        .init(method: .get, path: "/v1/accounts/{id}", role: .read),
        .init(method: .put, path: "/v1/accounts/{id}", role: .ingest),
        .init(method: .delete, path: "/v1/accounts/{id}", role: .ingest),
        .init(method: .get, path: "/v1/accounts/{id}/history", role: .read),
        .init(method: .get, path: "/v1/accounts/{id}/margin", role: .read),
        .init(method: .post, path: "/v1/stress", role: .read),
        .init(method: .post, path: "/v1/backtest", role: .read),
    ]

    func handle(_ handler: ServiceRoute.Handler, request: Request, context: AppRequestContext) async throws -> Response
    {
        switch handler {
        case .metrics:
            metrics.lag.set(Double(await state.lag))
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(
                status: .ok, headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: metrics.registry.emitToString())))
        case .openapiJSON: return try OpenAPIDocument.response(json: await state.vocabulary)
        case .openapiYAML: return try OpenAPIDocument.response(json: nil)
        case .stream: return try await stream(request)
        case .dashboardFile: throw HTTPError(.serviceUnavailable, message: Dashboard.missing)
        case .webSocket:
            // reached only when the upgrade did not happen (see WebSocketStream): a well-formed
            // upgrade refused for want of a stream slot is 503, as the SSE stream answers then
            _ = try WebSocketStream.since(request.uri.queryParameters.get("since").map { String($0) })
            if request.headers[.upgrade]?.lowercased() == "websocket",
                await state.subscriberCount >= ServiceState.maxSubscribers
            {
                throw HTTPError(
                    .serviceUnavailable, headers: [.retryAfter: "\(ServiceState.keepAliveSeconds)"],
                    message:
                        "too many open streams (\(ServiceState.maxSubscribers)); slots of clients that left are freed within \(ServiceState.keepAliveSeconds) s"
                )
            }
            throw HTTPError(
                .upgradeRequired, headers: [.upgrade: "websocket"],
                message: "this route speaks WebSocket: send an upgrade request")
        }
    }

    func requireAsset(_ asset: String, status: HTTPResponse.Status = .notFound) async throws {
        guard await state.engine.config.assets.contains(asset) else {
            throw HTTPError(
                status, message: "\(status == .notFound ? "" : "asset: ")unknown asset '\(asset.prefix(64))'")
        }
    }

    /// An integer query parameter: nil when absent, 400 naming it when not an integer in range.
    static func queryInteger(_ request: Request, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw HTTPError(
                .badRequest, message: "\(name): expected an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return n
    }

    // MARK: - Stream

    func stream(_ request: Request) async throws -> Response {
        // `since` or, from a reconnecting EventSource, the Last-Event-ID header
        var since = try WebSocketStream.since(request.uri.queryParameters.get("since").map { String($0) })
        if since == nil, let name = HTTPField.Name("Last-Event-ID") {
            since = try WebSocketStream.since(request.headers[name], field: "Last-Event-ID")
        }
        let limit = try Self.queryInteger(request, "limit", in: 0...1_000_000)
        let subscription: Subscription
        do throws(SubscribeError) {
            subscription = try await state.subscribe(since: since)
        } catch {
            throw HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "\(ServiceState.keepAliveSeconds)"],
                message:
                    "too many open streams (\(ServiceState.maxSubscribers)); slots of clients that left are freed within \(ServiceState.keepAliveSeconds) s"
            )
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let preamble =
            subscription.missed
            ? ": some events before the requested sequence are no longer kept; fetch /v1/rates for current values\n\n"
            : ": stream open\n\n"
        let body = StreamBody(
            subscription: subscription, limit: limit, preamble: preamble, encoder: encoder, since: since ?? 0)
        return Response(status: .ok, headers: headers, body: .init(asyncSequence: body))
    }
}

/// Server-sent events: `id: SEQ`, `event: publication|status`, `data: JSON`. A client too
/// slow to keep up gets a last `event: dropped` naming the sequence to resume from.
struct StreamBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let subscription: Subscription
    let limit: Int?
    let preamble: String
    let encoder: JSONEncoder
    let since: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        var inner: AsyncStream<StreamEvent>.AsyncIterator
        let flag: SubscriptionFlag
        var remaining: Int?
        var preamble: String?
        let encoder: JSONEncoder
        var lastSequence: Int64
        var finished = false

        mutating func next() async -> ByteBuffer? {
            if let p = preamble {
                preamble = nil
                return ByteBuffer(string: p)
            }
            if finished || flag.closed { return nil }
            if let r = remaining, r <= 0 { return nil }
            guard let e = await inner.next() else {
                finished = true
                guard flag.dropped else { return nil }
                return ByteBuffer(string: StreamEvent.dropped(resumeSince: lastSequence).serverSentEvent(encoder))
            }
            guard let message = e.message else { return ByteBuffer(string: ": keep-alive\n\n") }
            remaining = remaining.map { $0 - 1 }
            if let id = message.id { lastSequence = id }
            return ByteBuffer(string: message.serverSentEvent(encoder))
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            inner: subscription.events.makeAsyncIterator(), flag: subscription.flag, remaining: limit,
            preamble: preamble,
            encoder: encoder, lastSequence: since)
    }
}

extension StreamEvent {
    /// The event as the document's `StreamMessage`: its name, its sequence number
    /// (publications) and its data, as the SSE stream and the WebSocket both send it; nil for
    /// a keep-alive, which carries nothing.
    var message: Components.Schemas.StreamMessage? {
        switch self {
        case .keepAlive: return nil
        case .publication(let p): return .init(event: .publication, id: p.sequence, data: .Publication(.init(p)))
        case .status(let asset, let status, let time):
            return .init(
                event: .status,
                data: .StatusEvent(
                    .init(asset: asset, status: .init(rawValue: status.rawValue) ?? .unstable, time: time)))
        case .account(let c, let time):
            typealias E = Components.Schemas.AccountStatusEvent
            return .init(
                event: .account,
                data: .AccountStatusEvent(
                    .init(
                        account: c.id, old: c.old.flatMap { E.OldPayload(rawValue: $0.rawValue) },
                        new: E.NewPayload(rawValue: c.new.rawValue) ?? .healthy,
                        marginRatio: c.marginRatio.flatMap { $0.isFinite ? $0 : nil }, sequence: c.sequence, time: time)
                ))
        }
    }

    static func dropped(resumeSince: Int64) -> Components.Schemas.StreamMessage {
        .init(
            event: .dropped, data: .DroppedEvent(.init(reason: "the client read too slowly", resumeSince: resumeSince)))
    }
}

extension Components.Schemas.StreamMessage {
    /// Server-sent event text: `id:` (publications), `event:`, `data:` (the JSON of `data`).
    func serverSentEvent(_ encoder: JSONEncoder) -> String {
        let json = (try? encoder.encode(data)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return (id.map { "id: \($0)\n" } ?? "") + "event: \(event.rawValue)\ndata: \(json)\n\n"
    }

    /// The WebSocket text message: this value's JSON.
    func text(_ encoder: JSONEncoder) -> String {
        (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension HTTPError {
    /// A write the store could not make durable: 503 with `Retry-After: 1`, the reason
    /// (`NotDurable`'s, or the store's error); what was accepted stays queued, so resending is
    /// safe.
    static func storeUnavailable(_ error: any Error) -> HTTPError {
        HTTPError(
            .serviceUnavailable, headers: [.retryAfter: "1"],
            message: (error as? NotDurable)?.description ?? "the store failed: \(error); resending is safe")
    }
}
