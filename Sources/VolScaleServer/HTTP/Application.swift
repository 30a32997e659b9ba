import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import Prometheus
import ServiceLifecycle
import VolScaleConfig
import VolScaleEngine
import VolScaleMargin

/// The service's request context: Hummingbird's core context and the API key the role
/// middleware authenticated (nil on public routes).
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var key: APIKeyRecord?
    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

/// Role check for one route group: the key from `Authorization: Bearer` or `X-API-Key`
/// (from `?key=` only in the group that allows it: the read-only streams), its role at least
/// `role`, within its rate; otherwise 401, 403 or 429. The key is kept in the context.
struct RoleMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let auth: Authenticator
    let role: Role
    let keyInQuery: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let key = try auth.authorize(secret: request.apiKey(allowQuery: keyInQuery), role: role)
        context.key = key
        // the generated handlers see no context: the key's name reaches them as a task local
        return try await RawBody.$keyName.withValue(key.name) {
            try await RawBody.$key.withValue(key) { try await next(request, context) }
        }
    }
}

/// Server settings: address, keys, limits.
public struct ServerConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var keys: [APIKeyRecord] = []
    /// Requests per second per key (token bucket), and the burst a key may spend at once.
    /// A risk client polling rates or asking what-if margins needs tens per second; the
    /// default leaves room for a busy venue gateway and stops a runaway one.
    public var ratePerSecond: Double = 1000
    public var burst: Double = 2000
    /// Largest request body (413 beyond it, at once when Content-Length announces more).
    public var maxBodyBytes = 1 << 20
    /// A request body must arrive whole within this many seconds (408 otherwise): a client
    /// trickling a body cannot hold a connection and its buffer open.
    public var bodyTimeoutSeconds = 30
    /// A connection with no request in progress is closed after this many seconds.
    public var idleTimeoutSeconds = 60
    /// Request head limits: one header field, all of them, and how many (the connection is
    /// answered 431 or closed beyond them, never held).
    public var maxHeaderFieldBytes = 16 << 10
    public var maxHeaderBytes = 64 << 10
    public var maxHeaderCount = 100
    /// The first request head of a connection must arrive whole within this many seconds of
    /// its first byte (a connection that sends nothing is closed after `idleTimeoutSeconds`),
    /// its request line within `maxRequestLineBytes` (414 beyond) and the head within
    /// `maxHeaderBytes` (431 beyond); `RequestHeadGuard`.
    public var headTimeoutSeconds = 10
    public var maxRequestLineBytes = 16 << 10
    public init() {}

    /// The HTTP/1 channel's settings from these limits.
    var http1: HTTP1Channel.Configuration {
        .init(
            idleTimeout: .seconds(Int64(idleTimeoutSeconds)),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: maxHeaderFieldBytes, maxHeaderListSize: maxHeaderBytes,
                maxHeaderFieldCount: maxHeaderCount))
    }
}

/// The metrics the service exposes at /metrics, in one Prometheus registry for the process.
/// HTTP metrics come from Hummingbird's `MetricsMiddleware` through swift-metrics, with
/// swift-prometheus as the backend (bootstrapped once per process); their names are mapped
/// to the service's (`volscale_http_requests_total`, `volscale_http_request_duration_seconds`
/// with labels route, method, status). The domain counters are made on the registry itself.
public final class ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let accepted: Prometheus.Counter
    let publications: Prometheus.Counter
    let lag: Prometheus.Gauge

    public init() {
        registry = Self.processRegistry
        Self.bootstrap()
        accepted = registry.makeCounter(
            descriptor: .init(
                namespace: "volscale", metricName: "quotes_accepted", unitName: "total",
                helpText: "Quotes the engine accepted."))
        publications = registry.makeCounter(
            descriptor: .init(
                namespace: "volscale", metricName: "publications", unitName: "total",
                helpText: "Parameter sets published (one per asset side)."))
        lag = registry.makeGauge(
            descriptor: .init(
                namespace: "volscale", metricName: "engine_lag", unitName: "milliseconds",
                helpText: "Milliseconds since the newest quote of any asset arrived."))
    }

    func rejected(_ reason: String, _ n: Int) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "volscale", metricName: "quotes_rejected", unitName: "total",
                helpText: "Quotes refused, by reason."),
            labels: [("reason", reason)]
        ).increment(by: Int64(n))
    }

    /// swift-metrics has one backend per process, so the registry is the process's.
    static let processRegistry = PrometheusCollectorRegistry()

    /// Hummingbird's metric names and labels, as the service names them.
    static let names: [String: String] = [
        "hb.requests": "volscale_http_requests_total",
        "hb.request.errors": "volscale_http_request_errors_total",
        "http.server.request.duration": "volscale_http_request_duration_seconds",
        "http.server.active_requests": "volscale_http_active_requests",
    ]
    static let labels: [String: String] = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status",
        "error.type": "status",
    ]

    private static let bootstrapped: Void = {
        var factory = PrometheusMetricsFactory(registry: processRegistry)
        factory.nameAndLabelSanitizer = { name, labels in
            (
                names[name] ?? name.replacingOccurrences(of: ".", with: "_"),
                labels.map { (ServiceMetrics.labels[$0.0] ?? $0.0.replacingOccurrences(of: ".", with: "_"), $0.1) }
            )
        }
        factory.durationHistogramBuckets["volscale_http_request_duration_seconds"] =
            [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1].map { Duration.microseconds(Int64($0 * 1e6)) }
        MetricsSystem.bootstrap(factory)
    }()

    static func bootstrap() { _ = bootstrapped }
}

/// A path the service knows, asked with a method it does not serve: 405 with `Allow`, not
/// 404. Wraps the router's responder, because router middleware does not run for requests
/// that match no route.
struct KnownRoutesResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == AppRequestContext {
    typealias Context = AppRequestContext
    let inner: Inner
    /// Route templates split in segments (`{x}` matches any one segment), and their methods.
    let routes: [(segments: [Substring], method: HTTPRequest.Method)]

    init(inner: Inner, routes: [ServiceRoute]) {
        self.inner = inner
        self.routes = routes.map { ($0.path.split(separator: "/", omittingEmptySubsequences: true), $0.method) }
    }

    func allowed(_ path: String) -> [HTTPRequest.Method] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.filter { r in
            r.segments.count == parts.count && zip(r.segments, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.map(\.method)
    }

    /// The router answers first; only its 404 for a path without a route of this method is
    /// looked at again (no template matching on the requests that do match).
    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            let response = try await inner.respond(to: request, context: context)
            guard response.status == .notFound else { return response }
            return try refused(request, context: context) ?? response
        } catch let e as HTTPError where e.status == .notFound {
            if let r = try refused(request, context: context) { return r }
            throw e
        }
    }

    /// The 405 for a known path asked with another method; nil otherwise (a handler's own
    /// 404, such as an unknown asset, stands).
    func refused(_ request: Request, context: Context) throws -> Response? {
        let methods = allowed(request.uri.path)
        guard !methods.isEmpty, !methods.contains(request.method) else { return nil }
        let list = methods.map(\.rawValue).joined(separator: ", ")
        // answered here, not thrown: outside the router nothing turns an error into its response
        return try HTTPError(
            .methodNotAllowed, headers: [.allow: list],
            message: "\(request.method.rawValue) is not served here; allowed: \(list)"
        )
        .response(from: request, context: context)
    }
}

/// The router with the 405 check around it.
struct ServiceResponderBuilder: HTTPResponderBuilder {
    let router: Router<AppRequestContext>
    func buildResponder() -> KnownRoutesResponder<Router<AppRequestContext>.Responder> {
        KnownRoutesResponder(inner: router.buildResponder(), routes: ServiceAPI.routes)
    }
}

/// Builds the router: every route of `ServiceAPI.routes` in the route group of its access
/// rule (role middleware, then the body limit and the error shape); the generated
/// operations through `RoleRoutingTransport`, the others as Hummingbird handlers; the
/// dashboard's files through Hummingbird's file middleware.
public func buildRouter(state: ServiceState, auth: Authenticator, metrics: ServiceMetrics, config: ServerConfig)
    -> Router<AppRequestContext>
{
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: MetricsMiddleware<AppRequestContext>())
    let api = ServiceAPI(state: state, auth: auth, metrics: metrics, config: config)
    var groups: [String: RouterGroup<AppRequestContext>] = [:]
    func group(_ route: ServiceRoute) -> RouterGroup<AppRequestContext> {
        let name = "\(route.role?.rawValue ?? "public")|\(route.keyInQuery)"
        if let g = groups[name] { return g }
        let g = router.group()
        if let role = route.role {
            g.add(middleware: RoleMiddleware(auth: auth, role: role, keyInQuery: route.keyInQuery))
        }
        g.add(
            middleware: BodyLimitMiddleware(maxBytes: config.maxBodyBytes, timeout: .seconds(config.bodyTimeoutSeconds))
        )
        g.add(middleware: OpenAPIErrorMiddleware())
        groups[name] = g
        return g
    }
    for route in ServiceAPI.routes {
        switch route.handler {
        case nil: break  // generated: below
        case .dashboardFile?:
            // served by the file middleware; without the files, a 503 that says where they belong
            if Dashboard.folder == nil {
                group(route).on(RouterPath(route.path), method: route.method) { _, _ -> Response in
                    throw HTTPError(.serviceUnavailable, message: Dashboard.missing)
                }
            }
        case let handler?:
            group(route).on(RouterPath(route.path), method: route.method) { request, context in
                try await api.handle(handler, request: request, context: context)
            }
        }
    }
    if let folder = Dashboard.folder { router.add(middleware: FileMiddleware(folder.path, searchForIndexHtml: true)) }
    let transport = RoleRoutingTransport(
        group: { method, path in
            // an operation missing from the table needs the highest role (a test checks there is none)
            group(
                ServiceAPI.routes.first { $0.method == method && $0.path == path }
                    ?? ServiceRoute(method: method, path: path, role: .admin))
        },
        replacements: [
            "POST /v1/margin/what-if": { request, context in try await api.whatIfFast(request, context: context) }
        ])
    // the transport throws nothing: registration cannot fail
    try? api.registerHandlers(on: transport, configuration: .init(jsonEncodingOptions: [.sortedKeys]))
    return router
}

/// Hands each generated operation to the route group of the role it needs (the generated
/// `registerHandlers` registers all of them on one transport).
/// An operation in `replacements` ("METHOD path") is served by that handler instead of the
/// generated glue (the what-if hot path, see `ServiceAPI.whatIfFast`).
struct RoleRoutingTransport: ServerTransport {
    let group: (HTTPRequest.Method, String) -> RouterGroup<AppRequestContext>
    let replacements: [String: @Sendable (Request, AppRequestContext) async throws -> Response]
    func register(
        _ handler:
            @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (
                HTTPResponse, HTTPBody?
            ),
        method: HTTPRequest.Method, path: String
    ) throws {
        if let replacement = replacements["\(method.rawValue) \(path)"] {
            group(method, path).on(RouterPath(path), method: method, use: replacement)
        } else {
            group(method, path).register(handler, method: method, path: path)
        }
    }
}

/// The application `volscale serve` runs and the tests drive.
public func buildApplication(
    state: ServiceState, config: ServerConfig, metrics: ServiceMetrics = ServiceMetrics(),
    logger: Logger = Logger(label: "volscale"), services: [any Service] = []
) -> some ApplicationProtocol {
    let auth = Authenticator(keys: config.keys, ratePerSecond: config.ratePerSecond, burst: config.burst)
    let router = buildRouter(state: state, auth: auth, metrics: metrics, config: config)
    var app = Application(
        router: ServiceResponderBuilder(router: router),
        server: WebSocketStream.server(
            state: state, auth: auth, http1: config.http1, headTimeout: .seconds(Int64(config.headTimeoutSeconds)),
            idleTimeout: .seconds(Int64(config.idleTimeoutSeconds)),
            maxLineBytes: config.maxRequestLineBytes, maxHeadBytes: config.maxHeaderBytes),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "volscale"),
        logger: logger)
    app.addServices(StoreWriterService(state: state, logger: logger))
    app.addServices(StalenessMonitor(state: state))
    for s in services { app.addServices(s) }
    return app
}

/// The store's single writer (group commit) as a service: runs until graceful shutdown,
/// then drains the queue. Registered first, so that it stops last: after the HTTP server
/// has answered its last request.
struct StoreWriterService: Service, CustomStringConvertible {
    let state: ServiceState
    let logger: Logger
    var description: String { "StoreWriter" }

    func run() async throws {
        await state.markReady()
        let state = self.state
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await StoreWriter(state: state, logger: logger).run()
            } onGracefulShutdown: {
                Task { await state.stop() }
            }
        } onCancel: {
            Task { await state.stop() }
        }
    }
}

/// Marks assets stale once a second (`ServiceState.checkStaleness`), and keeps the event
/// streams alive and returns freed heap to the system every `ServiceState.keepAliveSeconds`,
/// until shutdown.
struct StalenessMonitor: Service, CustomStringConvertible {
    let state: ServiceState
    var description: String { "StalenessMonitor" }
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var ticks = 0
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                await state.checkStaleness()
                ticks += 1
                if ticks % ServiceState.keepAliveSeconds == 0 {
                    await state.keepStreamsAlive()
                    FreedMemory.release()  // what connections that came and went left in the allocator's arenas
                }
            }
        }
    }
}

/// Ends open event streams when shutdown begins, so that the HTTP server's graceful
/// shutdown does not wait on them. Registered after the application, so it is told first.
public struct StreamCloser: Service, CustomStringConvertible {
    let state: ServiceState
    public init(state: ServiceState) { self.state = state }
    public var description: String { "StreamCloser" }
    public func run() async throws {
        try? await gracefulShutdown()
        await state.closeStreams()
    }
}
