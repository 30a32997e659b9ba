import VolScaleConfig

/// The names a venue's requests may use. `/openapi.json` lists them as enums, so that a
/// client, a code generator or a conformance tool knows which assets and instruments this
/// deployment has: a request naming another is then outside the document (the service still
/// answers it as before: 404 for a path, 422 for a body).
struct VenueVocabulary: Sendable, Equatable {
    /// The assets the engine prices: quotes, rates, history, chains, backtests (path `{asset}`).
    var engineAssets: [String]
    /// The book's assets: collateral and stress shocks.
    var bookAssets: [String]
    /// The book's instruments a position may name (spot assets are collateral, not positions).
    var instruments: [String]
}

extension OpenAPIDocument {
    /// The document (as JSON) with the venue's names as enums: every path parameter `asset`,
    /// `Quote.asset` and `Backtest.asset` (engine assets), `Position.instrument`,
    /// `CollateralEntry.asset` and the keys of the collateral map and of `Stress.shock` (book
    /// assets; a map becomes an object of those properties, nothing else allowed). An empty
    /// list leaves its places as they are (an enum must have a member).
    static func specialised(_ document: JSON, to names: VenueVocabulary) -> JSON {
        func strings(_ values: [String]) -> JSON { .array(values.map(JSON.string)) }
        func withEnum(_ schema: JSON, _ values: [String]) -> JSON {
            values.isEmpty ? schema : schema.setting("enum", strings(values))
        }
        /// A map schema `{additionalProperties: S}` as `{properties: {name: S...}, additionalProperties: false}`.
        func closedMap(_ schema: JSON, _ keys: [String]) -> JSON {
            guard !keys.isEmpty, let value = schema["additionalProperties"], value.members != nil else { return schema }
            return schema.setting("properties", .object(keys.map { (key: $0, value: value) }))
                .setting("additionalProperties", .bool(false))
        }
        var doc = document
        doc = doc.updating(["paths"]) { paths in
            paths.mapMembers { _, item in
                item.mapMembers { _, operation in
                    operation.updating(["parameters"]) { parameters in
                        guard case .array(let list) = parameters else { return parameters }
                        return .array(
                            list.map { p in
                                guard p["name"]?.string == "asset", p["in"]?.string == "path" else { return p }
                                return p.updating(["schema"]) { withEnum($0, names.engineAssets) }
                            })
                    }
                }
            }
        }
        let schemas = ["components", "schemas"]
        doc = doc.updating(schemas + ["Quote", "properties", "asset"]) { withEnum($0, names.engineAssets) }
        doc = doc.updating(schemas + ["Backtest", "properties", "asset"]) { withEnum($0, names.engineAssets) }
        doc = doc.updating(schemas + ["Position", "properties", "instrument"]) { withEnum($0, names.instruments) }
        doc = doc.updating(schemas + ["CollateralEntry", "properties", "asset"]) { withEnum($0, names.bookAssets) }
        doc = doc.updating(schemas + ["Stress", "properties", "shock"]) { closedMap($0, names.bookAssets) }
        doc = doc.updating(schemas + ["Account", "properties", "collateral", "oneOf"]) { forms in
            guard case .array(let list) = forms else { return forms }
            return .array(list.map { $0["type"]?.string == "object" ? closedMap($0, names.bookAssets) : $0 })
        }
        return doc
    }
}

extension JSON {
    /// The object with `key` set to `value` (replaced in place, or appended).
    func setting(_ key: String, _ value: JSON) -> JSON {
        guard case .object(var members) = self else { return self }
        if let i = members.lastIndex(where: { $0.key == key }) {
            members[i].value = value
        } else {
            members.append((key: key, value: value))
        }
        return .object(members)
    }

    /// The value with the member at `path` replaced by `change` of it; unchanged where the
    /// path does not lead to a member.
    func updating(_ path: [String], _ change: (JSON) -> JSON) -> JSON {
        guard let key = path.first else { return change(self) }
        guard let member = self[key] else { return self }
        return setting(key, member.updating(Array(path.dropFirst()), change))
    }

    /// An object with every member's value changed by `change(key, value)`.
    func mapMembers(_ change: (String, JSON) -> JSON) -> JSON {
        guard case .object(let members) = self else { return self }
        return .object(members.map { (key: $0.key, value: change($0.key, $0.value)) })
    }
}
