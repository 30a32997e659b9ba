import ArgumentParser
import Foundation
import VolScaleCore
import VolScaleData

extension VolScaleCommand {
    /// `volscale iv`: invert one option price, or compute the model-free index of a chain.
    public struct ImpliedVol: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "iv",
            abstract: "Implied volatility of one option (Black-76), or the model-free 30-day index of an option chain.",
            discussion: """
                One option:  volscale iv --price 10.45 --forward 100 --strike 100 --expiry 1 --type call [--rate 0.05]
                  Black-76 on the forward F (give --spot S and --rate r for Black-Scholes: F = S exp(r T)).
                  --expiry in years; --rate continuously compounded, decimal (0.05 = 5%); discount factor exp(-r T)
                  unless --discount-factor is given. Result: annualised implied volatility, decimal and percent.
                  Prices outside the no-arbitrage bounds (below discounted intrinsic, or at/above DF*F for a call,
                  DF*K for a put) are errors, never NaN.

                A chain:     volscale iv --chain chain.csv [--rate 0.0038] [--target-days 30]
                  CSV columns: days (or expiry in years), strike, call_bid, call_ask, put_bid, put_ask [, rate].
                  The CBOE VIX white-paper method (as Deribit's DVOL): per-expiry model-free variance, then linear
                  interpolation in total variance to the target maturity. Result in volatility points (percent).
                """
        )

        @Option(help: "Option price (same currency as forward and strike).") public var price: Double?
        @Option(help: "Forward price F of the underlying for the option's expiry.") public var forward: Double?
        @Option(help: "Spot price S (with --rate, F = S exp(r T)); alternative to --forward.") public var spot: Double?
        @Option(help: "Strike K.") public var strike: Double?
        @Option(help: "Time to expiry in years (e.g. 0.25).") public var expiry: Double?
        @Option(help: "call or put.") public var type: OptionType = .call
        @Option(help: "Continuously compounded rate, decimal (0.05 = 5%).") public var rate: Double?
        @Option(help: "Discount factor to expiry (default exp(-rate * expiry), or 1 without a rate).") public
            var discountFactor: Double?
        @Option(help: "Option-chain CSV for the model-free index.") public var chain: String?
        @Option(help: "Target maturity of the index in days (365-day year).") public var targetDays: Double = 30
        @Option(help: "Output format: table or json.") public var format: OutputFormat = .table

        public init() {}

        public func validate() throws {
            if format == .csv { throw ValidationError("iv prints table or json") }
            if chain != nil {
                if price != nil || strike != nil || forward != nil || spot != nil || expiry != nil {
                    throw ValidationError("--chain cannot be combined with --price/--strike/--forward/--spot/--expiry")
                }
                if !(targetDays > 0) { throw ValidationError("--target-days must be positive") }
                return
            }
            guard price != nil, strike != nil, expiry != nil else {
                throw ValidationError(
                    "give --price, --strike, --expiry and --forward (or --spot with --rate), or --chain FILE")
            }
            if forward == nil && spot == nil { throw ValidationError("give --forward, or --spot with --rate") }
            if forward != nil && spot != nil { throw ValidationError("give --forward or --spot, not both") }
            if spot != nil && rate == nil { throw ValidationError("--spot needs --rate to form the forward") }
        }

        public func run() throws { try StandardOutput.write(try render()) }

        public func render() throws -> String {
            if let chain { return try renderChain(chain) }
            let t = expiry!
            let df = discountFactor ?? Foundation.exp(-(rate ?? 0) * t)
            let f = forward ?? spot! * Foundation.exp(rate! * t)
            do {
                let iv = try Black76.impliedVolatility(
                    price: price!, forward: f, strike: strike!, expiry: t, discountFactor: df, type: type)
                let check = Black76.price(
                    forward: f, strike: strike!, volatility: iv, expiry: t, discountFactor: df, type: type)
                if format == .json {
                    return JSONValue.object([
                        ("impliedVolatility", .number(iv)),
                        ("units", .string("annualised, decimal")),
                        ("type", .string(type.rawValue)), ("price", .number(price!)), ("forward", .number(f)),
                        ("strike", .number(strike!)), ("expiry", .number(t)), ("discountFactor", .number(df)),
                        ("repricedPrice", .number(check)),
                    ]).rendered() + "\n"
                }
                return """
                    Implied volatility  \(Fmt.percent(iv, 6)) annualised (\(JSONValue.format(iv)) decimal)
                    Option              \(type.rawValue), F = \(Fmt.sig(f, 10)), K = \(Fmt.sig(strike!, 10)), T = \(Fmt.sig(t, 8)) years, DF = \(Fmt.sig(df, 10))
                    Reprices to         \(JSONValue.format(check)) (input \(JSONValue.format(price!)))

                    """
            } catch {
                throw CommandFailure(error.description)
            }
        }

        func renderChain(_ path: String) throws -> String {
            let chains: [ExpiryQuotes]
            let index: ModelFreeVariance.Index
            do {
                chains = try OptionChainReader(defaultRate: rate).read(path: path)
                index = try ModelFreeVariance.index(chains, targetDays: targetDays)
            } catch let e as DataError {
                throw CommandFailure(e.description)
            } catch let e as ModelFreeVarianceError {
                throw CommandFailure("\(path): \(e.description)")
            }
            func expiryJSON(_ e: ModelFreeVariance.Expiry, weight: Double) -> JSONValue {
                .object([
                    ("days", .number(e.expiry * 365)), ("years", .number(e.expiry)), ("variance", .number(e.variance)),
                    ("volatility", .number(max(e.variance, 0).squareRoot())), ("forward", .number(e.forward)),
                    ("k0", .number(e.k0)), ("optionsUsed", .integer(e.optionsUsed)), ("weight", .number(weight)),
                ])
            }
            if format == .json {
                return JSONValue.object([
                    ("index", .number(index.value)),
                    (
                        "units",
                        .string("index in annualised volatility points (percent); variances annualised, decimal")
                    ),
                    ("targetDays", .number(targetDays)),
                    ("variance", .number(index.variance)),
                    ("near", expiryJSON(index.near, weight: index.nearWeight)),
                    ("next", expiryJSON(index.next, weight: 1 - index.nearWeight)),
                    ("expiriesInFile", .integer(chains.count)),
                ]).rendered() + "\n"
            }
            var t = TextTable(
                ["expiry", "days", "forward", "K0", "options", "variance", "volatility", "weight"],
                rightAligned: [1, 2, 3, 4, 5, 6, 7])
            for (name, e, w) in [("near", index.near, index.nearWeight), ("next", index.next, 1 - index.nearWeight)] {
                t.add([
                    name, Fmt.fixed(e.expiry * 365, 2), Fmt.sig(e.forward, 8), Fmt.sig(e.k0, 8), "\(e.optionsUsed)",
                    Fmt.fixed(e.variance, 6), Fmt.percent(max(e.variance, 0).squareRoot(), 2), Fmt.fixed(w, 4),
                ])
            }
            return """
                Model-free \(Fmt.sig(targetDays, 4))-day implied volatility index: \(Fmt.fixed(index.value, 4))  (annualised, volatility points)
                Source \(path): \(chains.count) expiries; CBOE white-paper method

                \(t.render())

                """
        }
    }
}

extension OptionType: ExpressibleByArgument {}
