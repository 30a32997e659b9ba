import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import VolScaleConfig
import VolScaleEngine

@testable import VolScaleServer

/// An asset with no accepted quote within the maximum age (the service's clock, here a test's
/// that moves only when told) is reported stale,
/// on /v1/assets and as a `status` event on the stream; its next quote makes it fresh
/// again, with another event. (Its rates cannot loosen meanwhile: the engine publishes only
/// on accepted quotes.)
@Suite struct StalenessTests {
    @Test func assetsWithoutQuotesTurnStaleAndBack() async throws {
        let time = ManualClock(1_700_000_000_000)
        let state = try await Fixture.state(clock: time.clock)
        await state.setMaxQuoteAge(1_000)
        let subscription = try await state.subscribe(since: nil)
        _ = try await state.ingest([Quote(asset: "BTC", source: "x", timestamp: 1_600_000_000_000, price: 60_000)])
        time.advance(by: 500)
        await state.checkStaleness()
        #expect(await state.stale.isEmpty, "within the maximum age")
        time.advance(by: 1_000)
        await state.checkStaleness()
        #expect(await state.stale == ["BTC", "ETH"], "ETH never quoted: counted from the start")
        time.advance(by: 60_000)
        await state.checkStaleness()  // no second event for an asset already stale
        let app = buildApplication(state: state, config: Fixture.config())
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/assets/BTC", method: .get, headers: bearer("read")) { r in
                let o = try Requests.json(Data(buffer: r.body))
                #expect(o["status"]?.string == "stale")
            }
        }
        _ = try await state.ingest([Quote(asset: "BTC", source: "x", timestamp: 1_600_086_400_000, price: 61_000)])
        #expect(await state.stale == ["ETH"])
        #expect(await state.status(of: "BTC") == .stable)
        // the events, in order: BTC's first status, both stale, BTC fresh again
        var statuses: [String] = []
        var iterator = subscription.events.makeAsyncIterator()
        while statuses.count < 4, let e = await iterator.next() {
            if case .status(let asset, let status, _) = e { statuses.append("\(asset) \(status)") }
        }
        #expect(statuses == ["BTC stable", "BTC stale", "ETH stale", "BTC stable"])
    }
}

/// A clock that moves only when told (tests).
final class ManualClock: Sendable {
    private let time: Mutex<Int64>

    init(_ start: Int64) { time = Mutex(start) }

    var clock: ServiceClock { ServiceClock { [self] in self.time.withLock { $0 } } }

    func advance(by milliseconds: Int64) { time.withLock { $0 += milliseconds } }
}
