import Foundation
import Testing
import VolScaleTestSupport

@testable import VolScaleConfig
@testable import VolScaleMargin

@Suite struct BookConfigTests {
    @Test func exampleBookLoadsWithHistoryScenarios() throws {
        let root = TestData.root
        let cfg = try BookConfig.load(path: root.appendingPathComponent("examples/book.toml").path)
        #expect(cfg.book.assets["USD"]?.price == 1)
        #expect(cfg.book.instruments.count == 6)
        let sc = try #require(cfg.book.scenarios)
        #expect(sc.assets == ["SPX"] && sc.count == 1000)
        #expect(cfg.book.assets["SPX"]?.price == 2506.850098)  // last close of the bundled file
    }

    /// A prices file overrides prices and volatilities; a bad row names its physical line
    /// and leaves the book as it was.
    @Test func pricesFileOverridesTheBook() throws {
        let cfg = try BookConfig.load(path: TestData.root.appendingPathComponent("examples/book.toml").path)
        var book = cfg.book
        try BookPrices.apply(text: "asset, price ,volatility\n\nSPX,2000,0.03\n", name: "p.csv", to: &book)
        #expect(book.assets["SPX"]?.price == 2000 && book.assets["SPX"]?.volatility == 0.03)
        var untouched = cfg.book
        for (text, reason) in [
            ("asset,price\nSPX,2100\n\nXYZ,1\n", "line 4: unknown asset 'XYZ'"),
            ("asset,price\nSPX,-1\n", "line 2: price '-1' is not a positive number"),
            ("asset,price,volatility\nSPX,1,nan\n", "line 2: volatility 'nan' is not a number >= 0"),
            ("asset,price\nSPX\n", "line 2: expected 2 fields, found 1"),
            ("name,price\n", "line 1: expected a header with columns asset,price[,volatility]"),
        ] {
            #expect(throws: ConfigError.self) { try BookPrices.apply(text: text, name: "p.csv", to: &untouched) }
            do { try BookPrices.apply(text: text, name: "p.csv", to: &untouched) } catch {
                #expect(error.description == "p.csv: " + reason)
            }
            #expect(untouched.assets["SPX"]?.price == cfg.book.assets["SPX"]?.price)
        }
    }

    /// Errors name the table, the key and the line of the key (of the table's header when
    /// the key is missing).
    @Test func errorsNameTheEntryAndField() {
        let cases: [(String, String)] = [
            (
                "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\nsprad = 0.1\n",
                "[[asset]] 'BTC' (line 5): unknown key 'sprad'"
            ),
            (
                "[[asset]]\nname = \"BTC\"\nvolatility = 0.1\n",
                "[[asset]] 'BTC' (line 1): price: missing or not positive"
            ),
            (
                "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\n[[instrument]]\nsymbol = \"X\"\nkind = \"swap\"\nunderlying = \"BTC\"\n",
                "[[instrument]] 'X' (line 7): kind: expected perpetual"
            ),
            (
                "[[instrument]]\nsymbol = \"X\"\nkind = \"perpetual\"\nunderlying = \"DOGE\"\n",
                "[[instrument]] 'X' (line 4): underlying: missing or not a declared asset"
            ),
            ("[settings]\nconfidence = 2\n", "[settings] (line 2): confidence = 2.0: must be in (0.5, 1)"),
            // the book's settings, checked when built (MarginSettings' initialiser): before, these
            // were taken as given (a negative impact cost, maintenance above initial) or dropped
            ("[settings]\nkappa = -1\n", "[settings] (line 2): kappa = -1.0: must be in [0, 100]"),
            (
                "[settings]\nmaintenance_fraction = 5\n",
                "[settings] (line 2): maintenance_fraction = 5.0: must be in (0, 1]"
            ),
            ("[settings]\nextended_weight = 2\n", "[settings] (line 2): extended_weight = 2.0: must be in [0, 1]"),
            ("[settings]\ngrid_moves = [-1, \"x\", 1]\n", "[settings] (line 2): grid_moves: entry 2 is not a number"),
            (
                "[settings]\nvol_shocks = [-1.5, 0]\n",
                "[settings] (line 2): vol_shocks = -1.5: each shock must be in (-1, 10]"
            ),
            ("[settings]\ngrid_moves = []\n", "[settings] (line 2): grid_moves = []: must hold at least one move"),
            // the venue's terms, checked when the asset is built (AssetRisk's initialiser)
            (
                "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\ninitial_rate = -0.5\n",
                "initial_rate = -0.5: must be in (0, 1]"
            ),
            (
                "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\ninitial_rate = 0.1\nmaintenance_rate = 0.2\n",
                "maintenance_rate = 0.2: must not exceed initial_rate (0.1)"
            ),
            (
                "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\nhaircut_floor = 0.5\nhaircut_cap = 0.3\n",
                "haircut_cap = 0.3: must be in [haircut_floor, 1]"
            ),
            (
                "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\nhaircut_tiers = [[0, 0.1], [1e6, 1.5]]\n",
                "haircut_tiers = 1.5: a tier's rate must be in [0, 1]"
            ),
        ]
        for (text, message) in cases {
            do {
                _ = try BookConfig.parse(text, path: "b.toml")
                Issue.record("accepted: \(message)")
            } catch {
                #expect(error.description.contains(message), "got: \(error.description)")
            }
        }
    }

    /// The example venue: its engine is the assets with sources, in file order, with their
    /// own aggregation over the defaults, and the book's settings.
    @Test func exampleVenueLoads() throws {
        let root = TestData.root
        let v = try VenueConfig.load(path: root.appendingPathComponent("examples/venue.toml").path)
        #expect(v.name == "example" && v.maxQuoteAge == 60 && v.liveBars == 300)
        #expect(v.engine.assets == ["BTC", "ETH", "SPX", "EURUSD"])
        #expect(v.sources.map(\.name) == ["yahoo", "yahoo", "arch", "backtesting"])
        #expect(v.sources.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
        #expect(v.engine.aggregation.minSources == 2 && v.engine.aggregation.maxAge == 120_000)
        let btc = v.engine.settings("BTC")
        #expect(
            btc.aggregation?.minSources == 1 && btc.aggregation?.circuitBreaker == 0.25
                && btc.aggregation?.maxDeviation == 0.05)
        #expect(v.engine.settings("EURUSD").barsPerDay == 24 && btc.spread == 0.0002 && btc.haircutFloor == 0.05)
        #expect(
            v.engine.confidence == v.book.book.settings.confidence && v.engine.mpor == 1
                && v.engine.liquidationHorizon == 2)
        #expect(v.engine.buffer == 0.25 && v.engine.hardCap == 0.9)
        // SPX runs the calibrated GJR FHS-ES88 policy of the batch comparison
        let spx = try #require(v.policies["SPX"])
        #expect(
            v.policies.count == 1 && spx.confidence == 0.88 && spx.method == .fhs && spx.controls.floorLookback == 2520
                && spx.controls.stressedWeight == 0.25)
        if case .garch(let asymmetric, _, let refit, _) = spx.volatility {
            #expect(asymmetric && refit == 250)
        } else {
            Issue.record("SPX: not GJR")
        }
        // the book part: each engine asset priced from its source's file
        #expect(v.book.book.assets["BTC"]?.price == 68518.09375 && v.book.book.assets["BTC"]?.impactThreshold == 1e6)
        #expect(v.accountsPath?.hasSuffix("examples/accounts.json") == true)
        // joint scenarios over the daily crypto histories (SPX and EURUSD are kept out)
        #expect(v.book.book.scenarios?.assets == ["BTC", "ETH"] && v.book.book.scenarios?.count == 1000)
        // held back for the live feed: the book does not know the last bars
        let held = try VenueConfig.load(path: root.appendingPathComponent("examples/venue.toml").path, holdBack: 300)
        #expect(held.book.histories["BTC"]?.count == v.book.histories["BTC"].map { $0.count - 300 })
        #expect(held.book.book.scenarios?.labels.last.map { $0 < "2023-08-01" } == true)
    }

    /// `[storage]`: several processes on one PostgreSQL; absent, the service stays on SQLite.
    @Test func storageSection() throws {
        let v = try VenueConfig.parse(
            "[storage]\nurl = \"postgres://risk@db:5432/venue?owner=main\"\nlease_seconds = 6\n", path: "v.toml")
        #expect(v.storeURL == "postgres://risk@db:5432/venue?owner=main" && v.leaseSeconds == 6)
        let none = try VenueConfig.parse("[venue]\nname = \"x\"\n", path: "v.toml")
        #expect(none.storeURL == nil && none.leaseSeconds == nil)
    }

    @Test func venueErrorsNameTheTableKeyAndLine() {
        let asset = "[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\n"
        let cases: [(String, String)] = [
            (
                "[aggregation]\nmin_sources = 0\n",
                "[aggregation] (line 2): min_sources: expected a whole number in [1, 32]"
            ),
            ("[engine]\nmodel = \"garch\"\n", "[engine] (line 2): model: expected \"ewma-parametric\""),
            (
                "[engine]\nhard_floor = 0.5\nhard_cap = 0.2\n",
                "[engine] (line 3): hard_cap = 0.2: must be positive and above hard_floor"
            ),
            ("[engine]\nhard_cap = 0\n", "[engine] (line 2): hard_cap = 0.0: must be positive and above hard_floor"),
            ("[engine]\nbuffer = 0.1\n", "[engine] (line 2): buffer = 0.1: EMIR Art. 28 requires at least 0.25"),
            (
                "[aggregation]\nmin_sources = 3\nmax_sources = 2\n",
                "[aggregation] (line 1): aggregation.minSources = 3: must be 1 to the sources kept (2)"
            ),
            ("[venue]\nmax_quote_age = 0\n", "[venue] (line 2): max_quote_age: expected a number in [1.0, 86400.0]"),
            (asset + "[asset.aggregation]\nmax_deviation = 2\n", "[[asset]] 'BTC' aggregation (line 6): max_deviation"),
            (asset + "[[asset.source]]\nname = \"a\"\n", "[[asset]] 'BTC' (line 1): bar_seconds: missing"),
            (
                asset + "bar_seconds = 0\n[[asset.source]]\nname = \"a\"\n",
                "[[asset]] 'BTC' (line 5): bar_seconds: expected a number in [0.001"
            ),
            (
                asset + "bar_seconds = 60\n[[asset.source]]\nname = \"a\"\n[[asset.source]]\nname = \"a\"\n",
                "name: 'a' given twice"
            ),
            ("[aggregation]\nevict_after = 0\n", "[aggregation] (line 2): evict_after: expected a number in [0.001"),
            ("[engine]\nspeed_limit_up = 0.001\n", "[engine] (line 2): speed_limit_up = 0.001: must be at least 0.05"),
            (
                asset + "[[asset.source]]\nname = \"a\"\nfile = \"x.csv\"\nurl = 1\n",
                "[[asset]] 'BTC' source (line 8): unknown key 'url'"
            ),
            ("[venue]\nnmae = 1\n", "[venue] (line 2): unknown key 'nmae'"),
            (
                asset + "[asset.policy]\nvolatility = \"close-to-close\"\n",
                "[[asset]] 'BTC' policy (line 5): model 'BTC policy': volatility"
            ),
            (
                asset + "[asset.policy]\nmethod = \"fhs\"\n",
                "[[asset]] 'BTC' policy (line 5): an asset with a policy needs a source"
            ),
            (
                "[storage]\nurl = \"mysql://x\"\n",
                "[storage] (line 2): url: expected \"postgres://user:password@host:port/database\""
            ),
            (
                "[storage]\nlease_seconds = 0.5\n",
                "[storage] (line 2): lease_seconds: expected a number in [1.0, 3600.0]"
            ),
            ("[storage]\nowner = \"x\"\n", "[storage] (line 2): unknown key 'owner'"),
        ]
        for (text, message) in cases {
            do {
                _ = try VenueConfig.parse(text, path: "v.toml")
                Issue.record("accepted: \(message)")
            } catch {
                #expect(error.description.contains(message), "got: \(error.description)")
            }
        }
    }

    @Test func accountsFileReportsBadAccountsAndKeepsTheRest() throws {
        let json = """
            {"accounts": [
              {"id": "ok", "collateral": {"USD": 1}, "positions": []},
              {"id": "q", "positions": [{"instrument": "BTC-PERP", "quantity": "ten"}]},
              {"id": "f", "positions": [{"instrument": "BTC-PERP", "quantity": 1, "leverage": 5}]},
              {"id": "ok", "positions": []},
              {"collateral": {}},
              {"id": "b", "positions": [{"instrument": "BTC-PERP", "quantity": true}]},
              {"id": "one", "collateral": {"BTC": 1}}
            ]}
            """
        let (accounts, errors) = try AccountsFile.parse(Data(json.utf8), path: "a.json")
        #expect(accounts.map(\.id) == ["ok", "one"])
        #expect(accounts[1].collateral.first?.quantity == 1)  // the number 1 is not a boolean
        #expect(
            errors.map(\.description) == [
                "account 'q': positions[0].quantity: not a number",
                "account 'f': positions[0].leverage: unknown field",
                "account 'ok': id: duplicate account id",
                "account '#5': id: missing",
                "account 'b': positions[0].quantity: not a number",
            ])
    }
}

/// Liquidity measured from a history file, the regime filter and the depth curve in a book.
@Suite struct BookLiquidityTests {
    static let root = TestData.root
    func fixture(_ name: String) throws -> [String: Any] { try TestData.json(name) }

    func book(_ extra: String, settings: String = "", unit: String = "quote") throws(ConfigError) -> BookConfig {
        let text = """
            [settings]
            liquidity_window = 20
            \(settings)
            [[asset]]
            name = "BTC"
            history = "\(Self.root.appendingPathComponent("data/btcusd-daily.csv").path)"
            volume_unit = "\(unit)"
            \(extra)
            """
        return try BookConfig.parse(text, path: "b.toml")
    }

    /// ADV and spread are the latest 20-bar window's, as numpy computes them
    /// (liquidity-btc.json, independent of the Swift code).
    @Test func advAndSpreadMeasuredFromHistory() throws {
        let f = try fixture("liquidity-btc.json")
        let adv = try #require((f["adv"] as? [Double])?.last)
        let spread = try #require((f["spread"] as? [Double])?.last)
        let btc = try #require(try book("").book.assets["BTC"])
        #expect(abs(btc.averageDailyVolume - adv) <= 1e-9 * adv)
        #expect(abs(btc.spread - spread) <= 1e-9 * spread)
        #expect(btc.stressedProbability == 0)  // multiplier 1: no regime filter
        // typed values win over measured ones
        let typed = try #require(try book("adv = 5e9\nspread = 0.001").book.assets["BTC"])
        #expect(typed.averageDailyVolume == 5e9 && typed.spread == 0.001)
    }

    /// With a stressed multiplier the last 1000 returns go through the regime filter: the
    /// expected share of the 2-day horizon in the stressed state, as statsmodels' filtered
    /// probabilities and transition matrix give it (regimes-btc-last1000.json):
    /// mean of (f P)_high and (f P P)_high.
    @Test func regimeProbabilityFromHistory() throws {
        let f = try fixture("regimes-btc-last1000.json")
        let filtered = try #require(f["filteredLast"] as? [Double])
        let p = try #require(f["transition"] as? [[Double]])
        let one = (0..<2).map { j in filtered[0] * p[0][j] + filtered[1] * p[1][j] }
        let two = (0..<2).map { j in one[0] * p[0][j] + one[1] * p[1][j] }
        let expected = 0.5 * (one[1] + two[1])
        let cfg = try book("", settings: "stressed_liquidity_multiplier = 2\nregime_lookback = 1000")
        let btc = try #require(cfg.book.assets["BTC"])
        #expect(abs(btc.stressedProbability - expected) < 0.01, "\(btc.stressedProbability) vs statsmodels \(expected)")
        // and the haircut's explanation says so
        let calc = MarginCalculator(book: cfg.book)
        let r = try calc.evaluate(Account(id: "x", collateral: [("BTC", 10)], positions: []), mode: .standard)
        let text = r.explanation.children.flatMap { [$0.detail] + $0.children.map(\.detail) }.joined(separator: "\n")
        #expect(text.contains("the stressed regime expected for"), "\(text)")
    }

    @Test func badLiquidityKeysAreNamed() {
        do {
            _ = try book("", unit: "coins")
            Issue.record("accepted volume_unit coins")
        } catch {
            #expect("\(error)".contains("volume_unit: expected \"base\" or \"quote\""), "got: \(error)")
        }
        let cases: [(String, String, String)] = [
            ("depth = [[0.002, 1e6], [0.001, 2e6]]", "", "depth: level 2: distances and sizes must both increase"),
            ("depth = [[0.002]]", "", "depth: each level is [distance from mid (decimal), cumulative size]"),
            ("", "participation = 0", "participation = 0.0: must be in (0, 1]"),
            ("", "stressed_liquidity_multiplier = 0.5", "stressed_liquidity_multiplier = 0.5: must be in [1, 100]"),
        ]
        for (extra, settings, message) in cases {
            do {
                _ = try book(extra, settings: settings)
                Issue.record("accepted: \(message)")
            } catch {
                #expect("\(error)".contains(message), "got: \(error)")
            }
        }
    }
}
