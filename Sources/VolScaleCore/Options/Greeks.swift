import RealModule

/// How an option pays: in the quote currency (USD-settled: the payoff `max(F - K, 0)` in USD)
/// or in the coin (coin-settled, as Deribit lists BTC and ETH options: the same USD payoff paid
/// as `max(F - K, 0) / F` coins; premium and margin in the coin too).
public enum OptionSettlement: String, Sendable, Codable, CaseIterable {
    case quote, coin
}

/// Sensitivities of one option on one unit of the underlying (Black-76 on the forward, no
/// discounting, as crypto venues mark).
///
/// Units, quote-currency (USD) view: `price` USD; `delta` dV/dF in units of the underlying
/// (0.5 = half a coin); `gamma` d2V/dF2 per USD of the forward; `vega` USD per volatility point
/// (0.01 of annualised volatility); `theta` USD per calendar day as the option ages (negative
/// for a long option), `-dV/dT / 365`.
///
/// Coin view (`inCoin`): for a coin-settled option the value in coins is `P = V / F`, and its
/// delta is the coin exposure `F dP/dF = delta - P` (Deribit's premium-adjusted delta: the
/// premium itself is a coin balance); gamma `d(delta - P)/dF = gamma - (delta - P)/F`; vega and
/// theta divided by F. For a USD-settled option the coin view is the USD view divided by F,
/// with the delta unchanged (coins of exposure).
public struct OptionGreeks: Sendable, Equatable {
    public let price: Double
    public let delta: Double
    public let gamma: Double
    public let vega: Double
    public let theta: Double

    public init(price: Double, delta: Double, gamma: Double, vega: Double, theta: Double) {
        self.price = price
        self.delta = delta
        self.gamma = gamma
        self.vega = vega
        self.theta = theta
    }

    /// The same quantities for `quantity` options.
    public func scaled(_ quantity: Double) -> OptionGreeks {
        OptionGreeks(
            price: price * quantity, delta: delta * quantity, gamma: gamma * quantity, vega: vega * quantity,
            theta: theta * quantity)
    }

    public static func + (a: OptionGreeks, b: OptionGreeks) -> OptionGreeks {
        OptionGreeks(
            price: a.price + b.price, delta: a.delta + b.delta, gamma: a.gamma + b.gamma, vega: a.vega + b.vega,
            theta: a.theta + b.theta)
    }

    public static let zero = OptionGreeks(price: 0, delta: 0, gamma: 0, vega: 0, theta: 0)

    /// The coin view of USD Greeks at forward `forward` (see the type's comment).
    public func inCoin(forward f: Double, settlement: OptionSettlement) -> OptionGreeks {
        let p = price / f
        switch settlement {
        case .coin:
            return OptionGreeks(
                price: p, delta: delta - p, gamma: gamma - (delta - p) / f, vega: vega / f, theta: theta / f)
        case .quote:
            return OptionGreeks(price: p, delta: delta, gamma: gamma / f, vega: vega / f, theta: theta / f)
        }
    }
}

extension Black76 {
    /// Black-76 price and Greeks in the quote currency (undiscounted): with
    /// `d1 = (ln(F/K) + s^2/2)/s`, `s = sigma sqrt(T)`: delta `Phi(d1)` (call) or `Phi(d1) - 1`
    /// (put), gamma `phi(d1)/(F s)`, vega `F phi(d1) sqrt(T) / 100` (per vol point), theta
    /// `-F phi(d1) sigma / (2 sqrt(T)) / 365` (per day). At expiry or zero volatility: the
    /// intrinsic value, delta 0 or +-1 (1/2 at the money), the other Greeks 0.
    public static func greeks(
        forward f: Double, strike k: Double, volatility: Double, expiry t: Double, type: OptionType
    ) -> OptionGreeks {
        let price = self.price(forward: f, strike: k, volatility: volatility, expiry: t, type: type)
        let s = volatility * t.squareRoot()
        guard s > 0 else {
            let itm: Double = f > k ? 1 : (f < k ? 0 : 0.5)
            return OptionGreeks(price: price, delta: type == .call ? itm : itm - 1, gamma: 0, vega: 0, theta: 0)
        }
        let d1 = (Double.log(f / k) + 0.5 * s * s) / s
        let pdf = Special.normalPDF(d1)
        let callDelta = Special.normalCDF(d1)
        return OptionGreeks(
            price: price, delta: type == .call ? callDelta : callDelta - 1,
            gamma: pdf / (f * s), vega: f * pdf * t.squareRoot() / 100,
            theta: -f * pdf * volatility / (2 * t.squareRoot()) / 365)
    }
}
