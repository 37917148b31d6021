import ArrayIO
import Foundation
import TestSupport
import Testing

/// `kprune predict`, end to end: the outputs real Keras gave for the same inputs, one line on failure.
@Suite struct PredictCommandTests {
    static let predictions = Fixtures.directory.appendingPathComponent("predict")

    @Test(arguments: [
        ("keras2/functional.h5", "keras2_functional_h5"), ("keras3/nested.keras", "keras3_nested_keras"),
        ("calibration/wine/model.h5", "calibration_wine"),
    ])
    func writesKerasOutputs(_ model: String, _ name: String) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.npy")
        let run = try Run([
            "predict", Fixtures.directory.appendingPathComponent(model).path,
            "--data", Self.predictions.appendingPathComponent(name + ".x.npy").path,
            "-o", output, "--batch-size", "7",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let written = try ArraySource.open(output)
        let expected = try ArraySource.open(Self.predictions.appendingPathComponent(name + ".y.npy").path)
        #expect(written.shape == expected.shape)
        let worst = zip(try written.readAll(), try expected.readAll()).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(worst <= 1e-4)
        #expect(try directory.listing() == ["out.npy"])
    }

    @Test func anUnknownLayerIsOneLineAndNothingIsWritten() throws {
        let directory = TemporaryDirectory()
        let model = Fixtures.directory.appendingPathComponent("inference/keras3/conv_lstm.keras").path
        writeNPY(directory.file("x.npy"), rows: 3, columns: 48, values: [Float](repeating: 0.5, count: 144))
        let run = try Run(["predict", model, "--data", directory.file("x.npy"), "-o", directory.file("y.npy")])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderrLines.first?.contains("ConvLSTM1D") == true)
        #expect(run.stderrLines.first?.contains("--features") == true)
        #expect(try directory.listing() == ["x.npy"])
    }

    /// A model with two inputs takes one `--data` per input, in the model's order; a wrong count, or arrays
    /// of different lengths, are one line.
    @Test(arguments: [
        ("keras2/two_inputs.h5", "keras2_two_inputs_h5"), ("keras3/two_inputs.keras", "keras3_two_inputs_keras"),
    ])
    func takesOneArrayPerInput(_ file: String, _ name: String) throws {
        let directory = TemporaryDirectory()
        let model = Fixtures.directory.appendingPathComponent("inference/" + file).path
        let image = Self.predictions.appendingPathComponent("inference_\(name).x.image.npy").path
        let features = Self.predictions.appendingPathComponent("inference_\(name).x.features.npy").path
        let run = try Run([
            "predict", model, "--data", image, "--data", features, "-o", directory.file("y.npy"),
            "--batch-size", "5",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let written = try ArraySource.open(directory.file("y.npy"))
        let expected = try ArraySource.open(Self.predictions.appendingPathComponent("inference_\(name).y.npy").path)
        #expect(written.shape == expected.shape)
        let worst = zip(try written.readAll(), try expected.readAll()).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(worst <= 1e-4)

        let one = try Run(["predict", model, "--data", image, "-o", directory.file("z.npy")])
        #expect(one.status == 1)
        #expect(one.stderrLines.count == 1 && one.stderr.contains("takes 2 inputs"), "\(one.stderr)")
        writeNPY(directory.file("short.npy"), rows: 3, columns: 5, values: [Float](repeating: 0.5, count: 15))
        let short = try Run([
            "predict", model, "--data", image, "--data", directory.file("short.npy"), "-o",
            directory.file("z.npy"),
        ])
        #expect(short.status == 1)
        #expect(short.stderrLines.count == 1 && short.stderr.contains("holds 3 samples"), "\(short.stderr)")
        #expect(try directory.listing() == ["short.npy", "y.npy"])
    }

    @Test func rowsThatDoNotFitTheInputAreRefused() throws {
        let directory = TemporaryDirectory()
        writeNPY(directory.file("x.npy"), rows: 3, columns: 5, values: [Float](repeating: 0.5, count: 15))
        let run = try Run([
            "predict", Fixtures.named("keras2/sequential.h5").path, "--data", directory.file("x.npy"),
            "-o", directory.file("y.npy"),
        ])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderrLines.first?.contains("do not fit the model's input of shape [8]") == true)
        #expect(try directory.listing() == ["x.npy"])
    }

    /// The work is done in a child process: a crash there is the model's one-line error, and the child's
    /// temporary entries are removed.
    @Test func aCrashIsOneLineAndLeavesNothing() throws {
        let directory = TemporaryDirectory()
        let model = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "crashing.h5")
        writeNPY(directory.file("x.npy"), rows: 3, columns: 8, values: [Float](repeating: 0.5, count: 24))
        let run = try Run(
            ["predict", model, "--data", directory.file("x.npy"), "-o", directory.file("y.npy")],
            environment: ["KPRUNE_TEST_HOOKS": "1", "KPRUNE_TEST_CRASH_ON": "crashing.h5"])
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: \(model): kprune stopped on this file (signal 11: Segmentation fault) "
                    + "(the file may be corrupt)"
            ])
        #expect(try directory.listing().sorted() == ["crashing.h5", "x.npy"])
    }
}
