import Foundation
import TestSupport
import Testing

@testable import KerasFormat

/// Model configs as Python's `json` writes them, non-finite floats included.
@Suite struct JSONValueTests {
    @Test func readsPythonsNonFiniteLiterals() throws {
        let value = try JSONValue.parse(#"{"max_value": Infinity, "min": -Infinity, "x": NaN, "list": [NaN, 1]}"#)
        #expect(value["max_value"]?.number == .infinity)
        #expect(value["min"]?.number == -.infinity)
        #expect(value["x"]?.number?.isNaN == true)
        #expect(value["list"]?.array?.count == 2)
    }

    @Test func readsStandardJSON() throws {
        let text = #" {"a": [1, -2.5e3, 0, 0.125, true, false, null], "s": "q\"\\\/\n\u00e9\ud83d\ude00", "o": {}} "#
        let value = try JSONValue.parse(text)
        #expect(
            value["a"]
                == .array([
                    .number(1), .number(-2500), .number(0), .number(0.125), .bool(true),
                    .bool(false), .null,
                ]))
        #expect(value["s"]?.string == "q\"\\/\né😀")
        #expect(value["o"] == .object([:]))
        let strings = try JSONValue.parse(#"["NaN", "Infinity"]"#)
        #expect(strings == .array([.string("NaN"), .string("Infinity")]), "quoted, they stay strings")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\": 1,}", "01", "1.", "'a'", "nan", "inf", "-NaN", "+1", "[1] x",
        "{\"a\" 1}", "\"\u{1}\"", "// c\n1",
    ])
    func refusesWhatPythonRefuses(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    /// Real Keras writes `"max_value": Infinity` for `ReLU(max_value=inf)`; the file must open.
    @Test(arguments: ["extra/keras2/relu_inf.h5", "extra/keras3/relu_inf.keras"])
    func opensKerasFilesWhoseConfigHoldsInfinity(_ file: String) throws {
        let model = try KerasModel.open(Fixtures.named(file).path)
        #expect(model.finalLayer?.path.name == "head")
        #expect(model.layers.contains { $0.className == "ReLU" })
    }
}

@Suite struct JSONBoundsTests {
    @Test func refusesNestingBeyondTheLimitWithItsOffset() {
        let text = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.description == "expected at most 512 levels of nesting at byte 512")
            #expect(error.code == .tooDeep)
        }
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let text = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        var value = try JSONValue.parse(text)
        var depth = 0
        while let inner = value.array?.first {
            value = inner
            depth += 1
        }
        #expect(depth == 511)
    }

    /// 2.5 MB of nested arrays and objects, each within the depth limit: linear parsing takes well under a
    /// second; the quadratic or worse parsing the limit guards against would take minutes.
    @Test func parsesLargeNestedTextInLinearTime() throws {
        let unit = String(repeating: "[{\"a\": ", count: 200) + "1" + String(repeating: "}]", count: 200)
        func text(_ units: Int) -> String { "[" + Array(repeating: unit, count: units).joined(separator: ",") + "]" }
        #expect(text(1_400).utf8.count > 2_500_000)
        #expect(try JSONValue.parse(text(1_400)).array?.count == 1_400)
        let texts = [100: text(100), 800: text(800)]
        let ratio = try growth(small: 100, large: 800, repeats: 2) { units in
            _ = try JSONValue.parse(texts[units] ?? "")
        }
        // Linear is 8; a parser that rescans nested text is far above.
        #expect(ratio < 24, "8 times the text took \(ratio) times as long")
    }
}

@Suite struct ModelConfigBoundsTests {
    /// A Sequential nesting `levels` Sequentials, a Dense innermost.
    static func nested(_ levels: Int) throws -> JSONValue {
        var inner = #"{"class_name": "Dense", "config": {"name": "head", "units": 2}}"#
        for level in 0..<levels {
            inner = #"{"class_name": "Sequential", "config": {"name": "s\#(level)", "layers": [\#(inner)]}}"#
        }
        return try JSONValue.parse(#"{"class_name": "Sequential", "config": {"layers": [\#(inner)]}}"#)
    }

    @Test func parsesNestingUpToTheLimit() throws {
        let config = try ModelConfig.parse(try Self.nested(ModelConfig.maximumNesting - 1))
        #expect(config.flattened().count == ModelConfig.maximumNesting)
    }

    @Test func refusesDeeperNesting() throws {
        let json = try Self.nested(ModelConfig.maximumNesting + 1)
        let error = try #require(throws: ConfigError.self) { _ = try ModelConfig.parse(json) }
        #expect(error.description.contains("models nest more than 64 deep"))
        #expect(error.code == .tooDeep)
    }
}
