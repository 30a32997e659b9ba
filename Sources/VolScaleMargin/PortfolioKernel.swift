import Dispatch

/// The batched portfolio-margin computation for many accounts over a shared scenario
/// matrix: the hot path behind portfolio margin at book scale, `MarginCalculator`'s portfolio
/// rule for accounts of linear and option positions without size rules, one slot per
/// instrument (`MarginCalculator.portfolioKernel` builds it from a book;
/// `PortfolioKernelTests.equalsTheCalculatorsPortfolioMargin` checks the two agree).
///
/// For account a with positions (instrument i_j, coefficient c_j):
/// `loss_k = -sum_j c_j * rows[i_j][k]` over the joint scenarios and
/// `gridLoss_g = -sum_j c_j * gridRows[i_j][g]` over the risk grid; requirement
/// `max(max(ES_alpha(loss), max_g gridLoss_g * gridWeight_g, 0) + sum_j liquidity_j(|c_j|),
///      (1 - maxOffset) * sum_j standalone_j)`, where a linear position's stand-alone
/// requirement is `rate_side(c_j)[i_j] * |c_j| * price_i` and an option's its worst grid loss,
/// where `liquidity_j(q) = n * multiplier_i * (halfSpread_i + kappaSigma_i * sqrt(max(0, n - threshold_i) / ADV_i))`
/// with `n = q * price_i`. ES uses the EmpiricalTail rule with equal weights.
public struct PortfolioKernel: Sendable {
    /// Scenario P&L per unit coefficient, row-major `instruments x scenarios`.
    public let rows: [Double]
    public let scenarios: Int
    public let instruments: Int
    /// Stand-alone rate (decimal fraction of notional) of a long (positive coefficient) and
    /// a short linear position.
    public let standaloneLong: [Double], standaloneShort: [Double]
    /// Instruments whose stand-alone requirement is their worst loss over the risk grid
    /// (options), not a rate of notional.
    public let gridStandalone: [Bool]
    /// Per instrument: notional per unit |coefficient|, half spread, kappa * sigma, ADV, the
    /// regime multiplier on liquidity costs and the holding value below which no impact is
    /// charged.
    public let price: [Double], halfSpread: [Double], kappaSigma: [Double], adv: [Double]
    public let liquidityMultiplier: [Double], impactThreshold: [Double]
    /// Risk-grid P&L per unit coefficient, row-major `instruments x grid points` (empty: no
    /// grid), and each grid point's weight.
    public let gridRows: [Double], gridWeights: [Double]
    public let confidence: Double
    public let maxOffset: Double

    public init(
        rows: [Double], scenarios: Int, standaloneLong: [Double], standaloneShort: [Double], price: [Double],
        halfSpread: [Double],
        kappaSigma: [Double], adv: [Double], liquidityMultiplier: [Double], impactThreshold: [Double],
        gridRows: [Double], gridWeights: [Double], gridStandalone: [Bool], confidence: Double, maxOffset: Double
    ) {
        self.rows = rows
        self.gridStandalone = gridStandalone
        self.scenarios = scenarios
        self.instruments = rows.count / max(scenarios, 1)
        (self.standaloneLong, self.standaloneShort) = (standaloneLong, standaloneShort)
        (self.price, self.halfSpread, self.kappaSigma, self.adv) = (price, halfSpread, kappaSigma, adv)
        (self.liquidityMultiplier, self.impactThreshold) = (liquidityMultiplier, impactThreshold)
        (self.gridRows, self.gridWeights) = (gridRows, gridWeights)
        self.confidence = confidence
        self.maxOffset = maxOffset
    }

    /// The scenario part alone: no grid, one stand-alone requirement per unit of |coefficient|
    /// for both sides (turned into a rate of notional by dividing by the price),
    /// no regime multiplier and no impact threshold (a synthetic book, as the direct
    /// computation in `PortfolioKernelTests` has).
    public init(
        rows: [Double], scenarios: Int, standalone: [Double], price: [Double], halfSpread: [Double],
        kappaSigma: [Double], adv: [Double], confidence: Double, maxOffset: Double
    ) {
        let ones = [Double](repeating: 1, count: standalone.count)
        let zeros = [Double](repeating: 0, count: standalone.count)
        let rates = zip(standalone, price).map { $0 / $1 }
        self.init(
            rows: rows, scenarios: scenarios, standaloneLong: rates, standaloneShort: rates, price: price,
            halfSpread: halfSpread, kappaSigma: kappaSigma, adv: adv, liquidityMultiplier: ones, impactThreshold: zeros,
            gridRows: [], gridWeights: [], gridStandalone: zeros.map { _ in false }, confidence: confidence,
            maxOffset: maxOffset)
    }

    /// Requirements of `accounts` accounts with `width` positions each: `instrument` and
    /// `coefficient` are row-major `accounts x width` (unused slots: coefficient 0). An
    /// account naming an instrument outside `0..<instruments` gets NaN.
    /// - Parameter threads: worker count (default: all cores via concurrentPerform).
    public func requirements(instrument: [Int32], coefficient: [Double], width: Int, threads: Int? = nil) -> [Double] {
        let n = coefficient.count / width
        var out = [Double](repeating: 0, count: n)
        let tail = MarginRule.tail(count: scenarios, confidence: confidence)
        let k = tail.k
        let chunk = 256
        let chunks = (n + chunk - 1) / chunk
        let points = gridRows.isEmpty ? 0 : gridWeights.count
        out.withUnsafeMutableBufferPointer { outBuf in
            nonisolated(unsafe) let result = outBuf
            rows.withUnsafeBufferPointer { rowsPtr in
                gridRows.withUnsafeBufferPointer { gridPtr in
                    instrument.withUnsafeBufferPointer { instPtr in
                        coefficient.withUnsafeBufferPointer { coefPtr in
                            nonisolated(unsafe) let rowsBuf = rowsPtr
                            nonisolated(unsafe) let gridBuf = gridPtr
                            nonisolated(unsafe) let instBuf = instPtr
                            nonisolated(unsafe) let coefBuf = coefPtr
                            let work: @Sendable (Int) -> Void = { c in
                                let loss = UnsafeMutableBufferPointer<Double>.allocate(capacity: scenarios)
                                let top = UnsafeMutableBufferPointer<Double>.allocate(capacity: k + 1)
                                let gridLoss = UnsafeMutableBufferPointer<Double>.allocate(
                                    capacity: Swift.max(points, 1))
                                defer {
                                    loss.deallocate()
                                    top.deallocate()
                                    gridLoss.deallocate()
                                }
                                for a in (c * chunk)..<min(n, (c + 1) * chunk) {
                                    for s in 0..<scenarios { loss[s] = 0 }
                                    for g in 0..<points { gridLoss[g] = 0 }
                                    var floor = 0.0
                                    var liquidity = 0.0
                                    var unknown = false
                                    for j in 0..<width {
                                        let coef = coefBuf[a * width + j]
                                        if coef == 0 { continue }
                                        let i = Int(instBuf[a * width + j])
                                        guard i >= 0 && i < instruments, let rowsBase = rowsBuf.baseAddress else {
                                            unknown = true
                                            break
                                        }
                                        // pointers to the instrument's rows: indexing the whole matrix
                                        // (`rows[i * scenarios + s]`) checks every sum for overflow and
                                        // keeps the loop from being vectorised (twice the time)
                                        let row = rowsBase + i * scenarios
                                        for s in 0..<scenarios { loss[s] -= coef * row[s] }
                                        if let gridBase = gridBuf.baseAddress {
                                            let gridRow = gridBase + i * points
                                            for g in 0..<points { gridLoss[g] -= coef * gridRow[g] }
                                        }
                                        let q = coef < 0 ? -coef : coef
                                        let notional = q * price[i]
                                        if gridStandalone[i], let gridBase = gridBuf.baseAddress {
                                            floor +=
                                                MarginRule.worstGridLoss(
                                                    coefficient: coef,
                                                    row: UnsafeBufferPointer(
                                                        start: gridBase + i * points, count: points),
                                                    weights: gridWeights
                                                ).loss
                                        } else {
                                            floor += (coef < 0 ? standaloneShort[i] : standaloneLong[i]) * notional
                                        }
                                        liquidity += MarginRule.liquidityAddOn(
                                            notional: notional, multiplier: liquidityMultiplier[i],
                                            halfSpread: halfSpread[i],
                                            impact: HoldingLiquidity.squareRootImpact(
                                                kappaSigma: kappaSigma[i], threshold: impactThreshold[i], adv: adv[i],
                                                size: notional))
                                    }
                                    if unknown {
                                        result[a] = .nan
                                        continue
                                    }
                                    let gridRequirement = MarginRule.worstGridLoss(
                                        coefficient: -1, row: UnsafeBufferPointer(rebasing: gridLoss[0..<points]),
                                        weights: gridWeights
                                    ).loss
                                    let es = MarginRule.expectedShortfall(
                                        UnsafeBufferPointer(loss), count: scenarios, tail: tail, scratch: top)
                                    result[a] =
                                        MarginRule.portfolioInitial(
                                            grid: gridRequirement, scenarios: es, liquidity: liquidity,
                                            standaloneSum: floor,
                                            maxOffset: maxOffset
                                        ).initial
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
        }
        return out
    }
}

extension MarginCalculator {
    /// Why a book's instruments cannot go into a `PortfolioKernel`.
    public enum KernelRefusal: Error, Equatable, Sendable {
        /// The book has no joint historical scenarios.
        case noScenarios
        /// Unknown symbol, or an instrument the kernel's linear rule cannot take: inverse
        /// (its coefficient depends on the entry prices), spot, an option without implied
        /// volatility, an underlying outside the scenarios or with a size rule.
        case unsupported(symbol: String, reason: String)
    }

    /// The kernel for `symbols` at the book's prices and quoted implied volatilities: instrument
    /// index j in `requirements` is `symbols[j]`, and a coefficient is quantity x multiplier
    /// for a linear contract, the quantity for an option (as `MarginCalculator.Leg`). For an
    /// account with one position per instrument it gives `evaluate(_:mode: .portfolio)`'s
    /// initial margin.
    public func portfolioKernel(_ symbols: [String]) throws(KernelRefusal) -> PortfolioKernel {
        guard let sc = book.scenarios, sc.count > 0 else { throw .noScenarios }
        let s = book.settings
        var rows: [Double] = []
        var gridMatrix: [Double] = []
        var long: [Double] = []
        var short: [Double] = []
        var price: [Double] = []
        var halfSpread: [Double] = []
        var kappaSigma: [Double] = []
        var adv: [Double] = []
        var multiplier: [Double] = []
        var threshold: [Double] = []
        var gridStandalone: [Bool] = []
        for symbol in symbols {
            func refuse(_ reason: String) -> KernelRefusal { .unsupported(symbol: symbol, reason: reason) }
            guard let inst = book.instruments[symbol], let asset = book.assets[inst.underlying] else {
                throw refuse("not in the book")
            }
            guard asset.sizeRule == nil else { throw refuse("its underlying has a size rule") }
            guard let scenarioRow = fhsRows[symbol], let gridRow = self.gridRows[symbol] else {
                throw refuse("its underlying is not in the scenarios")
            }
            let p = bookPrices[asset.name] ?? asset.price
            switch inst.kind {
            case .linear:
                long.append(linearRates(asset, side: .long).initial)
                short.append(linearRates(asset, side: .short).initial)
                price.append(p)
                gridStandalone.append(false)
            case .option:
                guard inst.impliedVolatility != nil else { throw refuse("an option without implied volatility") }
                long.append(.nan)  // (its worst grid loss instead)
                short.append(.nan)
                price.append(inst.multiplier * p)
                gridStandalone.append(true)
            case .inverse, .spot:
                throw refuse("inverse and spot positions are not linear in one coefficient")
            }
            rows += scenarioRow
            gridMatrix += gridRow
            let l = HoldingLiquidity(asset: asset, settings: s, esFactor: tailFactors.es)
            halfSpread.append(0.5 * asset.spread)
            kappaSigma.append(l.kappa * l.volatility)
            adv.append(asset.averageDailyVolume)
            multiplier.append(l.multiplier)
            threshold.append(asset.impactThreshold)
        }
        return PortfolioKernel(
            rows: rows, scenarios: sc.count, standaloneLong: long, standaloneShort: short, price: price,
            halfSpread: halfSpread, kappaSigma: kappaSigma, adv: adv, liquidityMultiplier: multiplier,
            impactThreshold: threshold, gridRows: gridMatrix, gridWeights: gridWeights, gridStandalone: gridStandalone,
            confidence: s.confidence, maxOffset: s.maxOffset)
    }
}
