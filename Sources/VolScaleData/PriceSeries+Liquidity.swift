import VolScaleCore

/// The unit of a file's volume column.
public enum VolumeUnit: String, Sendable, CaseIterable {
    /// Base currency (coins, shares, contracts of one unit): dollar volume is volume times close.
    case base
    /// Already the traded value in the quote currency (Yahoo's crypto volumes, Binance's quote volume).
    case quote
}

extension PriceSeries {
    /// Traded value per bar in the quote currency; nil when the series has no volume.
    public func dollarVolume(_ unit: VolumeUnit) -> [Double]? {
        guard let volume else { return nil }
        switch unit {
        case .quote: return volume
        case .base: return zip(volume, close).map { $0 * $1 }
        }
    }

    /// The liquidity measures at every bar where the window is full (`LiquidityTracker`);
    /// needs bars and volumes.
    public func liquidity(_ settings: LiquidityWindow, unit: VolumeUnit) throws(LiquidityError) -> [LiquidityPoint] {
        guard let bars else {
            throw .missingInput("\(source) has no open/high/low/close columns; the spread estimate needs bars")
        }
        guard let dv = dollarVolume(unit) else { throw .missingInput("\(source) has no volume column") }
        return try LiquidityTracker.measures(
            high: bars.high, low: bars.low, close: bars.close, dollarVolume: dv, settings: settings)
    }

    /// The latest window's liquidity measures (the last of `liquidity`); nil when there are
    /// fewer than `window + 1` bars.
    public func latestLiquidity(window: Int, unit: VolumeUnit) throws(LiquidityError) -> LiquidityPoint? {
        try liquidity(LiquidityWindow(window: window), unit: unit).last
    }

    /// The EWMA volatility forecast after the last return (per period, decimal; arch's seed).
    public func ewmaVolatility(lambda: Double) throws(VolatilityError) -> Double {
        try EWMA(lambda: lambda).lastAndNext(returns).next.squareRoot()
    }
}
