import Foundation
import HDF5
import TestSupport
import Testing

@testable import KerasFormat

/// The final layer is what the file says it is, or kprune refuses: it never falls back to an earlier layer.
@Suite struct FinalLayerRefusalTests {
    /// h5py copies of keras2/sequential.h5 whose final Dense 'dense_1' has a broken kernel
    /// (tools/make_fixtures_extra.py).
    @Test(arguments: [
        ("kernel_1d.h5", "is 1-D (shape [64])"),
        ("kernel_scalar.h5", "is a scalar"),
        ("kernel_soft_link.h5", "is a soft link to /model_weights/dense/dense/kernel:0"),
        ("kernel_external_link.h5", "is an external link to external_target.h5:/kernel"),
        ("empty_weight_names.h5", "has no weights in the file"),
    ])
    func refusesABrokenFinalKernelNamingTheLayer(_ file: String, _ problem: String) throws {
        let path = Fixtures.directory.appendingPathComponent("extra/malformed/\(file)").path
        let model = try KerasModel.open(path)
        #expect(model.finalLayer == nil, "the Dense before it is not taken instead")
        let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: nil) }
        #expect(error.code == .brokenFinalLayer)
        #expect(error.message.hasPrefix("the final layer 'dense_1' (Dense): "), "\(error.message)")
        #expect(error.message.contains(problem), "\(error.message)")
        #expect(error.hint == "the file may be damaged; layers with a kernel: dense")
        #expect(error.candidates == ["dense"])
        let named = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: "dense_1") }
        #expect(named.code == .noKernel && named.message.contains(problem))
        #expect(try model.targetLayer(named: "dense").path.name == "dense", "another layer can still be named")
    }

    @Test func weightsOnlyFilesStillListTheCandidates() throws {
        let model = try KerasModel.open(Fixtures.named("keras2/weights.h5").path)
        let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: nil) }
        #expect(error.code == .ambiguousLayer)
        #expect(error.message.contains("no model config"))
        #expect(error.hint == "layers with a kernel: dense, dense_1")
        #expect(error.candidates == ["dense", "dense_1"])
        #expect(model.layerOrder == .layerNames)
    }

    @Test(arguments: ["extra/keras2/lstm_last.h5", "extra/keras3/lstm_last.keras"])
    func refusesARecurrentLastLayerButPrunesItWhenNamed(_ file: String) throws {
        let fixture = Fixtures.named(file)
        let model = try KerasModel.open(fixture.path)
        #expect(model.finalLayer == nil)
        let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: nil) }
        #expect(error.code == .recurrentLayer)
        #expect(error.message.contains("'lstm' (LSTM) is recurrent"), "\(error.message)")
        #expect(error.message.hasSuffix("only when it is asked for by name"), "\(error.message)")
        #expect(error.hint?.hasPrefix("layers with a kernel: lstm") == true)
        #expect(error.candidates.first == "lstm")
        let layer = try model.targetLayer(named: "lstm")
        #expect(layer.kernel?.dataset == fixture.kernelDataset, "the input kernel, not the recurrent one")
        #expect(layer.kernel?.shape == [3, 24])
    }

    @Test(arguments: [
        "extra/keras2/lstm_dense.h5", "extra/keras3/lstm_dense.keras",
        "extra/keras2/time_distributed.h5", "extra/keras3/time_distributed.keras",
        "extra/keras3/bidirectional.keras",
    ])
    func aDenseAfterARecurrentLayerIsTheFinalLayer(_ file: String) throws {
        let fixture = Fixtures.named(file)
        let model = try KerasModel.open(fixture.path)
        let layer = try model.targetLayer(named: nil)
        #expect(layer.path.name == fixture.finalLayer)
        #expect(layer.kernel?.dataset == fixture.kernelDataset)
    }

    /// A name shared by layers in different nested models is refused with its own code, listing the full paths.
    @Test func refusesANameSeveralNestedLayersShare() throws {
        let kernel = WeightInfo(name: "kernel", dataset: "/k", shape: [2, 2], storedType: .float(bits: 32))
        let layers = ["a", "b"].map { model in
            LayerInfo(path: LayerPath(models: [model], name: "head"), weights: [kernel])
        }
        let model = KerasModel(
            path: "m.h5", format: .keras2WeightsH5, kerasVersion: nil, config: nil, layers: layers,
            optimizerWeights: [], weightsFile: "m.h5", archive: nil)
        let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: "head") }
        #expect(error.code == .layerNameNotUnique)
        #expect(error.candidates == ["a/head", "b/head"])
        #expect(error.hint == "give the full path: a/head, b/head")
        #expect(try model.targetLayer(named: "b/head").path.models == ["b"])
    }

    /// The library's refusals name no command-line option: the CLI adds those by code.
    @Test(arguments: [
        "keras2/weights.h5", "extra/keras2/lstm_last.h5", "extra/malformed/kernel_1d.h5",
        "keras2/multi_output.h5",
    ])
    func namesNoCommandLineOption(_ file: String) throws {
        let path = Fixtures.directory.appendingPathComponent(file).path
        let model = try KerasModel.open(path)
        for name in [nil, "no_such_layer"] as [String?] {
            let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: name) }
            #expect(!error.description.contains("--"), "\(error)")
        }
        #expect(model.finalLayerProblem.map { !$0.contains("--") } ?? true)
    }

    @Test func aBidirectionalLayerIsNotPrunedEvenWhenNamed() throws {
        let model = try KerasModel.open(Fixtures.named("extra/keras3/bidirectional.keras").path)
        let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: "bigru") }
        #expect(error.code == .noKernel)
        #expect(error.message.contains("two input kernels"))
    }

    /// Keras 3 keeps a wrapper's sublayers' variables below it; every one of them belongs to the layer.
    @Test(arguments: ["extra/keras3/bidirectional.keras", "extra/keras3/bidirectional.weights.h5"])
    func listsTheVariablesNestedBelowALayer(_ file: String) throws {
        let model = try KerasModel.open(Fixtures.named(file).path)
        let wrapper = try #require(model.layers.first { $0.weights.count == 6 })
        #expect(
            wrapper.weights.map(\.name) == [
                "forward_layer/cell/vars/0", "forward_layer/cell/vars/1",
                "forward_layer/cell/vars/2", "backward_layer/cell/vars/0",
                "backward_layer/cell/vars/1", "backward_layer/cell/vars/2",
            ])
        #expect(wrapper.weights[0].dataset.hasSuffix("/forward_layer/cell/vars/0"))
        #expect(model.layerOrder == (file.hasSuffix(".keras") ? .forward : .file))
        #expect(model.layers.reduce(0) { $0 + $1.weights.count } == 8)
    }
}
