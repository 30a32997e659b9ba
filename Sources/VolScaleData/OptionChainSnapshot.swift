import Foundation
import VolScaleCore

/// One listed option as a venue quotes it. For Deribit (coin-settled): prices in the coin per
/// option on one coin; `underlyingPrice` the expiry's forward (future or synthetic) in USD.
public struct ListedOption: Sendable, Equatable {
    public let instrument: String
    /// Expiry, epoch milliseconds UTC.
    public let expiry: Int64
    public let strike: Double
    public let type: OptionType
    /// Best bid and ask, coin per option; nil where the book has none.
    public let bid: Double?
    public let ask: Double?
    public let mark: Double?
    /// Implied volatilities, annualised decimal (the source's percent / 100); nil where the
    /// source has none or a placeholder (Deribit writes 0 for no usable bid, 500% for a capped ask).
    public let markIV: Double?
    public let bidIV: Double?
    public let askIV: Double?
    /// Forward of the expiry in USD.
    public let underlyingPrice: Double
    public let openInterest: Double?
    /// Line (CSV) or record number (JSON, 1-based) in the source.
    public let line: Int
}

/// An option chain at one moment.
public struct OptionChainSnapshot: Sendable {
    public let file: String
    public let options: [ListedOption]
    /// The source's own time stamp (Deribit JSON: the latest `creation_timestamp`), epoch ms.
    public let timestamp: Int64?
    /// Implied volatilities the reader set aside as placeholders (zero bids, capped asks).
    public let placeholders: Int
    /// The source gives bid and ask implied volatilities (else they come from the prices).
    public let quotesVolatility: Bool

    public static let millisecondsPerYear = 365.0 * 86_400_000

    /// Forward per expiry: the median of the expiry's `underlyingPrice` (rows are read over a
    /// few minutes, so the forward differs a little row to row).
    public func forwards() -> [Int64: Double] {
        Dictionary(grouping: options, by: \.expiry).mapValues { rows in
            let v = rows.map(\.underlyingPrice).sorted()
            return v.count % 2 == 1 ? v[v.count / 2] : 0.5 * (v[v.count / 2 - 1] + v[v.count / 2])
        }
    }

    /// The moment the chain was taken, inferred from the marks when the source carries no time
    /// stamp: for each option with a mark of at least 0.005 coin above its intrinsic value and a
    /// mark IV, the time to expiry at which Black-76 at the mark IV gives the mark (price
    /// increases with time, so bisection finds it), and the median of the implied moments.
    /// Nil when no option qualifies.
    public func inferredTimestamp() -> Int64? {
        var moments: [Double] = []
        for o in options {
            guard let mark = o.mark, let iv = o.markIV, iv > 0 else { continue }
            let f = o.underlyingPrice
            let intrinsic = Black76.intrinsic(forward: f, strike: o.strike, type: o.type) / f
            guard mark - intrinsic >= 0.005 else { continue }
            var lo = 1e-9
            var hi = 20.0
            for _ in 0..<200 {
                let mid = 0.5 * (lo + hi)
                let p = Black76.price(forward: f, strike: o.strike, volatility: iv, expiry: mid, type: o.type) / f
                if p < mark { lo = mid } else { hi = mid }
            }
            let years = 0.5 * (lo + hi)
            guard years < 19.9 else { continue }
            moments.append(Double(o.expiry) - years * Self.millisecondsPerYear)
        }
        guard !moments.isEmpty else { return nil }
        moments.sort()
        let m =
            moments.count % 2 == 1
            ? moments[moments.count / 2] : 0.5 * (moments[moments.count / 2 - 1] + moments[moments.count / 2])
        return Int64(exactly: m.rounded()) ?? nil
    }

    /// The quote of one option for a smile: the source's bid and ask implied volatilities, or,
    /// where the source gives prices only (Deribit's book summary), the Black-76 inversion of
    /// price x forward (USD) on the expiry's forward at zero rate, as Deribit marks. A price
    /// at or below intrinsic value gives no volatility on that side.
    public func smileQuote(_ o: ListedOption, forward: Double, years: Double) -> SmileQuote? {
        func implied(_ price: Double?) -> Double? {
            guard let p = price, p > 0 else { return nil }
            let v = try? Black76.impliedVolatility(
                price: p * forward, forward: forward, strike: o.strike, expiry: years, type: o.type)
            return v.flatMap { $0 > 0 ? $0 : nil }
        }
        var bid = quotesVolatility ? o.bidIV : implied(o.bid)
        var ask = quotesVolatility ? o.askIV : implied(o.ask)
        if let b = bid, let a = ask, b > a {
            bid = nil
            ask = nil
        }
        if bid == nil && ask == nil { return nil }
        return try? SmileQuote(strike: o.strike, bid: bid, ask: ask)
    }

    /// The smiles of every expiry after `asOf` (epoch ms), in increasing expiry, each option's
    /// quote from `smileQuote`. Expiries at or before `asOf` are left out.
    public func smileInputs(asOf: Int64) throws(SurfaceError) -> [(expiry: Int64, input: SmileInput)] {
        let fwd = forwards()
        var result: [(Int64, SmileInput)] = []
        for (expiry, rows) in Dictionary(grouping: options, by: \.expiry).sorted(by: { $0.key < $1.key }) {
            let years = Double(expiry - asOf) / Self.millisecondsPerYear
            guard years > 0, let f = fwd[expiry] else { continue }
            let quotes = rows.compactMap { smileQuote($0, forward: f, years: years) }
            result.append((expiry, try SmileInput(expiry: years, forward: f, quotes: quotes)))
        }
        return result
    }
}

extension OptionChainSnapshot {
    /// The chain as the model-free variance method takes it (the CBOE white paper, as Deribit's
    /// DVOL): per expiry after `asOf`, per strike with both a call and a put listed, bids and
    /// asks in USD (coin price x the expiry's forward), zero rate (coin-settled options on the
    /// forward). A side without both a bid and an ask counts as a zero bid, which the method
    /// skips (two in a row end the wing).
    public func modelFreeQuotes(asOf: Int64) -> [ExpiryQuotes] {
        let fwd = forwards()
        var out: [ExpiryQuotes] = []
        for (expiry, rows) in Dictionary(grouping: options, by: \.expiry).sorted(by: { $0.key < $1.key }) {
            let years = Double(expiry - asOf) / Self.millisecondsPerYear
            guard years > 0, let f = fwd[expiry] else { continue }
            var calls: [Double: ListedOption] = [:]
            var puts: [Double: ListedOption] = [:]
            for o in rows { if o.type == .call { calls[o.strike] = o } else { puts[o.strike] = o } }
            func usd(_ o: ListedOption) -> (Double, Double) {
                guard let b = o.bid, let a = o.ask, a >= b else { return (0, 0) }
                return (b * f, a * f)
            }
            let quotes = calls.keys.sorted().compactMap { k -> StrikeQuote? in
                guard let c = calls[k], let p = puts[k] else { return nil }
                let (cb, ca) = usd(c)
                let (pb, pa) = usd(p)
                return StrikeQuote(strike: k, callBid: cb, callAsk: ca, putBid: pb, putAsk: pa)
            }
            out.append(ExpiryQuotes(expiry: years, rate: 0, quotes: quotes))
        }
        return out
    }
}

/// Reads an option chain: the CSV layout of `data/deribit-btc-options-20200521.csv`, or the
/// JSON that Deribit's public `get_book_summary_by_currency` returns (the whole response or its
/// `result` array). Plain, .gz or .zip.
///
/// CSV header columns (any order, case-insensitive): `strike`, `type` (call/put or C/P),
/// `underlying_price`, and `expiry` (ISO 8601 or epoch) or an `instrument` name such as
/// `BTC-26JUN20-9000-C`; optional `instrument`, `bid`, `ask`, `mark`, `mark_iv`, `bid_iv`,
/// `ask_iv` (percent), `open_interest`. Empty fields are missing values.
///
/// JSON fields per record: `instrument_name` (expiry 08:00 UTC, strike and type from it),
/// `bid_price`, `ask_price`, `mark_price`, `mark_iv`, `underlying_price`, `open_interest`,
/// `creation_timestamp`; records that are not options (futures, perpetuals) are left out.
public struct OptionChainFileReader: Sendable {
    public init() {}

    public func read(path: String) throws(DataError) -> OptionChainSnapshot {
        let bytes: [UInt8]
        do {
            bytes = try ByteSource.withContents(path: path, name: path) { Array($0) }
        } catch let e as DataError { throw e } catch {
            throw DataError(file: path, line: 0, kind: .unreadable(PriceFileReader.describe(error)))
        }
        return try parse(bytes, name: path)
    }

    public func parse(_ raw: [UInt8], name: String) throws(DataError) -> OptionChainSnapshot {
        var bytes = raw[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { return try parseJSON(Array(bytes), name: name) }
        return try parseCSV(Array(bytes), name: name)
    }

    // MARK: CSV

    private func parseCSV(_ bytes: [UInt8], name: String) throws(DataError) -> OptionChainSnapshot {
        let records = CSVRecords.parse(bytes)
        guard let header = records.first else {
            throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 2, got: 0))
        }
        let columns = header.fields.map { $0.lowercased() }
        func col(_ n: String) -> Int? { columns.firstIndex(of: n) }
        func need(_ n: String) throws(DataError) -> Int {
            guard let i = col(n) else {
                throw DataError(file: name, line: header.line, kind: .missingColumn(n, available: columns))
            }
            return i
        }
        let kCol = try need("strike")
        let typeCol = try need("type")
        let fCol = try need("underlying_price")
        let expiryCol = col("expiry")
        let instrumentCol = col("instrument")
        if expiryCol == nil && instrumentCol == nil {
            throw DataError(file: name, line: header.line, kind: .missingColumn("expiry", available: columns))
        }
        var options: [ListedOption] = []
        var placeholders = 0
        for record in records.dropFirst() where !record.blank {
            let f = record.fields
            func bad(_ r: BadRowReason) -> DataError { DataError(file: name, line: record.line, kind: .badRow(r)) }
            if let m = record.malformed { throw bad(m) }
            guard record.fieldCount == columns.count, f.count == columns.count else {
                throw bad(.wrongFieldCount(expected: columns.count, got: record.fieldCount))
            }
            func number(_ c: Int?, positive: Bool = false) throws(DataError) -> Double? {
                guard let c, !f[c].isEmpty else { return nil }
                guard let v = DecimalParser.parse(f[c]) else { throw bad(.nonNumeric(field: columns[c], value: f[c])) }
                guard v.isFinite else { throw bad(.nonFinite(field: columns[c])) }
                if positive && !(v > 0) { throw bad(.nonPositivePrice(field: columns[c])) }
                if v < 0 { throw bad(.negativeQuantity(field: columns[c])) }
                return v
            }
            /// A percentage as a decimal, correctly rounded (`179.39` is read as `179.39e-2`).
            func percent(_ c: Int?) throws(DataError) -> Double? {
                guard try number(c) != nil, let c else { return nil }
                return DecimalParser.parse(f[c] + "e-2")
            }
            let instrument = instrumentCol.map { f[$0] } ?? ""
            let parsedName = DeribitInstrument(instrument)
            let expiry: Int64
            if let c = expiryCol {
                guard let e = Timestamp.parse(f[c]) else { throw bad(.badTimestamp(f[c])) }
                expiry = e
            } else if let e = parsedName?.expiry {
                expiry = e
            } else {
                throw bad(.badTimestamp(instrument))
            }
            guard let strike = try number(kCol, positive: true) else { throw bad(.emptyField("strike")) }
            guard let type = OptionTypeName.parse(f[typeCol]) else {
                throw bad(.nonNumeric(field: "type", value: f[typeCol]))
            }
            guard let forward = try number(fCol, positive: true) else { throw bad(.emptyField("underlying_price")) }
            let bid = try number(col("bid")).flatMap { $0 > 0 ? $0 : nil }
            let ask = try number(col("ask")).flatMap { $0 > 0 ? $0 : nil }
            var bidIV = try percent(col("bid_iv"))
            var askIV = try percent(col("ask_iv"))
            if let b = bidIV, b <= 0 || bid == nil {
                bidIV = nil
                placeholders += 1
            }
            if let a = askIV, a >= 5 || ask == nil {
                askIV = nil
                placeholders += 1
            }
            options.append(
                ListedOption(
                    instrument: instrument, expiry: expiry, strike: strike, type: type, bid: bid, ask: ask,
                    mark: try number(col("mark")), markIV: try percent(col("mark_iv")).flatMap { $0 > 0 ? $0 : nil },
                    bidIV: bidIV, askIV: askIV, underlyingPrice: forward,
                    openInterest: try number(col("open_interest")), line: record.line))
        }
        guard !options.isEmpty else { throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 1, got: 0)) }
        return OptionChainSnapshot(
            file: name, options: options, timestamp: nil, placeholders: placeholders,
            quotesVolatility: col("bid_iv") != nil || col("ask_iv") != nil)
    }

    // MARK: JSON

    private func parseJSON(_ bytes: [UInt8], name: String) throws(DataError) -> OptionChainSnapshot {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes)) } catch {
            throw DataError(file: name, line: 1, kind: .badRow(.invalidJSON(PriceFileReader.describe(error))))
        }
        let records: [Any]
        if let a = object as? [Any] {
            records = a
        } else if let o = object as? [String: Any], let r = o["result"] as? [Any] {
            records = r
        } else {
            throw DataError(
                file: name, line: 1,
                kind: .badRow(.invalidJSON("expected an array of book summaries or an object with a \"result\" array")))
        }
        var options: [ListedOption] = []
        var latest: Int64?
        for (i, any) in records.enumerated() {
            let n = i + 1
            func bad(_ r: BadRowReason) -> DataError { DataError(file: name, line: n, kind: .badRow(r)) }
            guard let r = any as? [String: Any] else { throw bad(.invalidJSON("record \(n) is not an object")) }
            guard let instrument = r["instrument_name"] as? String else { throw bad(.emptyField("instrument_name")) }
            guard let parsed = DeribitInstrument(instrument), let expiry = parsed.expiry,
                case .option(let strike, let type) = parsed.kind
            else { continue }  // futures and perpetuals
            func number(_ key: String) throws(DataError) -> Double? {
                guard let v = r[key], !(v is NSNull) else { return nil }
                guard let d = (v as? NSNumber)?.doubleValue else { throw bad(.nonNumeric(field: key, value: "\(v)")) }
                guard d.isFinite else { throw bad(.nonFinite(field: key)) }
                if d < 0 { throw bad(.negativeQuantity(field: key)) }
                return d
            }
            guard let forward = try number("underlying_price"), forward > 0 else {
                throw bad(.nonPositivePrice(field: "underlying_price"))
            }
            if let ts = try number("creation_timestamp"), let t = Int64(exactly: ts.rounded()) {
                latest = max(latest ?? t, t)
            }
            options.append(
                ListedOption(
                    instrument: instrument, expiry: expiry, strike: strike, type: type,
                    bid: try number("bid_price").flatMap { $0 > 0 ? $0 : nil },
                    ask: try number("ask_price").flatMap { $0 > 0 ? $0 : nil },
                    mark: try number("mark_price"), markIV: try number("mark_iv").flatMap { $0 > 0 ? $0 / 100 : nil },
                    bidIV: nil, askIV: nil, underlyingPrice: forward,
                    openInterest: try number("open_interest"), line: n))
        }
        guard !options.isEmpty else { throw DataError(file: name, line: 0, kind: .tooFewRows(needed: 1, got: 0)) }
        return OptionChainSnapshot(
            file: name, options: options, timestamp: latest, placeholders: 0, quotesVolatility: false)
    }
}

/// `call`/`put`/`C`/`P`, any case.
enum OptionTypeName {
    static func parse(_ s: String) -> OptionType? {
        switch s.lowercased() {
        case "call", "c": return .call
        case "put", "p": return .put
        default: return nil
        }
    }
}

/// A Deribit instrument name: an option `BTC-26JUN20-9000-C` (strike decimals written with `d`,
/// as in `0d625`), a future `BTC-26JUN20`, or a perpetual `BTC-PERPETUAL`. Expiries are at
/// 08:00 UTC of the date, in epoch milliseconds.
public struct DeribitInstrument: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case option(strike: Double, type: OptionType)
        case future
        case perpetual
    }
    public let underlying: String
    /// nil for a perpetual.
    public let expiry: Int64?
    public let kind: Kind

    public init?(_ name: String) {
        let parts = name.split(separator: "-").map(String.init)
        guard parts.count >= 2, !parts[0].isEmpty else { return nil }
        underlying = parts[0]
        if parts.count == 2 && parts[1].uppercased() == "PERPETUAL" {
            expiry = nil
            kind = .perpetual
            return
        }
        guard let e = Self.date(parts[1]) else { return nil }
        expiry = e
        switch parts.count {
        case 2: kind = .future
        case 4:
            guard let type = OptionTypeName.parse(parts[3]),
                let strike = Double(parts[2].replacingOccurrences(of: "d", with: ".")), strike > 0, strike.isFinite
            else { return nil }
            kind = .option(strike: strike, type: type)
        default: return nil
        }
    }

    /// `26JUN20` or `5JUN20` at 08:00 UTC.
    static func date(_ text: String) -> Int64? {
        let date = Array(text.uppercased())
        guard date.count == 6 || date.count == 7 else { return nil }
        let dayDigits = date.count - 5
        guard let day = Int(String(date[0..<dayDigits])), (1...31).contains(day),
            let yy = Int(String(date[(dayDigits + 3)...])), (0...99).contains(yy)
        else { return nil }
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        guard let m = months.firstIndex(of: String(date[dayDigits..<(dayDigits + 3)])) else { return nil }
        let n = Timestamp.days(year: 2000 + yy, month: m + 1, day: day)
        guard Timestamp.civil(days: n) == (2000 + yy, m + 1, day) else { return nil }  // 31FEB20
        return Int64(n) * 86_400_000 + 8 * 3_600_000
    }
}

/// The records of a small CSV file as strings (RFC 4180 through `RecordScanner`).
enum CSVRecords {
    struct Record {
        let line: Int
        let fields: [String]
        let fieldCount: Int
        let blank: Bool
        let malformed: BadRowReason?
    }

    static func parse(_ bytes: [UInt8]) -> [Record] {
        bytes.withUnsafeBufferPointer { buf -> [Record] in
            guard let base = buf.baseAddress else { return [] }
            var scanner = RecordScanner(p: base, end: buf.count, final: true, position: 0, line: 1)
            var out: [Record] = []
            let capacity = 64
            let storage = UnsafeMutableBufferPointer<FieldRange>.allocate(capacity: capacity)
            defer { storage.deallocate() }
            while let r = scanner.next(storage) {
                let n = min(r.fieldCount, capacity)
                let fields = (0..<n).map { i -> String in
                    let f = storage[i]
                    let s = String(
                        decoding: UnsafeBufferPointer(start: base + f.start, count: max(f.end - f.start, 0)),
                        as: UTF8.self)
                    return f.escaped ? s.replacingOccurrences(of: "\"\"", with: "\"") : s
                }
                out.append(
                    Record(
                        line: r.line, fields: fields, fieldCount: r.fieldCount, blank: r.blank, malformed: r.malformed))
            }
            return out
        }
    }
}
