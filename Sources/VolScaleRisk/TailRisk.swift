import RealModule
import VolScaleCore

/// Which position a requirement covers. Long and short are computed separately:
/// return distributions are skewed.
public enum Side: String, Sendable, CaseIterable, Codable {
    case long, short

    /// Loss of a unit position for an h-bar log return R, as a positive fraction of
    /// notional: long `1 - exp(R)`, short `exp(R) - 1` (negative is a gain).
    @inlinable
    public func loss(logReturn r: Double) -> Double {
        self == .long ? -Double.expMinusOne(r) : Double.expMinusOne(r)
    }
}

/// Value-at-risk or expected shortfall.
public enum TailMeasure: String, Sendable, CaseIterable, Codable {
    case valueAtRisk = "var"
    case expectedShortfall = "es"
}

/// How the loss distribution is obtained.
public enum RiskMethod: String, Sendable, CaseIterable, Codable {
    /// Normal or standardised Student-t with the forecast volatility, `sigma sqrt(h)`.
    case parametric
    /// Empirical h-bar returns of the lookback window.
    case historical
    /// Filtered historical simulation: devolatilised residuals rescaled to the forecast.
    case fhs
}

/// VaR and ES of one side at one confidence, as positive loss fractions of notional.
public struct TailEstimate: Sendable, Equatable {
    public var valueAtRisk: Double
    public var expectedShortfall: Double

    public func value(_ m: TailMeasure) -> Double { m == .valueAtRisk ? valueAtRisk : expectedShortfall }
}

/// Tail measures of a weighted empirical distribution of losses.
///
/// Quantile rule: VaR is the smallest loss L such that the scenarios with loss >= L carry
/// at least `1 - alpha` of the weight; ES is the weighted mean loss over the worst
/// `1 - alpha` of the weight, the boundary scenario counted with the fraction of its
/// weight needed to reach exactly `1 - alpha`. With n equally weighted scenarios and
/// n(1 - alpha) = k whole, VaR is the k-th largest loss and ES the mean of the k largest.
public enum EmpiricalTail {
    /// - Parameter candidates: (loss, weight) pairs that include every scenario that can
    ///   lie in the worst `1 - alpha` of the total weight (usually the few largest losses
    ///   of each weighted group); weights need not be normalised but `totalWeight` must be
    ///   the weight of all scenarios.
    public static func estimate(
        candidates: inout [(loss: Double, weight: Double)], totalWeight: Double,
        confidence alpha: Double
    ) -> TailEstimate {
        candidates.sort { $0.loss > $1.loss }
        let tailMass = (1 - alpha) * totalWeight
        var cumulative = 0.0
        var weightedSum = 0.0
        for c in candidates {
            let take = min(c.weight, tailMass - cumulative)
            weightedSum += take * c.loss
            cumulative += c.weight
            if cumulative >= tailMass * (1 - 1e-12) {
                return TailEstimate(valueAtRisk: c.loss, expectedShortfall: weightedSum / tailMass)
            }
        }
        // Too few candidates: the worst available (callers size candidate sets to avoid this).
        let worst = candidates.last?.loss ?? .nan
        return TailEstimate(valueAtRisk: worst, expectedShortfall: cumulative > 0 ? weightedSum / cumulative : .nan)
    }

    /// Number of equally weighted scenarios out of `n` that can fall in the tail when the
    /// group carries `groupShare` of the total weight.
    public static func candidateCount(n: Int, groupShare: Double, confidence alpha: Double) -> Int {
        guard n > 0, groupShare > 0 else { return 0 }
        return min(n, Int(((1 - alpha) * Double(n) / groupShare).rounded(.up)) + 1)
    }
}

/// Closed-form tails for a per-period volatility sigma over h bars (zero mean), mapped
/// through the loss of each side: the log-return quantile `q = k sigma sqrt(h)` gives
/// long `1 - exp(-q)` and short `exp(q) - 1`; ES likewise from the log-return ES.
public enum ParametricTail {
    /// Standard-normal or standardised-t tail factors (quantile, ES) at `alpha`; `nu` is a
    /// validated model's or a fit's (above 2).
    public static func factors(confidence alpha: Double, nu: Double?) -> (quantile: Double, es: Double) {
        if let nu {
            let t = StudentT(checkedNu: nu)
            return (t.standardizedQuantile(alpha), t.standardizedExpectedShortfall(alpha))
        }
        let z = Special.normalQuantile(alpha)
        return (z, Special.normalPDF(z) / (1 - alpha))
    }

    public static func estimate(sigma: Double, horizon h: Int, factors f: (quantile: Double, es: Double), side: Side)
        -> TailEstimate
    {
        let s = sigma * Double(h).squareRoot()
        switch side {
        case .long:
            return TailEstimate(
                valueAtRisk: side.loss(logReturn: -f.quantile * s), expectedShortfall: side.loss(logReturn: -f.es * s))
        case .short:
            return TailEstimate(
                valueAtRisk: side.loss(logReturn: f.quantile * s), expectedShortfall: side.loss(logReturn: f.es * s))
        }
    }
}

/// The k smallest and k largest values of a buffer, each sorted from the extreme inwards
/// (smallest ascending, largest descending).
/// - Complexity: O(n) comparisons for random input when k is small relative to n.
@usableFromInline
func extremes(_ values: UnsafeBufferPointer<Double>, k: Int, low: inout [Double], high: inout [Double]) {
    low.removeAll(keepingCapacity: true)
    high.removeAll(keepingCapacity: true)
    guard k > 0 else { return }
    if k > 24 {
        // Many tail candidates (low confidence or long windows): one sort is cheaper than
        // insertions into long sorted arrays.
        let sorted = values.sorted()
        let m = min(k, sorted.count)
        low.append(contentsOf: sorted[0..<m])
        high.append(contentsOf: sorted.reversed()[0..<m])
        return
    }
    for v in values {
        if low.count < k {
            insertAscending(&low, v)
        } else if v < low[k - 1] {
            low.removeLast()
            insertAscending(&low, v)
        }
        if high.count < k {
            insertDescending(&high, v)
        } else if v > high[k - 1] {
            high.removeLast()
            insertDescending(&high, v)
        }
    }
}

@inline(__always)
func insertAscending(_ a: inout [Double], _ v: Double) {
    var i = a.count
    a.append(v)
    while i > 0 && a[i - 1] > v {
        a[i] = a[i - 1]
        i -= 1
    }
    a[i] = v
}

@inline(__always)
func insertDescending(_ a: inout [Double], _ v: Double) {
    var i = a.count
    a.append(v)
    while i > 0 && a[i - 1] < v {
        a[i] = a[i - 1]
        i -= 1
    }
    a[i] = v
}

/// A window of values kept sorted as it slides: one insertion and one removal per step.
/// - Complexity: O(log n) search plus an O(n) memory move per update, which for windows
///   of a few thousand doubles is far cheaper than re-sorting or re-scanning them.
struct SortedWindow {
    private(set) var values: [Double] = []

    init() {}

    /// Values already in ascending order (a checkpoint's).
    init(sorted: [Double]) { values = sorted }

    mutating func reset<S: Sequence>(_ s: S) where S.Element == Double {
        values = Array(s)
        values.sort()
    }

    /// Index of the first element >= v.
    private func lowerBound(_ v: Double) -> Int {
        var lo = 0
        var hi = values.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if values[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    mutating func insert(_ v: Double) { values.insert(v, at: lowerBound(v)) }

    /// Removes one occurrence of v (which must be present).
    mutating func remove(_ v: Double) {
        let i = lowerBound(v)
        if i < values.count && values[i] == v { values.remove(at: i) }
    }

    var count: Int { values.count }

    /// The k smallest ascending and the k largest descending.
    func extremes(k: Int, low: inout [Double], high: inout [Double]) {
        let m = min(k, values.count)
        low.removeAll(keepingCapacity: true)
        high.removeAll(keepingCapacity: true)
        low.append(contentsOf: values[0..<m])
        for i in 0..<m { high.append(values[values.count - 1 - i]) }
    }
}

/// The size-independent part of a collateral haircut (methodology section 7), the part the
/// live engine publishes: the side's parametric ES over the liquidation horizon at the
/// daily volatility, plus half the relative spread, within [floor, cap]. The size-dependent
/// impact add-on `kappa sigma_1d sqrt(Q / ADV)` is added per holding on top of it.
public enum CollateralHaircut {
    /// - Parameters:
    ///   - sigmaDaily: volatility per day, decimal.
    ///   - horizon: liquidation horizon in days.
    ///   - factors: tail factors at the coverage (`ParametricTail.factors`).
    ///   - side: `.long` for a balance held, `.short` for a borrowed one.
    ///   - spread: relative bid-ask spread (0.001 = 10 bp); half of it is charged.
    /// - Returns: the haircut (decimal fraction of value) and its volatility part.
    public static func base(
        sigmaDaily: Double, horizon: Int, factors: (quantile: Double, es: Double), side: Side,
        spread: Double, floor: Double, cap: Double
    ) -> (rate: Double, volatility: Double) {
        let vol =
            sigmaDaily > 0
            ? ParametricTail.estimate(sigma: sigmaDaily, horizon: horizon, factors: factors, side: side)
                .expectedShortfall : 0
        return (min(max(vol + 0.5 * spread, floor), cap), vol)
    }
}
