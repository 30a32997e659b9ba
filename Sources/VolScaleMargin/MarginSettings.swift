import RealModule
import VolScaleCore
import VolScaleRisk

/// Book-wide settings.
public struct MarginSettings: Sendable, Equatable {
    /// Settlement (quote) currency name, e.g. "USD".
    public let settlement: String
    /// Coverage of haircuts, volatility-based rates and portfolio ES, in (0.5, 1).
    public let confidence: Double
    /// Margin period of risk in days for positions, 1 to 250.
    public let mpor: Int
    /// Liquidation horizon in days for collateral haircuts, 1 to 250.
    public let liquidationHorizon: Int
    /// Square-root impact coefficient kappa in `spread/2 + kappa sigma sqrt(Q/ADV)`, in [0, 100].
    public let kappa: Double
    /// Share of ADV a liquidation may sell per day, in (0, 1]: a holding larger than
    /// `participation * ADV * liquidationHorizon` takes longer to sell, and its haircut's
    /// volatility part covers the longer horizon.
    public let participation: Double
    /// Multiplier on liquidity costs (spread, impact) in the high-variance regime, blended by
    /// the regime probability (1: liquidity costs do not depend on the regime), in [1, 100].
    public let stressedLiquidityMultiplier: Double
    /// Largest diversification credit, in [0, 1): portfolio margin >= (1 - maxOffset) * sum
    /// of stand-alone requirements.
    public let maxOffset: Double
    /// Maintenance as a fraction of initial where no maintenance rate is given, in (0, 1].
    public let maintenanceFraction: Double
    /// Grid price moves in multiples of sigma sqrt(mpor), applied to every underlying at
    /// once (Deribit-style risk matrix), each within +/-100, and the implied-volatility shocks
    /// (relative, each in (-1, 10]); neither empty.
    public let gridMoves: [Double]
    public let volShocks: [Double]
    /// Extended tail row: +/- this many sigma sqrt(mpor) (0 to 100), its loss counted at
    /// `extendedWeight` (0 to 1).
    public let extendedMove: Double
    public let extendedWeight: Double

    /// Every setting at its default.
    public static let standard = MarginSettings(unchecked: ())

    private init(unchecked: Void) {
        (settlement, confidence, mpor, liquidationHorizon, kappa, participation) = ("USD", 0.99, 1, 2, 1, 0.1)
        (stressedLiquidityMultiplier, maxOffset, maintenanceFraction) = (1, 0.5, 0.8)
        (gridMoves, volShocks, extendedMove, extendedWeight) = (
            [-4, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 4], [-0.25, 0, 0.25], 8, 1.0 / 3
        )
    }

    /// Throws `MarginSettingsError` naming the first setting out of range (by its key in a
    /// book file's `[settings]`).
    public init(
        settlement: String = "USD", confidence: Double = 0.99, mpor: Int = 1, liquidationHorizon: Int = 2,
        kappa: Double = 1,
        participation: Double = 0.1, stressedLiquidityMultiplier: Double = 1, maxOffset: Double = 0.5,
        maintenanceFraction: Double = 0.8, gridMoves: [Double] = MarginSettings.standard.gridMoves,
        volShocks: [Double] = MarginSettings.standard.volShocks, extendedMove: Double = 8,
        extendedWeight: Double = 1.0 / 3
    ) throws(MarginSettingsError) {
        func bad(_ field: String, _ value: some CustomStringConvertible, _ reason: String) -> MarginSettingsError {
            MarginSettingsError(field: field, value: value.description, reason: reason)
        }
        guard !settlement.isEmpty else { throw bad("settlement", "''", "must name a currency") }
        guard confidence > 0.5 && confidence < 1 else { throw bad("confidence", confidence, "must be in (0.5, 1)") }
        guard mpor >= 1 && mpor <= 250 else { throw bad("mpor", mpor, "must be 1 to 250 days") }
        guard liquidationHorizon >= 1 && liquidationHorizon <= 250 else {
            throw bad("liquidation_horizon", liquidationHorizon, "must be 1 to 250 days")
        }
        guard kappa >= 0 && kappa <= 100 else { throw bad("kappa", kappa, "must be in [0, 100]") }
        guard participation > 0 && participation <= 1 else {
            throw bad("participation", participation, "must be in (0, 1]")
        }
        guard stressedLiquidityMultiplier >= 1 && stressedLiquidityMultiplier <= 100 else {
            throw bad("stressed_liquidity_multiplier", stressedLiquidityMultiplier, "must be in [1, 100]")
        }
        guard maxOffset >= 0 && maxOffset < 1 else { throw bad("max_offset", maxOffset, "must be in [0, 1)") }
        guard maintenanceFraction > 0 && maintenanceFraction <= 1 else {
            throw bad("maintenance_fraction", maintenanceFraction, "must be in (0, 1]")
        }
        guard !gridMoves.isEmpty else { throw bad("grid_moves", "[]", "must hold at least one move") }
        if let m = gridMoves.first(where: { !($0.magnitude <= 100) }) {
            throw bad("grid_moves", m, "each move must be within +/-100 sigma")
        }
        guard !volShocks.isEmpty else { throw bad("vol_shocks", "[]", "must hold at least one shock (0: none)") }
        if let v = volShocks.first(where: { !($0 > -1 && $0 <= 10) }) {
            throw bad("vol_shocks", v, "each shock must be in (-1, 10]")
        }
        guard extendedMove >= 0 && extendedMove <= 100 else {
            throw bad("extended_move", extendedMove, "must be in [0, 100]")
        }
        guard extendedWeight >= 0 && extendedWeight <= 1 else {
            throw bad("extended_weight", extendedWeight, "must be in [0, 1]")
        }
        (self.settlement, self.confidence, self.mpor, self.liquidationHorizon, self.kappa) = (
            settlement, confidence, mpor, liquidationHorizon, kappa
        )
        (self.participation, self.stressedLiquidityMultiplier, self.maxOffset) = (
            participation, stressedLiquidityMultiplier, maxOffset
        )
        (self.maintenanceFraction, self.gridMoves, self.volShocks) = (maintenanceFraction, gridMoves, volShocks)
        (self.extendedMove, self.extendedWeight) = (extendedMove, extendedWeight)
    }
}

extension MarginSettings {
    /// The same settings with liquidity costs that do not depend on the regime (multiplier 1).
    public var calm: MarginSettings { MarginSettings(self, stressedLiquidityMultiplier: 1) }

    private init(_ s: MarginSettings, stressedLiquidityMultiplier: Double) {
        (settlement, confidence, mpor, liquidationHorizon, kappa) = (
            s.settlement, s.confidence, s.mpor, s.liquidationHorizon, s.kappa
        )
        (participation, self.stressedLiquidityMultiplier, maxOffset) = (
            s.participation, stressedLiquidityMultiplier, s.maxOffset
        )
        (maintenanceFraction, gridMoves, volShocks) = (s.maintenanceFraction, s.gridMoves, s.volShocks)
        (extendedMove, extendedWeight) = (s.extendedMove, s.extendedWeight)
    }
}

/// A margin setting out of range: its key (as a book file's `[settings]` names it), its
/// value and why.
public struct MarginSettingsError: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String
    public let value: String
    public let reason: String
    public var description: String { "\(field) = \(value): \(reason)" }
}
