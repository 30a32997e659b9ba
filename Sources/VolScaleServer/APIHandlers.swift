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

typealias Schemas = Components.Schemas

/// The JSON operations of openapi.yaml (tag `service`): swift-openapi-generator writes their
/// types and the `APIProtocol` they implement (the build plugin, from the same file the
/// service serves). The generated code decodes and encodes the bodies; these handlers
/// check every number against the bounds the document states (the generated code checks
/// types, required fields and unknown properties, not ranges) and throw `HTTPError`s naming
/// the field, which `OpenAPIErrorMiddleware` turns into the one error shape.
extension ServiceAPI: APIProtocol {
    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output {
        .ok(.init(body: .json(.init(status: "ok"))))
    }

    func ready(_ input: Operations.Ready.Input) async throws -> Operations.Ready.Output {
        // not ready while starting, nor while the store cannot commit (quotes would not be acknowledged)
        guard await state.ready else { return .serviceUnavailable(.init(body: .json(.init(status: "starting")))) }
        if let failure = await state.storeFailure {
            return .serviceUnavailable(.init(body: .json(.init(status: "store failing: \(failure.prefix(200))"))))
        }
        return .ok(.init(body: .json(.init(status: "ready"))))
    }

    // MARK: - Assets and rates

    func listAssets(_ input: Operations.ListAssets.Input) async throws -> Operations.ListAssets.Output {
        var out: [Schemas.Asset] = []
        for a in await state.engine.config.assets { out.append(await assetView(a)) }
        return .ok(.init(body: .json(out)))
    }

    func getAsset(_ input: Operations.GetAsset.Input) async throws -> Operations.GetAsset.Output {
        try await requireAsset(input.path.asset)
        return .ok(.init(body: .json(await assetView(input.path.asset))))
    }

    func assetHistory(_ input: Operations.AssetHistory.Input) async throws -> Operations.AssetHistory.Output {
        try await requireAsset(input.path.asset)
        return .ok(
            .init(
                body: .json(
                    await state.history(input.path.asset).map { .init(t: $0.t, price: $0.price, sigma: $0.sigma) })))
    }

    func listRates(_ input: Operations.ListRates.Input) async throws -> Operations.ListRates.Output {
        .ok(.init(body: .json(await state.latestPublications().map(Schemas.Publication.init))))
    }

    func rateHistory(_ input: Operations.RateHistory.Input) async throws -> Operations.RateHistory.Output {
        let asset = input.path.asset
        try await requireAsset(asset)
        let limit = try Self.bounded(input.query.limit, "limit", 1...5000) ?? 500
        if let b = input.query.before, b < 1 {
            throw HTTPError(.badRequest, message: "before: expected an integer in [1, \(Int64.max)]")
        }
        return .ok(
            .init(
                body: .json(
                    await state.publications(asset: asset, limit: limit, before: input.query.before).map(
                        Schemas.Publication.init))))
    }

    /// An integer parameter within `range`, or a 400 naming it.
    static func bounded(_ value: Int?, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let value else { return nil }
        guard range.contains(value) else {
            throw HTTPError(
                .badRequest, message: "\(name): expected an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return value
    }

    func assetView(_ name: String) async -> Schemas.Asset {
        let engine = await state.engine
        let st = engine.aggregator.states[name] ?? PriceState()
        let vol = engine.volatility[name]
        let rates = await state.latestPublications().filter { $0.asset == name }.map(Schemas.Publication.init)
        let c = engine.config
        let status = await state.status(of: name)
        // an asset with a model of its own: its name, and the sigma of its latest publication
        let policy = engine.policies[name]
        let policySigma = policy == nil ? nil : rates.last?.sigma
        let lease: Lease? = await state.owner(of: name).flatMap { $0.live ? $0 : nil }
        let owner: String? = lease?.owner
        let ownerAddress: String? = (lease?.address).flatMap { $0.isEmpty ? nil : $0 }
        let modelText: String =
            policy.map {
                "\($0.name): \($0.volatility.label) \($0.method.rawValue.uppercased()) \($0.measure == .expectedShortfall ? "ES" : "VaR") \($0.confidence), MPOR \($0.mpor) bar\($0.mpor == 1 ? "" : "s")"
            }
            ?? "EWMA lambda \(c.lambda), parametric \(c.expectedShortfall ? "ES" : "VaR") \(c.confidence), MPOR \(c.mpor)"
        return .init(
            asset: name, owner: owner, ownerAddress: ownerAddress, price: st.aggregate, stablePrice: st.stable,
            assetPrice: st.assetPrice, liabilityPrice: st.liabilityPrice,
            status: st.aggregate == nil
                ? .noValidPrice : (Schemas.Asset.StatusPayload(rawValue: status.rawValue) ?? .unstable),
            sources: .init(additionalProperties: st.latest.mapValues(\.price)),
            volatility: policySigma ?? vol?.variance.map { $0.squareRoot() }, volatilityUnits: "per bar, decimal",
            impliedVolatility: vol?.implied?.annualised, impliedAsOf: vol?.implied?.time,
            model: modelText,
            bars: vol?.returns ?? 0, rates: rates)
    }

    // MARK: - Ingestion

    /// Quotes in; answered once the accepted ones are durable (a SIGKILL after the answer
    /// loses nothing). Exactly once by (asset, source, ts): a resent quote is counted in
    /// `duplicates` and the answer is still 200.
    func ingestPrices(_ input: Operations.IngestPrices.Input) async throws -> Operations.IngestPrices.Output {
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let quotes: [Quote]
        switch body {
        case .Quote(let q): quotes = [try Self.quote(q, field: "")]
        case .QuoteBatch(let b):
            guard b.quotes.count <= Requests.maxQuotes else {
                throw HTTPError(.badRequest, message: "quotes: at most \(Requests.maxQuotes) quotes per request")
            }
            quotes = try b.quotes.enumerated().map { try Self.quote($1, field: "quotes[\($0)].") }
        }
        if let key = RawBody.key,
            let (i, q) = quotes.enumerated().first(where: { !key.mayQuote(asset: $1.asset, source: $1.source) })
        {
            throw HTTPError(
                .forbidden,
                message:
                    "quotes[\(i)]: key '\(key.name)' may not quote \(q.asset) from source '\(q.source)' (its sources: \((key.sources ?? []).joined(separator: ", "))); nothing of this request was applied"
            )
        }
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
            throw HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"],
                message: "the store failed: \(error); resending is safe")
        }
        metrics.accepted.increment(by: Int64(result.accepted))
        metrics.publications.increment(by: Int64(result.publications.count))
        for (r, n) in result.rejected { metrics.rejected(r, n) }
        if result.duplicates > 0 { metrics.rejected("duplicate", result.duplicates) }
        let published = await state.globalNumbers(result.publications)
        let out = Schemas.IngestResult(
            accepted: result.accepted, duplicates: result.duplicates,
            rejected: .init(additionalProperties: result.rejected),
            forwarded: result.forwarded == 0 ? nil : result.forwarded,
            publications: published.map(Schemas.Publication.init))
        if result.rejected[RejectionReason.conflict.rawValue, default: 0] > 0 {
            return .conflict(.init(body: .json(out)))
        }
        let ok = result.accepted > 0 || result.duplicates > 0 || result.forwarded > 0 || quotes.isEmpty
        return ok ? .ok(.init(body: .json(out))) : .unprocessableContent(.init(body: .json(out)))
    }

    /// One decoded quote within the document's bounds (names of 1 to 64 printable
    /// characters, ts in 1900-2100, price in (0, 1e15]).
    static func quote(_ q: Schemas.Quote, field: String) throws -> Quote {
        func name(_ v: String, _ k: String) throws -> String {
            guard !v.isEmpty, v.unicodeScalars.count <= Requests.maxNameLength,
                v.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
            else {
                throw HTTPError(
                    .badRequest,
                    message: "\(field)\(k): expected a string of 1 to \(Requests.maxNameLength) printable characters")
            }
            return v
        }
        let range = Quote.timestampRange
        guard range.contains(q.ts) else {
            throw HTTPError(
                .badRequest,
                message:
                    "\(field)ts: expected epoch milliseconds, an integer in [\(range.lowerBound), \(range.upperBound)] (years 1900-2100)"
            )
        }
        guard q.price > 0, q.price <= Requests.maxPrice else {
            throw HTTPError(.badRequest, message: "\(field)price: expected a number in (0, 1e15]")
        }
        if let c = q.confidence, !(c >= 0 && c <= Requests.maxPrice) {
            throw HTTPError(.badRequest, message: "\(field)confidence: expected a number in [0, 1e15]")
        }
        return Quote(
            asset: try name(q.asset, "asset"), source: try name(q.source, "source"), timestamp: q.ts, price: q.price,
            confidence: q.confidence)
    }

    // MARK: - Margin

    func whatIf(_ input: Operations.WhatIf.Input) async throws -> Operations.WhatIf.Output {
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let account = try Self.account(body)
        let mode = body.mode.flatMap { MarginMode(rawValue: $0.rawValue) } ?? .standard
        let explain = body.explain ?? false
        return .ok(.init(body: .json(try evaluated(account, mode: mode, explain: explain))))
    }

    /// The account of a what-if body, every number within `AccountLimits`.
    static func account(_ a: Schemas.Account) throws -> Account {
        var collateral: [(asset: String, quantity: Double)] = []
        switch a.collateral {
        case nil: break
        case .case1(let map)?:
            collateral = map.additionalProperties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        case .case2(let list)?:
            for (j, e) in list.enumerated()
            where e.asset.isEmpty || e.asset.unicodeScalars.count > AccountLimits.maxNameLength {
                throw HTTPError(
                    .badRequest,
                    message: "collateral[\(j)].asset: expected 1 to \(AccountLimits.maxNameLength) characters")
            }
            collateral = list.map { ($0.asset, $0.quantity) }
        }
        let positions = (a.positions ?? []).map {
            Position(
                instrument: $0.instrument, quantity: $0.quantity, entryPrice: $0.entryPrice,
                impliedVolatility: $0.impliedVolatility)
        }
        let account = Account(id: a.id ?? "what-if", collateral: collateral, positions: positions)
        if let e = AccountLimits.violation(in: account) {
            throw HTTPError(.badRequest, message: "\(e.field): \(e.reason)")
        }
        return account
    }

    func evaluated(_ account: Account, mode: MarginMode, explain: Bool) throws -> Schemas.AccountMargin {
        switch evaluate(account, mode: mode, explain: explain) {
        case .success(let r): return Schemas.AccountMargin(r, explain: explain)
        case .failure(let e): throw HTTPError(.unprocessableContent, message: "\(e.field): \(e.reason)")
        }
    }

    func evaluate(_ account: Account, mode: MarginMode, explain: Bool = true) -> Result<AccountResult, AccountError> {
        do throws(AccountError) { return .success(try state.whatIf(account, mode: mode, explain: explain)) } catch {
            return .failure(error)
        }
    }

    func accountMargin(_ input: Operations.AccountMargin.Input) async throws -> Operations.AccountMargin.Output {
        guard let (account, stored) = await state.account(input.path.id) else {
            throw HTTPError(.notFound, message: "unknown account '\(input.path.id.prefix(64))'")
        }
        let mode = input.query.mode.flatMap { MarginMode(rawValue: $0.rawValue) } ?? stored
        return .ok(.init(body: .json(try evaluated(account, mode: mode, explain: input.query.explain ?? false))))
    }

    // MARK: - Policy

    func getPolicy(_ input: Operations.GetPolicy.Input) async throws -> Operations.GetPolicy.Output {
        .ok(.init(body: .json(Schemas.Policy(config: await state.engine.config))))
    }

    /// A control set to a number changes it, set to `null` switches it off, absent leaves it.
    /// The generated type reads both null and absent as nil, so the raw body (kept by
    /// `BodyLimitMiddleware` for this route) tells them apart.
    func updatePolicy(_ input: Operations.UpdatePolicy.Input) async throws -> Operations.UpdatePolicy.Output {
        guard case .json(let change) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let present = Set(
            RawBody.current.flatMap { b in
                (try? b.withUnsafeReadableBytes { Requests.parse($0) }.get())?.members?.map(\.key)
            } ?? [])
        guard !present.isEmpty else {
            throw HTTPError(
                .badRequest,
                message:
                    "no change given (fields: buffer, speedLimitUp, speedLimitDown, hardFloor, hardCap, maintenanceFraction)"
            )
        }
        func rate(_ k: String, _ v: Double?, min lo: Double, max hi: Double) throws -> Double?? {
            guard present.contains(k) else { return .none }
            guard let v else { return .some(nil) }
            guard v >= lo, v <= hi else {
                throw HTTPError(.badRequest, message: "\(k): expected a number in [\(lo), \(hi)] or null")
            }
            return .some(v)
        }
        let buffer = try rate("buffer", change.buffer, min: 0.25, max: 10)
        let up = try rate("speedLimitUp", change.speedLimitUp, min: 0, max: 10)
        let down = try rate("speedLimitDown", change.speedLimitDown, min: 0, max: 0.99)
        let floor = try rate("hardFloor", change.hardFloor, min: 0, max: 1)
        let cap = try rate("hardCap", change.hardCap, min: 0, max: 1)
        var maintenance: Double?
        if let m = try rate("maintenanceFraction", change.maintenanceFraction, min: 0.01, max: 1) {
            guard let m else { throw HTTPError(.badRequest, message: "maintenanceFraction: cannot be null") }
            maintenance = m
        }
        let p: Publication
        do {
            p = try await state.updatePolicy(
                buffer: buffer, speedLimitUp: up, speedLimitDown: down, hardFloor: floor, hardCap: cap,
                maintenanceFraction: maintenance, by: RawBody.keyName ?? "unknown")
        } catch {
            // well-formed but refused by the engine (the controls would be invalid): nothing changed
            if let e = error as? EngineConfigError { throw HTTPError(.unprocessableContent, message: "\(e)") }
            // applied in the engine, queued for the store, not yet durable
            throw HTTPError(
                .serviceUnavailable, headers: [.retryAfter: "1"], message: "policy applied but not yet stored: \(error)"
            )
        }
        return .ok(
            .init(
                body: .json(
                    .init(policy: Schemas.Policy(config: await state.engine.config), audit: Schemas.Publication(p)))))
    }

    // MARK: - Stress and backtest

    func stress(_ input: Operations.Stress.Input) async throws -> Operations.Stress.Output {
        defer { FreedMemory.release() }
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let shock = body.shock.additionalProperties
        guard !shock.isEmpty else {
            throw HTTPError(
                .badRequest, message: "shock: expected {\"ASSET\": move, ...} (simple returns, -0.3 = -30%)")
        }
        let book = state.book
        var given: [String: Double] = [:]
        for (asset, m) in shock.sorted(by: { $0.key < $1.key }) {
            // at most -99.99%: a bound written as a number, not "above -1"
            guard m >= -0.9999, m <= 10 else {
                throw HTTPError(
                    .badRequest,
                    message:
                        "shock.\(asset.prefix(64)): expected a simple return in [-0.9999, 10] (-0.3 = -30%, 10 = +1000%)"
                )
            }
            // well-formed but not in the book: the data cannot serve it
            guard book.assets[asset] != nil else {
                throw HTTPError(.unprocessableContent, message: "shock.\(asset.prefix(64)): unknown asset")
            }
            given[asset] = log(1 + m)
        }
        let rho = body.correlation ?? 0.9
        guard rho >= -1 && rho <= 1 else {
            throw HTTPError(.badRequest, message: "correlation: expected a number in [-1, 1]")
        }
        let mode = body.mode.flatMap { MarginMode(rawValue: $0.rawValue) } ?? .standard
        let accounts = await state.accounts
        // the cascade as `volscale stress` runs it by default: the same stressed correlation
        // carries liquidation impact to the other assets, volatility re-estimated between rounds
        let cascade: CascadeSettings
        do {
            cascade = try CascadeSettings(
                correlation: StressCorrelation.uniform(rho, assets: book.assets.keys.sorted()),
                lambda: EWMA.riskMetricsLambda)
        } catch {
            throw HTTPError(.badRequest, message: "correlation: \(error)")
        }
        let report = StressTest.run(
            book: book, accounts: accounts, mode: mode, shock: StressShock.withCorrelation(given, rho: rho, book: book),
            cascade: cascade)
        // JSON has no infinities or NaN, and a shortfall sent as 0 would be a false all-clear:
        // a figure that is not finite (amounts beyond Double's range) is refused, named
        func finite(_ x: Double, _ field: String) throws -> Double {
            guard x.isFinite else {
                throw HTTPError(
                    .unprocessableContent,
                    message:
                        "\(field): the stress result is not a finite number (\(x)); an account's amounts exceed what can be computed"
                )
            }
            return x
        }
        let rounds = try report.rounds.map { round in
            Components.Schemas.StressRound(
                round: round.round, newlyLiquidatable: round.newlyLiquidatable,
                shortfall: try finite(round.shortfall, "rounds[\(round.round)].shortfall"),
                prices: .init(
                    additionalProperties: try round.prices.mapValues { try finite($0, "rounds[\(round.round)].prices") }
                ))
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        shock: report.shock.label, accounts: report.accounts, liquidatable: report.liquidatable,
                        shortfall: try finite(report.shortfall, "shortfall"), rounds: rounds,
                        failed: report.failed.map(\.description)))))
    }

    /// Walks a margin model forward over the service's price history of one asset (the
    /// bars it has seen) and answers the backtest statistics, keys as `volscale backtest`.
    func backtest(_ input: Operations.Backtest.Input) async throws -> Operations.Backtest.Output {
        guard case .json(let o) = input.body else { throw HTTPError(.unsupportedMediaType) }
        try await requireAsset(o.asset, status: .unprocessableContent)
        // not a number: the generated decoder's 400; a number the model cannot use: 422, as the model's own checks
        func num(_ v: Double?, _ k: String, _ d: Double, _ lo: Double, _ hi: Double, open: Bool = false) throws
            -> Double
        {
            guard let n = v else { return d }
            guard n <= hi, open ? n > lo : n >= lo else {
                throw HTTPError(
                    .unprocessableContent, message: "\(k): expected a number in \(open ? "(" : "[")\(lo), \(hi)]")
            }
            return n
        }
        // the generated enums hold exactly the domain's raw values (the document lists them)
        guard let method = RiskMethod(rawValue: o.method?.rawValue ?? "fhs"),
            let measure = TailMeasure(rawValue: o.measure?.rawValue ?? "es"),
            let side = Side(rawValue: o.side?.rawValue ?? "long")
        else { throw HTTPError(.badRequest, message: "method, measure or side: not a documented value") }
        let lambda = try num(o.lambda, "lambda", EWMA.riskMetricsLambda, 0, 1, open: true)
        let confidence = try num(o.confidence, "confidence", 0.99, 0.5, 0.9999)
        let mpor = try Self.bounded(o.mpor, "mpor", 1...250) ?? 1
        let lookback = try Self.bounded(o.lookback, "lookback", 10...100_000) ?? 1000
        let testConfidence =
            o.testConfidence == nil ? nil : try num(o.testConfidence, "testConfidence", 0.99, 0.5, 0.9999)
        let model: MarginModel
        do {
            model = try MarginModel(
                name: "api", volatility: .ewma(lambda: lambda), measure: measure, method: method,
                confidence: confidence, mpor: mpor, lookback: lookback, testConfidence: testConfidence)
        } catch { throw HTTPError(.unprocessableContent, message: error.description) }
        let points = await state.history(o.asset)
        guard points.count > 2 else {
            throw HTTPError(.unprocessableContent, message: "asset \(o.asset) has too little history")
        }
        let returns = (1..<points.count).map { log(points[$0].price / points[$0 - 1].price) }
        let path: MarginPath
        do { path = try MarginEngine.run(model, returns: returns, timestamps: points.dropFirst().map(\.t)) } catch {
            throw HTTPError(.unprocessableContent, message: error.description)
        }
        let r = path.backtest(returns: returns, side: side)
        let p = r.procyclicality
        // a figure that is not defined (no data) is left out, never sent as a number
        func defined(_ x: Double) -> Double? { x.isFinite ? x : nil }
        func stat(_ s: (statistic: Double, pValue: Double)) -> Schemas.TestStatistic {
            .init(statistic: defined(s.statistic), pValue: defined(s.pValue))
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        asset: o.asset, observations: r.observations, exceedances: r.exceedances,
                        exceedanceRate: defined(r.exceedanceRate),
                        kupiec: stat((r.kupiec.statistic, r.kupiec.pValue)),
                        christoffersen: .init(
                            independence: stat((r.independence.statistic, r.independence.pValue)),
                            conditionalCoverage: stat((r.conditionalCoverage.statistic, r.conditionalCoverage.pValue))),
                        trafficLight: .init(
                            green: r.trafficLight.green, yellow: r.trafficLight.yellow, red: r.trafficLight.red,
                            worst: r.trafficLight.worst.rawValue),
                        procyclicality: .init(
                            peakToTrough: defined(p.peakToTrough), maxIncrease1: defined(p.maxIncrease1),
                            maxIncrease5: defined(p.maxIncrease5),
                            maxIncrease30: defined(p.maxIncrease30), averageMargin: defined(p.averageMargin))))))
    }
}

// MARK: - Views of the domain types, as the document defines them

extension Schemas.Publication {
    init(_ p: Publication) {
        self.init(
            sequence: p.sequence, asset: p.asset, side: p.side.stored, time: p.timestamp,
            old: p.oldValue.flatMap { $0.isFinite ? $0 : nil }, new: p.newValue,
            maintenance: p.maintenance, sigma: p.sigma, setBy: p.binding.stored, modelVersion: p.modelVersion,
            inputsFrom: p.inputFrom, inputsTo: p.inputTo,
            price: p.price, stablePrice: p.stablePrice, haircut: p.haircut,
            status: p.status.flatMap { StatusPayload(rawValue: $0.rawValue) })
    }
}

extension Schemas.Policy {
    init(config c: EngineConfig) {
        self.init(
            confidence: c.confidence, mpor: c.mpor, measure: c.expectedShortfall ? .es : ._var, lambda: c.lambda,
            buffer: c.buffer,
            speedLimitUp: c.speedLimitUp, speedLimitDown: c.speedLimitDown, hardFloor: c.hardFloor, hardCap: c.hardCap,
            maintenanceFraction: c.maintenanceFraction, publishEvery: c.publishEvery,
            minSources: c.aggregation.minSources,
            maxDeviation: c.aggregation.maxDeviation)
    }
}

extension Schemas.AccountMargin {
    init(_ r: AccountResult, explain: Bool) {
        self.init(
            accountId: r.accountId, mode: r.mode == .portfolio ? .portfolio : .standard, equity: r.equity,
            initialMargin: r.initialMargin,
            maintenanceMargin: r.maintenanceMargin, freeCollateral: r.freeCollateral,
            marginRatio: r.marginRatio.isFinite ? r.marginRatio : nil,
            status: r.status.rawValue, liquidationPrice: r.liquidationPrice.flatMap { $0.isFinite ? $0 : nil },
            sequence: r.sequence ?? 0, explanation: explain ? Schemas.Explanation(r.explanation) : nil)
    }
}

extension Schemas.Explanation {
    init(_ e: Explanation) {
        self.init(
            label: e.label, value: e.value.flatMap { $0.isFinite ? $0 : nil },
            detail: e.detail.isEmpty ? nil : e.detail,
            children: e.children.isEmpty ? nil : e.children.map(Schemas.Explanation.init))
    }
}

// MARK: - Around the generated handlers

extension ServiceAPI {
    /// POST /v1/margin/what-if, the service's hot path: the same generated types
    /// (`Components.Schemas.Account` in, `AccountMargin` out) and the same `APIProtocol`
    /// method as the generated glue, but the body is read by `JSONReader` and mapped onto
    /// the generated type directly (`Schemas.Account(json:)`), not through Codable.
    /// Profiled under load (perf, release build, 32 connections): Foundation's JSONDecoder
    /// took 32% of the server's CPU for a 10-position account, against 7% for the margin
    /// itself; a Decoder of our own over the parsed tree still spent 28%, in the generated
    /// `init(from:)`'s generic containers and its unknown-key check. A test holds the mapping
    /// to the generated decoder: the same value, or a refusal naming the same field.
    /// `RoleRoutingTransport` registers this in place of the generated glue for this route.
    func whatIfFast(_ request: Request, context: AppRequestContext) async throws -> Response {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw HTTPError(.unsupportedMediaType, message: "Content-Type: expected application/json")
        }
        let body = RawBody.current ?? ByteBuffer()
        let account: Schemas.Account
        do { account = try Schemas.Account(body) } catch let d as DecodingError { throw OpenAPIErrorMiddleware.map(d) }
        guard case .ok(let ok) = try await whatIf(.init(body: .json(account))), case .json(let result) = ok.body else {
            throw HTTPError(.internalServerError)
        }
        return Self.json(result.json)
    }

    static func json(_ value: JSON) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.utf8)))
    }
}

/// The generated `Account` from a request body: `AccountDocument` (VolScaleConfig, fuzzed
/// with the other decoders) reads it exactly as the generated `init(from:)` would, and this
/// copies its fields (WhatIfCodecTests holds the two to each other).
extension Components.Schemas.Account {
    init(_ body: ByteBuffer) throws {
        let json: JSON
        switch body.withUnsafeReadableBytes({ Requests.parse($0) }) {
        case .success(let j): json = j
        case .failure(let e): throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: e.description))
        }
        try self.init(json: json)
    }

    init(json: JSON) throws { self.init(try AccountDocument(json: json)) }

    init(_ d: AccountDocument) {
        let collateral: CollateralPayload? =
            switch d.collateral {
            case nil: nil
            case .map(let m)?: .case1(.init(additionalProperties: m))
            case .list(let l)?: .case2(l.map { .init(asset: $0.asset, quantity: $0.quantity) })
            }
        self.init(
            id: d.id, collateral: collateral,
            positions: d.positions?.map {
                .init(
                    instrument: $0.instrument, quantity: $0.quantity, entryPrice: $0.entryPrice,
                    impliedVolatility: $0.impliedVolatility)
            },
            mode: d.mode.flatMap { ModePayload(rawValue: $0) }, explain: d.explain)
    }
}

/// The answer as JSON, members sorted as the generated encoder sorts them.
extension Components.Schemas.AccountMargin {
    var json: JSON {
        var m: [(key: String, value: JSON)] = [("accountId", .string(accountId)), ("equity", .number(equity))]
        if let explanation { m.append(("explanation", explanation.json)) }
        m.append(("freeCollateral", .number(freeCollateral)))
        m.append(("initialMargin", .number(initialMargin)))
        if let liquidationPrice { m.append(("liquidationPrice", .number(liquidationPrice))) }
        m.append(("maintenanceMargin", .number(maintenanceMargin)))
        if let marginRatio { m.append(("marginRatio", .number(marginRatio))) }
        m.append(("mode", .string(mode.rawValue)))
        if let sequence { m.append(("sequence", .number(Double(sequence)))) }
        m.append(("status", .string(status)))
        return .object(m)
    }
}

extension Components.Schemas.Explanation {
    var json: JSON {
        var m: [(key: String, value: JSON)] = []
        if let children { m.append(("children", .array(children.map(\.json)))) }
        if let detail { m.append(("detail", .string(detail))) }
        m.append(("label", .string(label)))
        if let value { m.append(("value", .number(value))) }
        return .object(m)
    }
}

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
