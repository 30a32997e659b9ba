import RealModule
import VolScaleCore
import VolScaleRisk

extension StreamingEngine {
    /// A new aggregate price. Returns are taken from trusted prices only: a bar that closes
    /// while the circuit breaker is tripped is skipped, neither stepped nor published, and the
    /// next trusted close takes its return from the last trusted one. A spike that reverts
    /// within the breaker's spell thus never enters volatility; one that persists enters once,
    /// as one return, when the breaker releases. (A quote outside the deviation band never
    /// reaches the aggregate; while one is being dropped the asset is unstable, and its rates
    /// do not loosen, but the agreeing sources' aggregate is trusted.)
    mutating func onAggregate(asset: String, price: Double, time: Int64, unstable: Bool) -> [Publication] {
        guard var st = volatility[asset] else { return [] }
        if st.firstInput == nil { st.firstInput = time }
        st.lastInput = time
        var out: [Publication] = []
        let barMillis = config.settings(asset).barMillis ?? config.barMillis
        let tripped = aggregator.states[asset]?.tripped == true
        if barMillis <= 0 {
            if closeBar(&st, asset: asset, close: price, barTime: time, trusted: !tripped) {
                out = maybePublish(asset: asset, state: &st, time: time, unstable: unstable)
            }
        } else {
            let bar = time / barMillis
            if let pb = st.pendingBar, bar > pb, let close = st.pending,
                closeBar(&st, asset: asset, close: close, barTime: pb &* barMillis, trusted: st.pendingTripped != true)
            {
                out = maybePublish(asset: asset, state: &st, time: time, unstable: unstable)
            }
            st.pending = price
            st.pendingBar = bar
            st.pendingTripped = tripped
        }
        volatility[asset] = st
        return out
    }

    /// Absorbs one bar close: O(1) after the seed window (EWMA update); an asset with a
    /// model of its own also steps its walker (`barTime`: the bar's time, UTC ms). An
    /// untrusted close is counted and otherwise ignored. Returns whether a return was taken.
    mutating func closeBar(
        _ st: inout AssetVolatilityState, asset: String, close: Double, barTime: Int64, trusted: Bool
    ) -> Bool {
        guard trusted else {
            st.untrustedBars = (st.untrustedBars ?? 0) + 1
            return false
        }
        defer { st.lastClose = close }
        guard let last = st.lastClose else { return true }
        let r = Double.log(close / last)
        st.returns += 1
        st.barsSincePublication += 1
        if var w = walkers[asset] {
            let implied = w.model.impliedWeight != nil ? impliedPerBar(asset, st, at: barTime) : nil
            do {
                steps[asset] = try w.step(r, timestamp: barTime, implied: implied)
                st.policyError = nil
            } catch {
                steps[asset] = nil
                st.policyError = error.description
            }
            walkers[asset] = w
        }
        // the batch filter's recursion (EWMA.State), stepped once per bar
        if let v = st.variance {
            var state = EWMA.State(variance: v)
            state.update(r, lambda: config.lambda)
            st.variance = state.variance
        } else {
            st.seedReturns.append(r)
            if st.seedReturns.count == Self.seedWindow {
                st.variance = EWMA.State.seeded(st.seedReturns, lambda: config.lambda).variance
                st.seedReturns = []
            }
        }
        return true
    }

    mutating func maybePublish(asset: String, state st: inout AssetVolatilityState, time: Int64, unstable: Bool)
        -> [Publication]
    {
        let step = walkers[asset] != nil ? steps.removeValue(forKey: asset) : nil
        if walkers[asset] != nil {
            // a model of its own publishes every bar it has rates for
            guard step != nil else { return [] }
        } else {
            guard st.variance != nil, st.barsSincePublication >= config.publishEvery else { return [] }
        }
        st.barsSincePublication = 0
        var sigma = step?.sigma ?? (st.variance ?? 0).squareRoot()
        var impliedBound = step?.impliedBound ?? false
        if step == nil, let w = config.impliedWeight, let iv = impliedPerBar(asset, st, at: time), w * iv > sigma {
            sigma = w * iv
            impliedBound = true
        }
        let settings = config.settings(asset)
        let sigmaDaily = sigma * (settings.barsPerDay ?? 1).squareRoot()
        // while unstable, the set carries the last trusted close, not the aggregate that tripped the breaker
        let price = aggregator.states[asset]
        var haircuts = st.haircuts ?? [:]
        var out: [Publication] = []
        for side in Side.allCases {
            let previous = st.published[side.rawValue]
            var rate: Double
            var maintenance: Double
            var binding: PublicationBinding
            if let s = step?.side(side) {
                rate = s.margin
                maintenance = s.maintenance
                binding = .control(s.binding)
            } else {
                let tail = ParametricTail.estimate(
                    sigma: sigmaDaily, horizon: config.mpor, factors: factors, side: side)
                let m = config.expectedShortfall ? tail.expectedShortfall : tail.valueAtRisk
                let controlled = config.controls.apply(model: m, floorValue: nil, previous: previous)
                rate = controlled.rate
                maintenance = config.maintenanceFraction * rate
                binding = .control(controlled.binding)
            }
            if impliedBound && binding == .control(.model) { binding = .impliedVolatility }
            let cap = rateCap(asset, side)
            if rate > cap {
                maintenance *= cap / rate
                rate = cap
                binding = .control(.hardCap)
            }
            if unstable, let p = previous, rate < p {
                maintenance = rate > 0 ? maintenance * (p / rate) : maintenance
                rate = p
                binding = .circuitBreaker
            }
            if step == nil { maintenance = config.maintenanceFraction * rate }
            var haircut = CollateralHaircut.base(
                sigmaDaily: sigmaDaily, horizon: config.liquidationHorizon ?? 2, factors: factors, side: side,
                spread: settings.spread ?? 0, floor: settings.haircutFloor ?? 0, cap: settings.haircutCap ?? 1
            ).rate
            if unstable, let p = haircuts[side.rawValue], haircut < p { haircut = p }
            haircuts[side.rawValue] = haircut
            sequence += 1
            st.published[side.rawValue] = rate
            out.append(
                Publication(
                    sequence: sequence, asset: asset, side: .rates(side), timestamp: time, oldValue: previous,
                    newValue: rate, maintenance: maintenance, sigma: sigma, binding: binding,
                    modelVersion: policies[asset]?.name ?? config.modelVersion, inputFrom: st.firstInput ?? time,
                    inputTo: time,
                    price: unstable ? st.lastClose : price?.aggregate, stablePrice: price?.stable, haircut: haircut,
                    status: PriceStatus(unstable: unstable)))
        }
        st.haircuts = haircuts
        return out
    }

    /// The default hard cap of a policy that sets none: 100% of notional (decimal).
    public static let defaultRateCap = 1.0

    /// The highest initial rate an asset's side may publish (decimal fraction of notional): its
    /// policy's hard cap, or `defaultRateCap` where the policy has none; for the long side never
    /// above 1 (a long linear position cannot lose more than its notional).
    public func rateCap(_ asset: String, _ side: Side) -> Double {
        let cap = (policies[asset].map(\.controls.hardCap) ?? config.hardCap) ?? Self.defaultRateCap
        return side == .long ? min(cap, 1) : cap
    }
}
