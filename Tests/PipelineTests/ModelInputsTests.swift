import ArrayIO
import Foundation
import HDF5
import Inference
import KerasFormat
import Numerics
import Sparsity
import TestSupport
import Testing

@testable import FineTune
@testable import Pipeline

/// Conversions fine-tuned from the model's own inputs (`--data`): the forward pass feeds the final layer.
@Suite struct ModelInputsTests {
    static let calibration = Fixtures.directory.appendingPathComponent("calibration")
    static func path(_ relative: String) -> String { calibration.appendingPathComponent(relative).path }
    static let x = path("digits_raw/x_train.npy"), y = path("digits_raw/y_train.npy")

    static func convert(
        _ model: String, _ sparsity: Double, method: PruningMethod = .mask, data: String = x,
        labels: String? = y, output: String, limit: Int = 1 << 30
    ) throws -> ConversionReport {
        try Converter.convert(
            ConversionRequest(
                input: path(model), output: output, target: .sparsity(sparsity),
                calibration: Calibration(
                    rows: .modelInputs([data]), labels: labels,
                    options: FineTuneOptions(method: method, inMemoryLimit: limit))))
    }

    /// A convolutional final layer reaches the exact count with both methods; the held-out agreement stays
    /// high, the loss follows the softmax after the pooling, and the report says where the rows came from.
    @Test(
        arguments: ["digits_cnn/model.h5", "digits_cnn/model.keras", "digits_conv1d/model.h5"],
        [PruningMethod.mask, .l1])
    func convolutionalHeadsFineTune(_ model: String, _ method: PruningMethod) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out." + (model as NSString).pathExtension)
        let report = try Self.convert(model, 0.8, method: method, output: output)
        #expect(report.zerosAfter == Int((0.8 * Double(report.size)).rounded(.toNearestOrAwayFromZero)))
        let tune = try #require(report.fineTune)
        #expect(tune.activation == "softmax")
        #expect(tune.after.agreement >= 0.95)
        #expect(tune.trainSamples + tune.heldOutSamples == 1347)
        #expect(report.notes.contains { $0.contains("mean patch") })
        #expect(try directory.listing() == [(output as NSString).lastPathComponent])
    }

    /// Rows computed in memory and rows streamed through a scratch file give the same output bytes, and the
    /// scratch file is gone afterwards.
    @Test func streamedRowsGiveTheSameFile() throws {
        let directory = TemporaryDirectory()
        _ = try Self.convert("digits_cnn/model.h5", 0.9, output: directory.file("memory.h5"))
        let streamed = try Self.convert("digits_cnn/model.h5", 0.9, output: directory.file("streamed.h5"), limit: 0)
        #expect(streamed.fineTune?.streamed == true)
        #expect(contents(directory.file("memory.h5")) == contents(directory.file("streamed.h5")))
        #expect(try directory.listing() == ["memory.h5", "streamed.h5"])
    }

    /// The digits MLP fine-tuned from raw images gives the same zeros as from the hidden activations Keras
    /// saved (the rows agree to float32 rounding).
    @Test func denseHeadMatchesTheFeaturesRun() throws {
        let directory = TemporaryDirectory()
        _ = try Self.convert("digits/model.h5", 0.9, output: directory.file("data.h5"))
        _ = try Converter.convert(
            ConversionRequest(
                input: Self.path("digits/model.h5"), output: directory.file("features.h5"), target: .sparsity(0.9),
                calibration: Calibration(
                    features: Self.path("digits/h_train.npy"), labels: Self.path("digits/y_train.npy"))))
        let kernel = "/model_weights/head/head/kernel:0"
        let fromData = try #require(try datasetValues(directory.file("data.h5"))[kernel])
        let fromFeatures = try #require(try datasetValues(directory.file("features.h5"))[kernel])
        #expect(fromData.map { $0 == 0 } == fromFeatures.map { $0 == 0 })
        #expect(zip(fromData, fromFeatures).map { abs($0 - $1) }.max() ?? 1 < 1e-4)
    }

    /// Bad data: one error naming the data file, and no output.
    @Test func refusesDataThatDoesNotFit() throws {
        let directory = TemporaryDirectory()
        writeNPY(directory.file("wide.npy"), rows: 10, columns: 65, values: [Float](repeating: 1, count: 650))
        var nan = [Float](repeating: 1, count: 640)
        nan[64 * 7 + 3] = .nan
        writeNPY(directory.file("nan.npy"), rows: 10, columns: 64, values: nan)
        writeNPY(directory.file("one.npy"), rows: 1, columns: 64, values: [Float](repeating: 1, count: 64))
        let cases: [(String, String?, String)] = [
            ("wide.npy", nil, "do not fit the model's input of shape [8, 8, 1]"),
            ("nan.npy", nil, "NaN or infinity (sample 7)"),
            ("one.npy", nil, "at least two samples"),
        ]
        for (file, labels, message) in cases {
            let output = directory.file("out.h5")
            #expect {
                try Self.convert("digits_cnn/model.h5", 0.8, data: directory.file(file), labels: labels, output: output)
            } throws: { error in
                guard let error = error as? DataError else { return false }
                return error.source == directory.file(file) && error.message.contains(message)
            }
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    /// Sample shapes: the declared one; where the config leaves a dimension open, the array's own trailing
    /// shape, or the one open dimension the row fills; anything else is refused naming the array.
    @Test func sampleShapesFollowTheConfigAndTheArray() throws {
        let directory = TemporaryDirectory()
        writeNPY(directory.file("flat.npy"), rows: 4, columns: 21, values: [Float](repeating: 1, count: 84))
        writeNPY(
            directory.file("steps.npy"), descr: "<f4", shape: [4, 7, 3],
            data: littleEndian([UInt32](repeating: 0, count: 84)))
        let flat = try ArraySource.open(directory.file("flat.npy"))
        let steps = try ArraySource.open(directory.file("steps.npy"))
        #expect(try ModelInputs.sampleShape([nil, 3], of: steps) == [7, 3])
        #expect(try ModelInputs.sampleShape([nil, 3], of: flat) == [7, 3])
        #expect(try ModelInputs.sampleShape([7, 3], of: flat) == [7, 3])
        #expect(try ModelInputs.sampleShape(nil, of: steps) == [7, 3])
        let error = try #require(throws: DataError.self) { try ModelInputs.sampleShape([nil, 4], of: steps) }
        #expect(error.source == directory.file("steps.npy"))
        #expect(error.message.contains("[None, 4]"))
    }

    /// A model with two inputs fine-tunes from one array per input; one array alone is refused.
    @Test func twoInputsTakeTwoArrays() throws {
        let directory = TemporaryDirectory()
        let predictions = Fixtures.directory.appendingPathComponent("predict")
        let image = predictions.appendingPathComponent("inference_keras3_two_inputs_keras.x.image.npy").path
        let features = predictions.appendingPathComponent("inference_keras3_two_inputs_keras.x.features.npy").path
        var request = ConversionRequest(
            input: Fixtures.directory.appendingPathComponent("inference/keras3/two_inputs.keras").path,
            output: directory.file("out.keras"), target: .sparsity(0.5),
            calibration: Calibration(rows: .modelInputs([image, features]), options: FineTuneOptions(epochs: 5)))
        let report = try Converter.convert(request)
        #expect(report.zerosAfter == report.targetZeros)
        #expect(report.notes.contains { $0.contains("23 samples") })
        request.calibration?.rows = .modelInputs([image])
        request.output = directory.file("one.keras")
        #expect(throws: InferenceError.self) { try Converter.convert(request) }
        #expect(try directory.listing() == ["out.keras"])
    }

    /// A Dense head after nested models (a functional backbone called on a rescaled input; a Sequential inside
    /// a Sequential; models two levels deep), tf_keras and Keras 3, fine-tunes from the model's own inputs: the
    /// rows come through the nested models, and the written kernel holds the exact count of zeros.
    @Test(arguments: [
        "inference/keras3/nested_functional.keras", "inference/keras3/nested_in_sequential.h5",
        "inference/keras2/sequential_in_sequential.h5", "inference/keras2/two_levels.h5",
    ])
    func headsAfterNestedModelsFineTune(_ model: String) throws {
        let directory = TemporaryDirectory()
        let name = model.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ".", with: "_")
        let x = Fixtures.directory.appendingPathComponent("predict/\(name).x.npy").path
        let output = directory.file("out." + (model as NSString).pathExtension)
        let report = try Converter.convert(
            ConversionRequest(
                input: Fixtures.directory.appendingPathComponent(model).path, output: output, target: .sparsity(0.5),
                calibration: Calibration(rows: .modelInputs([x]), options: FineTuneOptions(epochs: 5))))
        #expect(report.layer == "head")
        #expect(report.targetZeros == (report.size + 1) / 2)
        #expect(report.notes.contains { $0.contains("inputs of head computed from 23 samples") }, "\(report.notes)")
        let written = try KerasModel.open(output)
        let kernel = try #require(written.layers.first { $0.path.description == "head" }?.kernel)
        let values = try #require(try datasetValues(written.weightsFile)[kernel.dataset])
        #expect(values.count { $0 == 0 } == report.targetZeros)
    }

    /// A TimeDistributed Dense final layer trains on one row per step; a separable convolution's pointwise
    /// kernel on the depthwise outputs at each position.
    @Test(arguments: [
        ("inference/keras2/gru_tagger.h5", "inference_keras2_gru_tagger_h5", "10 positions each"),
        ("keras3/separable.keras", "keras3_separable_keras", "64 patches each"),
    ])
    func otherFinalLayersTakeTheirRows(_ model: String, _ name: String, _ note: String) throws {
        let directory = TemporaryDirectory()
        let x = Fixtures.directory.appendingPathComponent("predict/\(name).x.npy").path
        let report = try Converter.convert(
            ConversionRequest(
                input: Fixtures.directory.appendingPathComponent(model).path,
                output: directory.file("out." + (model as NSString).pathExtension), target: .sparsity(0.8),
                calibration: Calibration(rows: .modelInputs([x]), options: FineTuneOptions(epochs: 5))))
        #expect(report.zerosAfter == report.targetZeros)
        #expect(report.notes.contains { $0.contains(note) }, "\(report.notes)")
    }

    /// A failure after rows were written to the scratch file (infinity in a later block of samples) leaves
    /// nothing in the output's directory.
    @Test func aLateFailureLeavesNothingBehind() throws {
        let directory = TemporaryDirectory()
        let x = try ArraySource.open(Self.x)
        var values = try x.readAll()
        values[300 * 64 + 5] = .infinity  // sample 300, in the third block of 128
        writeNPY(directory.file("late.npy"), rows: x.rows, columns: 64, values: values)
        let output = directory.file("out.h5")
        #expect {
            try Self.convert(
                "digits_cnn/model.h5", 0.8, data: directory.file("late.npy"), labels: nil,
                output: output, limit: 0)
        } throws: { error in
            (error as? DataError)?.message.contains("sample 300") == true
        }
        #expect(try directory.listing() == ["late.npy"])
    }

    /// Labels describe the model's output; a layer trained on one row per output position cannot use them.
    @Test func refusesLabelsForPerPositionRows() throws {
        let directory = TemporaryDirectory()
        let model = Fixtures.named("keras2/conv3x3_head.h5").path
        let shape = [5, 5, 128]
        let values: [Float] = (0..<(12 * 3200)).map { (index: Int) -> Float in Float((index * 7919) % 101) / 101 - 0.5 }
        writeNPY(directory.file("x.npy"), rows: 12, columns: shape.reduce(1, *), values: values)
        writeNPY(
            directory.file("y.npy"), rows: 12, columns: 1,
            values: (0..<12).map { (index: Int) -> Float in Float(index % 7) })
        let request = ConversionRequest(
            input: model, output: directory.file("out.h5"), target: .sparsity(0.5),
            calibration: Calibration(
                rows: .modelInputs([directory.file("x.npy")]),
                labels: directory.file("y.npy")))
        // conv3x3_head pools before its softmax, so it trains on mean patches and takes the labels.
        let pooled = try Converter.convert(request)
        #expect(pooled.notes.contains { $0.contains("mean patch") })
        // The 1x1 head (2x2 positions) is the model's output: it is trained on one patch per position.
        var perPosition = request
        perPosition.input = Fixtures.named("keras2/conv1x1_head.h5").path
        writeNPY(
            directory.file("x1.npy"), rows: 12, columns: 960,
            values: (0..<11520).map { (index: Int) -> Float in Float(index % 13) / 13 })
        perPosition.calibration?.rows = .modelInputs([directory.file("x1.npy")])
        perPosition.output = directory.file("out1.h5")
        #expect {
            try Converter.convert(perPosition)
        } throws: { error in
            (error as? DataError)?.message.contains("rows per sample") == true
        }
        perPosition.calibration?.labels = nil
        let report = try Converter.convert(perPosition)
        #expect(report.notes.contains { $0.contains("patches each") })
    }
}
