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
        let now = state.clock.now()
        // a store that fails (the duplicate lookup, or the commit not done in time) is a 503:
        // what was accepted stays queued, and a resend is answered as duplicates once stored
        let result: ServiceState.IngestResult
        do {
            result = try await state.ingest(quotes, now: now)
            try await state.waitDurable(result.ticket)
        } catch {
            throw HTTPError.storeUnavailable(error)
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
        // the document's bounds (`open`: the minimum excluded)
        func rate(_ k: String, _ v: Double?, min lo: Double, max hi: Double, open: Bool = false) throws -> Double?? {
            guard present.contains(k) else { return .none }
            guard let v else { return .some(nil) }
            guard v <= hi, open ? v > lo : v >= lo else {
                throw HTTPError(
                    .badRequest, message: "\(k): expected a number in \(open ? "(" : "[")\(lo), \(hi)] or null")
            }
            return .some(v)
        }
        let buffer = try rate("buffer", change.buffer, min: 0.25, max: 10)
        let up = try rate("speedLimitUp", change.speedLimitUp, min: 0.05, max: 10)
        let down = try rate("speedLimitDown", change.speedLimitDown, min: 0, max: 0.99, open: true)
        let floor = try rate("hardFloor", change.hardFloor, min: 0, max: 1)
        let cap = try rate("hardCap", change.hardCap, min: 0, max: 1, open: true)
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
}
