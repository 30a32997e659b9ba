import RealModule

/// Call or put.
public enum OptionType: String, Sendable, CaseIterable, Codable {
    case call, put
}

/// Why an implied volatility does not exist or cannot be computed.
public enum ImpliedVolatilityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The price is below the discounted intrinsic value (arbitrage).
    case belowIntrinsic(price: Double, intrinsic: Double)
    /// The price reaches the upper no-arbitrage bound (DF*F for a call, DF*K for a put).
    case atOrAboveMaximum(price: Double, maximum: Double)
    /// An input that is not positive and finite.
    case invalidInput(field: String, value: Double)

    public var description: String {
        switch self {
        case .belowIntrinsic(let price, let intrinsic):
            return "price \(price) is below the discounted intrinsic value \(intrinsic): no implied volatility exists"
        case .atOrAboveMaximum(let price, let maximum):
            return "price \(price) is at or above the no-arbitrage maximum \(maximum): no implied volatility exists"
        case .invalidInput(let field, let value):
            return "\(field) = \(value): must be positive and finite"
        }
    }
}

/// Black-76 prices of European options on a forward, and their inversion.
///
/// Conventions: `forward` F and `strike` K in price units; `expiry` T in years;
/// `volatility` sigma annualised, decimal (0.2 = 20%); `discountFactor` DF in (0, 1]
/// (`exp(-r T)` for a continuously compounded rate r). Black-Scholes on a spot S with
/// rate r and yield q is the special case `F = S exp((r - q) T)`, `DF = exp(-r T)`.
///
/// Internally everything is reduced to the normalised out-of-the-money call
/// `b(x, s) = exp(x/2) Phi(x/s + s/2) - exp(-x/2) Phi(x/s - s/2)` with `x = ln(F/K) <= 0` and
/// total volatility `s = sigma sqrt(T)`; in the region where the two terms nearly cancel
/// (small s) it is evaluated from a Taylor series of the Mills ratio `Phi/phi` (or its
/// asymptotic series deep out of the money), so prices are accurate to a few ulps even
/// when they are 1e-200 of the forward.
public enum Black76 {
    /// Undiscounted-normalised price `price / (DF sqrt(F K))` of an out-of-the-money call,
    /// `x = ln(F/K) <= 0`, total volatility `s > 0`.
    public static func normalisedOTMCall(x: Double, s: Double) -> Double {
        normalisedOTMCall(x: x, s: s, expHalfX: Double.exp(0.5 * x))
    }

    /// As above with `exp(x/2)` precomputed (the inversion reuses it across iterations).
    @inline(__always)
    static func normalisedOTMCall(x: Double, s: Double, expHalfX: Double) -> Double {
        let h = x / s
        let t = 0.5 * s
        if h + t < 0 {
            // Both Phi arguments negative: b = phi(h+t) e^(x/2) [Y(h+t) - Y(h-t)], and
            // phi(h+t) e^(x/2) = exp(-(h^2 + t^2)/2) / sqrt(2 pi) because x = 2 h t.
            let front = Special.invSqrt2Pi * Double.exp(-0.5 * (h * h + t * t))
            if front == 0 { return 0 }
            if t < 0.2 { return front * millsDifference(h: h, t: t) }
            return front * (Special.millsRatio(h + t) - Special.millsRatio(h - t))
        }
        return expHalfX * Special.normalCDF(h + t) - Special.normalCDF(h - t) / expHalfX
    }

    /// Y(h + t) - Y(h - t) for h + t < 0, 0 < t < 0.2, with Y = Phi/phi.
    static func millsDifference(h: Double, t: Double) -> Double {
        if h < -10 {
            // Asymptotic series Y(u) = -sum_k c_k u^-(2k+1), c_k = (-1)^k (2k-1)!!; each
            // difference u^-m - v^-m = u^-m (1 - (u/v)^m) is formed without cancellation.
            let u = h + t
            let v = h - t
            let logRatio = Double.log(onePlus: 2 * t / v)  // ln(u/v)
            let invU2 = 1 / (u * u)
            var powU = 1 / u  // u^-(2k+1)
            var c = 1.0
            var sum = 0.0
            var k = 0.0
            while k < 60 {
                let m = 2 * k + 1
                let term = c * powU * -Double.expMinusOne(m * logRatio)
                sum += term
                if Swift.abs(term) <= 1e-17 * Swift.abs(sum) { break }
                k += 1
                c *= -(2 * k - 1)
                powU *= invU2
            }
            return -sum
        }
        // Taylor series around h: 2 sum_{k odd} Y^(k)(h) t^k / k!, with
        // Y' = 1 + h Y and Y^(n+1) = n Y^(n-1) + h Y^(n).
        var yPrev = Special.millsRatio(h)  // Y^(n-1)
        var yCur = 1 + h * yPrev  // Y^(n), n = 1
        var n = 1.0
        var tk = t  // t^n / n!
        var sum = yCur * tk
        let t2 = t * t
        while n < 60 {
            // advance two orders: n -> n+1 -> n+2
            let y1 = n * yPrev + h * yCur
            let y2 = (n + 1) * yCur + h * y1
            yPrev = y1
            yCur = y2
            tk *= t2 / ((n + 1) * (n + 2))
            n += 2
            let term = yCur * tk
            sum += term
            if Swift.abs(term) <= 1e-17 * Swift.abs(sum) { break }
        }
        return 2 * sum
    }

    /// Normalised vega `d b / d s = phi(x/s + s/2) exp(x/2)`.
    @inlinable
    static func normalisedVega(x: Double, s: Double) -> Double {
        let h = x / s
        let t = 0.5 * s
        return Special.invSqrt2Pi * Double.exp(-0.5 * (h * h + t * t))
    }

    /// Intrinsic value `max(F - K, 0)` (call) or `max(K - F, 0)` (put), undiscounted.
    @inlinable
    public static func intrinsic(forward: Double, strike: Double, type: OptionType) -> Double {
        type == .call ? max(forward - strike, 0) : max(strike - forward, 0)
    }

    /// Black-76 price.
    /// - Parameters:
    ///   - volatility: annualised decimal volatility, >= 0.
    ///   - expiry: years, >= 0.
    public static func price(
        forward: Double, strike: Double, volatility: Double, expiry: Double,
        discountFactor: Double = 1, type: OptionType
    ) -> Double {
        let intrinsic = self.intrinsic(forward: forward, strike: strike, type: type)
        let s = volatility * expiry.squareRoot()
        guard s > 0 else { return discountFactor * intrinsic }
        let x = Double.log(forward / strike)
        let otm = normalisedOTMCall(x: -Swift.abs(x), s: s)
        return discountFactor * (intrinsic + (forward * strike).squareRoot() * otm)
    }

    /// The volatility at which `price(...)` equals `price`, to a relative accuracy in price
    /// near machine precision for all strikes and maturities.
    ///
    /// Method: reduce to the normalised out-of-the-money call, start at the inflection point
    /// `s_c = sqrt(2|x|)` (or an asymptotic guess below it, or the exact at-the-money
    /// inverse), then Halley iterations on `ln b(s) - ln beta`, which converge monotonically
    /// because `ln b` is concave in s.
    ///
    /// - Returns: annualised decimal volatility; 0 when the price equals the intrinsic value.
    /// - Throws: `ImpliedVolatilityError` for prices outside the no-arbitrage bounds or
    ///   inputs that are not positive and finite.
    public static func impliedVolatility(
        price: Double, forward: Double, strike: Double, expiry: Double,
        discountFactor: Double = 1, type: OptionType
    ) throws(ImpliedVolatilityError) -> Double {
        guard forward > 0, forward.isFinite else { throw .invalidInput(field: "forward", value: forward) }
        guard strike > 0, strike.isFinite else { throw .invalidInput(field: "strike", value: strike) }
        guard expiry > 0, expiry.isFinite else { throw .invalidInput(field: "expiry", value: expiry) }
        guard discountFactor > 0, discountFactor.isFinite else {
            throw .invalidInput(field: "discountFactor", value: discountFactor)
        }
        guard price.isFinite else { throw .invalidInput(field: "price", value: price) }
        let undiscounted = price / discountFactor
        let intrinsic = self.intrinsic(forward: forward, strike: strike, type: type)
        let maximum = type == .call ? forward : strike
        if undiscounted < intrinsic { throw .belowIntrinsic(price: price, intrinsic: discountFactor * intrinsic) }
        if undiscounted >= maximum { throw .atOrAboveMaximum(price: price, maximum: discountFactor * maximum) }
        let x = -Swift.abs(Double.log(forward / strike))
        let beta = (undiscounted - intrinsic) / (forward * strike).squareRoot()
        if beta <= 0 { return 0 }
        let bMax = Double.exp(0.5 * x)
        if beta >= bMax { throw .atOrAboveMaximum(price: price, maximum: discountFactor * maximum) }
        return normalisedImpliedTotalVolatility(beta: beta, x: x).s / expiry.squareRoot()
    }

    /// Total volatility s with `normalisedOTMCall(x, s) == beta`, `x <= 0`, `0 < beta < exp(x/2)`.
    /// Also returns the number of Halley iterations used.
    static func normalisedImpliedTotalVolatility(beta: Double, x: Double) -> (s: Double, iterations: Int) {
        let logBeta = Double.log(beta)
        var s: Double
        if x == 0 {
            // b(0, s) = 2 Phi(s/2) - 1 exactly.
            s = 2 * Special.normalQuantile(0.5 * (1 + beta))
            if !(s > 0) || !s.isFinite { s = 1 }
        } else {
            let sc = (2 * Swift.abs(x)).squareRoot()
            let bc = normalisedOTMCall(x: x, s: sc, expHalfX: Double.exp(0.5 * x))
            if beta < bc {
                // Lower region. Near the money, Corrado-Miller (F = e^{x/2}, K = e^{-x/2});
                // deeper out of the money the tail asymptotics
                // ln b ~ -x^2/(2 s^2) + ln(s / (x^2 sqrt(2 pi))), solved as a fixed point in s.
                let half = Double.exp(0.5 * x)
                let inv = 1 / half
                let d = 0.5 * (half - inv)
                let a = beta - d
                let cm = Special.sqrt2Pi / (half + inv) * (a + max(a * a - 4 * d * d / Double.pi, 0).squareRoot())
                if cm > 0 && cm < sc && x / cm > -1.2 {
                    s = cm
                } else {
                    s = sc
                    let c = Double.log(x * x * Special.sqrt2Pi) + logBeta
                    for _ in 0..<3 {
                        let denom = 2 * (Double.log(s) - c)
                        if denom > 0 { s = min(Swift.abs(x) / denom.squareRoot(), sc) } else { break }
                    }
                }
            } else {
                // Upper region: start at the inflection point, or Corrado-Miller beyond it.
                let half = Double.exp(0.5 * x)
                let inv = 1 / half
                let d = 0.5 * (half - inv)
                let a = beta - d
                let cm = Special.sqrt2Pi / (half + inv) * (a + max(a * a - 4 * d * d / Double.pi, 0).squareRoot())
                s = cm > sc && cm.isFinite ? cm : sc
            }
        }
        // Halley on g(s) = ln b(s) - ln beta.
        let expHalfX = Double.exp(0.5 * x)
        var iterations = 0
        for _ in 0..<50 {
            iterations += 1
            let b = normalisedOTMCall(x: x, s: s, expHalfX: expHalfX)
            if !(b > 0) {
                s *= 1.5
                continue
            }
            let g = Double.log(b) - logBeta
            let vega = normalisedVega(x: x, s: s)
            let g1 = vega / b
            let d1 = x / s + 0.5 * s
            let d2 = x / s - 0.5 * s
            let g2 = vega * d1 * d2 / s / b - g1 * g1
            var step = -g / g1
            let denom = 1 - 0.5 * g * g2 / (g1 * g1)
            if denom > 0.5 && denom < 2 { step /= denom }
            var next = s + step
            if !(next > 0) { next = 0.5 * s }
            // Halley converges cubically: once a step is below 1e-7 relative, the error
            // left after it is far below one ulp.
            let done = Swift.abs(next - s) <= 1e-7 * next
            s = next
            if done { break }
        }
        return (s, iterations)
    }
}
