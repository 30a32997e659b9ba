import Foundation
import VolScaleConfig
import VolScaleCore
import VolScaleData

/// One input through the decoders that take outside bytes, as the product runs them. The first
/// byte picks the decoder (modulo 8), the rest is the input: 0 a quote line (`volscale
/// ingest`), 1 an account (the what-if body as the service reads it, `AccountDocument`, and an
/// account of the accounts file the service seeds a store from), 2 and 5-7 a
/// price file (CSV, klines or ticks, format detected as `volscale vol` does; gzip inflated),
/// 3 an option-chain file (the VIX layout, and Deribit's CSV or JSON), 4 a number for the float parser.
/// Refusals are fine (errors are values); a trap, a hang or an overflow is a finding, and so
/// is a disagreement: the whole-file and the streamed price readers must give the same rows
/// and the same error, and the float parser must give strtod's double bit for bit.
func fuzzOne(_ bytes: UnsafeRawBufferPointer) {
    guard let selector = bytes.first else { return }
    let body = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
    let data = Data(body)
    switch selector % 8 {
    case 0:
        _ = try? Requests.quoteLine(Substring(String(decoding: data, as: UTF8.self)))
    case 1:
        // the service's what-if body (AccountDocument, the hot path's reader) and the accounts file's
        if let json = try? Requests.json(data) {
            _ = try? AccountDocument(json: json)
            if let o = json.dictionary { _ = AccountsFile.account(o, id: "fuzz") }
        }
    case 3:
        _ = try? OptionChainReader().parse(String(decoding: data, as: UTF8.self), name: "fuzz")
        // the Deribit chain reader (CSV or book-summary JSON) and what `volscale surface` and the
        // chain endpoint derive from a chain before fitting: the moment, the smiles, the index
        if let chain = try? OptionChainFileReader().parse(Array(body), name: "fuzz") {
            let asOf = chain.timestamp ?? chain.inferredTimestamp() ?? 0
            _ = try? chain.smileInputs(asOf: asOf)
            _ = try? ModelFreeVariance.index(chain.modelFreeQuotes(asOf: asOf), targetDays: 30)
        }
    case 4:
        floatAgreesWithStrtod(body)
    default:
        readersAgree(body, skipBadRows: false)
        readersAgree(body, skipBadRows: true)
    }
}

/// The whole-buffer parse and the streamed one (blocks of a few bytes, so that records are
/// cut everywhere) give the same rows and skip counts, or the same error.
func readersAgree(_ body: UnsafeRawBufferPointer, skipBadRows: Bool) {
    let reader = PriceFileReader(skipBadRows: skipBadRows)
    var times: [Int64] = []
    var prices: [Double] = []
    let streamed = Result {
        try reader.stream(bytes: body, name: "fuzz", blockBytes: 7, chunkSize: 5) {
            times += $0.timestamps
            prices += $0.price
        }
    }
    // gzip: only the streamed reader inflates from memory
    if body.count >= 2 && body[0] == 0x1F && body[1] == 0x8B { return }
    let whole = Result { () throws(DataError) in try reader.parse(bytes: body, name: "fuzz") }
    switch (whole, streamed) {
    case (.success(let out), .success(let skipped)):
        guard out.series.timestamps == times, out.series.close == prices, out.skipped.counts == skipped.counts else {
            fatalError("readers disagree: \(out.series.count) rows whole, \(times.count) streamed")
        }
    case (.failure(let a), .failure(let b)):
        guard let b = b as? DataError, a == b else { fatalError("readers disagree: \(a) / \(b)") }
    case (.success(let out), .failure(let e)):
        fatalError("whole read \(out.series.count) rows, streamed failed: \(e)")
    case (.failure(let e), .success):
        fatalError("streamed read \(times.count) rows, whole failed: \(e)")
    }
}

/// A number the parser takes must be strtod's, bit for bit; one it refuses must be one
/// strtod refuses too, or a form the parser leaves out on purpose (hexadecimal, nan(...),
/// leading white space).
func floatAgreesWithStrtod(_ body: UnsafeRawBufferPointer) {
    let bytes = Array(body.prefix(64))
    guard !bytes.contains(0) else { return }
    // the readers' short-price path: what it reads must be strtod's reading of those bytes
    if let (v, n) = bytes.withUnsafeBufferPointer({ b in
        b.baseAddress.flatMap { DecimalParser.parseShortDecimal($0, b.count) }
    }) {
        let read = Array(bytes[0..<n])
        let expected = (read + [0]).withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { strtod($0, nil) }
        }
        guard v.bitPattern == expected.bitPattern else {
            fatalError("short decimal path: \(String(decoding: read, as: UTF8.self)) gave \(v), strtod \(expected)")
        }
    }
    let ours = bytes.withUnsafeBufferPointer { b in b.baseAddress.flatMap { DecimalParser.parse($0, b.count) } }
    let theirs: Double? = (bytes + [0]).withUnsafeBufferPointer { b in
        b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { p in
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(p, &end)
            guard let end, end - UnsafeMutablePointer(mutating: p) == bytes.count, !bytes.isEmpty else { return nil }
            return v
        }
    }
    if let ours {
        guard let theirs, ours.bitPattern == theirs.bitPattern || (ours.isNaN && theirs.isNaN) else {
            fatalError(
                "float parser: \(String(decoding: bytes, as: UTF8.self)) gave \(ours), strtod \(String(describing: theirs))"
            )
        }
    } else if theirs != nil {
        let text = String(decoding: bytes, as: UTF8.self).lowercased()
        let leftOut =
            text.contains("x") || text.contains("(")
            || bytes.first.map { [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains($0) } == true
        guard leftOut else { fatalError("float parser refused \(text), strtod read it") }
    }
}

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }

    typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    @_silgen_name("LLVMFuzzerRunDriver")
    func llvmFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: FuzzCallback
    ) -> CInt

    /// SwiftPM links an executable's entry point as `<module>_main`; libFuzzer's driver takes over.
    @_cdecl("volscale_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var values = argv
        return llvmFuzzerRunDriver(&count, &values, fuzzerTestOneInput)
    }
#else
    /// Without the fuzzer: replays the files (or folders of files) given as arguments.
    @main
    struct FuzzReplay {
        static func main() {
            var files: [String] = []
            for arg in CommandLine.arguments.dropFirst() {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: arg, isDirectory: &isDir), isDir.boolValue {
                    files += ((try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []).sorted().map {
                        arg + "/" + $0
                    }
                } else {
                    files.append(arg)
                }
            }
            for f in files {
                guard let d = FileManager.default.contents(atPath: f) else { continue }
                d.withUnsafeBytes { fuzzOne($0) }
            }
            print("replayed \(files.count) inputs")
        }
    }
#endif
