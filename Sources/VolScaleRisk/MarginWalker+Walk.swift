import RealModule
import VolScaleCore

extension MarginWalker {
    /// The body of `MarginEngine.run`'s walk at bar t.
    mutating func walk(_ t: Int, implied: Double?) -> Step? {
        let h = model.mpor
        let usesScenarios = model.method != .parametric
        let stressedWeight = usesScenarios ? model.controls.stressedWeight : nil
        if case .worstWindow(let bars) = model.controls.stressedPeriod, stressedWeight != nil {
            rollingSS += returns[t] * returns[t]
            if t >= bars { rollingSS -= returns[t - bars] * returns[t - bars] }
            if t >= bars - 1 && rollingSS > bestSS {
                bestSS = rollingSS
                stressedWindow = (t - bars + 1, t)
                // its scenarios, copied now: the window may be far behind when they are used
                let (s, e) = (t - bars + 1, t)
                stressedScenarios = e - h + 1 >= s ? (s..<(e - h + 2), Array(rh[s..<(e - h + 2)])) : nil
            }
        }
        guard t >= start, t + 1 < variance.endIndex else { return nil }
        var sigma = variance[t + 1].squareRoot()
        var bound = false
        if let w = model.impliedWeight, let iv = implied, iv.isFinite, w * iv > sigma {
            sigma = w * iv
            bound = true
        }
        let alpha = model.confidence
        let lowestAlpha = maintenanceAlpha ?? alpha

        var stressed: Range<Int>?
        if stressedWeight != nil {
            switch model.controls.stressedPeriod {
            case .worstWindow:
                if let w = stressedWindow, w.end - h + 1 >= w.start { stressed = w.start..<(w.end - h + 2) }
            case .dates(_, let e):
                if timestamps[t] >= e {
                    if namedStressed == nil {
                        let first = namedFirst ?? returns.endIndex
                        let last = namedLast ?? -1
                        let range = last - h + 1 >= first ? first..<(last - h + 2) : nil
                        namedStressed = .some(range)
                        stressedScenarios = range.map { ($0, Array(rh[$0])) }
                    }
                    stressed = namedStressed ?? nil
                }
            }
        }

        var tails: [Side: (TailEstimate, TailEstimate?)] = [:]
        switch model.method {
        case .parametric:
            var f = fixedFactors
            var fm = fixedMaintenanceFactors
            if model.useFittedNu, let nu = nuAt[t + 1] {
                f = ParametricTail.factors(confidence: alpha, nu: nu)
                fm = maintenanceAlpha.map { ParametricTail.factors(confidence: $0, nu: nu) }
            }
            for side in Side.allCases {
                tails[side] = (
                    ParametricTail.estimate(sigma: sigma, horizon: h, factors: f, side: side),
                    fm.map { ParametricTail.estimate(sigma: sigma, horizon: h, factors: $0, side: side) }
                )
            }
        case .historical, .fhs:
            let scale = model.method == .fhs ? sigma : 1
            let lo = t - model.lookback + 1
            let hi = t - h + 1
            if model.method == .fhs {
                if t == start {
                    window.reset(zh[lo...hi])
                } else {
                    window.remove(zh[lo - 1])
                    window.insert(zh[hi])
                }
            } else {
                if t == start {
                    window.reset(rh[lo...hi])
                } else {
                    window.remove(rh[lo - 1])
                    window.insert(rh[hi])
                }
            }
            let nWindow = hi - lo + 1
            let stressedN = stressed?.count ?? 0
            let sw = stressedN > 0 ? (stressedWeight ?? 0) : 0
            let windowShare = 1 - sw
            let k = EmpiricalTail.candidateCount(n: nWindow, groupShare: windowShare, confidence: lowestAlpha)
            window.extremes(k: k, low: &low, high: &high)
            if let range = stressed, stressedN > 0 {
                let ks = EmpiricalTail.candidateCount(n: stressedN, groupShare: sw, confidence: lowestAlpha)
                if let c = stressedCache, c.range == range, c.k == ks {
                    sLow = c.low
                    sHigh = c.high
                } else {
                    // the copy made when the period was found (its range is always this one)
                    let values = stressedScenarios.map { $0.range == range ? $0.values : [] } ?? []
                    values.withUnsafeBufferPointer { buf in extremes(buf, k: ks, low: &sLow, high: &sHigh) }
                    stressedCache = (range, ks, sLow, sHigh)
                }
            } else {
                sLow.removeAll(keepingCapacity: true)
                sHigh.removeAll(keepingCapacity: true)
            }
            let wWindow = windowShare / Double(nWindow)
            let wStressed = stressedN > 0 ? sw / Double(stressedN) : 0
            for side in Side.allCases {
                var candidates: [(loss: Double, weight: Double)] = []
                candidates.reserveCapacity(2 * k + 8)
                for r in (side == .long ? low : high) { candidates.append((side.loss(logReturn: scale * r), wWindow)) }
                for r in (side == .long ? sLow : sHigh) { candidates.append((side.loss(logReturn: r), wStressed)) }
                var c2 = candidates
                let main = EmpiricalTail.estimate(candidates: &candidates, totalWeight: 1, confidence: alpha)
                let mm = maintenanceAlpha.map {
                    EmpiricalTail.estimate(candidates: &c2, totalWeight: 1, confidence: $0)
                }
                tails[side] = (main, mm)
            }
        }

        var floors: [Side: Double] = [:]
        if let fl = model.controls.floorLookback {
            let lo = max(0, t - fl + 1)
            let hi = t - h + 1
            if hi - lo + 1 >= 2 {
                let nF = hi - lo + 1
                let kF = EmpiricalTail.candidateCount(n: nF, groupShare: 1, confidence: alpha)
                if let r = floorRange, r.upperBound == hi - 1, r.lowerBound <= lo {
                    for j in r.lowerBound..<lo { floorWindow.remove(rh[j]) }
                    floorWindow.insert(rh[hi])
                } else {
                    floorWindow.reset(rh[lo...hi])
                }
                floorRange = lo...hi
                floorWindow.extremes(k: kF, low: &low, high: &high)
                for side in Side.allCases {
                    var c = (side == .long ? low : high).map {
                        (loss: side.loss(logReturn: $0), weight: 1.0 / Double(nF))
                    }
                    floors[side] = EmpiricalTail.estimate(candidates: &c, totalWeight: 1, confidence: alpha).value(
                        model.measure)
                }
            }
        }

        var out: [Side: SideRate] = [:]
        for side in Side.allCases {
            guard let (tail, mTail) = tails[side], var state = sides[side] else { return nil }
            let m = max(tail.value(model.measure), 0)
            // the publication h bars ago covered the h-bar loss that ended now
            if let c = model.controls.calibration, let covered = state.history.published(barsAgo: h) {
                state.calibration?.observe(exceeded: side.loss(logReturn: rh[t - h + 1]) > covered, c)
            }
            let k = state.calibration?.multiplier ?? 1
            let (rate, binding) = model.controls.apply(model: k * m, floorValue: floors[side], history: state.history)
            let maintenance: Double
            switch model.controls.maintenance {
            case .fractionOfInitial(let f): maintenance = f * rate
            case .confidence: maintenance = min(max(mTail?.value(model.measure) ?? rate, 0), rate)
            }
            state.history.record(rate)
            sides[side] = state
            out[side] = SideRate(model: m, margin: rate, maintenance: maintenance, binding: binding)
        }
        guard let long = out[.long], let short = out[.short] else { return nil }
        return Step(sigma: sigma, impliedBound: bound, long: long, short: short)
    }
}
