/// Small dense linear algebra for parameter covariances and correlation matrices.
/// Matrices are row-major `[Double]` of size n*n. Intended for n up to a few hundred.
public enum DenseMatrix {
    /// Inverse by Gauss-Jordan elimination with partial pivoting; `nil` when singular
    /// (a pivot below 1e-300 in magnitude).
    public static func inverse(_ a: [Double], n: Int) -> [Double]? {
        var m = a
        var inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for col in 0..<n {
            var pivot = col
            var best = abs(m[col * n + col])
            for r in (col + 1)..<max(col + 1, n) where abs(m[r * n + col]) > best {
                best = abs(m[r * n + col])
                pivot = r
            }
            if !(best > 1e-300) { return nil }
            if pivot != col {
                for j in 0..<n {
                    m.swapAt(col * n + j, pivot * n + j)
                    inv.swapAt(col * n + j, pivot * n + j)
                }
            }
            let p = 1 / m[col * n + col]
            for j in 0..<n {
                m[col * n + j] *= p
                inv[col * n + j] *= p
            }
            for r in 0..<n where r != col {
                let f = m[r * n + col]
                if f == 0 { continue }
                for j in 0..<n {
                    m[r * n + j] -= f * m[col * n + j]
                    inv[r * n + j] -= f * inv[col * n + j]
                }
            }
        }
        return inv
    }

    /// Product of an (n x k) and a (k x m) matrix.
    public static func multiply(_ a: [Double], _ b: [Double], n: Int, k: Int, m: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * m)
        for i in 0..<n {
            for l in 0..<k {
                let ail = a[i * k + l]
                if ail == 0 { continue }
                for j in 0..<m { c[i * m + j] += ail * b[l * m + j] }
            }
        }
        return c
    }
}
