import VolScaleEngine

/// The recent publications, in sequence order, for stream resume, rate history pages and
/// `/v1/rates`: the latest `capacity` of them (trimmed a quarter at a time, so that appending
/// stays O(1) amortised) and the newest per asset and side. A value: the service state owns
/// one; tests drive it directly.
public struct PublicationLog: Sendable {
    public let capacity: Int
    /// Oldest first.
    public private(set) var entries: [Publication] = []
    /// The newest publication per asset and side.
    var latest: [String: Publication] = [:]

    public init(capacity: Int = 20_000) { self.capacity = max(1, capacity) }

    /// Adds a publication (the engine's, in sequence order).
    public mutating func record(_ p: Publication) {
        entries.append(p)
        if entries.count > capacity + capacity / 4 { entries.removeFirst(entries.count - capacity) }
        latest["\(p.asset)|\(p.side)"] = p
    }

    /// Adds a publication read back from the store unless the log already reaches its
    /// sequence; whether it was added.
    @discardableResult
    public mutating func recordStored(_ p: Publication) -> Bool {
        if let last = entries.last, p.sequence <= last.sequence { return false }
        record(p)
        return true
    }

    /// What a client resuming after `since` gets: the logged publications after it, and
    /// whether some it asked for are no longer kept.
    public func replay(after since: Int64) -> (publications: [Publication], missed: Bool) {
        let missed = entries.first.map { since < $0.sequence - 1 } ?? false
        return (entries.filter { $0.sequence > since }, missed)
    }

    /// The newest publication of every asset and side, in sequence order.
    public func latestPublications() -> [Publication] { latest.values.sorted { $0.sequence < $1.sequence } }

    /// The asset's publications with a sequence below `before` (all when nil), the newest
    /// `limit` of them, oldest first.
    public func publications(asset: String, limit: Int, before: Int64? = nil) -> [Publication] {
        var out: [Publication] = []
        for p in entries.reversed() where p.asset == asset && (before.map { p.sequence < $0 } ?? true) {
            guard out.count < limit else { break }
            out.append(p)
        }
        return out.reversed()
    }
}
