import NIOCore
import NIOEmbedded
import Testing

@testable import VolScaleServer

/// The first request head of a connection is bounded before HTTP decoding (issue 28: a 100 KB
/// header, 10,000 headers or a 100 KB path were never answered; an idle connection was held).
@Suite struct RequestHeadGuardTests {
    func channel() throws -> EmbeddedChannel {
        let c = EmbeddedChannel()
        try c.pipeline.syncOperations.addHandler(
            RequestHeadGuard(
                timeout: .seconds(10), idleTimeout: .seconds(60), maxLineBytes: 16 << 10,
                maxHeadBytes: 64 << 10))
        try c.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        return c
    }

    func answer(_ c: EmbeddedChannel) throws -> String? {
        try c.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
    }

    @Test func oversizedHeadsAreAnsweredAndClosed() throws {
        for (head, status) in [
            ("GET /health HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n", "431"),
            ("GET /" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\n\r\n", "414"),
            ("GET /health HTTP/1.1\r\n" + (0..<10_000).map { "X-\($0): 1\r\n" }.joined() + "\r\n", "431"),
        ] {
            let c = try channel()
            // in pieces, as a network delivers it
            var rest = Substring(head)
            while !rest.isEmpty, c.isActive {
                try c.writeInbound(c.allocator.buffer(string: String(rest.prefix(8192))))
                rest = rest.dropFirst(8192)
            }
            #expect(try answer(c)?.hasPrefix("HTTP/1.1 \(status) ") == true)
            #expect(try c.readInbound(as: ByteBuffer.self) == nil, "a part of the head reached the decoder")
            #expect(!c.isActive)
        }
    }

    @Test func aWholeHeadPassesWithWhatFollowsAndTheGuardLeaves() throws {
        let c = try channel()
        try c.writeInbound(c.allocator.buffer(string: "POST /v1/prices HTTP/1.1\r\nHost: x\r\n"))
        #expect(try c.readInbound(as: ByteBuffer.self) == nil)
        try c.writeInbound(c.allocator.buffer(string: "Content-Length: 2\r\n\r\n{}"))
        let passed = try #require(try c.readInbound(as: ByteBuffer.self))
        #expect(String(buffer: passed) == "POST /v1/prices HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        #expect(throws: (any Error).self) { try c.pipeline.syncOperations.handler(type: RequestHeadGuard.self) }
        #expect(c.isActive)
    }

    /// HTTP/1.0 without keep-alive: the head reaches the server with `Connection: close`, so
    /// the connection is closed after the answer, not at the idle timeout.
    @Test func http10IsClosedAfterTheAnswer() throws {
        let cases = [
            ("GET /health HTTP/1.0\r\nHost: x\r\n\r\n", "GET /health HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n"),
            ("GET /health HTTP/1.0\r\n\r\n", "GET /health HTTP/1.0\r\nConnection: close\r\n\r\n"),
            (
                "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            ),
            ("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
        ]
        for (head, expected) in cases {
            let c = try channel()
            try c.writeInbound(c.allocator.buffer(string: head))
            #expect(String(buffer: try #require(try c.readInbound(as: ByteBuffer.self))) == expected)
        }
    }

    @Test func aConnectionWithoutAHeadIsClosedAfterTheTimeouts() throws {
        // silent: the idle timeout
        let silent = try channel()
        silent.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(silent.isActive)
        silent.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!silent.isActive)
        // a head begun and not finished: 10 s from its first byte
        let slow = try channel()
        slow.embeddedEventLoop.advanceTime(by: .seconds(30))
        try slow.writeInbound(slow.allocator.buffer(string: "GET /health HTTP/1.1\r\n"))
        slow.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(slow.isActive)
        slow.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!slow.isActive)
    }
}
