import Foundation
import Logging
import Synchronization
import VolScaleCore
import VolScaleEngine
import VolScaleMargin
import VolScaleStore

/// A chain for an asset another process owns (several processes on one PostgreSQL).
public struct NotOwnedError: Error, Sendable, CustomStringConvertible {
    public let asset: String
    public var description: String { "asset \(asset) is margined by another process: send its chain there" }
}

/// A fitted surface and its index, as the API shows them.
public struct ChainSurface: Sendable {
    public let asOf: Int64
    public let index: Double
    public let fit: SurfaceFit
    /// Per fitted expiry (in `fit.surface.slices` order): expiry time (UTC ms) and the quotes.
    public let expiries: [(expiry: Int64, quotes: [SmileQuote])]
}

/// An acknowledgement could not be given: the quotes were applied but are not yet durable.
/// Resending them is safe: once stored, they are answered as duplicates.
public struct NotDurable: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String {
        "not yet durable: \(reason); resending is safe (stored quotes are counted as duplicates)"
    }
}

/// The calculators at the latest parameter sets, swapped whole when a set is published:
/// a request reads one consistent (book, sequence) pair without going through the actor.
public final class MarginCell: Sendable {
    public struct Current: Sendable {
        public let explaining: MarginCalculator
        /// The same book without explanation text, for requests that do not ask for it.
        public let plain: MarginCalculator
        public let sequence: Int64
    }
    let state: Mutex<Current>

    init(book: MarginBook, sequence: Int64) { state = Mutex(Self.make(book, sequence)) }

    static func make(_ book: MarginBook, _ sequence: Int64) -> Current {
        let c = MarginCalculator(book: book)
        var plain = c
        plain.explaining = false
        return Current(explaining: c, plain: plain, sequence: sequence)
    }

    public var current: Current { state.withLock { $0 } }

    func update(book: MarginBook, sequence: Int64) {
        let next = Self.make(book, sequence)
        state.withLock { $0 = next }
    }
}
