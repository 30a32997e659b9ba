import HummingbirdCore
import Logging
import NIOCore

/// The first request head of a connection, bounded before HTTP decoding starts: a connection
/// that sends nothing within `idleTimeout`, or no complete head within `timeout` of its first
/// byte, is closed, a request line longer than
/// `maxLineBytes` is answered 414 and a head longer than `maxHeadBytes` 431, each closing the
/// connection. (Hummingbird's own idle timeout and header limits act once the HTTP pipeline
/// is in place, which the WebSocket upgrade handler sets up only after a whole head: without
/// this, a connection that never sends one, or sends 100 KB of header, was held forever.)
/// Once the first head is complete the guard removes itself; later requests of a kept-alive
/// connection are under Hummingbird's limits.
final class RequestHeadGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let timeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxLineBytes: Int
    let maxHeadBytes: Int
    var seen = 0
    var lineDone = false
    /// The request line's length, once read.
    var firstLine = 0
    /// The last bytes seen (a CR LF CR LF may straddle two reads).
    var tail: [UInt8] = []
    /// The bytes of the first head (and whatever followed it in the same read) so far.
    var pending = ByteBuffer()
    var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, idleTimeout: TimeAmount, maxLineBytes: Int, maxHeadBytes: Int) {
        (self.timeout, self.idleTimeout, self.maxLineBytes, self.maxHeadBytes) = (
            timeout, idleTimeout, maxLineBytes, maxHeadBytes
        )
    }

    /// A connection that sends nothing is closed after the idle timeout (as an idle kept-alive
    /// one is); once its first byte arrives, the head must be whole within `timeout`.
    func handlerAdded(context: ChannelHandlerContext) { closeAfter(idleTimeout, context) }

    func closeAfter(_ delay: TimeAmount, _ context: ChannelHandlerContext) {
        deadline?.cancel()
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: delay) { ctx.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if seen == 0 && buffer.readableBytes > 0 { closeAfter(timeout, context) }
        var complete = false
        buffer.withUnsafeReadableBytes { bytes in
            for b in bytes {
                seen += 1
                tail.append(b)
                if tail.count > 4 { tail.removeFirst() }
                if !lineDone && b == 0x0A { (lineDone, firstLine) = (true, seen) }
                if tail == [0x0D, 0x0A, 0x0D, 0x0A] || tail.suffix(2) == [0x0A, 0x0A] {
                    complete = true
                    break
                }
            }
        }
        // the head is held here until it is whole: the decoder never sees a part of one
        pending.writeBuffer(&buffer)
        // `seen` counts the head only (the scan stops at its end)
        if seen > maxLineBytes && (!lineDone || firstLine > maxLineBytes) { return refuse(context, "414 URI Too Long") }
        if seen > maxHeadBytes { return refuse(context, "431 Request Header Fields Too Large") }
        guard complete else { return }
        deadline?.cancel()
        var whole = pending
        pending = ByteBuffer()
        Self.closeAfterAnswer(&whole, headLength: seen)
        context.fireChannelRead(wrapInboundOut(whole))
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    /// An HTTP/1.0 request that does not ask for keep-alive is answered and closed: the head
    /// is given a `Connection: close` field (the server's HTTP types carry no version, so it
    /// would otherwise keep the connection open until its idle timeout).
    static func closeAfterAnswer(_ bytes: inout ByteBuffer, headLength: Int) {
        guard headLength >= 4, let head = bytes.getString(at: bytes.readerIndex, length: headLength),
            head.hasSuffix("\r\n\r\n"), let line = head.split(separator: "\r\n", maxSplits: 1).first,
            line.hasSuffix(" HTTP/1.0"), !head.lowercased().contains("keep-alive")
        else { return }
        var out = ByteBuffer()
        out.writeBytes(head.utf8.dropLast(2))  // the head without its last CR LF (bytes: "\r\n" is one Character)
        out.writeString("Connection: close\r\n\r\n")
        bytes.moveReaderIndex(forwardBy: headLength)
        out.writeBuffer(&bytes)
        bytes = out
    }

    /// While the head is held, nothing downstream asks for more bytes (reads are on demand
    /// there): the guard asks for them itself.
    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelReadComplete()
    }

    func refuse(_ context: ChannelHandlerContext, _ status: String) {
        deadline?.cancel()
        let answer = "HTTP/1.1 \(status)\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer))).whenComplete { _ in
            ctx.value.close(promise: nil)
        }
    }
}

/// A child channel that puts a `RequestHeadGuard` in front of another's pipeline.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let timeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxLineBytes: Int
    let maxHeadBytes: Int

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                RequestHeadGuard(
                    timeout: timeout, idleTimeout: idleTimeout, maxLineBytes: maxLineBytes, maxHeadBytes: maxHeadBytes),
                position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
}
