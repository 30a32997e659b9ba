import Foundation

/// Reads a configuration file (a venue, book, model, prices or accounts file) within bounds:
/// a regular file (not a directory, a device or a pipe), at most `limit` bytes, text without
/// NUL bytes, UTF-8. Each refusal is a `ConfigError` naming the file and the reason, before
/// more than `limit` bytes are held: a 2 GB sparse file or `/dev/zero` given as a venue is
/// refused at once instead of read whole.
public enum ConfigFile {
    /// The largest configuration file read: 16 MiB (the example venue is 7 KB).
    public static let limit = 16 << 20
    /// The largest accounts file read: 512 MiB (a million accounts of a few positions each).
    public static let accountsLimit = 512 << 20

    /// The file's bytes.
    public static func data(_ path: String, limit: Int = ConfigFile.limit) throws(ConfigError) -> Data {
        func refuse(_ reason: String) -> ConfigError {
            ConfigError(file: path, location: "", reason: "cannot read: \(reason)")
        }
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw refuse(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        let type = attributes[.type] as? FileAttributeType
        if type == .typeDirectory { throw refuse("is a directory") }
        guard type == .typeRegular else { throw refuse("not a regular file (a device, pipe or socket)") }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= limit else {
            throw refuse("\(size) bytes, more than the \(limit >> 20) MiB a configuration file may have")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            // at most limit + 1 bytes, whatever the size said (a file can grow while read)
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw refuse(error.localizedDescription)
        }
        guard data.count <= limit else {
            throw refuse("more than the \(limit >> 20) MiB a configuration file may have")
        }
        if let at = data.firstIndex(of: 0) {
            throw refuse("a NUL byte at offset \(at - data.startIndex): not a text file")
        }
        return data
    }

    /// The file as UTF-8 text.
    public static func text(_ path: String, limit: Int = ConfigFile.limit) throws(ConfigError) -> String {
        let bytes = try data(path, limit: limit)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw ConfigError(file: path, location: "", reason: "cannot read: not UTF-8 text")
        }
        return text
    }
}
