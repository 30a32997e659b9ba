/// The last gate before a parameter set can leave the engine: every number a publication
/// carries, and every number of the asset's state that the store will write, must be finite
/// and within its range. `StreamingEngine.ingest` rolls a quote back when this finds a problem,
/// so a value a JSON encoder or a margin call cannot take never reaches either.
enum PublicationCheck {
    /// The first problem, named by field (nil when everything is in range).
    static func problem(_ publications: [Publication], _ state: AssetVolatilityState?) -> String? {
        for p in publications {
            let side = p.side.stored
            if !(p.newValue.isFinite && p.newValue >= 0) {
                return "\(side) rate \(p.newValue) is not a finite non-negative number"
            }
            if !(p.maintenance.isFinite && p.maintenance >= 0) {
                return "\(side) maintenance \(p.maintenance) is not a finite non-negative number"
            }
            if !(p.sigma.isFinite && p.sigma >= 0) { return "sigma \(p.sigma) is not a finite non-negative number" }
            if let h = p.haircut, !(h.isFinite && h >= 0 && h <= 1) { return "\(side) haircut \(h) is outside [0, 1]" }
            if let x = p.price, !(x.isFinite && x > 0) { return "price \(x) is not a finite positive number" }
            if let x = p.stablePrice, !(x.isFinite && x > 0) {
                return "stable price \(x) is not a finite positive number"
            }
        }
        guard let st = state else { return nil }
        if let v = st.variance, !(v.isFinite && v >= 0) { return "variance \(v) is not a finite non-negative number" }
        if let c = st.lastClose, !(c.isFinite && c > 0) { return "last close \(c) is not a finite positive number" }
        if let r = st.seedReturns.last, !r.isFinite { return "return \(r) is not finite" }
        return nil
    }
}
