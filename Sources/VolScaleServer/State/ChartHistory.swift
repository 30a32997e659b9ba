/// One point of an asset's chart: time (UTC ms), aggregate price, sigma per bar (decimal;
/// nil before the model has one).
public struct HistoryPoint: Sendable, Codable, Equatable {
    public var t: Int64
    public var price: Double
    public var sigma: Double?

    public init(t: Int64, price: Double, sigma: Double?) {
        self.t = t
        self.price = price
        self.sigma = sigma
    }
}

/// The recent price and volatility path of each asset, for the dashboard's charts and the
/// backtest route: at most `capacity` points per asset, one per time (a later point at the
/// same time replaces it).
public struct ChartHistory: Sendable {
    public let capacity: Int
    var points: [String: [HistoryPoint]] = [:]

    public init(capacity: Int = 6000) { self.capacity = max(1, capacity) }

    public func points(_ asset: String) -> [HistoryPoint] { points[asset] ?? [] }

    public func last(_ asset: String) -> HistoryPoint? { points[asset]?.last }

    /// Adds a point, replacing one at the same time, keeping the latest `capacity`.
    public mutating func add(_ asset: String, _ point: HistoryPoint) {
        var h = points[asset, default: []]
        if let last = h.last, last.t == point.t { h.removeLast() }
        h.append(point)
        if h.count > capacity { h.removeFirst(h.count - capacity) }
        points[asset] = h
    }

    /// Replaces each given asset's path with the latest `capacity` of `history` (start-up).
    public mutating func seed(_ history: [String: [HistoryPoint]]) {
        for (asset, path) in history { points[asset] = Array(path.suffix(capacity)) }
    }
}
