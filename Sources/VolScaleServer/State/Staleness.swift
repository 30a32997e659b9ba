/// Which assets are stale: no accepted quote for `maxAge` milliseconds of the service's
/// clock (arrival time, whatever the quotes' own timestamps). An asset never quoted counts
/// from `startedAt`. A value: the service state calls it with the time; tests with numbers.
public struct Staleness: Sendable {
    public var maxAge: Int64
    public let startedAt: Int64
    var lastArrival: [String: Int64] = [:]
    public private(set) var stale: Set<String> = []

    public init(maxAge: Int64 = 60_000, startedAt: Int64) {
        self.maxAge = maxAge
        self.startedAt = startedAt
    }

    public func isStale(_ asset: String) -> Bool { stale.contains(asset) }

    /// A quote of `asset` was accepted at `now`; whether the asset was stale until then.
    public mutating func arrived(_ asset: String, at now: Int64) -> Bool {
        lastArrival[asset] = now
        return stale.remove(asset) != nil
    }

    /// The assets among `assets` that became stale by `now` (each reported once, until a
    /// quote arrives).
    public mutating func check(_ assets: some Sequence<String>, at now: Int64) -> [String] {
        var newly: [String] = []
        for asset in assets where !stale.contains(asset) {
            if now &- (lastArrival[asset] ?? startedAt) > maxAge {
                stale.insert(asset)
                newly.append(asset)
            }
        }
        return newly
    }
}
