import Foundation
import Numerics
import TestSupport
import Testing

@testable import Inference
@testable import KerasFormat

/// Every number a config gives is checked where it is read, and every weight against what its layer's config
/// says: a crafted value is one error naming the layer, the key and the value in the config's own terms (never
/// a Swift value such as `number(-2.0)`), never a trap or a guess.
@Suite struct HostileNumberTests {
    /// (layer, config key, value, what the error says)
    static let cases: [(String, String, JSONValue, String)] = [
        ("conv2d", "groups", .number(.nan), "has groups NaN; it must be a whole number from 1 to 65536"),
        ("conv2d", "groups", .number(.infinity), "has groups Infinity"),
        ("conv2d", "groups", .number(1e300), "has groups 1e+300"),
        ("conv2d", "groups", .number(-2), "has groups -2;"),
        ("conv2d", "filters", .number(.nan), "has filters NaN"),
        ("conv2d", "filters", .number(7), "has filters 7, but its kernel has shape [3, 3, 3, 4]"),
        (
            "conv2d", "kernel_size", .array([.number(5), .number(5)]),
            "has kernel_size [5, 5], but its kernel has shape"
        ),
        ("conv2d", "use_bias", .bool(false), "config says use_bias false"),
        ("batch_normalization", "epsilon", .number(.nan), "has epsilon NaN"),
        ("batch_normalization", "center", .bool(false), "its config asks for 3 vectors"),
        ("layer_normalization", "epsilon", .number(-1), "has epsilon -1"),
        ("layer_normalization", "rms_scaling", .bool(true), "uses rms_scaling"),
        ("leaky_re_lu", "alpha", .number(.infinity), "has alpha Infinity; it must be a finite number"),
        ("elu", "alpha", .number(.nan), "has alpha NaN"),
        ("permute", "dims", .array([.number(3), .number(1.5), .number(2)]), "has dims [3, 1.5, 2]"),
        ("dense_1", "units", .number(6), "has units 6, but its kernel has shape"),
        (
            "dense_1", "activation",
            .object([
                "module": .string("builtins"), "class_name": .string("function"), "config": .string("Custom>scaled"),
                "registered_name": .string("function"),
            ]),
            "uses the activation Custom>scaled (a custom function), which kprune's forward pass does not run"
        ),
        ("dense_2", "activation", .string("my_activation"), "uses the activation my_activation"),
    ]

    @Test(arguments: 0..<cases.count)
    func refusesAValueOutOfRange(_ index: Int) throws {
        let (layer, key, value, message) = Self.cases[index]
        let error = try HostileConfigTests.refusal(layer, key, value)
        #expect(error.layer == layer)
        #expect(error.message.contains(message), "\(error.message)")
        #expect(!error.message.contains("number("), "\(error.message)")
    }

    /// A class whose rank disagrees with its kernel (a `Conv2D` kernel under `Conv1D`) is refused, not run as the
    /// other rank.
    @Test func refusesAKernelOfAnotherRank() throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor(HostileConfigTests.image) {
                setting("class_name", to: .string("Conv1D"), layer: "conv2d", entry: true, in: $0)
            }
        }
        #expect(error.layer == "conv2d")
        #expect(
            error.message.contains("has no convolution kernel of 3 axes (its shape: [3, 3, 3, 4])"), "\(error.message)")
    }

    /// Token ids are checked as numbers before they index the table: NaN, infinities, huge and negative ids are
    /// one error that says which sample asked for which id, and that the data is at fault.
    @Test(arguments: [Float.nan, .infinity, -.infinity, 1e30, -5, 20])
    func refusesAnIdOutsideTheTable(_ id: Float) throws {
        let model = try predictor("inference/keras2/embedding.h5") { $0 }
        var ids = (0..<15).map { Float($0 % 20) }
        ids[7] = id
        let error = try #require(throws: InferenceError.self) {
            try model.predict([Tensor(shape: [3, 5], values: ids)])
        }
        #expect(error.code == .inputValue)
        #expect(error.dataFault?.sample == 1)
        #expect(error.dataFault?.input == 0)
        let located = try #require(error.located(in: ["data/x.npy"], firstRow: 40))
        #expect(located.file == "data/x.npy")
        #expect(located.error.message == "layer embedding (Embedding) has 20 rows; x.npy row 41 asks for id \(id)")
    }

    /// A layer's output for a batch past `Allocation.perBatch` runs in smaller parts, with the same outputs.
    @Test func runsALargeBatchInParts() throws {
        let graph = try Graph(
            name: "m", inputs: ["x"],
            nodes: [
                Graph.Node(
                    name: "twice", className: "Twice", call: 0, inbound: [TensorReference(layer: "x")],
                    layer: Twice(largest: 3), masks: .passes)
            ], outputs: [TensorReference(layer: "twice")])
        let x = Tensor(shape: [10, 2], values: (0..<20).map(Float.init))
        let size = PartSize()
        let outputs = try graph.run(inParts: [x], size: size)
        #expect(outputs[0].shape == [10, 2])
        #expect(outputs[0].values == x.values.map { $0 * 2 })
        #expect(size.value == 2)
        // A data fault in a later part counts its sample in the whole batch.
        let faulty = Tensor(shape: [10, 2], values: (0..<20).map { $0 == 15 ? -1 : Float($0) })
        let error = try #require(throws: InferenceError.self) { try graph.run(inParts: [faulty], size: size) }
        #expect(error.dataFault?.sample == 7)
    }

    /// The forward pass of a layer that allows at most `largest` samples at once and refuses negative values as
    /// data faults.
    struct Twice: ForwardLayer {
        let largest: Int
        func forward(_ inputs: [Tensor]) throws -> Tensor {
            let x = inputs[0]
            guard x.shape[0] <= largest else { throw InferenceError(.batchTooLarge, layer: "twice", "too many") }
            if let bad = x.values.firstIndex(where: { $0 < 0 }) {
                throw InferenceError(dataFault: bad / 2, layer: "twice", before: "layer twice:", after: "is negative")
            }
            return Tensor(shape: x.shape, values: x.values.map { $0 * 2 })
        }
    }
}

/// Indexes and names in a model config are checked when it is parsed.
@Suite struct HostileReferenceTests {
    static func config(
        inbound: JSONValue, outputs: JSONValue = .array([.array([.string("b"), .number(0), .number(0)])]),
        secondName: String = "b"
    ) -> JSONValue {
        .object([
            "class_name": .string("Functional"),
            "config": .object([
                "name": .string("m"),
                "layers": .array([
                    .object([
                        "class_name": .string("InputLayer"), "config": .object(["name": .string("a")]),
                        "inbound_nodes": .array([]),
                    ]),
                    .object([
                        "class_name": .string("Dense"), "config": .object(["name": .string(secondName)]),
                        "inbound_nodes": inbound,
                    ]),
                ]),
                "input_layers": .array([.array([.string("a"), .number(0), .number(0)])]),
                "output_layers": outputs,
            ]),
        ])
    }

    static let badIndexes: [JSONValue] = [
        .number(.nan), .number(.infinity), .number(-.infinity), .number(1e300),
        .number(-1), .number(1.5), .number(Double(1 << 40)),
    ]

    @Test(arguments: badIndexes)
    func refusesABadInboundIndex(_ index: JSONValue) throws {
        let keras2 = JSONValue.array([.array([.array([.string("a"), index, .number(0), .object([:])])])])
        let error = try #require(throws: ConfigError.self) { try ModelConfig.parse(Self.config(inbound: keras2)) }
        #expect(error.code == .invalidValue)
        #expect(error.message.hasPrefix("layer b's inbound_nodes refer to [\"a\", \(index)"), "\(error.message)")
        let history = JSONValue.object(["keras_history": .array([.string("a"), .number(0), index])])
        let keras3 = JSONValue.array([
            .object(["args": .array([.object(["config": history])]), "kwargs": .object([:])])
        ])
        #expect(throws: ConfigError.self) { try ModelConfig.parse(Self.config(inbound: keras3)) }
        let outputs = JSONValue.array([.array([.string("b"), index, .number(0)])])
        let fine = JSONValue.array([.array([.array([.string("a"), .number(0), .number(0), .object([:])])])])
        let outputError = try #require(throws: ConfigError.self) {
            try ModelConfig.parse(Self.config(inbound: fine, outputs: outputs))
        }
        #expect(outputError.message.hasPrefix("model m's output_layers refer to"), "\(outputError.message)")
    }

    /// Two layers of one model with one name: which one a reference means would be a guess.
    @Test func refusesTwoLayersWithOneName() throws {
        let fine = JSONValue.array([.array([.array([.string("a"), .number(0), .number(0), .object([:])])])])
        let error = try #require(throws: ConfigError.self) {
            try ModelConfig.parse(Self.config(inbound: fine, secondName: "a"))
        }
        #expect(error.message == "model m has two layers named a")
    }
}

/// Building a model's graph takes time linear in its layers and connections.
@Suite struct GraphSizeTests {
    /// A chain of `count` identity nodes, listed last first (each wave of the ordering places one node).
    static func chain(_ count: Int) -> [Graph.Node] {
        (0..<count).reversed().map { index in
            Graph.Node(
                name: "n\(index)", className: "Activation", call: 0,
                inbound: [TensorReference(layer: index == 0 ? "x" : "n\(index - 1)")],
                layer: ActivationLayer(name: "n\(index)", activation: .linear), masks: .passes)
        }
    }

    @Test func ordersAndFoldsInLinearTime() throws {
        let ratio = try growth(small: 2_000, large: 16_000) { count in
            let graph = try Graph(
                name: "m", inputs: ["x"], nodes: Self.chain(count),
                outputs: [TensorReference(layer: "n\(count - 1)")])
            _ = try graph.foldingNormalizations()
        }
        // Linear is 8; the quadratic ordering this replaced was 64.
        #expect(ratio < 24, "8 times the layers took \(ratio) times as long")
    }
}
