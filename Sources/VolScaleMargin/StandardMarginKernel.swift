import Dispatch
import RealModule
import VolScaleCore
import VolScaleRisk

/// An account resolved once against a book's catalogue (when it is written, not at every
/// evaluation): indices instead of names, positions netted per instrument in order of first
/// appearance, each leg's entries kept for its P&L. Flat arrays: evaluating it hashes no
/// string and allocates nothing.
public struct CompiledAccount: Sendable {
    /// Collateral: asset index (in `MarginCatalogue.assets`) and quantity, in account order.
    var collateralAsset: [Int32] = []
    var collateralQuantity: [Double] = []
    /// Legs: instrument index, net quantity, end of its entries in `entryQuantity`/`entryPrice`.
    var legInstrument: [Int32] = []
    var legQuantity: [Double] = []
    var legEntriesEnd: [Int32] = []
    var entryQuantity: [Double] = []
    var entryPrice: [Double] = []
    /// False when the kernel cannot evaluate it as the calculator would (a position-level
    /// implied volatility, an unknown name, a spot instrument, a collateral asset twice):
    /// such an account is left to `MarginCalculator`, which also names its error.
    public internal(set) var kernelEvaluable = true

    /// An account of nothing.
    public init() {}
}

/// The names of a book's assets and instruments and their indices: fixed for a venue
/// (parameter sets change prices and rates, not the catalogue).
public struct MarginCatalogue: Sendable {
    public let assets: [String]
    public let instruments: [String]
    let assetIndex: [String: Int32]
    let instrumentIndex: [String: Int32]
    let instrumentKinds: [InstrumentKind]
    let instrumentHasVolatility: [Bool]

    public init(book: MarginBook) {
        assets = book.assets.keys.sorted()
        instruments = book.instruments.keys.sorted()
        assetIndex = Dictionary(uniqueKeysWithValues: assets.enumerated().map { ($1, Int32($0)) })
        instrumentIndex = Dictionary(uniqueKeysWithValues: instruments.enumerated().map { ($1, Int32($0)) })
        instrumentKinds = instruments.map { book.instruments[$0]!.kind }
        instrumentHasVolatility = instruments.map {
            book.instruments[$0]!.impliedVolatility.map { $0 > 0 && $0.isFinite } ?? false
        }
    }

    /// The account in the kernel's form (the calculator's netting and order).
    public func compile(_ account: Account) -> CompiledAccount {
        var c = CompiledAccount()
        var seen = Set<Int32>()
        for x in account.collateral {
            guard let a = assetIndex[x.asset], seen.insert(a).inserted, x.quantity.isFinite else {
                c.kernelEvaluable = false
                return c
            }
            c.collateralAsset.append(a)
            c.collateralQuantity.append(x.quantity)
        }
        var legs: [Int32: (quantity: Double, entries: [(Double, Double)])] = [:]
        var order: [Int32] = []
        for p in account.positions {
            guard let i = instrumentIndex[p.instrument], p.quantity.isFinite, p.impliedVolatility == nil else {
                c.kernelEvaluable = false
                return c
            }
            var entry = 0.0
            switch instrumentKinds[Int(i)] {
            case .linear, .inverse:
                guard let e = p.entryPrice, e > 0, e.isFinite else {
                    c.kernelEvaluable = false
                    return c
                }
                entry = e
            case .option:
                guard instrumentHasVolatility[Int(i)] else {
                    c.kernelEvaluable = false
                    return c
                }
            case .spot:
                c.kernelEvaluable = false
                return c
            }
            if legs[i] == nil { order.append(i) }
            legs[i, default: (0, [])].quantity += p.quantity
            legs[i, default: (0, [])].entries.append((p.quantity, entry))
        }
        for i in order {
            let leg = legs[i]!
            c.legInstrument.append(i)
            c.legQuantity.append(leg.quantity)
            for (q, e) in leg.entries {
                c.entryQuantity.append(q)
                c.entryPrice.append(e)
            }
            c.legEntriesEnd.append(Int32(c.entryQuantity.count))
        }
        return c
    }
}

/// Standard margin of many accounts at one book, for re-margining after a publication:
/// each account's equity, initial and maintenance margin and status, without explanation
/// or liquidation price. It computes what `MarginCalculator.evaluate(_, mode: .standard)`
/// computes, with the same operations in the same order (the same numbers to the last bit:
/// a test holds them equal), from tables built once per book: each asset's price and base
/// haircuts, each instrument's rates, size rule, grid row and option value.
public struct StandardMarginKernel: Sendable {
    public struct Figures: Sendable, Equatable {
        public var equity: Double
        public var initialMargin: Double
        public var maintenanceMargin: Double
        public var status: AccountStatus
    }

    // Per asset (catalogue order), plain numbers: no reference is touched per account
    // except an asset's haircut tiers and an instrument's grid row or size-rule tiers.
    let price: [Double], haircutLong: [Double], haircutShort: [Double]
    let liquidity: [HoldingLiquidity], haircutCap: [Double]
    let haircutTiers: [[Tier]]
    // Per instrument: 0 linear, 1 inverse, 2 option; its asset; rates; its underlying's size
    // rule; option grid row and price.
    let kind: [UInt8], asset: [Int32], multiplier: [Double]
    let initialLong: [Double], initialShort: [Double], maintenanceLong: [Double], maintenanceShort: [Double]
    let sizeRule: [SizeRule?]
    let gridRow: [[Double]], optionPrice: [Double]
    let gridWeights: [Double]
    let maintenanceFraction: Double

    public init(calculator c: MarginCalculator, catalogue: MarginCatalogue) {
        let book = c.book
        let risks = catalogue.assets.map { book.assets[$0]! }
        price = catalogue.assets.map { c.bookPrices[$0] ?? book.assets[$0]!.price }
        haircutLong = risks.map { c.haircutBase($0, side: .long).rate }
        haircutShort = risks.map { c.haircutBase($0, side: .short).rate }
        liquidity = risks.map { HoldingLiquidity(asset: $0, settings: book.settings, esFactor: c.tailFactors.es) }
        haircutCap = risks.map(\.haircutCap)
        haircutTiers = risks.map(\.haircutTiers)
        var kind: [UInt8] = []
        var asset: [Int32] = []
        var multiplier: [Double] = []
        var il: [Double] = []
        var ish: [Double] = []
        var ml: [Double] = []
        var ms: [Double] = []
        var sizeRule: [SizeRule?] = []
        var gridRow: [[Double]] = []
        var optionPrice: [Double] = []
        for symbol in catalogue.instruments {
            let inst = book.instruments[symbol]!
            asset.append(catalogue.assetIndex[inst.underlying] ?? -1)
            multiplier.append(inst.multiplier)
            // an underlying missing from the book gives NaN rates: `evaluate` then declines
            let a = book.assets[inst.underlying]
            let unknown = (initial: Double.nan, maintenance: Double.nan)
            let long = a.map { c.linearRates($0, side: .long) } ?? unknown
            let short = a.map { c.linearRates($0, side: .short) } ?? unknown
            il.append(long.initial)
            ish.append(short.initial)
            ml.append(long.maintenance)
            ms.append(short.maintenance)
            sizeRule.append(a?.sizeRule)
            switch inst.kind {
            case .inverse:
                kind.append(1)
                optionPrice.append(0)
            case .option(let type, let strike, let expiry):
                kind.append(2)
                optionPrice.append(
                    Black76.price(
                        forward: a?.price ?? .nan, strike: strike, volatility: inst.impliedVolatility ?? 0,
                        expiry: expiry, type: type))
            default:
                kind.append(0)
                optionPrice.append(0)
            }
            gridRow.append(c.gridRows[symbol] ?? [])
        }
        self.kind = kind
        self.asset = asset
        self.multiplier = multiplier
        initialLong = il
        initialShort = ish
        maintenanceLong = ml
        maintenanceShort = ms
        self.sizeRule = sizeRule
        self.gridRow = gridRow
        self.optionPrice = optionPrice
        gridWeights = c.grid.map(\.weight)
        maintenanceFraction = book.settings.maintenanceFraction
    }

    /// One account's figures; nil when it is not `kernelEvaluable` or names an asset
    /// without a price (the calculator then answers, or names the error).
    public func evaluate(_ a: CompiledAccount) -> Figures? {
        guard a.kernelEvaluable else { return nil }
        var equity = 0.0
        for k in 0..<a.collateralAsset.count {
            let i = Int(a.collateralAsset[k])
            let q = a.collateralQuantity[k]
            let p = price[i]
            guard p > 0, p.isFinite else { return nil }
            let v = q * p
            let h = MarginCalculator.holdingHaircut(
                base: q < 0 ? haircutShort[i] : haircutLong[i], liquidity: liquidity[i], side: q < 0 ? .short : .long,
                cap: haircutCap[i], tiers: haircutTiers[i], value: v
            ).rate
            equity += MarginRule.counted(quantity: q, value: v, haircut: h)
        }
        var start = 0
        for j in 0..<a.legInstrument.count {
            let n = Int(a.legInstrument[j])
            let u = Int(asset[n])
            guard u >= 0 else { return nil }
            let p = price[u]
            let m = multiplier[n]
            guard p > 0, p.isFinite else { return nil }
            let end = Int(a.legEntriesEnd[j])
            if kind[n] == 2 {
                equity += a.legQuantity[j] * m * optionPrice[n]
            } else {
                var v = 0.0
                for e in start..<end {
                    v =
                        v
                        + MarginRule.entryPnL(
                            inverse: kind[n] == 1, quantity: a.entryQuantity[e], multiplier: m, price: p,
                            entry: a.entryPrice[e])
                }
                equity += v
            }
            start = end
        }
        var im = 0.0
        var mm = 0.0
        for j in 0..<a.legInstrument.count {
            let n = Int(a.legInstrument[j])
            let q = a.legQuantity[j]
            if kind[n] == 2 {
                let worst = gridRow[n].withUnsafeBufferPointer {
                    MarginRule.worstGridLoss(coefficient: q, row: $0, weights: gridWeights).loss
                }
                im += worst
                mm += maintenanceFraction * worst
            } else {
                let long = q >= 0
                let notional = MarginRule.notional(
                    inverse: kind[n] == 1, quantity: q, multiplier: multiplier[n], price: price[Int(asset[n])])
                let base = long ? initialLong[n] : initialShort[n]
                let rate = MarginRule.sizedRate(base: base, rule: sizeRule[n], notional: notional).rate
                let r = MarginRule.requirement(
                    rate: rate, notional: notional, base: base,
                    maintenanceBase: long ? maintenanceLong[n] : maintenanceShort[n])
                im += r.initial
                mm += r.maintenance
            }
        }
        // not finite: the calculator names the error
        guard equity.isFinite, im.isFinite, mm.isFinite else { return nil }
        return Figures(
            equity: equity, initialMargin: im, maintenanceMargin: mm,
            status: AccountStatus(equity: equity, initial: im, maintenance: mm))
    }

    /// Evaluates `accounts[i]` for every i in `indices` on all cores.
    public func evaluate(_ accounts: [CompiledAccount], indices: [Int]) -> [Figures?] {
        let out = UnsafeMutableBufferPointer<Figures?>.allocate(capacity: indices.count)
        out.initialize(repeating: nil)
        defer { out.deallocate() }
        nonisolated(unsafe) let buffer = out
        let chunk = 1024
        let chunks = (indices.count + chunk - 1) / chunk
        accounts.withUnsafeBufferPointer { acc in
            nonisolated(unsafe) let all = acc
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for k in (c * chunk)..<min(indices.count, (c + 1) * chunk) { buffer[k] = evaluate(all[indices[k]]) }
            }
        }
        return Array(out)
    }
}
