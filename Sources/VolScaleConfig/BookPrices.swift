import Foundation
import VolScaleMargin

/// A prices file for a book: CSV with a header naming `asset` and `price` and optionally
/// `volatility` (daily, decimal), one row per asset; the rows override the book's prices
/// and volatilities (`volscale margin --prices`, `volscale stress --prices`).
public enum BookPrices {
    /// Reads `path` and applies it to `book`.
    /// - Throws: `ConfigError` naming the file, the line and the reason.
    public static func apply(path: String, to book: inout MarginBook) throws(ConfigError) {
        let text = try ConfigFile.text(path)
        try apply(text: text, name: path, to: &book)
    }

    /// Applies the text of a prices file (`name` for messages). Every row is checked before
    /// any is applied, so a bad file leaves the book as it was.
    public static func apply(text: String, name: String, to book: inout MarginBook) throws(ConfigError) {
        func fail(_ line: Int, _ reason: String) -> ConfigError {
            ConfigError(file: name, location: "line \(line)", reason: reason)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { ($0.offset + 1, $0.element.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .filter { !$0.1.isEmpty }
        guard let (headerLine, headerText) = lines.first else {
            throw fail(1, "empty file: expected a header asset,price[,volatility]")
        }
        let header = headerText.lowercased().split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let a = header.firstIndex(of: "asset"), let p = header.firstIndex(of: "price") else {
            throw fail(headerLine, "expected a header with columns asset,price[,volatility]")
        }
        let v = header.firstIndex(of: "volatility")
        var updates: [(asset: String, price: Double, volatility: Double?)] = []
        for (line, text) in lines.dropFirst() {
            let f = text.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard f.count == header.count else { throw fail(line, "expected \(header.count) fields, found \(f.count)") }
            guard book.assets[f[a]] != nil else { throw fail(line, "unknown asset '\(f[a])'") }
            guard let price = Double(f[p]), price > 0, price.isFinite else {
                throw fail(line, "price '\(f[p])' is not a positive number")
            }
            var volatility: Double?
            if let v, !f[v].isEmpty {
                guard let vol = Double(f[v]), vol >= 0, vol.isFinite else {
                    throw fail(line, "volatility '\(f[v])' is not a number >= 0")
                }
                volatility = vol
            }
            updates.append((f[a], price, volatility))
        }
        for u in updates {
            book.assets[u.asset]?.price = u.price
            if let vol = u.volatility { book.assets[u.asset]?.volatility = vol }
        }
    }
}
