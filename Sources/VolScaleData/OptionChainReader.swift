import Foundation
import VolScaleCore

/// Reads an option-chain CSV for the model-free variance index.
///
/// Header columns (case-insensitive): `strike`, `call_bid`, `call_ask`, `put_bid`,
/// `put_ask`, and the time to expiry as `days` (calendar days, /365) or `expiry` (years);
/// optional `rate` (continuously compounded, decimal) per row, else the default rate.
/// Rows of one expiry need not be contiguous.
public struct OptionChainReader: Sendable {
    public var defaultRate: Double?

    public init(defaultRate: Double? = nil) { self.defaultRate = defaultRate }

    public func read(path: String) throws(DataError) -> [ExpiryQuotes] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DataError(file: path, line: 0, kind: .unreadable(PriceFileReader.describe(error)))
        }
        return try parse(text, name: path)
    }

    public func parse(_ text: String, name: String) throws(DataError) -> [ExpiryQuotes] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else {
            throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 3, got: 0))
        }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        func col(_ n: String) throws(DataError) -> Int {
            guard let i = header.firstIndex(of: n) else {
                throw DataError(file: name, line: 1, kind: .missingColumn(n, available: header))
            }
            return i
        }
        let k = try col("strike")
        let cb = try col("call_bid")
        let ca = try col("call_ask")
        let pb = try col("put_bid")
        let pa = try col("put_ask")
        let daysCol = header.firstIndex(of: "days")
        let yearsCol = header.firstIndex(of: "expiry")
        guard daysCol != nil || yearsCol != nil else {
            throw DataError(file: name, line: 1, kind: .missingColumn("days", available: header))
        }
        let rateCol = header.firstIndex(of: "rate")
        if rateCol == nil && defaultRate == nil {
            throw DataError(file: name, line: 1, kind: .missingColumn("rate", available: header))
        }
        var groups: [Double: (rate: Double, quotes: [StrikeQuote])] = [:]
        for i in 1..<lines.count {
            let lineNo = i + 1
            let f = lines[i].split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            func bad(_ r: BadRowReason) -> DataError { DataError(file: name, line: lineNo, kind: .badRow(r)) }
            guard f.count == header.count else { throw bad(.wrongFieldCount(expected: header.count, got: f.count)) }
            func number(_ c: Int, allowZero: Bool) throws(DataError) -> Double {
                let s = f[c]
                if s.isEmpty { throw bad(.emptyField(header[c])) }
                guard let v = Double(s) else { throw bad(.nonNumeric(field: header[c], value: s)) }
                guard v.isFinite else { throw bad(.nonFinite(field: header[c])) }
                guard allowZero ? v >= 0 : v > 0 else { throw bad(.nonPositivePrice(field: header[c])) }
                return v
            }
            let expiry: Double
            if let dc = daysCol {
                expiry = try number(dc, allowZero: false) / 365
            } else if let yc = yearsCol {
                expiry = try number(yc, allowZero: false)
            } else {
                expiry = 0
            }
            let rate: Double
            if let rc = rateCol {
                guard let r = Double(f[rc]), r.isFinite else { throw bad(.nonNumeric(field: "rate", value: f[rc])) }
                rate = r
            } else {
                rate = defaultRate ?? 0
            }
            let q = StrikeQuote(
                strike: try number(k, allowZero: false), callBid: try number(cb, allowZero: true),
                callAsk: try number(ca, allowZero: true), putBid: try number(pb, allowZero: true),
                putAsk: try number(pa, allowZero: true))
            groups[expiry, default: (rate, [])].quotes.append(q)
        }
        return groups.keys.sorted().map { ExpiryQuotes(expiry: $0, rate: groups[$0]!.rate, quotes: groups[$0]!.quotes) }
    }
}
