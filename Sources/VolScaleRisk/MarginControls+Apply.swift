/// Which step of the margin pipeline set the published value.
public enum BindingControl: String, Sendable, CaseIterable, Codable {
    /// The risk measure itself (after stressed weighting when configured).
    case model
    /// The floor from an unfiltered historical simulation (`floor_lookback`, 10 years by default in EMIR practice).
    case floor = "historical floor"
    /// Full buffer charged: (1 + b) m.
    case bufferFull = "buffer (full)"
    /// Buffer partly drawn down: held at the previous publication.
    case bufferDrawn = "buffer (drawn down)"
    /// Buffer exhausted: the model margin itself.
    case bufferExhausted = "buffer (exhausted)"
    case smoothing
    case speedLimitUp = "speed limit (rise)"
    case speedLimitDown = "speed limit (fall)"
    case riseLimit = "rise limit"
    case corridorFloor = "corridor (floor)"
    case corridorCap = "corridor (cap)"
    case hardFloor = "hard floor"
    case hardCap = "hard cap"
}

/// One side's past publications, as the path controls need them: the last few (newest
/// last), the highest and the lowest so far.
public struct PublicationHistory: Sendable, Equatable {
    public private(set) var recent: [Double] = []
    public private(set) var highest = -Double.infinity
    public private(set) var lowest = Double.infinity
    let keep: Int

    /// Keeps the last `keep` publications (at least 1).
    public init(keep: Int = 1) { self.keep = max(keep, 1) }

    /// A history as a checkpoint stored it.
    init(keep: Int, recent: [Double], highest: Double, lowest: Double) {
        self.init(keep: keep)
        (self.recent, self.highest, self.lowest) = (Array(recent.suffix(self.keep)), highest, lowest)
    }

    public var previous: Double? { recent.last }

    /// The publication `bars` bars ago (1: the previous one), if kept.
    public func published(barsAgo bars: Int) -> Double? {
        bars >= 1 && bars <= recent.count ? recent[recent.count - bars] : nil
    }

    public mutating func record(_ v: Double) {
        if recent.count == keep { recent.removeFirst() }
        recent.append(v)
        highest = max(highest, v)
        lowest = min(lowest, v)
    }
}

extension MarginControls {
    /// Runs the published-rate pipeline for one side at one bar.
    ///
    /// Order: model margin m -> 10-year floor -> buffer -> smoothing -> speed limits ->
    /// hard floor/cap. `previous` is the last published rate (nil at the first bar).
    /// Returns the published rate and the last step that changed it.
    public func apply(model m: Double, floorValue: Double?, previous: Double?) -> (
        rate: Double, binding: BindingControl
    ) {
        var history = PublicationHistory()
        if let previous { history.record(previous) }
        return apply(model: m, floorValue: floorValue, history: history)
    }

    /// The pipeline with the path controls: model margin m (times the calibration multiplier,
    /// applied by the caller) -> floor (at `floorFraction`) -> buffer -> smoothing -> speed
    /// limits -> rise limit over `riseBars` -> corridor -> hard floor/cap. `history` holds
    /// this side's earlier publications (kept for at least `riseBars`).
    public func apply(model m: Double, floorValue: Double?, history: PublicationHistory) -> (
        rate: Double, binding: BindingControl
    ) {
        let previous = history.previous
        var v = m
        var binding = BindingControl.model
        if let full = floorValue, case let f = floorFraction * full, f > v {
            v = f
            binding = .floor
        }
        let base = v
        if let b = buffer {
            let full = (1 + b) * base
            if let p = previous {
                let held = p * (1 + bufferRebuildRate)
                if full <= held {
                    v = full
                    binding = .bufferFull
                } else if held > base {
                    v = held
                    binding = .bufferDrawn
                } else {
                    v = base
                    binding = .bufferExhausted
                }
            } else {
                v = full
                binding = .bufferFull
            }
        }
        if let s = smoothing, s > 0, let p = previous {
            let sm = s * p + (1 - s) * v
            if sm != v {
                v = sm
                binding = .smoothing
            }
        }
        if let p = previous {
            if let up = speedLimitUp, v > p * (1 + up) {
                v = p * (1 + up)
                binding = .speedLimitUp
            }
            if let down = speedLimitDown, v < p * (1 - down) {
                v = p * (1 - down)
                binding = .speedLimitDown
            }
        }
        if let rise = riseLimit, !history.recent.isEmpty {
            let lowest = history.recent.suffix(riseBars).min() ?? v
            if v > (1 + rise) * lowest {
                v = (1 + rise) * lowest
                binding = .riseLimit
            }
        }
        if let k = corridor, !history.recent.isEmpty {
            if v > k * history.lowest {
                v = k * history.lowest
                binding = .corridorCap
            }
            if v < history.highest / k {
                v = history.highest / k
                binding = .corridorFloor
            }
        }
        if let f = hardFloor, v < f {
            v = f
            binding = .hardFloor
        }
        if let c = hardCap, v > c {
            v = c
            binding = .hardCap
        }
        return (v, binding)
    }
}
