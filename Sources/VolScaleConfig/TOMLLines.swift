/// Where keys are in a TOML text, to put a line number on a validation error (TOMLKit
/// gives positions for syntax errors only). A light scan, not a parser: it follows table
/// headers (`[settings]`, `[[asset]]`, `[asset.aggregation]`) and `key =` lines, which is
/// what the project's files use.
struct TOMLLines {
    struct Entry {
        /// The header's path (`asset`, `asset.aggregation`), the index of the enclosing
        /// array-of-tables element (`[[asset]]` #0, #1, ...), the key (nil: the header).
        var table: String
        var element: Int
        var key: String?
        var line: Int
    }
    var entries: [Entry] = []
    /// Per array-of-tables element: its `name` or `symbol`, to find `[[asset]] 'BTC'`.
    var names: [String: [String]] = [:]

    init(_ text: String) {
        var table = ""
        var element: [String: Int] = [:]
        var top = ""
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("[[") {
                let name = String(line.dropFirst(2).prefix { $0 != "]" }).trimmed
                table = name
                top = String(name.split(separator: ".").first ?? "")
                if !name.contains(".") {
                    element[name, default: -1] += 1
                    names[name, default: []].append("")
                }
                entries.append(Entry(table: table, element: element[top] ?? 0, key: nil, line: i + 1))
            } else if line.hasPrefix("[") {
                table = String(line.dropFirst().prefix { $0 != "]" }).trimmed
                top = String(table.split(separator: ".").first ?? "")
                entries.append(Entry(table: table, element: element[top] ?? 0, key: nil, line: i + 1))
            } else if let eq = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = String(line[..<eq]).trimmed.trimmingQuotes
                entries.append(Entry(table: table, element: element[top] ?? 0, key: key, line: i + 1))
                if key == "name" || key == "symbol", table == top, let n = names[top]?.indices.last,
                    let value = line[line.index(after: eq)...].split(separator: "#").first
                {
                    names[top]?[n] = String(value).trimmed.trimmingQuotes
                }
            }
        }
    }

    /// The line of `key` in `table` (its element `element` for an array of tables), or of
    /// the table's header when the key is not written there.
    func line(table: String, element: Int, key: String?) -> Int? {
        let inTable = entries.filter { $0.table == table && $0.element == element }
        if let key, let e = inTable.first(where: { $0.key == key }) { return e.line }
        return inTable.first { $0.key == nil }?.line ?? inTable.first?.line
    }

    /// The error with the line of the table and key it names added to its location.
    func locate(_ e: ConfigError) -> ConfigError {
        guard !e.location.contains("line") else { return e }
        var table = ""
        var element = 0
        let loc = e.location
        if loc.hasPrefix("[[") {
            table = String(loc.dropFirst(2).prefix { $0 != "]" })
            let rest = loc.drop { $0 != "]" }.dropFirst(2).trimmed
            if rest.hasPrefix("'") {
                let name = String(rest.dropFirst().prefix { $0 != "'" })
                element = names[table]?.firstIndex(of: name) ?? 0
                // a sub-table named after the element: "[[asset]] 'BTC' aggregation"
                let after = rest.dropFirst(name.count + 2).trimmed
                if let sub = after.split(separator: " ").first, !sub.isEmpty, !sub.contains("#") { table += "." + sub }
            } else if rest.hasPrefix("#"), let n = Int(rest.dropFirst().prefix { $0.isNumber }) {
                element = n - 1
            }
        } else if loc.hasPrefix("[") {
            table = String(loc.dropFirst().prefix { $0 != "]" })
        } else if loc != "top level" && !loc.isEmpty {
            return e
        }
        // the key: "unknown key 'k'" or "k: reason"
        var key: String?
        if e.reason.hasPrefix("unknown key '") {
            key = String(e.reason.dropFirst(13).prefix { $0 != "'" })
        } else {
            // "k: reason" or "k = value: reason"
            let k = e.reason.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            let rest = e.reason.dropFirst(k.count)
            if !k.isEmpty, rest.hasPrefix(":") || rest.hasPrefix(" =") { key = String(k) }
        }
        guard let line = line(table: table, element: element, key: key) else { return e }
        var out = e
        out.location = loc.isEmpty || loc == "top level" ? "line \(line)" : "\(loc) (line \(line))"
        return out
    }
}

extension StringProtocol {
    var trimmed: String {
        let s = self.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        return String(s.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
    var trimmingQuotes: String {
        var s = Substring(self)
        if s.count >= 2, let f = s.first, f == "\"" || f == "'", s.last == f { s = s.dropFirst().dropLast() }
        return String(s)
    }
}
