import ArrayIO
import Foundation
import TestSupport
import Testing

/// `--eval-data` and `--eval-labels`: the dense model, the written result and the data-free magnitude result
/// scored on data the fine-tune never sees. (tools/interop_data.py checks the figures against Keras's.)
@Suite struct EvaluationTests {
    static func calibration(_ relative: String) -> String {
        Fixtures.directory.appendingPathComponent("calibration").appendingPathComponent(relative).path
    }
    static let model = calibration("digits/model.h5")
    static let xTest = calibration("digits_raw/x_test.npy"), yTest = calibration("digits_raw/y_test.npy")

    static func object(_ run: Run) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    /// The dense model's accuracy is that of `predict`'s outputs; the written result is scored beside the
    /// magnitude result at the same count, and the text report says which figures are evaluation data.
    @Test func scoresTheDenseTheWrittenAndTheMagnitudeResult() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.model, as: "model.h5")
        let arguments = [
            "convert", input, "--sparsity", "0.9", "--data", Self.calibration("digits_raw/x_train.npy"),
            "--labels", Self.calibration("digits_raw/y_train.npy"), "--eval-data", Self.xTest,
            "--eval-labels", Self.yTest,
        ]
        let run = try Run(arguments + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let eval = try #require(try Self.object(run)["eval"] as? [String: Any])
        #expect(eval["samples"] as? Int == 450)
        #expect(eval["activation"] as? String == "softmax")
        let dense = try #require(eval["dense"] as? [String: Any])
        #expect(dense["agreement"] == nil, "the dense model's agreement with itself is not reported")
        let magnitude = try #require(eval["magnitude"] as? [String: Any])
        for figures in [eval, magnitude] {
            for key in ["accuracy", "agreement", "loss"] { #expect(figures[key] is Double, "\(key)") }
        }

        // The dense accuracy from predict's own outputs.
        let predicted = directory.file("p.npy")
        #expect(try Run(["predict", input, "--data", Self.xTest, "-o", predicted]).status == 0)
        let outputs = try ArraySource.open(predicted).readAll()
        let labels = try ArraySource.open(Self.yTest).readAll()
        var correct = 0
        for (row, label) in labels.enumerated() {
            let scores = outputs[(row * 10)..<((row + 1) * 10)]
            if scores.firstIndex(of: scores.max() ?? 0).map({ $0 - row * 10 }) == Int(label) { correct += 1 }
        }
        let accuracy = try #require(dense["accuracy"] as? Double)
        #expect(accuracy == Double(correct) / 450)
        // The fine-tune keeps the decisions far better than magnitude pruning at 90% zeros.
        let agreement = try #require(eval["agreement"] as? Double)
        let magnitudeAgreement = try #require(magnitude["agreement"] as? Double)
        #expect(agreement > magnitudeAgreement)

        let text = try Run(arguments + ["--force"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("held-out calibration rows (135 samples): before"))
        #expect(
            text.stdout.contains(
                String(format: "evaluation data (450 samples the fine-tune never saw): dense accuracy %.4f", accuracy)
            ))
    }

    /// Without calibration data the written result is the magnitude result: the same figures, and without labels
    /// only the agreement applies.
    @Test func dataFreeResultIsTheMagnitudeResult() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.model, as: "model.h5")
        let run = try Run(["convert", input, "--sparsity", "0.8", "--eval-data", Self.xTest, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let eval = try #require(try Self.object(run)["eval"] as? [String: Any])
        let magnitude = try #require(eval["magnitude"] as? [String: Any])
        #expect(eval["agreement"] as? Double == magnitude["agreement"] as? Double)
        #expect(eval["accuracy"] == nil && eval["loss"] == nil && magnitude["loss"] == nil)
        let agreement = try #require(eval["agreement"] as? Double)
        #expect(agreement > 0 && agreement <= 1)
    }

    /// The final layer's inputs (Keras's own hidden activations of the test images) give the figures the model's
    /// inputs give; a layer whose outputs pass through a pooling cannot be scored alone; rows of another width are
    /// refused.
    @Test func scoresTheLayerAloneOnItsInputs() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.model, as: "model.h5")
        let common = [
            "convert", input, "--sparsity", "0.9", "--features", Self.calibration("digits/h_train.npy"), "--labels",
            Self.calibration("digits/y_train.npy"), "--eval-labels", Self.yTest, "--json", "--force",
        ]
        let layer = try Run(common + ["--eval-features", Self.calibration("digits/h_test.npy")])
        let model = try Run(common + ["--eval-data", Self.xTest])
        #expect(layer.status == 0 && model.status == 0, "\(layer.stderr) \(model.stderr)")
        let a = try #require(try Self.object(layer)["eval"] as? [String: Any])
        let b = try #require(try Self.object(model)["eval"] as? [String: Any])
        #expect(a["accuracy"] as? Double == b["accuracy"] as? Double)
        #expect(a["agreement"] as? Double == b["agreement"] as? Double)
        let lossA = try #require(a["loss"] as? Double), lossB = try #require(b["loss"] as? Double)
        #expect(abs(lossA - lossB) < 1e-5)

        let cnn = try directory.copy(Self.calibration("digits_cnn/model.h5"), as: "cnn.h5")
        let features = Self.calibration("digits/h_test.npy")
        let pooled = try Run(["convert", cnn, "--sparsity", "0.5", "--eval-features", features])
        #expect(pooled.status == 1)
        #expect(
            pooled.stderrLines == [
                "error: \(features): evaluation features score head's own outputs, but they reach the model's output "
                    + "through global_average_pooling2d (GlobalAveragePooling2D) (give the model's inputs with --eval-data)"
            ])
        let narrowFile = directory.file("narrow.npy")
        writeNPY(narrowFile, rows: 10, columns: 63, values: [Float](repeating: 0.5, count: 630))
        let narrow = try Run(["convert", input, "--sparsity", "0.5", "--eval-features", narrowFile, "--force"])
        #expect(narrow.status == 1)
        #expect(
            narrow.stderrLines == [
                "error: \(narrowFile): rows of 63 values do not fit head's kernel of shape [64, 10], which takes 64 "
                    + "(give the layer's inputs, one row per sample)"
            ])
        #expect(try directory.listing().sorted() == ["cnn.h5", "model.h5", "model.pruned.h5", "narrow.npy"])
    }

    /// In a model with several outputs, the output the pruned layer reaches is scored: the dense loss is the
    /// mean squared error of `predict`'s outputs of that layer.
    @Test func scoresTheOutputTheLayerReaches() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/multi_output.keras").path, as: "model.keras")
        let x = directory.file("x.npy"), y = directory.file("y.npy")
        writeNPY(x, rows: 40, columns: 8, values: (0..<320).map { Float(($0 * 37) % 17) / 17 })
        let labels = (0..<80).map { Float(($0 * 11) % 7) / 7 }
        writeNPY(y, rows: 40, columns: 2, values: labels)
        let run = try Run([
            "convert", input, "--layer", "out_b", "--sparsity", "0.5", "--eval-data", x, "--eval-labels", y, "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let eval = try #require(try Self.object(run)["eval"] as? [String: Any])
        #expect(eval["activation"] as? String == "linear" && eval["accuracy"] == nil && eval["agreement"] == nil)
        let predicted = directory.file("p.npy")
        #expect(try Run(["predict", input, "--data", x, "--output", "out_b", "-o", predicted]).status == 0)
        let outputs = try ArraySource.open(predicted).readAll()
        let mse = zip(outputs, labels).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) } / 80
        let dense = try #require((eval["dense"] as? [String: Any])?["loss"] as? Double)
        #expect(abs(dense - mse) < 1e-6 * max(1, mse))
        let wrong = try Run([
            "convert", input, "--layer", "out_a", "--sparsity", "0.5", "--eval-data", x, "--eval-labels", y,
            "-o", directory.file("a.keras"),
        ])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("labels have 2 values per sample, the model's output has 4"), "\(wrong.stderr)")
    }

    /// A model with two inputs takes one `--eval-data` per input, in order. Labelled with the decisions of
    /// Keras's own predictions, the dense model is right on every sample; a sweep point is its convert.
    @Test func takesOneArrayPerInput() throws {
        let directory = TemporaryDirectory()
        let predict = Fixtures.directory.appendingPathComponent("predict")
        func path(_ name: String) -> String { predict.appendingPathComponent(name).path }
        let input = try directory.copy(
            Fixtures.directory.appendingPathComponent("inference/keras2/two_inputs.h5").path, as: "model.h5")
        let keras = try ArraySource.open(path("inference_keras2_two_inputs_h5.y.npy"))
        let scores = try keras.readAll()
        let classes = (0..<keras.rows).map { row -> Float in
            let slice = Array(scores[(row * keras.columns)..<((row + 1) * keras.columns)])
            return Float(slice.firstIndex(of: slice.max() ?? 0) ?? 0)
        }
        writeNPY(directory.file("y.npy"), rows: keras.rows, columns: 1, values: classes)
        let evaluation = [
            "--eval-data", path("inference_keras2_two_inputs_h5.x.image.npy"), "--eval-data",
            path("inference_keras2_two_inputs_h5.x.features.npy"), "--eval-labels", directory.file("y.npy"), "--json",
        ]
        let convert = try Run(["convert", input, "--sparsity", "0.5", "-o", directory.file("out.h5")] + evaluation)
        #expect(convert.status == 0, "\(convert.stderr)")
        let eval = try #require(try Self.object(convert)["eval"] as? [String: Any])
        #expect((eval["dense"] as? [String: Any])?["accuracy"] as? Double == 1)
        #expect(eval["samples"] as? Int == keras.rows)
        let sweep = try Run(["sweep", input, "--sparsities", "0.5"] + evaluation)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        #expect((try Self.object(sweep)["eval"] as? NSDictionary) == (eval as NSDictionary))
        let one = try Run([
            "convert", input, "--sparsity", "0.5", "--eval-data", path("inference_keras2_two_inputs_h5.x.image.npy"),
            "-o", directory.file("one.h5"),
        ])
        #expect(one.status == 1)
        #expect(one.stderr.contains("the model takes 2 inputs, and 1 arrays of inputs were given"), "\(one.stderr)")
    }

    /// Evaluation data that does not fit is refused in one line naming its file, before any work: nothing is
    /// written and the input is unchanged.
    @Test func refusesEvaluationDataThatDoesNotFit() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.model, as: "model.h5")
        let before = contents(input)
        writeNPY(directory.file("short.npy"), rows: 7, columns: 1, values: (0..<7).map { Float($0) })
        writeNPY(directory.file("wide.npy"), rows: 450, columns: 63, values: [Float](repeating: 0, count: 450 * 63))
        writeNPY(directory.file("ids.npy"), rows: 450, columns: 1, values: (0..<450).map { Float($0 % 11) })
        let cases: [([String], String, String)] = [
            (["--eval-labels", directory.file("short.npy")], directory.file("short.npy"), "7 labels for 450"),
            (["--eval-labels", directory.file("ids.npy")], directory.file("ids.npy"), "is not a class id in 0..<10"),
        ]
        for (extra, file, message) in cases {
            let run = try Run(["convert", input, "--sparsity", "0.5", "--eval-data", Self.xTest] + extra)
            #expect(run.status == 1)
            #expect(run.stderrLines.count == 1, "one line: \(run.stderr)")
            #expect(run.stderrLines.first?.hasPrefix("error: \(file): ") == true, "\(run.stderr)")
            #expect(run.stderr.contains(message), "\(run.stderr)")
            #expect(try directory.listing() == ["ids.npy", "model.h5", "short.npy", "wide.npy"])
            #expect(contents(input) == before)
        }
        let wide = try Run(["convert", input, "--sparsity", "0.5", "--eval-data", directory.file("wide.npy")])
        #expect(wide.status == 1)
        #expect(wide.stderrLines.first?.hasPrefix("error: \(directory.file("wide.npy")): ") == true, "\(wide.stderr)")
        let usage = try Run(["convert", input, "--sparsity", "0.5", "--eval-labels", Self.yTest])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("--eval-labels goes with --eval-data or --eval-features"))
        #expect(try directory.listing() == ["ids.npy", "model.h5", "short.npy", "wide.npy"])
    }
}
