import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import Testing

@testable import VolScaleServer

/// The WebSocket carries the stream's events, resumes by sequence, and needs a read key.
@Suite struct WebSocketTests {
    struct Message: Decodable {
        var event: String
        var id: Int64?
    }

    static func read(_ client: some TestClientProtocol, path: String, count: Int) async throws -> [Message] {
        let box = Box()
        try await client.ws(path) { inbound, _, _ in
            var it = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            while box.messages.count < count, let m = try await it.next() {
                if case .text(let t) = m {
                    box.messages.append(try JSONDecoder().decode(Message.self, from: Data(t.utf8)))
                }
            }
        }
        return box.messages
    }
    final class Box: @unchecked Sendable { var messages: [Message] = [] }

    @Test func publicationsOverWebSocketResumeBySequence() async throws {
        var config = Fixture.config()
        config.host = "127.0.0.1"
        config.port = 0
        let app = buildApplication(state: try await Fixture.state(), config: config)
        try await app.test(.live) { client in
            try await client.execute(
                uri: "/v1/prices", method: .post, headers: bearer("ingest"),
                body: ByteBuffer(string: Fixture.quotesBody())
            ) {
                #expect($0.status == .ok)
            }
            let first = try await Self.read(client, path: "/v1/ws?since=0&key=\(Fixture.keys["read"]!)", count: 5)
            #expect(first.map(\.event) == Array(repeating: "publication", count: 5))
            #expect(first.compactMap(\.id) == [1, 2, 3, 4, 5])
            // resume after the third: the next one is the fourth, nothing skipped or repeated
            let resumed = try await Self.read(client, path: "/v1/ws?since=3&key=\(Fixture.keys["read"]!)", count: 2)
            #expect(resumed.compactMap(\.id) == [4, 5])
            // without `since`: live events only, from the next publication on
            let live = try await withThrowingTaskGroup(of: [Message].self) { group in
                group.addTask { try await Self.read(client, path: "/v1/ws?key=\(Fixture.keys["read"]!)", count: 1) }
                try await Task.sleep(for: .milliseconds(500))
                try await client.execute(
                    uri: "/v1/prices", method: .post, headers: bearer("ingest"),
                    body: ByteBuffer(string: Fixture.quotesBody(from: 200, count: 3))
                ) {
                    #expect($0.status == .ok)
                }
                return try await group.next() ?? []
            }
            #expect(live.first?.event == "publication" && (live.first?.id ?? 0) > 5)
            // without a key there is no upgrade; the HTTP route says why
            try await client.execute(uri: "/v1/ws?since=0", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/ws?since=-1", method: .get, headers: bearer("read")) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(uri: "/v1/ws", method: .get, headers: bearer("read")) {
                #expect($0.status == .upgradeRequired)
            }
        }
    }
}
