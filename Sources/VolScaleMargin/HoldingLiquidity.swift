import RealModule
import VolScaleCore
import VolScaleRisk

/// One level of an order-book depth curve: the quote-currency size resting on the side a
/// liquidation hits within `distance` (relative, 0.005 = 50 bp) of the mid, cumulative.
public struct DepthLevel: Sendable, Equatable {
    public let distance: Double
    public let size: Double

    public init(distance: Double, size: Double) {
        self.distance = distance
        self.size = size
    }

    /// Checked: positive distances and sizes, both strictly increasing.
    public static func curve(_ levels: [DepthLevel]) -> String? {
        for (i, l) in levels.enumerated() {
            guard l.distance > 0, l.distance < 1, l.size > 0, l.size.isFinite else {
                return "level \(i + 1): distance must be in (0, 1) and size positive"
            }
            if i > 0, !(l.distance > levels[i - 1].distance && l.size > levels[i - 1].size) {
                return "level \(i + 1): distances and sizes must both increase"
            }
        }
        return nil
    }

    /// Average price concession (relative) of selling `q` (quote currency) at once through
    /// the book: the mean over the sold amount of the distance reached, the curve linear
    /// between levels from (0, 0), and beyond the last level continued with its last slope
    /// (a book that thins out no faster than it did).
    public static func concession(_ levels: [DepthLevel], selling q: Double) -> Double {
        guard q > 0, let last = levels.last else { return 0 }
        var area = 0.0  // integral of distance over size
        var prev = DepthLevel(distance: 0, size: 0)
        for l in levels {
            if q <= l.size {
                let d = prev.distance + (l.distance - prev.distance) * (q - prev.size) / (l.size - prev.size)
                area += 0.5 * (prev.distance + d) * (q - prev.size)
                return area / q
            }
            area += 0.5 * (prev.distance + l.distance) * (l.size - prev.size)
            prev = l
        }
        let before = levels.count >= 2 ? levels[levels.count - 2] : DepthLevel(distance: 0, size: 0)
        let slope = (last.distance - before.distance) / (last.size - before.size)
        let d = last.distance + slope * (q - last.size)
        area += 0.5 * (last.distance + d) * (q - last.size)
        return area / q
    }
}

/// What liquidating a holding costs beyond its size-independent haircut, per asset: one
/// implementation for the calculator, its kernel and the explanation.
///
/// For a holding of value V (quote currency):
/// - multiplier `m = 1 + (M - 1) p`, with M the book's stressed liquidity multiplier and p
///   the probability that the asset's market is in its high-variance regime: the
///   liquidity cost grows smoothly with the evidence of stress instead of jumping;
/// - impact `m kappa sigma sqrt(max(0, V - threshold) / ADV)`, or, where a depth curve is
///   given and costs more, `m` times the concession of selling one day's slice through it;
/// - the spread charged beyond the half already in the base, `(m - 1) spread / 2`;
/// - horizon: a holding larger than `participation * ADV * H` (H the book's liquidation
///   horizon) takes `h = V / (participation * ADV)` days to sell, and its volatility part
///   grows from the tail loss over H days to the one over h days.
public struct HoldingLiquidity: Sendable, Equatable {
    public let volatility: Double
    public let threshold: Double
    public let adv: Double
    public let spread: Double
    public let participation: Double
    public let horizon: Int
    public let esFactor: Double
    public let kappa: Double
    public let multiplier: Double
    public let depth: [DepthLevel]

    public init(asset: AssetRisk, settings: MarginSettings, esFactor: Double) {
        volatility = asset.volatility
        threshold = asset.impactThreshold
        adv = asset.averageDailyVolume
        spread = asset.spread
        participation = settings.participation
        horizon = settings.liquidationHorizon
        self.esFactor = esFactor
        kappa = settings.kappa
        multiplier = 1 + (settings.stressedLiquidityMultiplier - 1) * min(1, max(0, asset.stressedProbability))
        depth = asset.depth
    }

    /// The parts of the add-on, decimal fractions of the holding's value, and the days to sell it.
    public struct AddOn: Sendable, Equatable {
        public let impact: Double
        public let spread: Double
        public let horizon: Double
        public let days: Double
        public var total: Double { impact + spread + horizon }
    }

    /// The square-root rule before the multiplier: `kappa sigma sqrt(max(0, size - threshold) / ADV)`
    /// for a holding or a position of `size` (quote currency).
    public func squareRootImpact(_ size: Double) -> Double {
        Self.squareRootImpact(kappaSigma: kappa * volatility, threshold: threshold, adv: adv, size: size)
    }

    /// The square-root rule from its parts (`kappaSigma`: kappa x daily sigma), for tables
    /// that keep the product per instrument.
    @inline(__always)
    public static func squareRootImpact(kappaSigma: Double, threshold: Double, adv: Double, size: Double) -> Double {
        let excess = max(0, size - threshold)
        return kappaSigma > 0 && excess > 0 ? kappaSigma * (excess / adv).squareRoot() : 0
    }

    public func addOn(value v: Double, side: Side) -> AddOn {
        let size = Swift.abs(v)
        let capacity = participation * adv
        let days = capacity > 0 && capacity.isFinite ? max(Double(horizon), size / capacity) : Double(horizon)
        var impact = squareRootImpact(size)
        if volatility > 0, !depth.isEmpty { impact = max(impact, DepthLevel.concession(depth, selling: size / days)) }
        var extra = 0.0
        if days > Double(horizon), volatility > 0 {
            let s0 = volatility * Double(horizon).squareRoot()
            let s1 = volatility * days.squareRoot()
            let sign = side == .long ? -1.0 : 1.0
            extra = max(0, side.loss(logReturn: sign * esFactor * s1) - side.loss(logReturn: sign * esFactor * s0))
        }
        return AddOn(impact: multiplier * impact, spread: (multiplier - 1) * 0.5 * spread, horizon: extra, days: days)
    }
}
