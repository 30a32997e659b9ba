import CVolScaleZlib
import Foundation
import ZIPFoundation

/// The bytes of a price file as it is on disk: plain (memory-mapped), gzip (`.gz`, found by
/// its magic bytes), a zip archive holding one file (Binance's monthly kline archives), or
/// standard input (`-`, plain or gzip).
enum ByteSource {
    enum Kind: Equatable { case plain, gzip, zip }

    static func describe(errno code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        case EISDIR: return "is a directory"
        default: return String(cString: strerror(code))
        }
    }

    /// The whole file; `body` sees it as one buffer (mapped when plain, inflated otherwise).
    static func withContents<R>(path: String, name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        if path != "-", let mapped = try MappedFile(path: path, name: name) {
            defer { mapped.close() }
            try checkText(UnsafeRawBufferPointer(rebasing: mapped.bytes.prefix(1 << 16)), name: name, offset: 0)
            return try body(mapped.bytes)
        }
        var all: [UInt8] = []
        try chunks(path: path, name: name) { all.append(contentsOf: $0) }
        return try all.withUnsafeBytes { try body($0) }
    }

    /// Text never holds a NUL byte: one in `bytes` (at `offset` of the stream) means a binary
    /// file, a device such as /dev/zero or a sparse file, refused before it is read whole.
    static func checkText(_ bytes: UnsafeRawBufferPointer, name: String, offset: Int) throws {
        guard let base = bytes.baseAddress, let hit = memchr(base, 0, bytes.count) else { return }
        let at = offset + (UnsafeRawPointer(hit) - base)
        throw DataError(
            file: name, line: 0, kind: .unknownFormat("a NUL byte at offset \(at): binary data, not a text price file"))
    }

    /// Successive chunks of the (decompressed) bytes, in constant memory; binary data (a NUL
    /// byte) is refused at the chunk that holds it.
    static func chunks(
        path: String, name: String, chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var offset = 0
        let body = { (chunk: UnsafeRawBufferPointer) throws -> Void in
            try checkText(chunk, name: name, offset: offset)
            offset += chunk.count
            try body(chunk)
        }
        if path == "-" {
            try readStream(fd: 0, name: name, leading: [], chunkSize: chunkSize, body)
            return
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DataError(file: name, line: 0, kind: .unreadable(describe(errno: errno))) }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw DataError(file: name, line: 0, kind: .unreadable(describe(errno: errno)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw DataError(file: name, line: 0, kind: .unreadable("is a directory"))
        }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = read(fd, &magic, 4)
        guard n >= 0 else { throw DataError(file: name, line: 0, kind: .unreadable(describe(errno: errno))) }
        magic.removeLast(4 - n)
        if kind(of: magic) == .zip {
            try unzip(path: path, name: name, body)
            return
        }
        try readStream(fd: fd, name: name, leading: magic, chunkSize: chunkSize, body)
    }

    static func kind(of magic: [UInt8]) -> Kind {
        if magic.count >= 2 && magic[0] == 0x1F && magic[1] == 0x8B { return .gzip }
        if magic.count >= 4 && magic[0] == 0x50 && magic[1] == 0x4B && magic[2] == 0x03 && magic[3] == 0x04 {
            return .zip
        }
        return .plain
    }

    /// Reads `fd` to its end; gzip data (by its first two bytes) is inflated on the way.
    private static func readStream(
        fd: Int32, name: String, leading: [UInt8], chunkSize: Int, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var pending = leading
        // enough bytes to tell gzip from text
        while pending.count < 2 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 2 - pending.count) }
            guard n >= 0 else { throw DataError(file: name, line: 0, kind: .unreadable(describe(errno: errno))) }
            if n == 0 { break }
            pending += buffer[0..<n]
        }
        let inflater: Inflater? = kind(of: pending) == .gzip ? try Inflater(name: name) : nil
        func deliver(_ bytes: UnsafeRawBufferPointer) throws {
            if let inflater { try inflater.inflate(bytes, body) } else { try body(bytes) }
        }
        try pending.withUnsafeBytes { try deliver($0) }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunkSize) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError(file: name, line: 0, kind: .unreadable(describe(errno: errno)))
            }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try deliver(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        try inflater?.finish()
    }

    /// The one file of a zip archive, through ZIPFoundation (which checks its CRC-32).
    private static func unzip(path: String, name: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw DataError(file: name, line: 0, kind: .unreadable("not a readable zip archive (\(error))"))
        }
        let files = archive.filter { $0.type == .file }
        guard files.count == 1 else {
            throw DataError(
                file: name, line: 0,
                kind: .unreadable(
                    "a zip archive must hold exactly one price file (as Binance's do); this one holds \(files.count): \(files.prefix(5).map(\.path).joined(separator: ", "))"
                ))
        }
        var consumerError: Error?
        do {
            _ = try archive.extract(files[0], bufferSize: 1 << 20, skipCRC32: false) { data in
                do { try data.withUnsafeBytes { try body($0) } } catch {
                    consumerError = error
                    throw error
                }
            }
        } catch {
            if let consumerError { throw consumerError }
            throw DataError(file: name, line: 0, kind: .unreadable("corrupt zip entry \(files[0].path): \(error)"))
        }
    }
}

/// A regular file mapped read-only into memory.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private var mapped: Bool

    /// nil when the file is not a plain file (compressed, a pipe, empty): read it as a stream.
    init?(path: String, name: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw DataError(file: name, line: 0, kind: .unreadable(ByteSource.describe(errno: errno)))
        }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw DataError(file: name, line: 0, kind: .unreadable(ByteSource.describe(errno: errno)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw DataError(file: name, line: 0, kind: .unreadable("is a directory"))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0, let size = Int(exactly: st.st_size) else { return nil }
        // no MAP_POPULATE: populating in one call before parsing measured slower on a 98 MB file
        // (166 ms against 153) than faulting pages in on the two parsing threads
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
        let view = UnsafeRawBufferPointer(start: base, count: size)
        if ByteSource.kind(of: Array(view.prefix(4))) != .plain {
            munmap(base, size)
            return nil
        }
        madvise(base, size, MADV_WILLNEED)
        bytes = view
        mapped = true
    }

    func close() {
        guard mapped, let base = bytes.baseAddress else { return }
        munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        mapped = false
    }

    deinit { close() }
}

/// gzip (and zlib) inflation with zlib, concatenated members included (as `gzip -c a b`
/// writes them). A class with the `z_stream` on the heap: zlib keeps a pointer back to it
/// and refuses a stream that has moved, which a Swift value may do.
final class Inflater {
    private let streamPointer = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var output = [UInt8](repeating: 0, count: 1 << 18)
    private let name: String
    private var ended = false

    init(name: String) throws {
        self.name = name
        streamPointer.initialize(to: z_stream())
        // 15 + 32: a window of 2^15 and automatic gzip/zlib header detection
        guard volscale_inflate_init(streamPointer, 15 + 32) == Z_OK else {
            streamPointer.deallocate()
            throw DataError(file: name, line: 0, kind: .unreadable("zlib could not start"))
        }
        started = true
    }

    private var started = false

    deinit {
        if started { inflateEnd(streamPointer) }
        streamPointer.deallocate()
    }

    func inflate(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        streamPointer.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        streamPointer.pointee.avail_in = uInt(input.count)
        var produced = 0
        repeat {
            if ended {
                // another gzip member follows the one that ended
                if streamPointer.pointee.avail_in == 0 { break }
                guard inflateReset(streamPointer) == Z_OK else { throw corrupt("cannot start the next member") }
                ended = false
            }
            let code: Int32
            (code, produced) = output.withUnsafeMutableBytes { out -> (Int32, Int) in
                streamPointer.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                streamPointer.pointee.avail_out = uInt(out.count)
                let code = CVolScaleZlib.inflate(streamPointer, Z_NO_FLUSH)
                return (code, out.count - Int(streamPointer.pointee.avail_out))
            }
            if produced > 0 {
                try output.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            switch code {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: ended = true
            default: throw corrupt(streamPointer.pointee.msg.map { String(cString: $0) } ?? "error \(code)")
            }
            // a full output buffer may leave output inside zlib even when the input is used up
        } while streamPointer.pointee.avail_in > 0 || produced == output.count
    }

    /// Checks that the data ended where gzip says it ends.
    func finish() throws {
        guard ended else { throw corrupt("the compressed data ends early (truncated file?)") }
    }

    private func corrupt(_ why: String) -> DataError {
        DataError(file: name, line: 0, kind: .unreadable("corrupt gzip data: \(why)"))
    }
}
