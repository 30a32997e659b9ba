import Foundation
import VolScaleConfig
import VolScaleData

/// One input through the decoders that take outside bytes. The first byte picks the decoder,
/// the rest is the input: 0 the price-ingestion body, 1 the what-if body (as the service's
/// hot path reads it, `AccountDocument`, and as the accounts file does), 2 a price file
/// (CSV, klines or ticks, format detected as `volscale vol` does), 3 an option-chain file.
/// Refusals are fine (errors are values); a trap, a hang or an overflow is a finding.
func fuzzOne(_ bytes: UnsafeRawBufferPointer) {
    guard let selector = bytes.first else { return }
    let data = Data(bytes.dropFirst())
    switch selector % 4 {
    case 0:
        if let json = try? Requests.json(data) { _ = try? Requests.quotes(json) }
    case 1:
        // the service's what-if body (AccountDocument, the hot path's reader) and the accounts file's
        if let json = try? Requests.json(data) {
            _ = try? AccountDocument(json: json)
            _ = try? Requests.whatIf(json)
        }
    case 2:
        let text = String(decoding: data, as: UTF8.self)
        _ = try? PriceFileReader().parse(text, name: "fuzz")
        _ = try? PriceFileReader(skipBadRows: true).parse(text, name: "fuzz")
    default:
        _ = try? OptionChainReader().parse(String(decoding: data, as: UTF8.self), name: "fuzz")
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
func llvmFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> CInt

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
                files += ((try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []).sorted().map { arg + "/" + $0 }
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
