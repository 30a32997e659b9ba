import RealModule
import VolScaleCore

/// Several series aligned on their common timestamps.
public struct AlignedReturns: Sendable {
    /// Common timestamps (UTC ms) kept, in order.
    public var timestamps: [Int64]
    /// `returns[t][i]`: decimal log return of series i from common timestamp t to t+1.
    public var returns: [[Double]]
    /// Rows of each series dropped because other series had no price at that time.
    public var dropped: [Int]

    /// Keeps only the timestamps present in every series (no prices are invented), then
    /// takes log returns between consecutive common timestamps.
    public init(_ series: [PriceSeries]) {
        guard var common = series.first.map({ Set($0.timestamps) }) else {
            self.timestamps = []
            self.returns = []
            self.dropped = []
            return
        }
        for s in series.dropFirst() { common.formIntersection(s.timestamps) }
        let ts = common.sorted()
        var prices: [[Double]] = []
        for s in series {
            var p: [Double] = []
            p.reserveCapacity(ts.count)
            var j = 0
            for (i, t) in s.timestamps.enumerated() where j < ts.count && t == ts[j] {
                p.append(s.close[i])
                j += 1
            }
            prices.append(p)
        }
        var r: [[Double]] = []
        if ts.count > 1 {
            for t in 1..<ts.count { r.append(prices.map { Double.log($0[t] / $0[t - 1]) }) }
        }
        self.timestamps = ts
        self.returns = r
        self.dropped = series.map { $0.count - ts.count }
    }
}
