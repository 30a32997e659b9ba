import Foundation
import Testing
import VolScaleCore
import VolScaleEngine
import VolScaleRisk
import VolScaleStore

@testable import VolScaleServer

/// The service state's components, each on its own: no actor, no store, no clock.
@Suite struct ComponentsTests {
    static func publication(_ sequence: Int64, _ asset: String = "BTC", _ side: Side = .long) -> Publication {
        Publication(
            sequence: sequence, asset: asset, side: .rates(side), timestamp: sequence * 1000, oldValue: nil,
            newValue: 0.1, maintenance: 0.08, sigma: 0.02, binding: .control(.model), modelVersion: "m",
            inputFrom: 0, inputTo: sequence * 1000)
    }

    /// The log keeps at most capacity + capacity/4 and at least the latest `capacity`, pages
    /// an asset's history backwards, replays after a sequence and says when some is gone.
    @Test func publicationLogIsBoundedAndPages() {
        var log = PublicationLog(capacity: 8)
        for s in Int64(1)...25 {
            log.record(Self.publication(s, s % 2 == 0 ? "ETH" : "BTC", s % 3 == 0 ? .short : .long))
        }
        #expect(log.entries.count >= 8 && log.entries.count <= 10)
        #expect(log.entries.last?.sequence == 25 && log.entries.map(\.sequence) == log.entries.map(\.sequence).sorted())
        // the newest per asset and side, in sequence order
        #expect(log.latestPublications().map(\.sequence) == [21, 22, 24, 25])
        let btc = log.publications(asset: "BTC", limit: 2)
        #expect(btc.map(\.sequence) == [23, 25])
        #expect(log.publications(asset: "BTC", limit: 2, before: 23).map(\.sequence).allSatisfy { $0 < 23 })
        let first = log.entries[0].sequence
        #expect(log.replay(after: first - 1).missed == false)
        #expect(log.replay(after: first - 2).missed == true)
        #expect(log.replay(after: 23).publications.map(\.sequence) == [24, 25])
        // a stored publication the log already reaches is not added twice
        #expect(log.recordStored(Self.publication(25)) == false)
        #expect(log.recordStored(Self.publication(26)) == true)
    }

    /// A subscriber gets the replay, then live events; one that does not read is dropped
    /// once its buffer is full (flagged), and the others keep theirs; the limit is enforced.
    @Test func hubDropsTheSlowConsumerAndKeepsTheOthers() async throws {
        var hub = PublicationHub(buffer: 4, limit: 2)
        let slow = try hub.subscribe(replay: [StreamEvent.keepAlive, .keepAlive], missed: true) { _ in }
        #expect(slow.missed)
        let reader = try hub.subscribe(replay: [StreamEvent](), missed: false) { _ in }
        #expect(throws: SubscribeError.tooMany) { try hub.subscribe(replay: [StreamEvent](), missed: false) { _ in } }
        var received = 0
        var it = reader.events.makeAsyncIterator()
        for s in Int64(1)...3 {
            hub.broadcast(.publication(Self.publication(s)))
            // the reader keeps up
            if case .publication(let p)? = await it.next() { received += p.sequence == s ? 1 : 0 }
        }
        #expect(received == 3)
        #expect(hub.count == 1 && slow.flag.dropped && !reader.flag.dropped)
        // a replay longer than the buffer ends the subscription at once
        let flood = try hub.subscribe(replay: Array(repeating: StreamEvent.keepAlive, count: 5), missed: false) { _ in }
        #expect(flood.flag.dropped && hub.count == 1)
        hub.closeAll()
        #expect(hub.count == 0 && reader.flag.closed)
    }

    /// One point per time (the later replaces it), the latest `capacity` kept.
    @Test func chartHistoryKeepsOnePointPerTimeAndTheLatest() {
        var charts = ChartHistory(capacity: 3)
        for t in Int64(1)...5 { charts.add("BTC", HistoryPoint(t: t, price: Double(t), sigma: nil)) }
        charts.add("BTC", HistoryPoint(t: 5, price: 50, sigma: 0.01))
        #expect(charts.points("BTC").map(\.t) == [3, 4, 5] && charts.last("BTC")?.price == 50)
        charts.seed(["ETH": (1...10).map { HistoryPoint(t: Int64($0), price: 1, sigma: nil) }])
        #expect(charts.points("ETH").map(\.t) == [8, 9, 10] && charts.points("SOL").isEmpty)
    }

    /// Stale after `maxAge` without a quote (never quoted: from the start), reported once,
    /// fresh again at the next quote.
    @Test func stalenessCountsFromTheLastArrival() {
        var s = Staleness(maxAge: 1_000, startedAt: 10_000)
        #expect(s.arrived("BTC", at: 10_500) == false)
        #expect(s.check(["BTC", "ETH"], at: 11_000).isEmpty)
        #expect(s.check(["BTC", "ETH"], at: 11_001) == ["ETH"])
        #expect(s.check(["BTC", "ETH"], at: 11_501) == ["BTC"])
        #expect(s.check(["BTC", "ETH"], at: 20_000).isEmpty, "each reported once")
        #expect(s.isStale("BTC") && s.arrived("BTC", at: 20_001) && !s.isStale("BTC"))
    }

    /// Group commit: a take carries everything queued and the generation it makes durable;
    /// a failed commit's work goes back to the head in order; waiters resume when their
    /// generation is durable, or are told why not.
    @Test func commitQueueTakesPutsBackAndResumesWaiters() async throws {
        var q = CommitQueue()
        let a = Quote(asset: "BTC", source: "x", timestamp: 1, price: 100)
        let b = Quote(asset: "ETH", source: "x", timestamp: 1, price: 10)
        q.accept(a)
        q.add([Self.publication(1)])
        q.changed()
        #expect(q.due && q.isUncommitted(QuoteKey(a)))
        var batch = q.take()
        #expect(batch.target == 1 && batch.quotes == [a] && q.quotes.isEmpty)
        q.committing = true
        // meanwhile another quote: after the failed commit it stays behind the first
        q.accept(b)
        q.changed()
        q.putBack(batch)
        q.committing = false
        #expect(q.quotes == [a, b] && q.publications.map(\.sequence) == [1] && !q.drained)
        // several processes: the lease on ETH is gone, its quote is dropped and no longer uncommitted
        batch = q.take()
        q.discard(["ETH"], from: &batch)
        #expect(batch.quotes == [a] && !q.isUncommitted(QuoteKey(b)) && batch.target == 2)
        q.committed(batch)
        #expect(q.drained && !q.isUncommitted(QuoteKey(a)))
        // a waiter for a durable generation resumes at once; one for a later one when it is durable
        var state = q
        try await withCheckedThrowingContinuation { c in state.wait(state.newWaiter(), for: 2, c) }
        state.changed()
        let id = state.newWaiter()
        do {
            try await withCheckedThrowingContinuation { c in
                state.wait(id, for: 3, c)
                state.failAll(NotDurable(reason: "lease lost"))
            }
            Issue.record("a waiter whose changes are lost must be told")
        } catch {
            #expect(error is NotDurable)
        }
    }
}
