import HDF5
import TestSupport
import Testing

@testable import KerasFormat

/// Each layer keeps its whole `config` object, as real Keras wrote it, for every format that has a config.
@Suite struct LayerConfigTests {
    /// A layer of a fixture and config values Keras wrote for it (numbers and lists of numbers as `Double`s).
    struct Expected: Sendable, CustomTestStringConvertible {
        let file: String
        let layer: String
        let numbers: [String: Double]
        let lists: [String: [Double]]
        let strings: [String: String]
        var testDescription: String { "\(file) \(layer)" }

        init(
            _ file: String, _ layer: String, numbers: [String: Double] = [:], lists: [String: [Double]] = [:],
            strings: [String: String] = [:]
        ) {
            self.file = file
            self.layer = layer
            self.numbers = numbers
            self.lists = lists
            self.strings = strings
        }
    }

    static let expected: [Expected] = [
        // Keras 2 model_config: Sequential, functional, nested, and Keras 2.0's plain-list Sequential.
        Expected("keras2/sequential.h5", "dense", numbers: ["units": 16], strings: ["activation": "relu"]),
        Expected("keras2/sequential.h5", "dense_1", numbers: ["units": 4], strings: ["activation": "linear"]),
        Expected("keras2/functional.h5", "dense", numbers: ["units": 16]),
        Expected("keras2/nested.h5", "nested_model/head", numbers: ["units": 4]),
        Expected(
            "keras2/conv.h5", "conv2d_1", numbers: ["filters": 2], lists: ["kernel_size": [3, 3], "strides": [1, 1]],
            strings: ["padding": "same", "activation": "linear"]),
        Expected("keras20/sequential.h5", "dense_2", numbers: ["units": 4]),
        Expected(
            "keras20/conv.h5", "conv2d_2", numbers: ["filters": 2],
            lists: ["kernel_size": [3, 3], "strides": [1, 1]],
            strings: ["padding": "same"]),
        // Keras 3 model_config in .h5.
        Expected("keras3/sequential.h5", "dense", numbers: ["units": 16]),
        Expected(
            "keras3/conv3x3_head.h5", "head", numbers: ["filters": 7],
            lists: ["kernel_size": [3, 3], "strides": [1, 1]], strings: ["padding": "valid"]),
        // Keras 3 config.json in .keras.
        Expected("keras3/sequential.keras", "dense_1", numbers: ["units": 4], strings: ["activation": "linear"]),
        Expected("keras3/nested.keras", "nested_model/head", numbers: ["units": 4]),
        Expected(
            "keras3/conv.keras", "conv2d", numbers: ["filters": 4],
            lists: ["kernel_size": [3, 3], "strides": [1, 1]],
            strings: ["padding": "same", "activation": "relu"]),
        Expected(
            "keras3/conv1d_head.keras", "head", numbers: ["filters": 256], lists: ["kernel_size": [1], "strides": [1]],
            strings: ["padding": "valid"]),
    ]

    @Test(arguments: expected)
    func readsTheLayersConfigValues(_ expected: Expected) throws {
        let model = try KerasModel.open(Fixtures.named(expected.file).path)
        let config = try #require(model.config)
        let fromConfig = try #require(config.flattened().first { $0.path.description == expected.layer }).layer
        let fromModel = try #require(model.layers.first { $0.path.description == expected.layer })
        #expect(fromModel.config == fromConfig.config, "the model's layer carries the config's value")
        let values = fromConfig.config
        #expect(values["name"]?.string == fromConfig.name)
        for (key, number) in expected.numbers { #expect(values[key]?.number == number, "\(key)") }
        for (key, list) in expected.lists { #expect(values[key]?.array?.compactMap(\.number) == list, "\(key)") }
        for (key, string) in expected.strings { #expect(values[key]?.string == string, "\(key)") }
    }

    /// A final Dense's `units` and a final convolution's `filters` are its kernel's last dimension, and a
    /// convolution's `kernel_size` its leading ones, in every format with a config.
    @Test(
        arguments: Fixtures.convertible.filter { ["Dense", "Conv1D", "Conv2D", "Conv3D"].contains($0.finalLayerClass) })
    func agreesWithTheStoredKernel(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        guard model.config != nil else { return }
        let layer = try model.targetLayer(named: fixture.needsLayer == true ? fixture.layerArgument : nil)
        let kernel = try #require(layer.kernel)
        let config = try #require(layer.config)
        let outputs = Double(try #require(kernel.shape.last))
        if layer.className == "Dense" {
            #expect(config["units"]?.number == outputs)
        } else {
            #expect(config["filters"]?.number == outputs)
            #expect(config["kernel_size"]?.array?.compactMap(\.number) == kernel.shape.dropLast(2).map(Double.init))
        }
    }

    @Test func aNestedModelKeepsItsWholeConfig() throws {
        let model = try KerasModel.open(Fixtures.named("keras3/nested.keras").path)
        let config = try #require(model.config)
        #expect(config.config["layers"]?.array?.count == config.layers.count)
        let nested = try #require(config.layers.first { $0.isModel })
        #expect(nested.config["layers"]?.array?.count == nested.model?.layers.count)
        #expect(nested.model?.config == nested.config)
    }

    @Test func weightsOnlyFilesHaveNoLayerConfig() throws {
        for file in ["keras2/weights.h5", "keras3/sequential.weights.h5"] {
            let model = try KerasModel.open(Fixtures.named(file).path)
            #expect(model.config == nil)
            #expect(model.layers.allSatisfy { $0.config == nil }, "\(file)")
        }
    }

    /// Values that are not plain names or numbers stay as Keras wrote them: an `Infinity` cap, nested objects.
    @Test func keepsValuesKprunesOwnFieldsIgnore() throws {
        let model = try KerasModel.open(Fixtures.named("extra/keras2/relu_inf.h5").path)
        let relu = try #require(model.layers.first { $0.className == "ReLU" })
        #expect(relu.config?["max_value"]?.number == .infinity)
        let dense = try #require(model.layers.first { $0.className == "Dense" })
        #expect(dense.config?["kernel_initializer"]?["class_name"]?.string != nil)
    }
}
