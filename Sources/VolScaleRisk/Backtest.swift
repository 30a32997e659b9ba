import RealModule
import VolScaleCore

/// A statistic and its p-value.
public struct TestStatistic: Sendable, Equatable {
    public var statistic: Double
    public var pValue: Double
    /// Rejection at the given size (e.g. 0.05): p-value below it.
    public func rejects(at size: Double = 0.05) -> Bool { pValue < size }
}

/// Basel traffic-light zones.
public enum TrafficLightZone: String, Sendable, Comparable, CaseIterable {
    case green, yellow, red
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    var rank: Int { self == .green ? 0 : (self == .yellow ? 1 : 2) }
}

/// Counts of rolling windows by zone, and the worst.
public struct TrafficLight: Sendable, Equatable {
    public var window: Int
    public var green = 0, yellow = 0, red = 0
    public var worst: TrafficLightZone = .green
    /// Largest number of exceedances in any window.
    public var maxExceedances = 0
    /// Zone limits used: green up to `greenMax` exceedances, yellow up to `yellowMax`.
    public var greenMax = 0, yellowMax = 0
}

/// Procyclicality metrics of Murphy, Vasios and Vause (2014).
public struct Procyclicality: Sendable, Equatable {
    /// max M / min M over the period.
    public var peakToTrough: Double
    /// Largest n-bar relative increase max_t (M_t / M_{t-n} - 1), n = 1, 5, 30.
    public var maxIncrease1: Double
    public var maxIncrease5: Double
    public var maxIncrease30: Double
    /// Mean margin rate (its cost).
    public var averageMargin: Double

    public init(margins m: [Double]) {
        let maxM = m.max() ?? .nan
        let minM = m.min() ?? .nan
        peakToTrough = minM > 0 ? maxM / minM : .infinity
        func inc(_ lag: Int) -> Double {
            guard m.count > lag else { return .nan }
            var best = -Double.infinity
            for t in lag..<m.count where m[t - lag] > 0 { best = max(best, m[t] / m[t - lag] - 1) }
            return best
        }
        maxIncrease1 = inc(1)
        maxIncrease5 = inc(5)
        maxIncrease30 = inc(30)
        averageMargin = m.isEmpty ? .nan : m.reduce(0, +) / Double(m.count)
    }
}

/// Coverage tests on a 0/1 exceedance sequence at coverage `alpha`.
public enum CoverageTests {
    /// Kupiec (1995) proportion of failures: LR = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x],
    /// chi-square with 1 degree of freedom, p = 1 - alpha.
    public static func kupiec(exceedances x: Int, observations n: Int, confidence alpha: Double) -> TestStatistic {
        let p = 1 - alpha
        let xd = Double(x)
        let nd = Double(n)
        let phat = xd / nd
        let ll0 = xlogy(nd - xd, 1 - p) + xlogy(xd, p)
        let ll1 = xlogy(nd - xd, 1 - phat) + xlogy(xd, phat)
        let lr = max(0, -2 * (ll0 - ll1))
        return TestStatistic(statistic: lr, pValue: chiSquareSurvival1(lr))
    }

    /// Christoffersen (1998) independence (first-order Markov, chi-square 1) and
    /// conditional coverage (POF + independence, chi-square 2).
    public static func christoffersen(_ hits: [Bool], confidence alpha: Double) -> (
        independence: TestStatistic, conditionalCoverage: TestStatistic
    ) {
        var n00 = 0.0
        var n01 = 0.0
        var n10 = 0.0
        var n11 = 0.0
        if hits.count > 1 {
            for t in 1..<hits.count {
                switch (hits[t - 1], hits[t]) {
                case (false, false): n00 += 1
                case (false, true): n01 += 1
                case (true, false): n10 += 1
                case (true, true): n11 += 1
                }
            }
        }
        let pi01 = n00 + n01 > 0 ? n01 / (n00 + n01) : 0
        let pi11 = n10 + n11 > 0 ? n11 / (n10 + n11) : 0
        let pi = (n01 + n11) / max(n00 + n01 + n10 + n11, 1)
        let llRestricted = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
        let llMarkov = xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11) + xlogy(n11, pi11)
        let lrInd = max(0, -2 * (llRestricted - llMarkov))
        let pof = kupiec(exceedances: hits.filter { $0 }.count, observations: hits.count, confidence: alpha)
        let lrCC = pof.statistic + lrInd
        return (
            TestStatistic(statistic: lrInd, pValue: chiSquareSurvival1(lrInd)),
            TestStatistic(statistic: lrCC, pValue: Double.exp(-0.5 * lrCC))
        )
    }

    /// Basel traffic light over every rolling window of `window` bars. Zone limits come
    /// from the binomial distribution with p = 1 - alpha: green while P(X <= x) < 0.95,
    /// yellow while < 0.9999, red beyond (at 99% and 250 bars: green 0-4, yellow 5-9,
    /// red 10+, the Basel table).
    public static func trafficLight(_ hits: [Bool], confidence alpha: Double, window: Int = 250) -> TrafficLight {
        var result = TrafficLight(window: window)
        let p = 1 - alpha
        var cdf = 0.0
        var x = 0
        var greenMax = -1
        var yellowMax = -1
        while x <= window {
            cdf += binomialPMF(x, n: window, p: p)
            if cdf < 0.95 { greenMax = x }
            if cdf < 0.9999 { yellowMax = x }
            if cdf >= 0.9999 { break }
            x += 1
        }
        result.greenMax = max(greenMax, 0)
        result.yellowMax = max(yellowMax, result.greenMax)
        guard hits.count >= window else { return result }
        var count = hits[0..<window].filter { $0 }.count
        for end in (window - 1)..<hits.count {
            if end >= window {
                if hits[end] { count += 1 }
                if hits[end - window] { count -= 1 }
            }
            result.maxExceedances = max(result.maxExceedances, count)
            if count <= result.greenMax {
                result.green += 1
            } else if count <= result.yellowMax {
                result.yellow += 1
            } else {
                result.red += 1
            }
        }
        result.worst = result.red > 0 ? .red : (result.yellow > 0 ? .yellow : .green)
        return result
    }

    static func binomialPMF(_ k: Int, n: Int, p: Double) -> Double {
        let lc = Double.logGamma(Double(n + 1)) - Double.logGamma(Double(k + 1)) - Double.logGamma(Double(n - k + 1))
        return Double.exp(lc + Double(k) * Double.log(p) + Double(n - k) * Double.log(onePlus: -p))
    }

    /// x ln y with 0 ln 0 = 0.
    static func xlogy(_ x: Double, _ y: Double) -> Double { x == 0 ? 0 : x * Double.log(y) }

    /// P(chi2_1 > x) = erfc(sqrt(x/2)).
    static func chiSquareSurvival1(_ x: Double) -> Double { Double.erfc((0.5 * x).squareRoot()) }
}

/// The result of backtesting one side of a margin path against realised losses.
public struct BacktestResult: Sendable {
    public let model: MarginModel
    public let side: Side
    /// Return index at which each evaluated margin was set.
    public let indices: [Int]
    /// Published margin (decimal fraction) and realised loss over the next MPOR.
    public let margins: [Double]
    public let losses: [Double]
    public let exceeded: [Bool]
    /// Volatility used at each evaluated bar (per period).
    public let sigma: [Double]
    public let kupiec: TestStatistic
    public let independence: TestStatistic
    public let conditionalCoverage: TestStatistic
    public let trafficLight: TrafficLight
    public let procyclicality: Procyclicality
    /// Share of publications set by each control.
    public let bindingShares: [BindingControl: Double]
    /// Publications used by the Kupiec and Christoffersen tests: all of them for a 1-bar
    /// MPOR, every h-th (non-overlapping loss windows) for h > 1.
    public let testObservations: Int
    public let testExceedances: Int
    public let notes: [String]

    public var observations: Int { margins.count }
    public var exceedances: Int { exceeded.filter { $0 }.count }
    public var exceedanceRate: Double { observations > 0 ? Double(exceedances) / Double(observations) : .nan }
}

extension MarginPath {
    /// Compares each margin set at bar t with the realised loss over (t, t + mpor], for
    /// every publication from return index `from` (default: the first) whose MPOR lies
    /// inside the data. With mpor h > 1 consecutive loss windows overlap and exceedances
    /// cluster by construction, so the Kupiec and Christoffersen tests use every h-th
    /// publication (non-overlapping windows, starting with the first); counts, rate,
    /// traffic light and procyclicality use every publication.
    public func backtest(returns: [Double], side: Side, from: Int? = nil) -> BacktestResult {
        let h = model.mpor
        let sidePath = self.side(side)
        var idx: [Int] = []
        var m: [Double] = []
        var l: [Double] = []
        var e: [Bool] = []
        var sg: [Double] = []
        let first = max(0, (from ?? startIndex) - startIndex)
        for k in first..<max(first, count) {
            let t = startIndex + k
            guard t + h < returns.count else { break }
            var r = 0.0
            for i in (t + 1)...(t + h) { r += returns[i] }
            let loss = side.loss(logReturn: r)
            idx.append(t)
            m.append(sidePath.margin[k])
            l.append(loss)
            e.append(loss > sidePath.margin[k])
            sg.append(sigma[k])
        }
        let alpha = model.testConfidence ?? model.confidence
        let sample = stride(from: 0, to: e.count, by: h).map { e[$0] }
        let x = sample.filter { $0 }.count
        let ch = CoverageTests.christoffersen(sample, confidence: alpha)
        var shares: [BindingControl: Double] = [:]
        for b in sidePath.binding[first..<(first + m.count)] { shares[b, default: 0] += 1 }
        var notes = self.notes
        if h > 1 {
            notes.append(
                "coverage tests on \(sample.count) non-overlapping \(h)-bar windows (every \(English.ordinal(h)) publication)"
            )
        }
        for key in shares.keys { shares[key]! /= Double(max(m.count, 1)) }
        return BacktestResult(
            model: model, side: side, indices: idx, margins: m, losses: l, exceeded: e, sigma: sg,
            kupiec: CoverageTests.kupiec(exceedances: x, observations: max(sample.count, 1), confidence: alpha),
            independence: ch.independence, conditionalCoverage: ch.conditionalCoverage,
            trafficLight: CoverageTests.trafficLight(e, confidence: alpha),
            procyclicality: Procyclicality(margins: m), bindingShares: shares,
            testObservations: sample.count, testExceedances: x, notes: notes)
    }
}

/// Words for numbers in notes and tables.
public enum English {
    /// 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, 22nd, 101st, 111th.
    public static func ordinal(_ n: Int) -> String {
        let tens = (n % 100 + 100) % 100
        let ones = (n % 10 + 10) % 10
        if (11...13).contains(tens) { return "\(n)th" }
        switch ones {
        case 1: return "\(n)st"
        case 2: return "\(n)nd"
        case 3: return "\(n)rd"
        default: return "\(n)th"
        }
    }
}
