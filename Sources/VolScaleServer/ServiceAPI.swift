import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import VolScaleConfig
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleRisk

/// One route: method, path template, the role it needs (nil: public), and its handler.
public struct ServiceRoute: Sendable {
    public var method: HTTPRequest.Method
    public var path: String
    public var role: Role?
    var handler: Handler
    /// Whether the key may come in the query string (`?key=`): only the read-only stream,
    /// which browsers' EventSource opens without headers. Never writes or admin routes:
    /// query strings end up in proxy logs and browser history.
    var keyInQuery: Bool { handler == .stream || handler == .webSocket }

    enum Handler: Sendable {
        case health, ready, metrics, openapi, dashboard, dashboardScript
        case assets, asset, assetHistory, rates, rateHistory, ingest, whatIf, stream, webSocket, policy
        case accountMargin, stress, policyUpdate, backtest
    }
}

/// The handlers. Errors are `HTTPError`s with a message naming the field; nothing that a
/// request body contains can cause a 500.
struct ServiceAPI: Sendable {
    let state: ServiceState
    let auth: Authenticator
    let metrics: ServiceMetrics
    let config: ServerConfig

    static let routes: [ServiceRoute] = [
        .init(method: .get, path: "/health", role: nil, handler: .health),
        .init(method: .get, path: "/ready", role: nil, handler: .ready),
        .init(method: .get, path: "/metrics", role: .read, handler: .metrics),
        .init(method: .get, path: "/openapi.json", role: nil, handler: .openapi),
        .init(method: .get, path: "/", role: nil, handler: .dashboard),
        .init(method: .get, path: "/dashboard.js", role: nil, handler: .dashboardScript),
        .init(method: .get, path: "/v1/assets", role: .read, handler: .assets),
        .init(method: .get, path: "/v1/assets/{asset}", role: .read, handler: .asset),
        .init(method: .get, path: "/v1/assets/{asset}/history", role: .read, handler: .assetHistory),
        .init(method: .get, path: "/v1/rates", role: .read, handler: .rates),
        .init(method: .get, path: "/v1/rates/{asset}/history", role: .read, handler: .rateHistory),
        .init(method: .post, path: "/v1/prices", role: .ingest, handler: .ingest),
        .init(method: .post, path: "/v1/margin/what-if", role: .read, handler: .whatIf),
        .init(method: .get, path: "/v1/stream", role: .read, handler: .stream),
        .init(method: .get, path: "/v1/ws", role: .read, handler: .webSocket),
        .init(method: .get, path: "/v1/policy", role: .read, handler: .policy),
        .init(method: .put, path: "/v1/policy", role: .admin, handler: .policyUpdate),
        .init(method: .get, path: "/v1/accounts/{id}/margin", role: .read, handler: .accountMargin),
        .init(method: .post, path: "/v1/stress", role: .read, handler: .stress),
        .init(method: .post, path: "/v1/backtest", role: .read, handler: .backtest),
    ]

    func handle(_ route: ServiceRoute, request: Request, context: AppRequestContext) async throws -> Response {
        // the role was checked by the route group's RoleMiddleware, which left the key here
        let key = context.key
        switch route.handler {
        case .health: return json(["status": "ok"])
        case .ready:
            let ready = await state.ready
            return json(["status": ready ? "ready" : "starting"], status: ready ? .ok : .serviceUnavailable)
        case .metrics:
            metrics.lag.set(Double(await state.lag))
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.registry.emitToString())))
        case .openapi: return text(OpenAPIDocument.json, type: "application/json")
        case .dashboard:
            guard let html = Dashboard.html else { throw HTTPError(.serviceUnavailable, message: Dashboard.missing) }
            return text(html, type: "text/html; charset=utf-8")
        case .dashboardScript:
            guard let script = Dashboard.script else { throw HTTPError(.serviceUnavailable, message: Dashboard.missing) }
            return text(script, type: "application/javascript")
        case .assets: return try await assets()
        case .asset: return try await asset(context.parameters.require("asset"))
        case .assetHistory: return try await history(context.parameters.require("asset"))
        case .rates: return encode(await state.latestPublications().map(PublicationView.init))
        case .rateHistory:
            let asset = try context.parameters.require("asset")
            try await requireAsset(asset)
            let limit = try Self.queryInteger(request, "limit", in: 1...5000) ?? 500
            let before = try Self.queryInteger(request, "before", in: 1...Int(Int64.max)).map(Int64.init)
            return encode(await state.publications(asset: asset, limit: limit, before: before).map(PublicationView.init))
        case .ingest: return try await ingest(request)
        case .whatIf: return try await whatIf(request)
        case .stream: return try await stream(request)
        case .webSocket:
            // reached only when the upgrade did not happen (see WebSocketStream)
            _ = try WebSocketStream.since(request.uri.queryParameters.get("since").map { String($0) })
            throw HTTPError(.upgradeRequired, headers: [.upgrade: "websocket"], message: "this route speaks WebSocket: send an upgrade request")
        case .policy: return encode(PolicyView(config: await state.engine.config))
        case .policyUpdate: return try await policyUpdate(request, by: key?.name ?? "unknown")
        case .accountMargin: return try await accountMargin(context.parameters.require("id"), request: request)
        case .stress: return try await stress(request)
        case .backtest: return try await backtest(request)
        }
    }

    /// Walks a margin model forward over the service's price history of one asset (the
    /// bars it has seen) and answers the backtest statistics, keys as `volscale backtest`.
    func backtest(_ request: Request) async throws -> Response {
        guard let o = try await body(request).dictionary else { throw HTTPError(.badRequest, message: "expected an object") }
        let allowed = ["asset", "method", "measure", "confidence", "testConfidence", "mpor", "lookback", "lambda", "side"]
        if let extra = o.keys.sorted().first(where: { !allowed.contains($0) }) { throw HTTPError(.badRequest, message: "\(extra): unknown field") }
        guard let asset = o["asset"]?.string else { throw HTTPError(.badRequest, message: "asset: expected a string") }
        try await requireAsset(asset, status: .unprocessableContent)
        func num(_ k: String, _ d: Double, _ lo: Double, _ hi: Double, open: Bool = false) throws -> Double {
            guard let v = o[k] else { return d }
            // not a number: 400; a number the model cannot use: 422, as the model's own checks
            guard let n = AccountsFile.number(v) else { throw HTTPError(.badRequest, message: "\(k): expected a number") }
            guard n <= hi, open ? n > lo : n >= lo else {
                throw HTTPError(.unprocessableContent, message: "\(k): expected a number in \(open ? "(" : "[")\(lo), \(hi)]")
            }
            return n
        }
        func int(_ k: String, _ d: Int, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = o[k] else { return d }
            guard let x = AccountsFile.number(v), let n = Checked.integer(x, in: range) else {
                throw HTTPError(.badRequest, message: "\(k): expected an integer in [\(range.lowerBound), \(range.upperBound)]")
            }
            return n
        }
        for k in ["method", "measure", "side"] where o[k] != nil && o[k]?.string == nil { throw HTTPError(.badRequest, message: "\(k): expected a string") }
        guard let method = RiskMethod(rawValue: o["method"]?.string ?? "fhs") else { throw HTTPError(.badRequest, message: "method: expected parametric, historical or fhs") }
        guard let measure = TailMeasure(rawValue: o["measure"]?.string ?? "es") else { throw HTTPError(.badRequest, message: "measure: expected var or es") }
        guard let side = Side(rawValue: o["side"]?.string ?? "long") else { throw HTTPError(.badRequest, message: "side: expected long or short") }
        let model = MarginModel(name: "api", volatility: .ewma(lambda: try num("lambda", 0.94, 0, 1, open: true)), measure: measure, method: method,
                                confidence: try num("confidence", 0.99, 0.5, 0.9999), mpor: try int("mpor", 1, 1...250),
                                lookback: try int("lookback", 1000, 10...100_000),
                                testConfidence: o["testConfidence"] == nil ? nil : try num("testConfidence", 0.99, 0.5, 0.9999))
        let points = await state.history(asset)
        guard points.count > 2 else { throw HTTPError(.unprocessableContent, message: "asset \(asset) has too little history") }
        let returns = (1..<points.count).map { log(points[$0].price / points[$0 - 1].price) }
        let path: MarginPath
        do { path = try MarginEngine.run(model, returns: returns, timestamps: points.dropFirst().map(\.t)) } catch {
            throw HTTPError(.unprocessableContent, message: error.description)
        }
        let r = path.backtest(returns: returns, side: side)
        struct Stat: Encodable { var statistic: Double; var pValue: Double }
        struct Christoffersen: Encodable { var independence: Stat; var conditionalCoverage: Stat }
        struct Light: Encodable { var green: Int; var yellow: Int; var red: Int; var worst: String }
        struct Pro: Encodable { var peakToTrough: Double; var maxIncrease1: Double; var maxIncrease5: Double; var maxIncrease30: Double; var averageMargin: Double }
        struct Out: Encodable {
            var asset: String; var observations: Int; var exceedances: Int; var exceedanceRate: Double
            var kupiec: Stat; var christoffersen: Christoffersen; var trafficLight: Light; var procyclicality: Pro
        }
        let p = r.procyclicality
        func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }
        return encode(Out(asset: asset, observations: r.observations, exceedances: r.exceedances, exceedanceRate: finite(r.exceedanceRate),
                          kupiec: Stat(statistic: r.kupiec.statistic, pValue: r.kupiec.pValue),
                          christoffersen: Christoffersen(independence: Stat(statistic: r.independence.statistic, pValue: r.independence.pValue),
                                                         conditionalCoverage: Stat(statistic: r.conditionalCoverage.statistic, pValue: r.conditionalCoverage.pValue)),
                          trafficLight: Light(green: r.trafficLight.green, yellow: r.trafficLight.yellow, red: r.trafficLight.red, worst: r.trafficLight.worst.rawValue),
                          procyclicality: Pro(peakToTrough: finite(p.peakToTrough), maxIncrease1: finite(p.maxIncrease1), maxIncrease5: finite(p.maxIncrease5),
                                              maxIncrease30: finite(p.maxIncrease30), averageMargin: finite(p.averageMargin))))
    }

    // MARK: - Policy, stored accounts, stress

    func policyUpdate(_ request: Request, by who: String) async throws -> Response {
        guard let o = try await body(request).dictionary else { throw HTTPError(.badRequest, message: "expected an object") }
        let allowed = ["buffer", "speedLimitUp", "speedLimitDown", "hardFloor", "hardCap", "maintenanceFraction"]
        if let extra = o.keys.sorted().first(where: { !allowed.contains($0) }) { throw HTTPError(.badRequest, message: "\(extra): unknown field") }
        func rate(_ k: String, min lo: Double, max hi: Double) throws -> Double?? {
            guard let v = o[k] else { return .none }
            if v.isNull { return .some(nil) }
            guard let n = AccountsFile.number(v), n >= lo, n <= hi else { throw HTTPError(.badRequest, message: "\(k): expected a number in [\(lo), \(hi)] or null") }
            return .some(n)
        }
        let buffer = try rate("buffer", min: 0.25, max: 10)
        let up = try rate("speedLimitUp", min: 0, max: 10), down = try rate("speedLimitDown", min: 0, max: 0.99)
        let floor = try rate("hardFloor", min: 0, max: 1), cap = try rate("hardCap", min: 0, max: 1)
        var maintenance: Double?
        if let m = try rate("maintenanceFraction", min: 0.01, max: 1) {
            guard let m else { throw HTTPError(.badRequest, message: "maintenanceFraction: cannot be null") }
            maintenance = m
        }
        guard o.isEmpty == false else { throw HTTPError(.badRequest, message: "no change given (fields: \(allowed.joined(separator: ", ")))") }
        let p: Publication
        do {
            p = try await state.updatePolicy(buffer: buffer, speedLimitUp: up, speedLimitDown: down, hardFloor: floor, hardCap: cap,
                                             maintenanceFraction: maintenance, by: who)
        } catch {
            // applied in the engine, queued for the store, not yet durable
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1"], message: "policy applied but not yet stored: \(error)")
        }
        struct Out: Encodable { var policy: PolicyView; var audit: PublicationView }
        return encode(Out(policy: PolicyView(config: await state.engine.config), audit: PublicationView(p)))
    }

    func accountMargin(_ id: String, request: Request) async throws -> Response {
        guard let account = await state.accounts[id] else { throw HTTPError(.notFound, message: "unknown account '\(id)'") }
        let modeText = request.uri.queryParameters.get("mode") ?? "standard"
        guard let mode = MarginMode(rawValue: modeText) else { throw HTTPError(.badRequest, message: "mode: expected standard or portfolio") }
        let explain = try Self.queryBool(request, "explain") ?? false
        let outcome = evaluate(account, mode: mode)
        if case let .failure(e) = outcome { throw HTTPError(.unprocessableContent, message: "\(e.field): \(e.reason)") }
        guard case let .success(r) = outcome else { throw HTTPError(.internalServerError) }
        return encode(AccountView(r, explain: explain))
    }

    func stress(_ request: Request) async throws -> Response {
        guard let o = try await body(request).dictionary else { throw HTTPError(.badRequest, message: "expected an object") }
        if let extra = o.keys.sorted().first(where: { !["shock", "correlation", "mode"].contains($0) }) { throw HTTPError(.badRequest, message: "\(extra): unknown field") }
        guard let shock = o["shock"]?.dictionary, !shock.isEmpty else { throw HTTPError(.badRequest, message: "shock: expected {\"ASSET\": move, ...} (simple returns, -0.3 = -30%)") }
        let book = state.book
        var given: [String: Double] = [:]
        for (asset, v) in shock {
            // at most -99.99%: a bound written as a number, not "above -1" (Foundation's JSON
            // reader rounds -0.9999999999999999 to -1)
            guard let m = AccountsFile.number(v), m >= -0.9999, m <= 10 else {
                throw HTTPError(.badRequest, message: "shock.\(asset.prefix(64)): expected a simple return in [-0.9999, 10] (-0.3 = -30%, 10 = +1000%)")
            }
            // well-formed but not in the book: the data cannot serve it
            guard book.assets[asset] != nil else { throw HTTPError(.unprocessableContent, message: "shock.\(asset.prefix(64)): unknown asset") }
            given[asset] = log(1 + m)
        }
        if let c = o["correlation"], AccountsFile.number(c) == nil { throw HTTPError(.badRequest, message: "correlation: expected a number in [-1, 1]") }
        let rho = o["correlation"].flatMap { AccountsFile.number($0) } ?? 0.9
        guard rho >= -1 && rho <= 1 else { throw HTTPError(.badRequest, message: "correlation: expected a number in [-1, 1]") }
        var mode = MarginMode.standard
        if let m = o["mode"] {
            guard let t = m.string, let parsed = MarginMode(rawValue: t) else { throw HTTPError(.badRequest, message: "mode: expected standard or portfolio") }
            mode = parsed
        }
        let accounts = Array(await state.accounts.values).sorted { $0.id < $1.id }
        let report = StressTest.run(book: book, accounts: accounts, mode: mode, shock: StressShock.withCorrelation(given, rho: rho, book: book))
        struct Round: Encodable { var round: Int; var newlyLiquidatable: [String]; var shortfall: Double; var prices: [String: Double] }
        struct Out: Encodable { var shock: String; var accounts: Int; var liquidatable: Int; var shortfall: Double; var rounds: [Round]; var failed: [String] }
        return encode(Out(shock: report.shock.label, accounts: report.accounts, liquidatable: report.liquidatable, shortfall: report.shortfall,
                          rounds: report.rounds.map { Round(round: $0.round, newlyLiquidatable: $0.newlyLiquidatable, shortfall: $0.shortfall, prices: $0.prices) },
                          failed: report.failed.map(\.description)))
    }

    // MARK: - Helpers

    func json(_ dict: [String: String], status: HTTPResponse.Status = .ok) -> Response {
        encode(dict, status: status)
    }

    func encode<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func text(_ s: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    func body(_ request: Request) async throws -> JSON {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: config.maxBodyBytes) } catch {
            throw HTTPError(.contentTooLarge, message: "request body larger than \(config.maxBodyBytes) bytes")
        }
        return try decode(buffer)
    }

    /// The decoders of `Requests`, their errors as 400s naming the field.
    static func badRequest(_ e: RequestError) -> HTTPError { HTTPError(.badRequest, message: e.description) }
    func decode(_ buffer: ByteBuffer) throws -> JSON {
        switch buffer.withUnsafeReadableBytes({ Requests.parse($0) }) {
        case let .success(json): return json
        case let .failure(error): throw Self.badRequest(error)
        }
    }
    func decodeQuotes(_ json: JSON) throws -> [Quote] {
        do throws(RequestError) { return try Requests.quotes(json) } catch { throw Self.badRequest(error) }
    }
    func decodeWhatIf(_ json: JSON) throws -> (account: Account, mode: MarginMode, explain: Bool) {
        do throws(RequestError) { return try Requests.whatIf(json) } catch { throw Self.badRequest(error) }
    }

    func requireAsset(_ asset: String, status: HTTPResponse.Status = .notFound) async throws {
        guard await state.engine.config.assets.contains(asset) else {
            throw HTTPError(status, message: "\(status == .notFound ? "" : "asset: ")unknown asset '\(asset.prefix(64))'")
        }
    }

    /// An integer query parameter: nil when absent, 400 naming it when not an integer in range.
    static func queryInteger(_ request: Request, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw HTTPError(.badRequest, message: "\(name): expected an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return n
    }

    /// A boolean query parameter (`true` or `false`).
    static func queryBool(_ request: Request, _ name: String) throws -> Bool? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw HTTPError(.badRequest, message: "\(name): expected true or false")
        }
    }

    // MARK: - Assets and rates

    struct AssetView: Encodable {
        var asset: String
        var price: Double?
        var stablePrice: Double?
        var assetPrice: Double?
        var liabilityPrice: Double?
        var status: String
        var sources: [String: Double]
        var volatility: Double?
        var volatilityUnits = "per bar, decimal"
        var model: String
        var bars: Int64
        var rates: [PublicationView]
    }

    func assetView(_ name: String) async -> AssetView {
        let engine = await state.engine
        let st = engine.aggregator.states[name] ?? PriceState()
        let vol = engine.volatility[name]
        let rates = await state.latestPublications().filter { $0.asset == name }.map(PublicationView.init)
        return AssetView(asset: name, price: st.aggregate, stablePrice: st.stable, assetPrice: st.assetPrice, liabilityPrice: st.liabilityPrice,
                         status: st.aggregate == nil ? "no valid price" : (st.unstable ? "unstable" : "stable"),
                         sources: st.latest.mapValues(\.price), volatility: vol?.variance.map { $0.squareRoot() },
                         model: "EWMA lambda \(engine.config.lambda), parametric \(engine.config.expectedShortfall ? "ES" : "VaR") \(engine.config.confidence), MPOR \(engine.config.mpor)",
                         bars: vol?.returns ?? 0, rates: rates)
    }

    func assets() async throws -> Response {
        var out: [AssetView] = []
        for a in await state.engine.config.assets { out.append(await assetView(a)) }
        return encode(out)
    }

    func asset(_ name: String) async throws -> Response {
        try await requireAsset(name)
        return encode(await assetView(name))
    }

    func history(_ name: String) async throws -> Response {
        try await requireAsset(name)
        struct Point: Encodable { var t: Int64; var price: Double; var sigma: Double? }
        return encode(await state.history(name).map { Point(t: $0.t, price: $0.price, sigma: $0.sigma) })
    }

    // MARK: - Ingestion

    /// Quotes in; answered once the accepted ones are durable (a SIGKILL after the answer
    /// loses nothing). Exactly once by (asset, source, ts): a resent quote is counted in
    /// `duplicates` and the answer is still 200.
    func ingest(_ request: Request) async throws -> Response {
        let quotes = try decodeQuotes(try await body(request))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // a store that fails (the duplicate lookup, or the commit not done in time) is a 503:
        // what was accepted stays queued, and a resend is answered as duplicates once stored
        let result: ServiceState.IngestResult
        do {
            result = try await state.ingest(quotes, now: now)
            try await state.waitDurable(result.ticket)
        } catch let e as NotDurable {
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1"], message: e.description)
        } catch {
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1"], message: "the store failed: \(error); resending is safe")
        }
        metrics.accepted.increment(by: Int64(result.accepted))
        metrics.publications.increment(by: Int64(result.publications.count))
        for (r, n) in result.rejected { metrics.rejected(r, n) }
        if result.duplicates > 0 { metrics.rejected("duplicate", result.duplicates) }
        struct Out: Encodable { var accepted: Int; var duplicates: Int; var rejected: [String: Int]; var publications: [PublicationView] }
        let ok = result.accepted > 0 || result.duplicates > 0 || quotes.isEmpty
        return encode(Out(accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected,
                          publications: result.publications.map(PublicationView.init)),
                      status: ok ? .ok : .unprocessableContent)
    }

    // MARK: - What-if margin

    func whatIf(_ request: Request) async throws -> Response {
        let (account, mode, explain) = try decodeWhatIf(try await body(request))
        let outcome = evaluate(account, mode: mode, explain: explain)
        if case let .failure(e) = outcome { throw HTTPError(.unprocessableContent, message: "\(e.field): \(e.reason)") }
        guard case let .success(r) = outcome else { throw HTTPError(.internalServerError) }
        if explain { return encode(AccountView(r, explain: true)) }
        // The hot path of the load test: a flat object written directly.
        func n(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "null" } ?? "null" }
        let text = "{\"accountId\":\(JSONValueQuote.quote(r.accountId)),\"equity\":\(n(r.equity)),\"freeCollateral\":\(n(r.freeCollateral)),\"initialMargin\":\(n(r.initialMargin)),\"liquidationPrice\":\(n(r.liquidationPrice)),\"maintenanceMargin\":\(n(r.maintenanceMargin)),\"marginRatio\":\(n(r.marginRatio)),\"mode\":\"\(r.mode.rawValue)\",\"status\":\"\(r.status.rawValue)\"}"
        return self.text(text, type: "application/json")
    }

    func evaluate(_ account: Account, mode: MarginMode, explain: Bool = true) -> Result<AccountResult, AccountError> {
        do throws(AccountError) { return .success(try state.whatIf(account, mode: mode, explain: explain)) } catch { return .failure(error) }
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
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "5"], message: "too many open streams (\(ServiceState.maxSubscribers))")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let preamble = subscription.missed ? ": some events before the requested sequence are no longer kept; fetch /v1/rates for current values\n\n" : ": stream open\n\n"
        let body = StreamBody(subscription: subscription, limit: limit, preamble: preamble, encoder: encoder, since: since ?? 0)
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
            if let p = preamble { preamble = nil; return ByteBuffer(string: p) }
            if finished || flag.closed { return nil }
            if let r = remaining, r <= 0 { return nil }
            guard let e = await inner.next() else {
                finished = true
                guard flag.dropped else { return nil }
                return ByteBuffer(string: "event: dropped\ndata: {\"reason\":\"the client read too slowly\",\"resumeSince\":\(lastSequence)}\n\n")
            }
            remaining = remaining.map { $0 - 1 }
            let (name, id, data) = e.encoded(encoder)
            if let id { lastSequence = id }
            return ByteBuffer(string: (id.map { "id: \($0)\n" } ?? "") + "event: \(name)\ndata: \(data)\n\n")
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: subscription.events.makeAsyncIterator(), flag: subscription.flag, remaining: limit, preamble: preamble,
                      encoder: encoder, lastSequence: since)
    }
}


extension StreamEvent {
    /// The event's name, its sequence number (publications) and its JSON, as the SSE stream
    /// and the WebSocket both send it.
    func encoded(_ encoder: JSONEncoder) -> (name: String, id: Int64?, data: String) {
        switch self {
        case let .publication(p):
            let data = (try? encoder.encode(PublicationView(p))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return ("publication", p.sequence, data)
        case let .status(asset, unstable, time):
            return ("status", nil, "{\"asset\":\(JSONValueQuote.quote(asset)),\"status\":\"\(unstable ? "unstable" : "stable")\",\"time\":\(time)}")
        }
    }
}

enum JSONValueQuote {
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

struct PublicationView: Encodable, Sendable {
    var sequence: Int64, asset: String, side: String, time: Int64
    var old: Double?, new: Double, maintenance: Double, sigma: Double, setBy: String, modelVersion: String
    var inputsFrom: Int64, inputsTo: Int64
    init(_ p: Publication) {
        sequence = p.sequence; asset = p.asset; side = p.side; time = p.timestamp; old = p.oldValue; new = p.newValue
        maintenance = p.maintenance; sigma = p.sigma; setBy = p.binding; modelVersion = p.modelVersion
        inputsFrom = p.inputFrom; inputsTo = p.inputTo
    }
}

struct PolicyView: Encodable {
    var confidence: Double, mpor: Int, measure: String, lambda: Double, buffer: Double?, speedLimitUp: Double?, speedLimitDown: Double?
    var hardFloor: Double?, hardCap: Double?, maintenanceFraction: Double, publishEvery: Int, minSources: Int, maxDeviation: Double
    init(config c: EngineConfig) {
        confidence = c.confidence; mpor = c.mpor; measure = c.expectedShortfall ? "es" : "var"; lambda = c.lambda; buffer = c.buffer
        speedLimitUp = c.speedLimitUp; speedLimitDown = c.speedLimitDown; hardFloor = c.hardFloor; hardCap = c.hardCap
        maintenanceFraction = c.maintenanceFraction; publishEvery = c.publishEvery; minSources = c.aggregation.minSources
        maxDeviation = c.aggregation.maxDeviation
    }
}

struct AccountView: Encodable {
    var accountId: String, mode: String, equity: Double, initialMargin: Double, maintenanceMargin: Double
    var freeCollateral: Double, marginRatio: Double?, status: String, liquidationPrice: Double?
    var explanation: ExplanationView?
    init(_ r: AccountResult, explain: Bool) {
        accountId = r.accountId; mode = r.mode.rawValue; equity = r.equity; initialMargin = r.initialMargin
        maintenanceMargin = r.maintenanceMargin; freeCollateral = r.freeCollateral
        marginRatio = r.marginRatio.isFinite ? r.marginRatio : nil; status = r.status.rawValue; liquidationPrice = r.liquidationPrice
        explanation = explain ? ExplanationView(r.explanation) : nil
    }
}

struct ExplanationView: Encodable {
    var label: String, value: Double?, detail: String?, children: [ExplanationView]?
    init(_ e: Explanation) {
        label = e.label; value = e.value; detail = e.detail.isEmpty ? nil : e.detail
        children = e.children.isEmpty ? nil : e.children.map(ExplanationView.init)
    }
}
