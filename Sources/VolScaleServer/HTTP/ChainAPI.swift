import Foundation
import Hummingbird
import VolScaleCore
import VolScaleData
import VolScaleEngine

/// Option chains: `POST /v1/assets/{asset}/chain` takes a Deribit book summary, fits the
/// surface and makes the chain's 30-day model-free index the asset's implied volatility;
/// `GET /v1/assets/{asset}/surface` shows the latest fit.
extension ServiceAPI {
    func ingestChain(_ input: Operations.IngestChain.Input) async throws -> Operations.IngestChain.Output {
        let asset = input.path.asset
        try await requireAsset(asset)
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        guard body.result.count <= Self.maxChainRecords else {
            throw HTTPError(.badRequest, message: "result: at most \(Self.maxChainRecords) records per chain")
        }
        // One reader for files and requests: the body's bytes (kept by BodyLimitMiddleware; the
        // generated decoder has checked their shape) go through OptionChainFileReader, with the
        // same checks and errors as `volscale surface`.
        let bytes = RawBody.current.map { Array($0.readableBytesView) } ?? []
        let chain: OptionChainSnapshot
        switch Result(catching: { () throws(DataError) in try OptionChainFileReader().parse(bytes, name: "result") }) {
        case .success(let c): chain = c
        case .failure(let e):
            throw HTTPError(
                .unprocessableContent,
                message: e.line > 0 ? "result[\(e.line - 1)]: \(e.reason)" : "result: \(e.reason)")
        }
        if let other = chain.options.first(where: { !$0.instrument.uppercased().hasPrefix(asset.uppercased() + "-") }) {
            throw HTTPError(
                .unprocessableContent,
                message:
                    "result[\(other.line - 1)].instrument_name: '\(other.instrument.prefix(64))' is not an option on \(asset.prefix(64))"
            )
        }
        guard Set(chain.options.map(\.expiry)).count <= Self.maxChainExpiries else {
            throw HTTPError(
                .unprocessableContent,
                message: "result: more than \(Self.maxChainExpiries) expiries (each one is a fit)")
        }
        let now = state.clock.now()
        let asOf = chain.timestamp ?? now
        guard asOf <= now + 60_000 else {
            throw HTTPError(.unprocessableContent, message: "result: creation_timestamp \(asOf) is in the future")
        }
        let index: ModelFreeVariance.Index
        do { index = try ModelFreeVariance.index(chain.modelFreeQuotes(asOf: asOf), targetDays: 30) } catch {
            throw HTTPError(
                .unprocessableContent, message: "result: no 30-day model-free index from this chain: \(error)")
        }
        let surface = Self.fitSurface(chain, asOf: asOf, index: index.value / 100)
        let value = ImpliedVolatility(
            annualised: index.value / 100, time: asOf,
            source: "chain: \(chain.options.count) options, 30-day model-free index \(Self.round(index.value, 2))")
        let rejection: ImpliedRejection?
        do {
            rejection = try await state.setImplied(asset, value, surface: surface)
        } catch let e as NotOwnedError {
            throw HTTPError(.conflict, message: e.description)
        } catch {
            throw HTTPError.storeUnavailable(error)
        }
        switch rejection {
        case nil: break
        case .unknownAsset: throw HTTPError(.notFound, message: "unknown asset '\(asset.prefix(64))'")
        case .outOfRange(let v):
            throw HTTPError(.unprocessableContent, message: "result: the index \(v) is outside (0, 10] (annualised)")
        case .olderThanCurrent: throw HTTPError(.conflict, message: rejection?.description ?? "older chain")
        }
        return .ok(.init(body: .json(Self.view(asset: asset, value.annualised, surface, asOf: asOf))))
    }

    func getSurface(_ input: Operations.GetSurface.Input) async throws -> Operations.GetSurface.Output {
        let asset = input.path.asset
        try await requireAsset(asset)
        guard let s = await state.surfaces[asset] else {
            throw HTTPError(
                .notFound,
                message:
                    "no option chain for '\(asset.prefix(64))' since the service started (POST /v1/assets/\(asset.prefix(64))/chain)"
            )
        }
        return .ok(.init(body: .json(Self.view(asset: asset, s.index, s, asOf: s.asOf))))
    }

    /// Bounds on a chain (Deribit lists about 800 BTC options over about 12 expiries): the
    /// surface is fitted while the request waits, one fit per expiry.
    static let maxChainRecords = 5000
    static let maxChainExpiries = 64

    /// The surface of a chain, or nil when no expiry can be fitted (the index is still used).
    static func fitSurface(_ chain: OptionChainSnapshot, asOf: Int64, index: Double) -> ChainSurface? {
        guard let smiles = try? chain.smileInputs(asOf: asOf), !smiles.isEmpty,
            let fit = try? SurfaceFitter.fit(smiles.map(\.input))
        else { return nil }
        let expiries = fit.sliceInputs.map { (smiles[$0].expiry, smiles[$0].input.quotes) }
        return ChainSurface(asOf: asOf, index: index, fit: fit, expiries: expiries)
    }

    static func round(_ v: Double, _ digits: Int) -> Double {
        let f = Double.pow(10, Double(digits))
        return (v * f).rounded() / f
    }

    static func view(asset: String, _ implied: Double, _ s: ChainSurface?, asOf: Int64) -> Schemas.Surface {
        guard let s else {
            return .init(asset: asset, asOf: asOf, impliedVolatility: implied, arbitrageFree: false, expiries: [])
        }
        let arbitrage = s.fit.surface.arbitrage(over: s.fit.checkRange)
        let expiries = zip(s.fit.surface.slices, zip(s.fit.statistics, s.expiries)).map { slice, rest in
            let (st, e) = rest
            let svi = slice.smile
            return Schemas.SurfaceExpiry(
                expiry: Timestamp.format(e.expiry, dateOnly: false), years: slice.expiry, forward: slice.forward,
                points: st.points, twoSided: st.twoSided, rmse: st.rmse.isFinite ? st.rmse : nil,
                withinBidAsk: st.withinBidAsk.isFinite ? st.withinBidAsk : nil,
                svi: .init(a: svi.a, b: svi.b, rho: svi.rho, m: svi.m, sigma: svi.sigma),
                quotes: e.quotes.map { .init(strike: $0.strike, bid: $0.bid, ask: $0.ask) })
        }
        return .init(
            asset: asset, asOf: asOf, impliedVolatility: implied, arbitrageFree: arbitrage.arbitrageFree,
            expiries: expiries)
    }
}
