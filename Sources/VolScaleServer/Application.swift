import Foundation
import Hummingbird
import Logging
import Prometheus
import VolScaleConfig
import VolScaleEngine
import VolScaleMargin

public typealias AppRequestContext = BasicRequestContext

/// Server settings: address, keys, limits.
public struct ServerConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var keys: [APIKeyRecord] = []
    public var ratePerSecond: Double = 1_000_000
    public var burst: Double = 1_000_000
    public var maxBodyBytes = 1 << 20
    public init() {}
}

/// The metrics the service exposes at /metrics.
public final class ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let accepted: Counter
    let publications: Counter
    let lag: Gauge

    public init() {
        accepted = registry.makeCounter(name: "volscale_quotes_accepted_total", labels: [])
        publications = registry.makeCounter(name: "volscale_publications_total", labels: [])
        lag = registry.makeGauge(name: "volscale_engine_lag_milliseconds", labels: [])
    }

    func rejected(_ reason: String, _ n: Int) {
        registry.makeCounter(name: "volscale_quotes_rejected_total", labels: [("reason", reason)]).increment(by: Int64(n))
    }

    let cacheLock = NSLock()
    nonisolated(unsafe) var counters: [String: Counter] = [:]
    nonisolated(unsafe) var histograms: [String: ValueHistogram] = [:]

    /// Counter and latency histogram per route, their handles cached (the registry lookup
    /// builds label arrays and takes its own lock).
    func request(route: String, method: String, status: Int, seconds: Double) {
        let key = "\(route)|\(method)|\(status)"
        cacheLock.lock()
        let counter = counters[key] ?? {
            let c = registry.makeCounter(name: "volscale_http_requests_total", labels: [("route", route), ("method", method), ("status", String(status))])
            counters[key] = c
            return c
        }()
        let histogram = histograms[route] ?? {
            let h = registry.makeValueHistogram(name: "volscale_http_request_duration_seconds", labels: [("route", route)],
                                                buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1])
            histograms[route] = h
            return h
        }()
        cacheLock.unlock()
        counter.increment()
        histogram.record(seconds)
    }
}

/// Records latency and status of every request under its route template.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        func record(_ status: Int) {
            let route = context.endpointPath ?? "unmatched"
            metrics.request(route: route, method: request.method.rawValue, status: status,
                            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        do {
            let r = try await next(request, context)
            record(r.status.code)
            return r
        } catch let e as HTTPResponseError {
            record(e.status.code)
            throw e
        } catch {
            record(500)
            throw error
        }
    }
}

/// Builds the router: every route of `ServiceAPI.routes`, behind authentication.
public func buildRouter(state: ServiceState, auth: Authenticator, metrics: ServiceMetrics, config: ServerConfig) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    let api = ServiceAPI(state: state, auth: auth, metrics: metrics, config: config)
    for route in ServiceAPI.routes {
        router.on(RouterPath(route.path), method: route.method) { request, context in
            try await api.handle(route, request: request, context: context)
        }
    }
    return router
}

/// The application `volscale serve` runs and the tests drive.
public func buildApplication(state: ServiceState, config: ServerConfig, metrics: ServiceMetrics = ServiceMetrics(),
                             logger: Logger = Logger(label: "volscale"), services: [any Service] = []) -> some ApplicationProtocol {
    let auth = Authenticator(keys: config.keys, ratePerSecond: config.ratePerSecond, burst: config.burst)
    let router = buildRouter(state: state, auth: auth, metrics: metrics, config: config)
    var app = Application(router: router, configuration: .init(address: .hostname(config.host, port: config.port), serverName: "volscale"),
                          logger: logger)
    app.addServices(FlushService(state: state, logger: logger))
    for s in services { app.addServices(s) }
    return app
}

import ServiceLifecycle

/// Flushes the store periodically and on graceful shutdown.
struct FlushService: Service {
    let state: ServiceState
    let logger: Logger

    func run() async throws {
        await state.markReady()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            do { try await state.flush() } catch { logger.error("store flush failed: \(error)") }
        }
        do { try await state.flush() } catch { logger.error("final store flush failed: \(error)") }
        logger.info("store flushed on shutdown")
    }
}
