import Dispatch

/// The batched portfolio-margin computation for many accounts over a shared scenario
/// matrix: the hot path behind portfolio margin at book scale.
///
/// For account a with positions (instrument i_j, coefficient c_j):
/// `loss_k = -sum_j c_j * rows[i_j][k]`, requirement
/// `max(ES_alpha(loss) + sum_j liquidity_j(|c_j|), (1 - maxOffset) * sum_j |c_j| * standalone[i_j])`,
/// where `liquidity_j(q) = q * price_i * (halfSpread_i + kappaSigma_i * sqrt(q * price_i / ADV_i))`.
/// ES uses the EmpiricalTail rule with equal weights.
public struct PortfolioKernel: Sendable {
    /// Scenario P&L per unit coefficient, row-major `instruments x scenarios`.
    public let rows: [Double]
    public let scenarios: Int
    public let instruments: Int
    /// Stand-alone requirement per unit |coefficient|.
    public let standalone: [Double]
    /// Per instrument: price (notional per unit), half spread, kappa * sigma, ADV.
    public let price: [Double], halfSpread: [Double], kappaSigma: [Double], adv: [Double]
    public let confidence: Double
    public let maxOffset: Double

    public init(rows: [Double], scenarios: Int, standalone: [Double], price: [Double], halfSpread: [Double],
                kappaSigma: [Double], adv: [Double], confidence: Double, maxOffset: Double) {
        self.rows = rows
        self.scenarios = scenarios
        self.instruments = rows.count / max(scenarios, 1)
        self.standalone = standalone
        self.price = price
        self.halfSpread = halfSpread
        self.kappaSigma = kappaSigma
        self.adv = adv
        self.confidence = confidence
        self.maxOffset = maxOffset
    }

    /// Requirements of `accounts` accounts with `width` positions each: `instrument` and
    /// `coefficient` are row-major `accounts x width` (unused slots: coefficient 0).
    /// - Parameter threads: worker count (default: all cores via concurrentPerform).
    public func requirements(instrument: [Int32], coefficient: [Double], width: Int, threads: Int? = nil) -> [Double] {
        let n = coefficient.count / width
        var out = [Double](repeating: 0, count: n)
        let tail = (1 - confidence) * Double(scenarios)
        let k = Int(tail.rounded(.up))
        let chunk = 256
        let chunks = (n + chunk - 1) / chunk
        out.withUnsafeMutableBufferPointer { outBuf in
            nonisolated(unsafe) let result = outBuf
            rows.withUnsafeBufferPointer { rowsPtr in
                instrument.withUnsafeBufferPointer { instPtr in
                    coefficient.withUnsafeBufferPointer { coefPtr in
                        nonisolated(unsafe) let rowsBuf = rowsPtr, instBuf = instPtr, coefBuf = coefPtr
                        let work: @Sendable (Int) -> Void = { c in
                            let loss = UnsafeMutableBufferPointer<Double>.allocate(capacity: scenarios)
                            let top = UnsafeMutableBufferPointer<Double>.allocate(capacity: k + 1)
                            defer { loss.deallocate(); top.deallocate() }
                            for a in (c * chunk)..<min(n, (c + 1) * chunk) {
                                for s in 0..<scenarios { loss[s] = 0 }
                                var floor = 0.0, liquidity = 0.0
                                for j in 0..<width {
                                    let coef = coefBuf[a * width + j]
                                    if coef == 0 { continue }
                                    let i = Int(instBuf[a * width + j])
                                    let row = rowsBuf.baseAddress! + i * scenarios
                                    for s in 0..<scenarios { loss[s] -= coef * row[s] }
                                    let q = coef < 0 ? -coef : coef
                                    floor += q * standalone[i]
                                    let notional = q * price[i]
                                    liquidity += notional * (halfSpread[i] + kappaSigma[i] * (notional / adv[i]).squareRoot())
                                }
                                // k largest losses, kept sorted descending (insertion; k is small)
                                var m = 0
                                for s in 0..<scenarios {
                                    let v = loss[s]
                                    if m < k {
                                        var p = m
                                        while p > 0 && top[p - 1] < v { top[p] = top[p - 1]; p -= 1 }
                                        top[p] = v
                                        m += 1
                                    } else if v > top[k - 1] {
                                        var p = k - 1
                                        while p > 0 && top[p - 1] < v { top[p] = top[p - 1]; p -= 1 }
                                        top[p] = v
                                    }
                                }
                                // ES over exactly `tail` scenarios' weight (boundary one partly)
                                var sum = 0.0
                                for r in 0..<(k - 1) { sum += top[r] }
                                sum += (tail - Double(k - 1)) * top[k - 1]
                                let es = max(0, sum / tail)
                                result[a] = max(es + liquidity, (1 - maxOffset) * floor)
                            }
                        }
                        if let threads, threads == 1 {
                            for c in 0..<chunks { work(c) }
                        } else {
                            DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
                        }
                    }
                }
            }
        }
        return out
    }
}
