import RealModule
import VolScaleCore

/// Margin rates of one side along a history.
/// Read-only outside this module: `MarginEngine` builds it.
public struct SidePath: Sendable, Equatable {
    /// Risk-measure margin before the controls (decimal fraction of notional).
    public internal(set) var modelMargin: [Double] = []
    /// Published initial margin rate after the controls.
    public internal(set) var margin: [Double] = []
    /// Published maintenance rate.
    public internal(set) var maintenance: [Double] = []
    /// Which control set each published rate.
    public internal(set) var binding: [BindingControl] = []
}

/// A margin model walked forward through a return history, one publication per bar.
///
/// Timing: the rates at position `k` are set at the close of the bar that ends return
/// `startIndex + k` (information up to and including that return) and cover the loss
/// over the next `mpor` returns.
/// Read-only outside this module: `MarginEngine` builds it.
public struct MarginPath: Sendable {
    public let model: MarginModel
    /// Return index of the first publication.
    public let startIndex: Int
    /// Per-period volatility used for each publication (after any implied blend).
    public internal(set) var sigma: [Double] = []
    /// Whether the implied volatility bound the volatility.
    public internal(set) var impliedBound: [Bool] = []
    public internal(set) var long = SidePath()
    public internal(set) var short = SidePath()
    public internal(set) var notes: [String] = []

    public func side(_ s: Side) -> SidePath { s == .long ? long : short }
    public var count: Int { sigma.count }
}

/// Walks margin models forward with no look-ahead: a `MarginWalker` fed the whole history,
/// so that the live engine, stepping the same walker bar by bar, publishes the same path.
public enum MarginEngine {
    /// Returns EWMA's seed window: sigma_t for t below it depends on later returns.
    static let ewmaWarmUp = EWMA.seedLength

    /// - Parameters:
    ///   - returns: decimal log returns, oldest first.
    ///   - timestamps: UTC ms of the bar that ends each return (for named stressed periods).
    ///   - implied: per-period implied volatility known at the close of each return's bar
    ///     (nil where missing), for the implied blend.
    public static func run(
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
        // The volatility filters' own checks (finite returns, enough of them), as the model's errors.
        let firstValid: Int
        switch model.volatility {
        case .ewma(let lambda):
            do { _ = try EWMA(lambda: lambda).filter(returns) } catch { throw .volatility(model: model.name, error) }
            firstValid = min(ewmaWarmUp, n)
        case .closeToClose(let window):
            do { _ = try RollingVolatility(window: window).filter(returns) } catch {
                throw .volatility(model: model.name, error)
            }
            firstValid = window
        case .garch(_, _, _, let minimumFit):
            guard n > minimumFit else {
                throw .tooFewObservations(model: model.name, needed: minimumFit + model.lookback + h, got: n)
            }
            firstValid = minimumFit
        }
        let usesScenarios = model.method != .parametric
        let start = usesScenarios ? firstValid + model.lookback - 1 : firstValid
        guard start < n, start >= 0 else {
            throw .tooFewObservations(model: model.name, needed: start + 1 + h, got: n)
        }
        var notes: [String] = []
        if model.controls.stressedWeight != nil && !usesScenarios {
            notes.append("stressed weighting applies to scenario methods only; ignored for parametric")
        }
        if case .dates(let s, let e) = model.controls.stressedPeriod {
            let first = timestamps.firstIndex { $0 >= s } ?? n
            let last = timestamps.lastIndex { $0 <= e } ?? -1
            if last - h + 1 < first {
                notes.append(
                    "named stressed period holds fewer than mpor returns of the data: stressed weighting is off")
            } else if usesScenarios, model.controls.stressedWeight != nil, start < timestamps.count,
                timestamps[start] < e
            {
                notes.append(
                    "named stressed period not yet in the past at the first publications: stressed weighting starts once it is"
                )
            }
        }

        var walker = try MarginWalker(model: model, live: false)
        var path = MarginPath(model: model, startIndex: start, notes: [])
        let count = n - start
        path.sigma.reserveCapacity(count)
        for t in 0..<n {
            guard let s = try walker.step(returns[t], timestamp: timestamps[t], implied: implied?[t]) else { continue }
            path.sigma.append(s.sigma)
            path.impliedBound.append(s.impliedBound)
            for side in Side.allCases {
                let r = s.side(side)
                if side == .long {
                    path.long.modelMargin.append(r.model)
                    path.long.margin.append(r.margin)
                    path.long.maintenance.append(r.maintenance)
                    path.long.binding.append(r.binding)
                } else {
                    path.short.modelMargin.append(r.model)
                    path.short.margin.append(r.margin)
                    path.short.maintenance.append(r.maintenance)
                    path.short.binding.append(r.binding)
                }
            }
        }
        if case .garch(let asymmetric, _, let refitEvery, _) = model.volatility {
            notes.insert(
                "\(asymmetric ? "GJR-GARCH(1,1,1)" : "GARCH(1,1)") refitted \(walker.fits) times on \(model.fitWindow.map { "the last \($0) returns" } ?? "expanding windows") (every \(refitEvery) bars)",
                at: 0)
        }
        path.notes = notes
        return path
    }
}
