import Testing
import Foundation
@testable import VolScaleConfig
@testable import VolScaleMargin

@Suite struct BookConfigTests {
    @Test func exampleBookLoadsWithHistoryScenarios() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let cfg = try BookConfig.load(path: root.appendingPathComponent("examples/book.toml").path)
        #expect(cfg.book.assets["USD"]?.price == 1)
        #expect(cfg.book.instruments.count == 6)
        let sc = try #require(cfg.book.scenarios)
        #expect(sc.assets == ["SPX"] && sc.count == 1000)
        #expect(cfg.book.assets["SPX"]?.price == 2506.850098) // last close of the bundled file
    }

    @Test func errorsNameTheEntryAndField() {
        let cases: [(String, String)] = [
            ("[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\nsprad = 0.1\n", "[[asset]] 'BTC': unknown key 'sprad'"),
            ("[[asset]]\nname = \"BTC\"\nvolatility = 0.1\n", "[[asset]] 'BTC': price: missing or not positive"),
            ("[[asset]]\nname = \"BTC\"\nprice = 1\nvolatility = 0.1\n[[instrument]]\nsymbol = \"X\"\nkind = \"swap\"\nunderlying = \"BTC\"\n", "[[instrument]] 'X': kind: expected perpetual"),
            ("[[instrument]]\nsymbol = \"X\"\nkind = \"perpetual\"\nunderlying = \"DOGE\"\n", "[[instrument]] 'X': underlying: missing or not a declared asset"),
            ("[settings]\nconfidence = 2\n", "[settings]: confidence = 2.0: must be in (0.5, 1)"),
        ]
        for (text, message) in cases {
            do { _ = try BookConfig.parse(text, path: "b.toml"); Issue.record("accepted: \(message)") } catch {
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
        #expect(accounts[1].collateral.first?.quantity == 1) // the number 1 is not a boolean
        #expect(errors.map(\.description) == [
            "account 'q': positions[0].quantity: not a number",
            "account 'f': positions[0].leverage: unknown field",
            "account 'ok': id: duplicate account id",
            "account '#5': id: missing",
            "account 'b': positions[0].quantity: not a number",
        ])
    }
}
