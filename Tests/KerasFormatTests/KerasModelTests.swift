import Foundation
import HDF5
import TestSupport
import Testing

@testable import KerasFormat

@Suite struct KerasModelTests {
    @Test(arguments: Fixtures.all.filter { $0.format != "not-keras" })
    func detectsTheFormat(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        #expect(model.format.rawValue == fixture.format)
    }

    /// The final layer kprune picks is the one Keras itself reports as the last layer with a kernel, and
    /// its kernel is the dataset Keras wrote that kernel to.
    @Test(arguments: Fixtures.all.filter { $0.format != "not-keras" })
    func findsTheFinalLayerKerasReports(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        if fixture.needsLayer == true {
            #expect(model.finalLayer == nil)
            let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: nil) }
            #expect(error.code == (fixture.recurrentFinalLayer != nil ? .recurrentLayer : .ambiguousLayer))
            #expect(error.hint?.contains(try #require(fixture.finalLayer)) == true, "candidates are listed")
        }
        let layer = try model.targetLayer(named: fixture.needsLayer == true ? fixture.layerArgument : nil)
        #expect(layer.path.name == fixture.finalLayer)
        let kernel = try #require(layer.kernel)
        #expect(kernel.shape == fixture.kernelShape)
        #expect(kernel.storedType.description == fixture.kernelDtype)
        if layer.className?.hasPrefix("SeparableConv") == true {
            #expect(kernel.dataset.hasSuffix("/vars/1"), "a separable convolution's kernel is the pointwise one")
        } else {
            #expect(kernel.dataset == fixture.kernelDataset)
        }
    }

    @Test(arguments: Fixtures.convertible)
    func matchesOptimizerSlotsToTheKernel(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        let layer = try model.targetLayer(named: fixture.needsLayer == true ? fixture.layerArgument : nil)
        let (slots, note) = model.optimizerSlots(for: layer)
        if layer.className?.hasPrefix("SeparableConv") == true { return }
        #expect(slots.map(\.dataset) == (fixture.optimizerSlotDatasets ?? []))
        #expect(note == nil)
    }

    @Test func listsLayersInForwardOrderWithNestedPaths() throws {
        let model = try KerasModel.open(Fixtures.named("keras2/nested.h5").path)
        let final = try #require(model.finalLayer)
        #expect(final.path.models.count == 1)
        #expect(model.layers.last?.path == final.path || model.kernelLayers.last?.path == final.path)
        #expect(try model.targetLayer(named: final.path.description).path == final.path)
        #expect(try model.targetLayer(named: final.path.name).path == final.path)
    }

    @Test func refusesUnknownAndKernelLessLayers() throws {
        let model = try KerasModel.open(Fixtures.named("keras2/trailing_activation.h5").path)
        let missing = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: "no_such_layer") }
        #expect(missing.code == .noSuchLayer)
        #expect(missing.message.contains("no_such_layer"))
        let kernelLess = try #require(model.layers.first { $0.kernelIndex == nil && $0.className != "InputLayer" })
        let noKernel = try #require(throws: KerasFormatError.self) {
            try model.targetLayer(named: kernelLess.path.description)
        }
        #expect(noKernel.code == .noKernel)
    }

    @Test func refusesHDF5WithoutKerasStructure() throws {
        let error = try #require(throws: KerasFormatError.self) {
            try KerasModel.open(Fixtures.named("malformed/not_keras.h5").path)
        }
        #expect(error.code == .notKeras)
    }

    @Test func refusesFilesThatAreNeitherHDF5NorZip() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("model.h5")
        try Data("{\"not\": \"a model\"}".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: KerasFormatError.self) { try KerasModel.open(path) }
        #expect(error.code == .notKeras)
        #expect(error.file == path)
    }

    @Test func removesTheArchiveStagingDirectory() throws {
        let directory = TemporaryDirectory()
        do {
            let model = try KerasModel.open(
                Fixtures.named("keras3/sequential.keras").path, stagingDirectory: directory.path)
            #expect(FileManager.default.fileExists(atPath: model.weightsFile))
            #expect(try directory.listing().count == 1)
        }
        #expect(try directory.listing().isEmpty)
    }
}

@Suite struct NamingTests {
    @Test(arguments: [
        ("Dense", "dense"), ("Conv2D", "conv2d"), ("SeparableConv2D", "separable_conv2d"),
        ("EinsumDense", "einsum_dense"), ("InputLayer", "input_layer"), ("BatchNormalization", "batch_normalization"),
        ("Conv2DTranspose", "conv2d_transpose"), ("LSTM", "lstm"), ("GRUCell", "gru_cell"),
    ])
    func snakeCasesClassNamesAsKerasDoes(_ className: String, _ expected: String) {
        #expect(NativeLayout.snakeCase(className) == expected)
    }

    @Test func readsKeras2AndKeras3LayerReferences() throws {
        let keras2 = try JSONValue.parse(#"[[["dense_1", 0, 0, {}], ["dense_2", 1, 0, {}]]]"#)
        #expect(ModelConfig.layerReferences(in: keras2) == ["dense_1", "dense_2"])
        let keras3 = try JSONValue.parse(
            #"""
            [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}},
                        {"class_name": "__keras_tensor__", "config": {"keras_history": ["b", 0, 0]}}]],
              "kwargs": {}}]
            """#)
        #expect(ModelConfig.layerReferences(in: keras3) == ["a", "b"])
    }

    @Test func readsOldSequentialConfigsGivenAsPlainLists() throws {
        let json = try JSONValue.parse(
            #"""
            {"class_name": "Sequential", "config": [
              {"class_name": "Dense", "config": {"name": "dense_1", "units": 3, "activation": "relu"}},
              {"class_name": "Dense", "config": {"name": "dense_2", "units": 2, "activation": "softmax"}}]}
            """#)
        let config = try ModelConfig.parse(json)
        #expect(config.layers.map(\.name) == ["dense_1", "dense_2"])
        #expect(config.layers.last?.activation == "softmax")
        let finals = config.finalKernelLayers { _, layer in layer.className == "Dense" }
        #expect(finals == [[LayerPath(models: [], name: "dense_2")]])
    }

    @Test func walksBackThroughMergesToEveryBranch() throws {
        let json = try JSONValue.parse(
            #"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "a", "config": {"name": "a"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "b", "config": {"name": "b"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
              {"class_name": "Add", "name": "sum", "config": {"name": "sum"},
               "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]}],
              "input_layers": [["in", 0, 0]], "output_layers": [["sum", 0, 0]]}}
            """#)
        let config = try ModelConfig.parse(json)
        let finals = config.finalKernelLayers { _, layer in layer.className == "Dense" }
        #expect(finals.count == 1)
        #expect(Set(finals[0].map(\.name)) == ["a", "b"])
    }
}
