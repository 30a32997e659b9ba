/// Which step of the margin pipeline set the published value.
public enum BindingControl: String, Sendable, CaseIterable, Codable {
    /// The risk measure itself (after stressed weighting when configured).
    case model
    /// The 10-year-lookback floor.
    case floor = "10-year floor"
    /// Full buffer charged: (1 + b) m.
    case bufferFull = "buffer (full)"
    /// Buffer partly drawn down: held at the previous publication.
    case bufferDrawn = "buffer (drawn down)"
    /// Buffer exhausted: the model margin itself.
    case bufferExhausted = "buffer (exhausted)"
    case smoothing
    case speedLimitUp = "speed limit (rise)"
    case speedLimitDown = "speed limit (fall)"
    case hardFloor = "hard floor"
    case hardCap = "hard cap"
}

extension MarginControls {
    /// Runs the published-rate pipeline for one side at one bar.
    ///
    /// Order: model margin m -> 10-year floor -> buffer -> smoothing -> speed limits ->
    /// hard floor/cap. `previous` is the last published rate (nil at the first bar).
    /// Returns the published rate and the last step that changed it.
    public func apply(model m: Double, floorValue: Double?, previous: Double?) -> (rate: Double, binding: BindingControl) {
        var v = m
        var binding = BindingControl.model
        if let f = floorValue, f > v {
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
            if sm != v { v = sm; binding = .smoothing }
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
