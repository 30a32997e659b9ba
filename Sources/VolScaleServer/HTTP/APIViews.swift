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
