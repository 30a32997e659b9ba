/// Why a volatility model could not produce a result. Every case names the input or
/// parameter at fault and the reason.
public enum VolatilityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer observations than the model needs.
    case tooFewObservations(model: String, needed: Int, got: Int)
    /// A return that is NaN or infinite, at this 0-based index.
    case nonFiniteReturn(index: Int)
    /// A parameter outside its admissible range.
    case invalidParameter(name: String, value: Double, reason: String)
    /// Maximum likelihood did not reach a finite optimum.
    case optimizationFailed(model: String, reason: String)
    /// Bars whose values cannot be used by a range estimator.
    case invalidBar(index: Int, reason: String)

    public var description: String {
        switch self {
        case .tooFewObservations(let model, let needed, let got):
            return "\(model): needs at least \(needed) returns, got \(got)"
        case .nonFiniteReturn(let index):
            return "return \(index) is not a finite number"
        case .invalidParameter(let name, let value, let reason):
            return "parameter '\(name)' = \(value): \(reason)"
        case .optimizationFailed(let model, let reason):
            return "\(model): maximum likelihood failed: \(reason)"
        case .invalidBar(let index, let reason):
            return "bar \(index): \(reason)"
        }
    }
}

func checkFinite(_ returns: [Double]) throws(VolatilityError) {
    for (i, r) in returns.enumerated() where !r.isFinite {
        throw .nonFiniteReturn(index: i)
    }
}
