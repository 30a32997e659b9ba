/// A `Decoder` over the `JSON` tree of `JSONReader`: any `Decodable` type (the service's
/// generated OpenAPI types among them) read from a request body without Foundation's
/// JSONDecoder. Written because the service's hot path (what-if margin) spent a third of
/// its CPU in Foundation's decoder on Linux (generic metadata lookups, a key list built
/// per object); this one walks the already parsed tree, and its errors are the
/// `DecodingError`s Foundation's would throw (type mismatch, missing key, with the coding
/// path), so one error mapping serves both.
///
/// Numbers: a `Double` is the parsed value; an integer type accepts a number only if it is
/// integral and within the type's range (no rounding, no trap). `null` decodes as absent in
/// `decodeIfPresent`, as Foundation's does.
public enum JSONTreeDecoder {
    /// Parses `bytes` (`JSONReader`: at most 64 levels deep) and decodes `T` from them.
    /// Invalid JSON is a `DecodingError.dataCorrupted` with an empty path and the reader's
    /// reason (with the byte offset).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        let json: JSON
        switch Requests.parse(bytes) {
        case let .success(j): json = j
        case let .failure(e): throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: e.description))
        }
        return try decode(type, from: json)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from json: JSON) throws -> T {
        try T(from: TreeDecoder(value: json, codingPath: []))
    }
}

struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

struct TreeDecoder: Decoder {
    let value: JSON
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .object(members) = value else { throw mismatch([String: JSON].self, value, codingPath) }
        return KeyedDecodingContainer(KeyedTree<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case let .array(items) = value else { throw mismatch([JSON].self, value, codingPath) }
        return UnkeyedTree(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleTree(value: value, codingPath: codingPath) }
}

/// The error for a value of the wrong JSON type (`null` reads as a missing value).
func mismatch(_ type: Any.Type, _ value: JSON, _ path: [any CodingKey]) -> DecodingError {
    if case .null = value { return .valueNotFound(type, .init(codingPath: path, debugDescription: "expected a value, found null")) }
    return .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found another JSON type"))
}

/// One JSON value as a primitive, with the checks of the doc comment above (casts by
/// `as?`: `T` is one of the standard library's primitives, never a force cast).
func primitive<T>(_ type: T.Type, _ value: JSON, _ path: @autoclosure () -> [any CodingKey]) throws -> T {
    switch value {
    case let .number(n):
        if let v = n as? T { return v }
        if T.self == Float.self, n.isFinite, Float(n).isFinite, let v = Float(n) as? T { return v }
        if let i = Int64(exactly: n) {
            let converted: Any? = switch T.self {
            case is Int.Type: Int(exactly: i)
            case is Int64.Type: i
            case is Int32.Type: Int32(exactly: i)
            case is Int16.Type: Int16(exactly: i)
            case is Int8.Type: Int8(exactly: i)
            case is UInt.Type: UInt(exactly: i)
            case is UInt64.Type: UInt64(exactly: i)
            case is UInt32.Type: UInt32(exactly: i)
            case is UInt16.Type: UInt16(exactly: i)
            case is UInt8.Type: UInt8(exactly: i)
            default: nil
            }
            if let v = converted as? T { return v }
        }
        if T.self != Bool.self && T.self != String.self {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "the number \(n) does not fit \(T.self)"))
        }
    case let .string(s): if let v = s as? T { return v }
    case let .bool(b): if let v = b as? T { return v }
    default: break
    }
    throw mismatch(T.self, value, path())
}

struct KeyedTree<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSON)]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }
    func contains(_ key: Key) -> Bool { members.contains { $0.key == key.stringValue } }

    func value(_ key: Key) throws -> JSON {
        let name = key.stringValue
        for m in members where m.key == name { return m.value }
        throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(name)"))
    }

    func decodeNil(forKey key: Key) throws -> Bool { if case .null = try value(key) { return true }; return false }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try primitive(type, value(key), codingPath + [key]) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try primitive(type, value(key), codingPath + [key]) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: TreeDecoder(value: value(key), codingPath: codingPath + [key]))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try TreeDecoder(value: value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try TreeDecoder(value: value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder { TreeDecoder(value: .object(members), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { TreeDecoder(value: (try? value(key)) ?? .null, codingPath: codingPath + [key]) }
}

struct UnkeyedTree: UnkeyedDecodingContainer {
    let items: [JSON]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSON], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next(_ type: Any.Type) throws -> (JSON, [any CodingKey]) {
        let path = codingPath + [IndexKey(currentIndex)]
        guard currentIndex < items.count else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "the array has no more elements"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], path)
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < items.count, case .null = items[currentIndex] else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: String.Type) throws -> String { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (v, p) = try next(type); return try primitive(type, v, p) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (v, p) = try next(type)
        return try T(from: TreeDecoder(value: v, codingPath: p))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, p) = try next([String: JSON].self)
        return try TreeDecoder(value: v, codingPath: p).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (v, p) = try next([JSON].self)
        return try TreeDecoder(value: v, codingPath: p).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder {
        let (v, p) = try next(JSON.self)
        return TreeDecoder(value: v, codingPath: p)
    }
}

struct SingleTree: SingleValueDecodingContainer {
    let value: JSON
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { if case .null = value { return true }; return false }
    func decode(_ type: Bool.Type) throws -> Bool { try primitive(type, value, codingPath) }
    func decode(_ type: String.Type) throws -> String { try primitive(type, value, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try primitive(type, value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try primitive(type, value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try primitive(type, value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try primitive(type, value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try primitive(type, value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try primitive(type, value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try primitive(type, value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try primitive(type, value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try primitive(type, value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try primitive(type, value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try primitive(type, value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try primitive(type, value, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: TreeDecoder(value: value, codingPath: codingPath)) }
}
