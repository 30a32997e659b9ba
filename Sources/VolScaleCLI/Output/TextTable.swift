/// Plain aligned text tables for people: numbers right-aligned, text left-aligned.
package struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns to right-align (numbers).
    var rightAligned: Set<Int> = []

    package init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    package mutating func add(_ row: [String]) { rows.append(row) }

    package func render(indent: String = "  ") -> String {
        let all = [header] + rows
        let widths = (0..<header.count).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            var parts: [String] = []
            for c in 0..<header.count {
                let v = c < r.count ? r[c] : ""
                let gap = String(repeating: " ", count: widths[c] - v.count)
                parts.append(rightAligned.contains(c) ? gap + v : v + gap)
            }
            return indent + parts.joined(separator: "  ").replacingTrailingSpaces()
        }
        var out = [line(header)]
        out.append(indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

extension String {
    func replacingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}

/// Number formatting for tables (JSON and CSV always carry full precision).
package enum Fmt {
    /// `significant` significant digits, switching to exponent form for tiny/huge values.
    package static func sig(_ v: Double, _ significant: Int = 6) -> String {
        guard v.isFinite else { return v.isNaN ? "n/a" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        let a = Swift.abs(v)
        if a >= 1e-4 && a < 1e7 {
            let digits = max(0, significant - 1 - Int((Swift.abs(v)).log10Floor))
            return trimZeros(fixed(v, digits))
        }
        var e = Int(a.log10Floor)
        var m = v / pow10(e)
        if Swift.abs(m) >= 10 {
            m /= 10
            e += 1
        }
        return trimZeros(fixed(m, significant - 1)) + "e" + (e < 0 ? "-" : "+") + (Swift.abs(e) < 10 ? "0" : "")
            + String(Swift.abs(e))
    }

    package static func trimZeros(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// Fixed decimals, rounding half away from zero.
    package static func fixed(_ v: Double, _ decimals: Int) -> String {
        guard v.isFinite else { return "n/a" }
        let scale = pow10(decimals)
        let r = (Swift.abs(v) * scale).rounded()
        var digits = String(Int64(r))
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return (v < 0 && r != 0 ? "-" : "") + digits
    }

    /// A decimal fraction as percent: 0.0123 -> "1.2300%".
    package static func percent(_ v: Double, _ decimals: Int = 4) -> String { fixed(v * 100, decimals) + "%" }

    /// A p-value with `decimals` places, or more where rounding would put it on the other
    /// side of the test size (0.04992 is "0.0499", not "0.050", which reads as a pass).
    package static func pValue(_ p: Double, decimals: Int = 3, size: Double = 0.05) -> String {
        var d = decimals
        var text = fixed(p, d)
        while d < 10, let shown = Double(text), (shown < size) != (p < size) {
            d += 1
            text = fixed(p, d)
        }
        return text
    }

    static func pow10(_ e: Int) -> Double {
        var r = 1.0
        for _ in 0..<Swift.abs(e) { r *= 10 }
        return e >= 0 ? r : 1 / r
    }
}

extension Double {
    var log10Floor: Double {
        var e = 0.0
        var a = Swift.abs(self)
        while a >= 10 {
            a /= 10
            e += 1
        }
        while a < 1 {
            a *= 10
            e -= 1
        }
        return e
    }
}
