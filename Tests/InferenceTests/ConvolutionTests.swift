import Foundation
import KerasFormat
import Numerics
import TestSupport
import Testing

@testable import Inference

@Suite struct ConvolutionTests {
    /// Configs Keras rejects when it builds a layer, edited into saved files (tools/make_cnn_fixtures.py):
    /// refused in one line naming the layer, its class and the setting.
    @Test(arguments: [
        ("refused_transpose_causal", "Conv2DTranspose", "causal padding"),
        ("refused_groups", "Conv2D", "3 groups for 4 filters"),
        ("refused_data_format", "Conv2D", "data_format channels_middle"),
    ])
    func refusesUnsupportedSettings(_ file: String, _ className: String, _ setting: String) throws {
        let model = try KerasModel.open(Fixtures.directory.appendingPathComponent("inference/keras2/\(file).h5").path)
        let error = try #require(throws: InferenceError.self) { try Predictor(model: model, blas: BLAS(threads: 1)) }
        #expect(error.code == .unsupportedConfig)
        #expect(error.layer == "edited")
        #expect(error.message.contains("edited") && error.message.contains("(\(className))"), "\(error.message)")
        #expect(error.message.contains(setting), "\(error.message)")
        #expect(!error.message.contains("\n"))
    }

    /// Output sizes Keras gave transposed convolutions (probed with tf_keras and Keras 3): with and without
    /// `output_padding`, `valid` and `same`, strides and dilation.
    @Test(arguments: [
        ([8], [3], [2], [1], SpatialWindow.Padding.valid, [1] as [Int]?, [18]),
        ([8], [3], [2], [1], .same, nil, [16]),
        ([8], [3], [1], [2], .valid, nil, [12]),
        ([8], [3], [1], [2], .same, nil, [8]),
        ([5, 6], [3, 3], [2, 3], [1, 1], .same, [1, 2], [10, 18]),
        ([5, 6], [3, 3], [1, 1], [2, 2], .valid, [0, 0], [9, 10]),
        ([3, 4, 3], [3, 3, 3], [2, 2, 2], [1, 1, 1], .valid, [1, 1, 1], [8, 10, 8]),
    ])
    func transposedOutputSizes(
        _ input: [Int], _ window: [Int], _ strides: [Int], _ dilation: [Int],
        _ padding: SpatialWindow.Padding, _ outputPadding: [Int]?, _ expected: [Int]
    ) {
        let geometry = TransposedWindow(
            inputSize: input, window: window, strides: strides, dilation: dilation,
            padding: padding, outputPadding: outputPadding)
        #expect(geometry.outputSize == expected)
    }

    /// Channels moved last and back: `[N, C, H, W]` to `[N, H, W, C]` puts `x[n, c, h, w]` at `[n, h, w, c]`.
    @Test func channelsMoveLastAndBack() {
        let shape = [2, 3, 4, 5]
        let x = Tensor(shape: shape, values: (0..<120).map(Float.init))
        let moved = x.movingAxisToEnd(1)
        #expect(moved.shape == [2, 4, 5, 3])
        // x[1, 2, 3, 4] = 1·60 + 2·20 + 3·5 + 4 = 119; moved[1, 3, 4, 2] = 1·60 + 3·15 + 4·3 + 2.
        #expect(moved.values[60 + 45 + 12 + 2] == 119)
        #expect(moved.values[1] == 20)  // moved[0, 0, 0, 1] = x[0, 1, 0, 0]
        #expect(moved.movingLastAxis(to: 1) == x)
    }

    /// A batch normalization folds into the convolution before it only when nothing else reads the
    /// convolution's output; folded or not, the outputs agree.
    @Test(arguments: [false, true])
    func foldsANormalizationOnlyIntoASoleReader(_ convolutionAlsoRead: Bool) throws {
        let blas = BLAS(threads: 1)
        let kernel = Tensor(shape: [3, 2, 4], values: (0..<24).map { Float($0 % 7) - 3 })
        let convolution = ConvolutionLayer(
            name: "conv", kernel: kernel, bias: [0.5, -1, 2, 0], strides: [1],
            dilation: [1], padding: .same, activation: .linear, blas: blas)
        let normalization = AffineLayer.batchNormalization(
            "bn", gamma: [1, 2, 0.5, -1], beta: [0, 1, -1, 2],
            mean: [0.1, 0.2, 0.3, 0.4], variance: [1, 2, 3, 4],
            epsilon: 1e-3)
        let merge = node(
            "add", convolutionAlsoRead ? ["bn", "conv"] : ["bn", "bn"], MergeLayer(name: "add", operation: .add))
        let graph = try Graph(
            name: "m", inputs: ["x"],
            nodes: [
                node("conv", ["x"], convolution), node("bn", ["conv"], normalization), merge,
            ], outputs: [TensorReference(layer: "add")])
        let folded = try graph.foldingNormalizations()
        #expect(folded.nodes.map(\.name) == (convolutionAlsoRead ? ["conv", "bn", "add"] : ["bn", "add"]))
        let x = Tensor(shape: [2, 5, 2], values: (0..<20).map { sin(Float($0)) })
        let (plain, fused) = (try graph.run([x])[0], try folded.run([x])[0])
        #expect(plain.shape == fused.shape)
        let worst = zip(plain.values, fused.values).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
        #expect(worst <= 1e-5)
    }

    /// A normalization whose axis is named by position (tf_keras writes `[2]` for a Conv1D's channels) folds
    /// when that is the convolution output's last axis, and not otherwise.
    @Test(arguments: [(2, true), (1, false)])
    func foldsAPositionalAxisOnlyWhenItIsTheLast(_ axis: Int, _ folds: Bool) throws {
        let blas = BLAS(threads: 1)
        let kernel = Tensor(shape: [3, 2, 4], values: (0..<24).map { Float($0 % 5) - 2 })
        let convolution = ConvolutionLayer(
            name: "conv", kernel: kernel, bias: [0.5, -1, 2, 0], strides: [1],
            dilation: [1], padding: .same, activation: .linear, blas: blas)
        var normalization = AffineLayer.batchNormalization(
            "bn", gamma: [1, 2, 0.5, -1], beta: [0, 1, -1, 2],
            mean: [0.1, 0.2, 0.3, 0.4], variance: [1, 2, 3, 4],
            epsilon: 1e-3)
        normalization.axis = axis
        let graph = try Graph(
            name: "m", inputs: ["x"], nodes: [node("conv", ["x"], convolution), node("bn", ["conv"], normalization)],
            outputs: [TensorReference(layer: "bn")])
        let folded = try graph.foldingNormalizations()
        #expect(folded.nodes.map(\.name) == (folds ? ["bn"] : ["conv", "bn"]))
    }
}

/// A graph node calling `layer` once on the first outputs of `inbound`, without masks.
private func node(_ name: String, _ inbound: [String], _ layer: any ForwardLayer) -> Graph.Node {
    Graph.Node(
        name: name, className: name, call: 0, inbound: inbound.map { TensorReference(layer: $0) }, layer: layer,
        masks: .drops)
}
