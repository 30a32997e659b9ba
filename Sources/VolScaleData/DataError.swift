/// Why a row of a price file was rejected. Used both in errors and, with
/// `--skip-bad-rows`, as the key of the skipped-row counts.
public enum BadRowReason: Error, Hashable, Sendable, CustomStringConvertible, Comparable {
    case emptyRow
    case wrongFieldCount(expected: Int, got: Int)
    case emptyField(String)
    case nonNumeric(field: String, value: String)
    case nonFinite(field: String)
    case nonPositivePrice(field: String)
    case negativeQuantity(field: String)
    case badTimestamp(String)
    case highBelowLow
    case closeOutsideRange
    case openOutsideRange
    case timeBackwards
    case duplicateTimestamp
    case invalidJSON(String)
    case unterminatedQuote
    case textAfterQuote

    public var description: String {
        switch self {
        case .emptyRow: return "empty row"
        case .wrongFieldCount(let e, let g): return "expected \(e) fields, found \(g)"
        case .emptyField(let f): return "field '\(f)' is empty"
        case .nonNumeric(let f, let v): return "field '\(f)' is not a number: '\(v)'"
        case .nonFinite(let f): return "field '\(f)' is not finite"
        case .nonPositivePrice(let f): return "field '\(f)' is not a positive price"
        case .negativeQuantity(let f): return "field '\(f)' is negative"
        case .badTimestamp(let v):
            return "unreadable timestamp '\(v)' (expected ISO 8601 date or date-time, or epoch seconds/ms/us)"
        case .highBelowLow: return "high below low"
        case .closeOutsideRange: return "close outside [low, high]"
        case .openOutsideRange: return "open outside [low, high]"
        case .timeBackwards: return "timestamp earlier than the previous row's"
        case .duplicateTimestamp: return "duplicate timestamp"
        case .invalidJSON(let why): return "invalid JSON: \(why)"
        case .unterminatedQuote: return "a quoted field has no closing quote"
        case .textAfterQuote:
            return "text after the closing quote of a field (a quote inside a quoted field is written twice: \"\")"
        }
    }

    /// The reason without the row-specific value, for counting skipped rows.
    public var category: String {
        switch self {
        case .emptyRow: return "empty row"
        case .wrongFieldCount: return "wrong number of fields"
        case .emptyField(let f): return "empty field '\(f)'"
        case .nonNumeric(let f, _): return "non-numeric field '\(f)'"
        case .nonFinite(let f): return "non-finite field '\(f)'"
        case .nonPositivePrice(let f): return "non-positive price in '\(f)'"
        case .negativeQuantity(let f): return "negative quantity in '\(f)'"
        case .badTimestamp: return "unreadable timestamp"
        case .highBelowLow: return "high below low"
        case .closeOutsideRange: return "close outside [low, high]"
        case .openOutsideRange: return "open outside [low, high]"
        case .timeBackwards: return "time going backwards"
        case .duplicateTimestamp: return "duplicate timestamp"
        case .invalidJSON: return "invalid JSON"
        case .unterminatedQuote: return "unterminated quoted field"
        case .textAfterQuote: return "text after a closing quote"
        }
    }

    public static func < (a: BadRowReason, b: BadRowReason) -> Bool { a.category < b.category }
}

/// An error reading market data: the file, the 1-based line (0 for the whole file),
/// and the reason.
public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case badRow(BadRowReason)
        case unreadable(String)
        case missingColumn(String, available: [String])
        case tooFewRows(needed: Int, got: Int)
        case unknownFormat(String)
    }

    public var file: String
    public var line: Int
    public var kind: Kind

    public init(file: String, line: Int, kind: Kind) {
        self.file = file
        self.line = line
        self.kind = kind
    }

    /// The reason alone, without file, line or advice.
    public var reason: String {
        switch kind {
        case .badRow(let reason): return reason.description
        case .unreadable(let why): return "cannot read: \(why)"
        case .missingColumn(let name, let available):
            return "no column '\(name)' in the header (columns: \(available.joined(separator: ", ")))"
        case .tooFewRows(let needed, let got): return "needs at least \(needed) valid rows, found \(got)"
        case .unknownFormat(let why): return "unrecognised format: \(why)"
        }
    }

    /// `file:line: reason` without the advice of `description` (readers that skip no rows).
    public var located: String { "\(line > 0 ? "\(file):\(line)" : file): \(reason)" }

    public var description: String {
        let location = line > 0 ? "\(file):\(line)" : file
        switch kind {
        case .badRow(let reason): return "\(location): \(reason) (use --skip-bad-rows to skip such rows)"
        case .unreadable(let why): return "\(location): cannot read: \(why)"
        case .missingColumn(let name, let available):
            return "\(location): no column '\(name)' in the header (columns: \(available.joined(separator: ", ")))"
        case .tooFewRows(let needed, let got): return "\(location): needs at least \(needed) valid rows, found \(got)"
        case .unknownFormat(let why): return "\(location): unrecognised format: \(why)"
        }
    }
}

/// What was skipped while reading with `skipBadRows`, by reason.
public struct SkipReport: Sendable, Equatable {
    public var counts: [String: Int] = [:]
    /// The first few skipped rows, with their line numbers, for the user to inspect.
    public var examples: [DataError] = []

    public var total: Int { counts.values.reduce(0, +) }
    public var isEmpty: Bool { counts.isEmpty }

    mutating func record(_ error: DataError, reason: BadRowReason) {
        counts[reason.category, default: 0] += 1
        if examples.count < 5 { examples.append(error) }
    }

    /// One line per reason, most frequent first: "12 rows skipped: empty field 'close'".
    public var lines: [String] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.value) row\($0.value == 1 ? "" : "s") skipped: \($0.key)" }
    }
}
