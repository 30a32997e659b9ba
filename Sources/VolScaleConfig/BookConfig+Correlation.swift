import VolScaleCore
import VolScaleData
import VolScaleMargin

extension BookConfig {
    /// The EWMA correlation (zero mean, arch's seeding) of the assets with a history file,
    /// on their common timestamps: the forecast for the next period, for spreading a stress
    /// cascade from one asset to the others. nil when fewer than two assets have a history.
    public func ewmaCorrelation(lambda: Double = EWMA.riskMetricsLambda) throws(ConfigError) -> StressCorrelation? {
        let names = histories.keys.sorted()
        guard names.count >= 2 else { return nil }
        let aligned = AlignedReturns(names.compactMap { histories[$0] })
        do {
            let cov = try EWMACovariance(lambda: lambda).nextCovariance(aligned.returns)
            let c = cov.correlation
            // clamp rounding just outside [-1, 1] and restore exact symmetry
            let n = names.count
            var m = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<n { m[i * n + j] = i == j ? 1 : max(-1, min(1, 0.5 * (c[i, j] + c[j, i]))) }
            }
            return try StressCorrelation(assets: names, matrix: m)
        } catch {
            throw ConfigError(
                file: path, location: "history", reason: "EWMA correlation of the history files: \(error)")
        }
    }
}
