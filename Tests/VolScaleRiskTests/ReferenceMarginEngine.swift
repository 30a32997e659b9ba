import RealModule
import VolScaleCore

@testable import VolScaleRisk

/// The batch engine as it was before it was built on `MarginWalker` (session 4), frozen
/// here as the reference the walker and the new `MarginEngine.run` are held to, bit for bit.
enum ReferenceMarginEngine {
    /// Returns EWMA's seed window: sigma_t for t below it depends on later returns.
    static let ewmaWarmUp = 75

    /// - Parameters:
    ///   - returns: decimal log returns, oldest first.
    ///   - timestamps: UTC ms of the bar that ends each return (for named stressed periods).
    ///   - implied: per-period implied volatility known at the close of each return's bar
    ///     (nil where missing), for the implied blend.
    static func run(
        _ model: MarginModel, returns: [Double], timestamps: [Int64],
        implied: [Double?]? = nil
    ) throws(MarginModelError) -> MarginPath {
        let n = returns.count
        if model.method != .parametric && model.lookback >= n {
            throw .invalidField(
                model: model.name, field: "lookback", value: Double(model.lookback),
                reason: "longer than the data (\(n) returns)")
        }
        let h = model.mpor
        var notes: [String] = []

        // 1. Volatility forecasts sigma_i (for return i) and sigma_n (next), no look-ahead.
        var variance = [Double](repeating: .nan, count: n + 1)
        var nuAt = [Double?](repeating: nil, count: n + 1)
        let firstValid: Int
        do {
            switch model.volatility {
            case .ewma(let lambda):
                let path = try EWMA(lambda: lambda).filter(returns)
                for i in 0..<n { variance[i] = path.variance[i] ?? .nan }
                variance[n] = path.nextVariance
                firstValid = min(ewmaWarmUp, n)
            case .closeToClose(let window):
                let path = try RollingVolatility(window: window).filter(returns)
                for i in 0..<n { variance[i] = path.variance[i] ?? .nan }
                variance[n] = path.nextVariance
                firstValid = window
            case .garch(let asymmetric, let distribution, let refitEvery, let minimumFit):
                guard n > minimumFit else {
                    throw MarginModelError.tooFewObservations(
                        model: model.name, needed: minimumFit + model.lookback + h, got: n)
                }
                let spec = GARCHModel(
                    mean: .constant, volatility: .init(asymmetric: asymmetric), distribution: distribution)
                var fitEnd = minimumFit
                var fits = 0
                while true {
                    let fit = try spec.fit(Array(returns[0..<fitEnd]))
                    fits += 1
                    let p = fit.parameters
                    var s2 = fit.nextVariance
                    let segmentEnd = min(fitEnd + refitEvery, n)
                    for i in fitEnd..<segmentEnd {
                        variance[i] = s2
                        nuAt[i] = p.nu
                        s2 = {
                            let e = returns[i] - p.mu
                            return p.omega + (p.alpha + (e < 0 ? p.gamma : 0)) * e * e + p.beta * s2
                        }()
                    }
                    variance[segmentEnd] = s2
                    nuAt[segmentEnd] = p.nu
                    // a refit that falls due exactly at the end of the data makes the last
                    // forecast, as it does live (MarginWalker)
                    if segmentEnd == n && (segmentEnd < fitEnd + refitEvery || fitEnd == n) { break }
                    fitEnd = segmentEnd
                }
                firstValid = minimumFit
                notes.append(
                    "\(spec.volatility.name) refitted \(fits) times on expanding windows (every \(refitEvery) bars)")
            }
        } catch let e as VolatilityError {
            throw .volatility(model: model.name, e)
        } catch let e as MarginModelError {
            throw e
        } catch {
            throw .volatility(model: model.name, .optimizationFailed(model: model.volatility.label, reason: "\(error)"))
        }

        // 2. Scenario building blocks: h-bar overlapping sums of residuals and of returns.
        var z = [Double](repeating: 0, count: n)
        for i in firstValid..<n { z[i] = returns[i] / variance[i].squareRoot() }
        let sums = max(n - h + 1, 0)
        var zh = [Double](repeating: 0, count: sums)
        var rh = [Double](repeating: 0, count: sums)
        for j in 0..<sums {
            var a = 0.0
            var b = 0.0
            for i in j..<(j + h) {
                a += z[i]
                b += returns[i]
            }
            zh[j] = a
            rh[j] = b
        }

        let usesScenarios = model.method != .parametric
        let start = usesScenarios ? firstValid + model.lookback - 1 : firstValid
        guard start < n, start >= 0 else {
            throw .tooFewObservations(model: model.name, needed: start + 1 + h, got: n)
        }
        if model.controls.stressedWeight != nil && !usesScenarios {
            notes.append("stressed weighting applies to scenario methods only; ignored for parametric")
        }

        // 3. Walk forward.
        var path = MarginPath(model: model, startIndex: start, notes: [])
        let alpha = model.confidence
        let maintenanceAlpha: Double? = {
            if case .confidence(let a) = model.controls.maintenance { return a } else { return nil }
        }()
        let lowestAlpha = maintenanceAlpha ?? alpha
        let fixedFactors = ParametricTail.factors(confidence: alpha, nu: model.nu)
        let fixedMaintenanceFactors = maintenanceAlpha.map { ParametricTail.factors(confidence: $0, nu: model.nu) }
        var prevLong: Double?
        var prevShort: Double?
        var low: [Double] = []
        var high: [Double] = []
        var sLow: [Double] = []
        var sHigh: [Double] = []
        // Worst window (auto stressed period) tracked incrementally on squared returns.
        var stressedWindow: (start: Int, end: Int)?
        var rollingSS = 0.0
        var bestSS = -1.0
        var stressedNoteMade = false
        var namedStressed: Range<Int>?
        if case .dates(let s, let e) = model.controls.stressedPeriod {
            let first = timestamps.firstIndex { $0 >= s } ?? n
            let last = timestamps.lastIndex { $0 <= e } ?? -1
            if last - h + 1 >= first {
                namedStressed = first..<(last - h + 2)
            } else {
                notes.append(
                    "named stressed period holds fewer than mpor returns of the data: stressed weighting is off")
            }
        }
        let stressedWeight = usesScenarios ? model.controls.stressedWeight : nil
        let count = n - start
        path.sigma.reserveCapacity(count)
        // Sliding sorted windows: scenarios (h-sums of residuals or returns) and the floor's returns.
        let scenarioSource = model.method == .fhs ? zh : rh
        var window = SortedWindow()
        var floorWindow = SortedWindow()
        var floorRange: ClosedRange<Int>?
        var stressedCache: (range: Range<Int>, k: Int, low: [Double], high: [Double])?

        for t in 0..<n {
            if case .worstWindow(let bars) = model.controls.stressedPeriod, stressedWeight != nil {
                rollingSS += returns[t] * returns[t]
                if t >= bars { rollingSS -= returns[t - bars] * returns[t - bars] }
                if t >= bars - 1 && rollingSS > bestSS {
                    bestSS = rollingSS
                    stressedWindow = (t - bars + 1, t)
                }
            }
            guard t >= start else { continue }
            var sigma = variance[t + 1].squareRoot()
            var bound = false
            if let w = model.impliedWeight, let iv = implied?[t], iv.isFinite, w * iv > sigma {
                sigma = w * iv
                bound = true
            }
            path.sigma.append(sigma)
            path.impliedBound.append(bound)

            // Stressed scenarios available at t.
            var stressed: Range<Int>?
            if stressedWeight != nil {
                switch model.controls.stressedPeriod {
                case .worstWindow:
                    if let w = stressedWindow, w.end - h + 1 >= w.start { stressed = w.start..<(w.end - h + 2) }
                case .dates(_, let e):
                    if timestamps[t] >= e {
                        stressed = namedStressed
                    } else if !stressedNoteMade {
                        stressedNoteMade = true
                        path.notes.append(
                            "named stressed period not yet in the past at the first publications: stressed weighting starts once it is"
                        )
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
                let hi = t - h + 1  // scenario j in lo...hi
                if t == start {
                    window.reset(scenarioSource[lo...hi])
                } else {
                    window.remove(scenarioSource[lo - 1])
                    window.insert(scenarioSource[hi])
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
                        rh.withUnsafeBufferPointer { buf in
                            extremes(UnsafeBufferPointer(rebasing: buf[range]), k: ks, low: &sLow, high: &sHigh)
                        }
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
                    for r in (side == .long ? low : high) {
                        candidates.append((side.loss(logReturn: scale * r), wWindow))
                    }
                    for r in (side == .long ? sLow : sHigh) { candidates.append((side.loss(logReturn: r), wStressed)) }
                    var c2 = candidates
                    let main = EmpiricalTail.estimate(candidates: &candidates, totalWeight: 1, confidence: alpha)
                    let mm = maintenanceAlpha.map {
                        EmpiricalTail.estimate(candidates: &c2, totalWeight: 1, confidence: $0)
                    }
                    tails[side] = (main, mm)
                }
            }

            // Floor: unfiltered historical simulation over the floor lookback.
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

            for side in Side.allCases {
                let (tail, mTail) = tails[side]!
                let m = max(tail.value(model.measure), 0)
                let previous = side == .long ? prevLong : prevShort
                let (rate, binding) = model.controls.apply(model: m, floorValue: floors[side], previous: previous)
                let maintenance: Double
                switch model.controls.maintenance {
                case .fractionOfInitial(let f): maintenance = f * rate
                case .confidence: maintenance = min(max(mTail?.value(model.measure) ?? rate, 0), rate)
                }
                if side == .long {
                    prevLong = rate
                    path.long.modelMargin.append(m)
                    path.long.margin.append(rate)
                    path.long.maintenance.append(maintenance)
                    path.long.binding.append(binding)
                } else {
                    prevShort = rate
                    path.short.modelMargin.append(m)
                    path.short.margin.append(rate)
                    path.short.maintenance.append(maintenance)
                    path.short.binding.append(binding)
                }
            }
        }
        path.notes = notes + path.notes
        return path
    }
}
