import ArrayIO
import Foundation
import KerasFormat
import Numerics
import TestSupport
import Testing

@testable import Inference

/// The final layer's inputs computed from a model's own inputs, checked against what Keras computes.
@Suite struct LayerFeedTests {
    static let calibration = Fixtures.directory.appendingPathComponent("calibration")

    static func array(_ relative: String) throws -> (shape: [Int], values: [Float]) {
        let source = try ArraySource.open(calibration.appendingPathComponent(relative).path)
        return (source.shape, try source.readAll())
    }

    static func head(_ model: KerasModel) throws -> (kernel: Tensor, bias: [Float], path: LayerPath) {
        let layer = try model.targetLayer(named: nil)
        let weights = try datasetValues(model.weightsFile)
        let kernel = try #require(layer.kernel.flatMap { weights[$0.dataset] })
        let bias = try #require(layer.bias.flatMap { weights[$0.dataset] })
        return (
            Tensor(rows: kernel.count / bias.count, columns: bias.count, values: kernel.map(Float.init)),
            bias.map(Float.init), layer.path
        )
    }

    /// The digits MLP's head inputs from the raw images equal the hidden activations Keras saved.
    @Test func denseRowsMatchKerasActivations() throws {
        let model = try KerasModel.open(Self.calibration.appendingPathComponent("digits/model.h5").path)
        let layer = try model.targetLayer(named: nil)
        let feed = try LayerFeed(model: model, layer: layer.path, pooled: false, blas: BLAS(threads: 2))
        #expect(feed.rows == .features)
        let x = try Self.array("digits_raw/x_train.npy")
        let expected = try Self.array("digits/h_train.npy")
        let rows = try feed.rows(for: [Tensor(shape: [x.shape[0], 64], values: x.values)])
        #expect(rows.shape == expected.shape)
        let worst = zip(rows.values, expected.values).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(worst <= 1e-4)
    }

    /// A convolution followed only by global average pooling: the mean patch times the kernel plus the bias,
    /// through softmax, is the model's output as Keras predicts it; per-position patches give the same
    /// outputs once averaged.
    @Test(arguments: [
        "digits_cnn/model.h5", "digits_cnn/model.keras", "digits_conv1d/model.h5",
        "digits_conv1d/model.keras",
    ])
    func pooledPatchesGiveKerasOutputs(_ file: String) throws {
        let model = try KerasModel.open(Self.calibration.appendingPathComponent(file).path)
        let (kernel, bias, path) = try Self.head(model)
        let blas = BLAS(threads: 2)
        let x = try Self.array("digits_raw/x_test.npy")
        let batch = Tensor(shape: x.shape, values: x.values)
        let expected = try Self.array(file.split(separator: "/")[0] + "/p_test.npy")
        let pooled = try LayerFeed(model: model, layer: path, pooled: true, blas: blas)
        #expect(pooled.rows == .pooledPatches)
        let rows = try pooled.rows(for: [batch])
        #expect(rows.shape == [x.shape[0], kernel.rows])
        var outputs = Tensor(zeros: rows.rows, kernel.columns)
        blas.dense(rows, kernel, bias, .softmax, into: &outputs)
        let worst = zip(outputs.values, expected.values).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-4)

        let patches = try LayerFeed(model: model, layer: path, pooled: false, blas: blas).rows(for: [batch])
        let positions = patches.rows / x.shape[0]
        #expect(positions > 1)
        #expect(patches.columns == kernel.rows)
        // The patches' mean per sample is the pooled row.
        var mean = [Float](repeating: 0, count: kernel.rows)
        for p in 0..<positions {
            for c in 0..<kernel.rows { mean[c] += patches.values[p * kernel.rows + c] / Float(positions) }
        }
        let gap = zip(mean, rows.values[0..<kernel.rows]).map { abs($0 - $1) }.max() ?? 1
        #expect(gap <= 1e-5)
    }

    /// Layers the rows cannot come from are refused with the layer named.
    @Test func refusesLayersItCannotFeed() throws {
        let model = try KerasModel.open(Self.calibration.appendingPathComponent("digits_cnn/model.h5").path)
        let bn = try #require(model.layers.first { $0.className == "BatchNormalization" })
        #expect {
            try LayerFeed(model: model, layer: bn.path, pooled: false, blas: BLAS(threads: 1))
        } throws: { error in
            (error as? InferenceError)?.message.contains(bn.path.name) == true
        }
    }
}
