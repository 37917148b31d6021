import Foundation
import Numerics
import TestSupport
import Testing

@testable import Inference
@testable import KerasFormat

/// A fixture's model with its config edited: `edit` gets the config's `config` object.
func predictor(_ fixture: String, _ edit: (JSONValue) -> JSONValue) throws -> Predictor {
    let model = try KerasModel.open(Fixtures.directory.appendingPathComponent(fixture).path)
    let config = try #require(model.config)
    let top = JSONValue.object(["class_name": .string(config.className), "config": edit(config.config)])
    return try Predictor(model: model, config: try ModelConfig.parse(top), blas: BLAS(threads: 1))
}

/// `json` with `key` set to `value` in the entry of every layer named `layer`: in its `config`, or with
/// `entry` in the entry itself (`class_name`).
func setting(_ key: String, to value: JSONValue, layer: String, entry: Bool = false, in json: JSONValue)
    -> JSONValue
{
    switch json {
    case .object(var members):
        for (name, member) in members {
            members[name] = setting(key, to: value, layer: layer, entry: entry, in: member)
        }
        if case .object(var config)? = members["config"], config["name"] == .string(layer) {
            if entry {
                members[key] = value
            } else {
                config[key] = value
                members["config"] = .object(config)
            }
        }
        return .object(members)
    case .array(let items):
        return .array(items.map { setting(key, to: value, layer: layer, entry: entry, in: $0) })
    default:
        return json
    }
}

/// Padded id sequences for the embedding models: two rows, the second ending in padding.
private let paddedIds = Tensor(
    shape: [2, 10], values: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0])

@Suite struct RecurrentTests {
    /// Options that change what a recurrent layer computes and are not run are refused, naming the layer.
    @Test(arguments: ["stateful", "time_major"])
    func refusesAnUnsupportedOption(_ option: String) throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/lstm_classifier.h5") {
                setting(option, to: .bool(true), layer: "lstm", in: $0)
            }
        }
        #expect(error.code == .unsupportedConfig)
        #expect(error.layer == "lstm")
        #expect(error.message.contains("lstm (LSTM)") && error.message.contains(option))
    }

    /// An activation the forward pass does not know is refused, not taken as linear.
    @Test(arguments: ["activation", "recurrent_activation"])
    func refusesAnUnknownActivation(_ key: String) throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras3/lstm_classifier.keras") {
                setting(key, to: .string("mystery"), layer: "lstm", in: $0)
            }
        }
        #expect(error.layer == "lstm")
        #expect(error.message.contains(key) && error.message.contains("mystery"))
    }

    /// A layer the forward pass does not run is named with its class.
    @Test func refusesAnUnknownLayerByName() throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras3/lstm_classifier.keras") {
                setting("class_name", to: .string("ConvLSTM1D"), layer: "lstm", entry: true, in: $0)
            }
        }
        #expect(error.code == .unsupportedLayer)
        #expect(error.layer == "lstm" && error.message.contains("ConvLSTM1D"))
    }

    /// An unknown merge mode of a Bidirectional layer is refused.
    @Test func refusesAnUnknownMergeMode() throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/gru_tagger.h5") {
                setting("merge_mode", to: .string("max"), layer: "bidirectional", in: $0)
            }
        }
        #expect(error.layer == "bidirectional")
        #expect(error.message.contains("merge_mode"))
    }

    /// A recurrent layer Keras would compute in float16 is refused rather than run in float32.
    @Test func refusesFloat16RecurrentLayers() throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/lstm_classifier.h5") {
                setting("dtype", to: .string("float16"), layer: "lstm", in: $0)
            }
        }
        #expect(error.message.contains("lstm (LSTM)") && error.message.contains("float16"))
    }

    /// A mask reaching a layer that would use it in a way the forward pass does not follow is refused when it
    /// arrives, naming the layer and its class; unmasked, the same layer runs.
    @Test func refusesAMaskALayerWouldUse() throws {
        let masked = try predictor("inference/keras2/lstm_classifier.h5") { config in
            setting("class_name", to: .string("GlobalAveragePooling1D"), layer: "lstm", entry: true, in: config)
        }
        let error = try #require(throws: InferenceError.self) { try masked.predict([paddedIds]) }
        #expect(error.layer == "lstm")
        #expect(error.message.contains("GlobalAveragePooling1D") && error.message.contains("mask"))
        let unmasked = try predictor("inference/keras2/lstm_classifier.h5") { config in
            let pooled = setting(
                "class_name", to: .string("GlobalAveragePooling1D"), layer: "lstm", entry: true, in: config)
            return setting("mask_zero", to: .bool(false), layer: "embedding", in: pooled)
        }
        // Unmasked, the pooling runs: only the head, made for the LSTM's width, refuses its input.
        let shapeError = try #require(throws: InferenceError.self) { try unmasked.predict([paddedIds]) }
        #expect(shapeError.layer == "dense" && shapeError.code == .shapeMismatch)
    }

    /// In a Keras 3 file, a mask Keras recorded that the forward pass does not have is an error, not ignored.
    @Test func refusesAMaskThatDiffersFromKeras() throws {
        let edited = try predictor("inference/keras3/lstm_classifier.keras") {
            setting("mask_zero", to: .bool(false), layer: "embedding", in: $0)
        }
        let error = try #require(throws: InferenceError.self) { try edited.predict([paddedIds]) }
        #expect(error.layer == "lstm")
        #expect(error.message.contains("mask"))
    }

    /// Padding changes nothing of a masked classifier's output: the padded steps are skipped, so the padded
    /// sequence gives what the sequence alone gives.
    @Test(arguments: [
        "inference/keras2/lstm_classifier.h5", "inference/keras3/lstm_classifier.keras",
        "inference/keras2/gru_tagger.h5", "inference/keras3/gru_tagger.keras",
    ])
    func paddingIsSkipped(_ fixture: String) throws {
        let model = try KerasModel.open(Fixtures.directory.appendingPathComponent(fixture).path)
        let predictor = try Predictor(model: model, blas: BLAS(threads: 1))
        let alone = try predictor.predict([Tensor(shape: [1, 3], values: [3, 4, 5])])[0]
        let padded = try predictor.predict([Tensor(shape: [1, 10], values: [3, 4, 5, 0, 0, 0, 0, 0, 0, 0])])[0]
        let compared = alone.rank == 3 ? Array(padded.values.prefix(alone.count)) : padded.values
        #expect(alone.count == compared.count)
        #expect(zip(alone.values, compared).allSatisfy { abs($0 - $1) <= 1e-5 })
    }
}
