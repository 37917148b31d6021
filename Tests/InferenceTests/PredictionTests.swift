import ArrayIO
import Foundation
import KerasFormat
import Numerics
import TestSupport
import Testing

@testable import Inference

/// An entry of `fixtures/predict/manifest.json` (made by `tools/make_predictions.py` with real Keras).
struct PredictionCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Output: Decodable, Sendable {
        let output: String
        let file: String
    }

    let name: String
    let model: String
    /// One input file, or one per input of a model with several.
    let inputFiles: [String]
    let outputs: [Output]

    /// The single input file of a model with one input.
    var inputs: String { inputFiles.first ?? "" }

    private enum CodingKeys: String, CodingKey { case name, model, inputs, outputs }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        model = try container.decode(String.self, forKey: .model)
        outputs = try container.decode([Output].self, forKey: .outputs)
        if let files = try? container.decode([String].self, forKey: .inputs) {
            inputFiles = files
        } else {
            inputFiles = [try container.decode(String.self, forKey: .inputs)]
        }
    }

    var testDescription: String { model }

    static let directory = Fixtures.directory.appendingPathComponent("predict")
    static let all: [PredictionCase] = {
        struct Manifest: Decodable { let models: [PredictionCase] }
        do {
            let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
            return try JSONDecoder().decode(Manifest.self, from: data).models
        } catch {
            preconditionFailure("fixtures/predict/manifest.json: \(error)")
        }
    }()

    func path(_ file: String) -> String { Self.directory.appendingPathComponent(file).path }
}

@Suite struct PredictionTests {
    /// kprune's forward pass gives Keras's own `predict` outputs within 1e-4 × max(1, |value|), every output.
    @Test(arguments: PredictionCase.all)
    func matchesKeras(_ entry: PredictionCase) throws {
        let model = try KerasModel.open(Fixtures.directory.appendingPathComponent(entry.model).path)
        let predictor = try Predictor(model: model, blas: BLAS(threads: 2))
        #expect(predictor.outputNames == entry.outputs.map(\.output))
        let x = try entry.inputFiles.map { file in
            let source = try ArraySource.open(entry.path(file))
            return Tensor(shape: source.shape, values: try source.readAll())
        }
        let results = try predictor.predict(x)
        #expect(results.count == entry.outputs.count)
        for (result, output) in zip(results, entry.outputs) {
            let expected = try ArraySource.open(entry.path(output.file))
            #expect(result.shape == expected.shape)
            let values = try expected.readAll()
            let worst = zip(result.values, values).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-4, "\(output.output): worst relative difference \(worst)")
        }
    }

    /// Batches give the same outputs as the whole input at once.
    @Test func batchesAgreeWithTheWhole() throws {
        let entry = try #require(PredictionCase.all.first { $0.name == "calibration_digits" })
        let model = try KerasModel.open(Fixtures.directory.appendingPathComponent(entry.model).path)
        let predictor = try Predictor(model: model, blas: BLAS(threads: 1))
        let source = try ArraySource.open(entry.path(entry.inputs))
        let all = try source.readAll()
        let whole = try predictor.predict([Tensor(shape: source.shape, values: all)])[0]
        let columns = source.columns
        var pieces: [Float] = []
        for start in stride(from: 0, to: source.rows, by: 5) {
            let rows = min(5, source.rows - start)
            let batch = Tensor(
                shape: [rows, columns], values: Array(all[(start * columns)..<((start + rows) * columns)]))
            pieces += try predictor.predict([batch])[0].values
        }
        #expect(pieces == whole.values)
    }

    /// A weights-only file has no graph to run.
    @Test func refusesAFileWithoutConfig() throws {
        let model = try KerasModel.open(Fixtures.named("keras2/weights.h5").path)
        let error = try #require(throws: InferenceError.self) { try Predictor(model: model, blas: BLAS(threads: 1)) }
        #expect(error.code == .noConfig)
    }
}
