import Foundation

/// The what-if request body (the API's `Account` schema: id, collateral as an object or a
/// list, positions, mode, explain), read from JSONReader's tree exactly as the service's
/// generated Codable type reads it: the fields in declaration order (a missing or mistyped
/// field before an unknown one), `null` as absent, unknown properties refused, and the same
/// `DecodingError`s with the same coding paths. The service's hot path uses it instead of
/// Foundation's JSONDecoder (see `ServiceAPI.whatIfFast`); the fuzzer runs it.
public struct AccountDocument: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var asset: String
        public var quantity: Double
    }
    public enum Collateral: Sendable, Equatable {
        case map([String: Double])
        case list([Entry])
    }
    public struct Position: Sendable, Equatable {
        public var instrument: String
        public var quantity: Double
        public var entryPrice: Double?
        public var impliedVolatility: Double?
    }
    public var id: String?
    public var collateral: Collateral?
    public var positions: [Position]?
    /// `standard` or `portfolio`.
    public var mode: String?
    public var explain: Bool?

    /// A coding key for the errors' paths: a member name or an array index.
    public struct Key: CodingKey {
        public var stringValue: String
        public var intValue: Int?
        public init(_ s: String) { stringValue = s }
        public init(_ i: Int) {
            stringValue = "Index \(i)"
            intValue = i
        }
        public init?(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { self.init(intValue) }
    }

    public init(json: JSON) throws {
        guard let members = json.members else { throw mismatch([String: Any].self, json, []) }
        // one pass over each object's members; coding paths are built only for an error
        func string(_ v: JSON, _ path: @autoclosure () -> [any CodingKey]) throws -> String {
            guard case .string(let s) = v else { throw mismatch(String.self, v, path()) }
            return s
        }
        func number(_ v: JSON, _ path: @autoclosure () -> [any CodingKey]) throws -> Double {
            guard case .number(let n) = v else { throw mismatch(Double.self, v, path()) }
            return n
        }
        func unknown(_ keys: [String], _ path: [any CodingKey]) -> DecodingError {
            .dataCorrupted(
                .init(
                    codingPath: path + [Key(keys.min() ?? "")], debugDescription: "Additional properties are disabled"))
        }
        func missing(_ key: String, _ path: [any CodingKey]) -> DecodingError {
            .keyNotFound(Key(key), .init(codingPath: path, debugDescription: "missing"))
        }
        /// The first value of each known key (null: absent), and the unknown keys.
        func split(_ m: [(key: String, value: JSON)], _ known: [String]) -> (values: [JSON?], unknown: [String]) {
            var values = [JSON?](repeating: nil, count: known.count)
            var seen = [Bool](repeating: false, count: known.count)
            var unknown: [String] = []
            for e in m {
                if let k = known.firstIndex(of: e.key) {
                    if !seen[k] {
                        seen[k] = true
                        values[k] = e.value.isNull ? nil : e.value
                    }
                } else {
                    unknown.append(e.key)
                }
            }
            return (values, unknown)
        }
        let top = split(members, ["id", "collateral", "positions", "mode", "explain"])
        id = try top.values[0].map { try string($0, [Key("id")]) }
        switch top.values[1] {
        case nil: collateral = nil
        case .object(let m)?:
            var map: [String: Double] = [:]
            for e in m where map[e.key] == nil { map[e.key] = try number(e.value, [Key("collateral"), Key(e.key)]) }
            collateral = .map(map)
        case .array(let items)?:
            var out: [Entry] = []
            for (i, item) in items.enumerated() {
                guard let m = item.members else {
                    throw mismatch([String: Any].self, item, [Key("collateral"), Key(i)])
                }
                let f = split(m, ["asset", "quantity"])
                guard let asset = f.values[0] else { throw missing("asset", [Key("collateral"), Key(i)]) }
                guard let quantity = f.values[1] else { throw missing("quantity", [Key("collateral"), Key(i)]) }
                out.append(
                    Entry(
                        asset: try string(asset, [Key("collateral"), Key(i), Key("asset")]),
                        quantity: try number(quantity, [Key("collateral"), Key(i), Key("quantity")])))
                if !f.unknown.isEmpty { throw unknown(f.unknown, [Key("collateral"), Key(i)]) }
            }
            collateral = .list(out)
        case let other?:
            throw DecodingError.valueNotFound(
                Collateral.self,
                .init(
                    codingPath: [Key("collateral")],
                    debugDescription: "The oneOf structure did not decode into any child schema. (\(kind(other)))"))
        }
        switch top.values[2] {
        case nil: positions = nil
        case .array(let items)?:
            var out: [Position] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard let m = item.members else {
                    throw mismatch([String: Any].self, item, [Key("positions"), Key(i)])
                }
                let f = split(m, ["instrument", "quantity", "entryPrice", "impliedVolatility"])
                guard let inst = f.values[0] else { throw missing("instrument", [Key("positions"), Key(i)]) }
                let instrument = try string(inst, [Key("positions"), Key(i), Key("instrument")])
                guard let q = f.values[1] else { throw missing("quantity", [Key("positions"), Key(i)]) }
                let quantity = try number(q, [Key("positions"), Key(i), Key("quantity")])
                let entry = try f.values[2].map { try number($0, [Key("positions"), Key(i), Key("entryPrice")]) }
                let iv = try f.values[3].map { try number($0, [Key("positions"), Key(i), Key("impliedVolatility")]) }
                if !f.unknown.isEmpty { throw unknown(f.unknown, [Key("positions"), Key(i)]) }
                out.append(
                    Position(instrument: instrument, quantity: quantity, entryPrice: entry, impliedVolatility: iv))
            }
            positions = out
        case let other?: throw mismatch([Any].self, other, [Key("positions")])
        }
        mode = try top.values[3].map { v in
            let s = try string(v, [Key("mode")])
            guard s == "standard" || s == "portfolio" else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: [Key("mode")],
                        debugDescription: "Cannot initialize ModePayload from invalid String value \(s)"))
            }
            return s
        }
        explain = try top.values[4].map { v in
            guard case .bool(let b) = v else { throw mismatch(Bool.self, v, [Key("explain")]) }
            return b
        }
        if !top.unknown.isEmpty { throw unknown(top.unknown, []) }
    }
}

/// The JSON type of a value, for error messages.
private func kind(_ v: JSON) -> String {
    switch v {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
}

private func mismatch(_ type: Any.Type, _ value: JSON, _ path: [any CodingKey]) -> DecodingError {
    .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(kind(value))"))
}
