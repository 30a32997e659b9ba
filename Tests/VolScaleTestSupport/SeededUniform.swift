/// Uniform draws in [0, 1) from a 64-bit LCG (Knuth's MMIX constants, the top 53 bits): the
/// same sequence for the same seed on every machine, for tests that need many inputs.
public struct SeededUniform {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
}
