#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard output with its errors checked: `print` drops a failed write (a full disk, a
/// closed pipe, `> /dev/full`) and the command would exit 0 with a truncated file. Every
/// command writes through this; a failed write is a `CommandFailure` (exit 1 with the reason).
/// Buffered: rows are gathered up to 64 KiB and written with write(2), retried on EINTR and
/// on short writes.
package struct StandardOutput {
    private var buffer: [UInt8] = []
    private let fd: Int32
    static let capacity = 1 << 16

    package init(fd: Int32 = 1) {
        self.fd = fd
        buffer.reserveCapacity(Self.capacity)
    }

    /// Writes `text` (a whole output) and flushes.
    package static func write(_ text: String) throws {
        var out = StandardOutput()
        try out.append(text)
        try out.flush()
    }

    package mutating func append(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.capacity { try flush() }
    }

    package mutating func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return Glibc.write(fd, base + offset, b.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                buffer.removeAll(keepingCapacity: true)
                throw CommandFailure("cannot write to standard output: \(reason)")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
