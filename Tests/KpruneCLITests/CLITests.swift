import Foundation
import TestSupport
import Testing

/// Runs the built `kprune` and captures what it printed.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String

    /// The `kprune` binary beside the test bundle in the build products directory.
    static let binary: String = {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [products, products.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("kprune").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        preconditionFailure("kprune not found near \(products.path)")
    }()

    /// Runs `kprune` (or `executable`, given all its arguments after the first) with `arguments`, in
    /// `environment` when given.
    init(
        _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil,
        executable: String? = nil
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? Run.binary)
        process.arguments = executable == nil ? arguments : Array(arguments.dropFirst())
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }

    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

@Suite struct ConvertCommandTests {
    @Test func writesBesideTheInputAndReportsOneLine() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let run = try Run(["convert", input, "--sparsity", "0.8"])
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty)
        #expect(try directory.listing() == ["sequential.h5", "sequential.pruned.h5"])
        #expect(run.stdout.contains("zeros 0 -> 51 of 64"))
    }

    @Test func printsOneSortedJSONObjectPerInput() throws {
        let directory = TemporaryDirectory()
        let first = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let second = try directory.copy(Fixtures.named("keras3/nested.keras").path)
        let run = try Run(["convert", first, second, "--zeros", "7", "--output-dir", directory.path, "--json"])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for key in [
                "input", "output", "layer", "kernel_shape", "dtype", "size", "zeros_before", "zeros_after",
                "target_zeros", "method", "seconds",
            ] {
                #expect(object[key] != nil, "key \(key)")
            }
            #expect(object["zeros_after"] as? Int == 7)
            #expect(object["method"] as? String == "magnitude")
            let text = String(line)
            let pattern = try NSRegularExpression(pattern: #""([a-z_]+)":"#)
            let keys = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
                Range($0.range(at: 1), in: text).map { String(text[$0]) }
            }
            #expect(keys.count == object.count)
            #expect(keys == keys.sorted(), "keys are sorted")
        }
        #expect(
            try directory.listing() == [
                "nested.keras", "nested.pruned.keras", "sequential.h5",
                "sequential.pruned.h5",
            ])
    }

    @Test func replacesOnlyWhenAsked() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        #expect(try Run(["convert", input, "--sparsity", "0.5"]).status == 0)
        let output = directory.file("sequential.pruned.h5")
        let first = contents(output)
        let refused = try Run(["convert", input, "--sparsity", "0.9"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("already exists"))
        #expect(contents(output) == first)
        #expect(try Run(["convert", input, "--sparsity", "0.9", "--force"]).status == 0)
        #expect(contents(output) != first)

        let original = contents(input)
        let inPlace = try Run(["convert", input, "--sparsity", "0.25", "--in-place", "--json"])
        #expect(inPlace.status == 0)
        #expect(contents(input) != original)
        #expect(inPlace.stdout.contains("\"zeros_after\":16"))
        #expect(try directory.listing() == ["sequential.h5", "sequential.pruned.h5"])
    }

    @Test func continuesPastAFailedInputAndExitsNonZero() throws {
        let directory = TemporaryDirectory()
        let good = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let bad = try directory.copy(Fixtures.named("malformed/not_keras.h5").path)
        let run = try Run(["convert", bad, good, "--sparsity", "0.5"])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderrLines.first?.hasPrefix("error: \(bad): ") == true)
        #expect(FileManager.default.fileExists(atPath: directory.file("sequential.pruned.h5")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("not_keras.pruned.h5")))
    }

    @Test func asksForALayerWhenTheFileCannotSay() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/multi_output.keras").path)
        let run = try Run(["convert", input, "--sparsity", "0.5"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("2 outputs"))
        #expect(run.stderr.contains("--layer"))
        let chosen = try Run(["convert", input, "--sparsity", "0.5", "--layer", "out_a"])
        #expect(chosen.status == 0)
    }
}

/// Each bad input: a one-line error naming the file, a non-zero exit, the input unchanged, nothing written.
@Suite struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// Prepares the input in the directory and returns the command's arguments.
        let arguments: @Sendable (TemporaryDirectory) throws -> [String]
        let status: Int32
        let message: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "not an HDF5 file",
            arguments: { directory in
                let path = directory.file("model.h5")
                try Data("not a model\n".utf8).write(to: URL(fileURLWithPath: path))
                return [path, "--sparsity", "0.5"]
            }, status: 1, message: "not an HDF5 file"),
        Case(
            name: "truncated HDF5 file",
            arguments: { directory in
                let path = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.truncate(atOffset: 10_000)
                try handle.close()
                return [path, "--sparsity", "0.5"]
            }, status: 1, message: "truncated or corrupt"),
        Case(
            name: "HDF5 without Keras structure",
            arguments: { directory in
                [try directory.copy(Fixtures.named("malformed/not_keras.h5").path), "--sparsity", "0.5"]
            }, status: 1, message: "without Keras structure"),
        Case(
            name: "unknown --layer",
            arguments: { directory in
                [
                    try directory.copy(Fixtures.named("keras2/sequential.h5").path), "--sparsity", "0.5", "--layer",
                    "nope",
                ]
            }, status: 1, message: "no layer named 'nope'"),
        Case(
            name: "sparsity above 1",
            arguments: { directory in
                [try directory.copy(Fixtures.named("keras2/sequential.h5").path), "--sparsity", "1.5"]
            }, status: 64, message: "outside [0, 1]"),
        Case(
            name: "negative sparsity",
            arguments: { directory in
                [try directory.copy(Fixtures.named("keras2/sequential.h5").path), "--sparsity=-0.1"]
            }, status: 64, message: "outside [0, 1]"),
        Case(
            name: "--zeros above the kernel size",
            arguments: { directory in
                [try directory.copy(Fixtures.named("keras2/sequential.h5").path), "--zeros", "65"]
            }, status: 1, message: "exceed the kernel size 64"),
        Case(
            name: "missing output directory",
            arguments: { directory in
                [
                    try directory.copy(Fixtures.named("keras3/sequential.keras").path), "--sparsity", "0.5",
                    "--output-dir", directory.file("missing"),
                ]
            }, status: 1, message: "does not exist"),
        Case(
            name: "read-only output directory",
            arguments: { directory in
                let input = try directory.copy(Fixtures.named("keras3/sequential.keras").path)
                // root ignores permission bits; sysfs refuses new files to everyone.
                if geteuid() == 0 { return [input, "--sparsity", "0.5", "--output-dir", "/sys"] }
                let readOnly = directory.file("readonly")
                try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: false)
                chmod(readOnly, 0o555)
                return [input, "--sparsity", "0.5", "--output-dir", readOnly]
            }, status: 1, message: "cannot write in"),
        Case(
            name: "output equal to the input",
            arguments: { directory in
                let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
                return [input, "--sparsity", "0.5", "-o", input]
            }, status: 1, message: "output is the input file"),
        Case(
            name: "NaN in the kernel",
            arguments: { directory in
                [try directory.copy(Fixtures.named("keras2/nan.h5").path), "--sparsity", "0.5"]
            }, status: 1, message: "NaN"),
        Case(
            name: "more zeros than the target without data",
            arguments: { directory in
                let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
                #expect(
                    try Run(["convert", input, "--sparsity", "0.9", "-o", directory.file("sparse.h5")]).status == 0)
                try FileManager.default.removeItem(atPath: input)
                return [directory.file("sparse.h5"), "--sparsity", "0.5"]
            }, status: 1, message: "regrowing weights needs calibration data"),
        Case(
            name: ".keras input with an .h5 output",
            arguments: { directory in
                [
                    try directory.copy(Fixtures.named("keras3/sequential.keras").path), "--sparsity", "0.5",
                    "-o", directory.file("out.h5"),
                ]
            }, status: 1,
            message:
                "does not end in .keras, so Keras would not load it as the keras3-keras file it is (name the output "),
        Case(
            name: "Keras 3 .weights.h5 input with a plain .h5 output",
            arguments: { directory in
                [
                    try directory.copy(Fixtures.named("keras3/sequential.weights.h5").path), "--sparsity", "0.5",
                    "--layer", "dense_1", "-o", directory.file("w.h5"),
                ]
            }, status: 1, message: "does not end in .weights.h5"),
        Case(
            name: ".h5 input with a .keras output",
            arguments: { directory in
                [
                    try directory.copy(Fixtures.named("keras2/sequential.h5").path), "--sparsity", "0.5",
                    "-o", directory.file("out.keras"),
                ]
            }, status: 1, message: "does not end in .h5 or .hdf5"),
        Case(
            name: "final Dense with a 1-D kernel (h5py copy)",
            arguments: { directory in
                [
                    try directory.copy(Fixtures.directory.appendingPathComponent("extra/malformed/kernel_1d.h5").path),
                    "--sparsity", "0.5",
                ]
            }, status: 1, message: "the final layer 'dense_1' (Dense): its kernel 'dense_1/kernel:0' is 1-D"),
        Case(
            name: "final Dense whose kernel is a soft link (h5py copy)",
            arguments: { directory in
                [
                    try directory.copy(
                        Fixtures.directory.appendingPathComponent("extra/malformed/kernel_soft_link.h5").path),
                    "--sparsity", "0.5",
                ]
            }, status: 1, message: "is a soft link to /model_weights/dense/dense/kernel:0"),
        Case(
            name: "final Dense with empty weight_names (h5py copy)",
            arguments: { directory in
                [
                    try directory.copy(
                        Fixtures.directory.appendingPathComponent("extra/malformed/empty_weight_names.h5").path),
                    "--sparsity", "0.5",
                ]
            }, status: 1, message: "the final layer 'dense_1' (Dense): it has no weights in the file"),
        Case(
            name: "recurrent last layer",
            arguments: { directory in
                [try directory.copy(Fixtures.named("extra/keras3/lstm_last.keras").path), "--sparsity", "0.5"]
            }, status: 1, message: "the last weighted layer 'lstm' (LSTM) is recurrent"),
        Case(
            name: "no such file",
            arguments: { directory in
                [directory.file("absent.h5"), "--sparsity", "0.5"]
            }, status: 1, message: "no such file"),
    ]

    @Test(arguments: cases)
    func failsCleanly(_ testCase: Case) throws {
        let directory = TemporaryDirectory()
        let arguments = try testCase.arguments(directory)
        let input = arguments[0]
        let before = try directory.listing()
        let bytes = contents(input)
        let run = try Run(["convert"] + arguments)
        #expect(run.status == testCase.status)
        #expect(run.stdout.isEmpty)
        if testCase.status == 64 {
            #expect(run.stderr.contains(testCase.message))
        } else {
            #expect(run.stderrLines.count == 1, "one line: \(run.stderr)")
            #expect(run.stderrLines.first?.hasPrefix("error: ") == true)
            #expect(run.stderr.contains(testCase.message), "\(run.stderr)")
            #expect(
                run.stderr.contains(URL(fileURLWithPath: input).lastPathComponent) || run.stderr.contains("/sys")
                    || run.stderr.contains("missing"))
        }
        #expect(contents(input) == bytes, "the input is unchanged")
        #expect(try directory.listing() == before, "nothing is left behind")
    }

    @Test func refusesMissingCalibrationDataInOneLine() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let missing = directory.file("h.npy")
        let run = try Run(["convert", input, "--sparsity", "0.5", "--features", missing])
        #expect(run.status == 1)
        #expect(run.stderrLines == ["error: \(missing): no such file \(missing)"])
        #expect(try directory.listing() == ["sequential.h5"])
    }

    @Test func usageErrorsExitWith64() throws {
        #expect(try Run(["convert", "m.h5", "--sparsity", "0.5", "--labels", "y.npy"]).status == 64)
        #expect(try Run(["convert", "m.h5", "--sparsity", "0.5", "--method", "mask"]).status == 64)
        #expect(try Run(["convert", "m.h5", "--sparsity", "0.5", "--method", "l2"]).status == 64)
        #expect(
            try Run(["convert", "m.h5", "--sparsity", "0.5", "--features", "h.npy", "--validation-split", "1"])
                .status == 64)
        #expect(try Run(["convert", "m.h5", "--sparsity", "0.5", "--features", "h.npy", "--epochs", "0"]).status == 64)
        #expect(try Run(["convert", "m.h5"]).status == 64)
        #expect(try Run(["convert", "m.h5", "--sparsity", "0.5", "--zeros", "3"]).status == 64)
        #expect(try Run(["convert", "a.h5", "b.h5", "--sparsity", "0.5", "-o", "x.h5"]).status == 64)
        #expect(try Run(["convert", "a.h5", "--sparsity", "0.5", "--in-place", "-o", "x.h5"]).status == 64)
        let both = try Run(["convert", "m.h5", "--sparsity", "0.5", "--features", "h.npy", "--data", "x.npy"])
        #expect(both.status == 64)
        #expect(both.stderr.contains("not both"))
    }

    /// `--data`: the model's own inputs; the JSON report notes where the rows came from, and an unknown
    /// layer before the final one is one line pointing at `--features`.
    @Test func fineTunesFromTheModelsInputs() throws {
        let directory = TemporaryDirectory()
        let calibration = Fixtures.directory.appendingPathComponent("calibration")
        let model = try directory.copy(calibration.appendingPathComponent("digits_cnn/model.h5").path, as: "cnn.h5")
        let x = calibration.appendingPathComponent("digits_raw/x_train.npy").path
        let y = calibration.appendingPathComponent("digits_raw/y_train.npy").path
        let run = try Run([
            "convert", model, "--sparsity", "0.9", "--data", x, "--labels", y, "--json",
            "--epochs", "20",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["zeros_after"] as? Int == 2592)
        #expect((report["notes"] as? [String])?.contains { $0.contains("mean patch") } == true)
        #expect(try directory.listing() == ["cnn.h5", "cnn.pruned.h5"])

        // A layer the forward pass does not know: the model is refused before any output.
        let lambda = try directory.copy(calibration.appendingPathComponent("custom_layer/model.h5").path)
        let refused = try Run(["convert", lambda, "--sparsity", "0.5", "--data", x])
        #expect(refused.status == 1)
        #expect(refused.stderrLines.count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("--features"))
    }
}

@Suite struct FineTuneCommandTests {
    @Test func reportsBeforeAndAfterOnTheHeldOutRows() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        var values: [Float] = []
        for row in 0..<120 { for column in 0..<16 { values.append(Float((row * 7 + column * 3) % 11) / 5 - 1) } }
        writeNPY(directory.file("h.npy"), rows: 120, columns: 16, values: values)
        let run = try Run([
            "convert", input, "--sparsity", "0.75", "--features", directory.file("h.npy"), "--epochs", "5",
            "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["zeros_after"] as? Int == 48)
        #expect(object["method"] as? String == "mask")
        let tune = try #require(object["fine_tune"] as? [String: Any])
        #expect(tune["held_out_samples"] as? Int == 12)
        #expect(tune["train_samples"] as? Int == 108)
        for side in ["before", "after"] {
            let metrics = try #require(tune[side] as? [String: Any])
            #expect(metrics["loss"] is Double && metrics["agreement"] is Double)
        }
        let text = try Run([
            "convert", input, "--sparsity", "0.75", "--features", directory.file("h.npy"), "--epochs", "5",
            "--force",
        ])
        #expect(text.stdout.contains("held-out calibration rows (12 samples): before loss"))
        #expect(
            text.stdout.contains(
                "loss: mean squared error, following the linear activation of layer 'dense_1'"))
    }

    @Test func reportsTheActivationOfALayerAfterTheFinalOne() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/trailing_activation.keras").path)
        var values: [Float] = []
        for row in 0..<100 { for column in 0..<16 { values.append(Float((row * 5 + column * 3) % 13) / 6 - 1) } }
        writeNPY(directory.file("h.npy"), rows: 100, columns: 16, values: values)
        writeNPY(directory.file("y.npy"), rows: 100, columns: 1, values: (0..<100).map { Float($0 % 4) })
        let arguments = [
            "convert", input, "--sparsity", "0.5", "--features", directory.file("h.npy"),
            "--labels", directory.file("y.npy"), "--epochs", "3",
        ]
        let run = try Run(arguments + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["layer"] as? String == "dense_1")
        let tune = try #require(object["fine_tune"] as? [String: Any])
        #expect(tune["activation"] as? String == "softmax")
        #expect(tune["activation_layer"] as? String == "activation")
        #expect(tune["objective"] as? String == "cross-entropy")
        let text = try Run(arguments + ["--force"])
        #expect(text.stdout.contains("loss: cross-entropy, following the softmax activation of layer 'activation'"))
    }

    @Test func refusesSoftmaxLabelRowsThatAreNotDistributionsInOneLine() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/trailing_softmax.h5").path)
        writeNPY(directory.file("h.npy"), rows: 40, columns: 16, values: (0..<640).map { Float($0 % 9) / 9 - 0.4 })
        var rows = (0..<40).flatMap { row in (0..<4).map { Float($0 == row % 4 ? 1 : 0) } }
        rows[4 * 33 + 1] = -1  // row 33: [-1, 1, 0, 1] sums to 1 but is not a distribution
        rows[4 * 33 + 3] = 1
        writeNPY(directory.file("y.npy"), rows: 40, columns: 4, values: rows)
        let run = try Run([
            "convert", input, "--sparsity", "0.5", "--features", directory.file("h.npy"),
            "--labels", directory.file("y.npy"), "--epochs", "1",
        ])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1, "\(run.stderr)")
        #expect(
            run.stderrLines.first?.hasPrefix("error: \(directory.file("y.npy")): label row 33 ") == true,
            "\(run.stderr)")
        #expect(try directory.listing() == ["h.npy", "trailing_softmax.h5", "y.npy"])
    }

    @Test func refusesToFineTuneThroughALayerItCannotFollow() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/trailing_rescaling.keras").path)
        writeNPY(directory.file("h.npy"), rows: 20, columns: 16, values: (0..<320).map { Float($0 % 7) / 7 })
        let run = try Run(["convert", input, "--sparsity", "0.5", "--features", directory.file("h.npy")])
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: \(input): dense_1's outputs reach the model's output through rescaling (Rescaling), which changes "
                    + "them in a way the fine-tune's loss cannot follow (use --method magnitude)"
            ])
        #expect(try directory.listing() == ["h.npy", "trailing_rescaling.keras"])
        let magnitude = try Run([
            "convert", input, "--sparsity", "0.5", "--features", directory.file("h.npy"),
            "--method", "magnitude",
        ])
        #expect(magnitude.status == 0, "\(magnitude.stderr)")
    }
}

@Suite struct InspectCommandTests {
    @Test(arguments: Fixtures.all.filter { $0.format != "not-keras" })
    func reportsTheFinalLayerAndKernel(_ fixture: Fixture) throws {
        let run = try Run(["inspect", fixture.path, "--json"])
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? String == fixture.format)
        let layers = try #require(object["layers"] as? [[String: Any]])
        if fixture.needsLayer == true {
            #expect(object["final_layer"] == nil || object["final_layer"] is NSNull)
            #expect(object["final_layer_problem"] as? String != nil)
        } else {
            #expect(object["final_layer"] as? String == fixture.layerArgument)
            let final = try #require(layers.first { $0["final"] as? Bool == true })
            let weights = try #require(final["weights"] as? [[String: Any]])
            let kernel = try #require(weights.first { $0["role"] as? String == "kernel" })
            #expect(kernel["shape"] as? [Int] == fixture.kernelShape || fixture.file.contains("separable"))
        }
    }

    @Test func outputsEndingAsTheFormatDemandsAreWritten() throws {
        let directory = TemporaryDirectory()
        let weights = try directory.copy(Fixtures.named("keras3/sequential.weights.h5").path)
        #expect(
            try Run([
                "convert", weights, "--sparsity", "0.5", "--layer", "dense_1",
                "-o", directory.file("ok.weights.h5"),
            ]).status == 0)
        let h5 = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        #expect(try Run(["convert", h5, "--sparsity", "0.5", "-o", directory.file("ok.hdf5")]).status == 0)
        let archive = try directory.copy(Fixtures.named("keras3/sequential.keras").path)
        #expect(try Run(["convert", archive, "--sparsity", "0.5", "-o", directory.file("ok.keras")]).status == 0)
    }

    @Test func listsEveryWeightNestedBelowALayer() throws {
        let run = try Run(["inspect", Fixtures.named("extra/keras3/bidirectional.keras").path, "--json"])
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["layer_order"] as? String == "forward")
        let layers = try #require(object["layers"] as? [[String: Any]])
        let wrapper = try #require(layers.first { $0["name"] as? String == "bigru" })
        let names = (wrapper["weights"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(
            names == [
                "forward_layer/cell/vars/0", "forward_layer/cell/vars/1", "forward_layer/cell/vars/2",
                "backward_layer/cell/vars/0", "backward_layer/cell/vars/1", "backward_layer/cell/vars/2",
            ])
        let text = try Run(["inspect", Fixtures.named("extra/keras3/bidirectional.keras").path])
        #expect(text.stdout.contains("      backward_layer/cell/vars/2 (2, 18) float32 zeros=0"))
    }

    @Test func saysAWeightsFileListsLayersInItsOwnOrder() throws {
        let path = Fixtures.named("keras3/many_layers.weights.h5").path
        let text = try Run(["inspect", path])
        #expect(text.status == 0)
        #expect(text.stdout.contains("layers in the file's order, not the forward order (the file has no config):"))
        #expect(!text.stdout.contains("layers in forward order"))
        let json = try Run(["inspect", path, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["layer_order"] as? String == "file")
        let forward = try Run(["inspect", Fixtures.named("keras3/many_layers.keras").path])
        #expect(forward.stdout.contains("layers in forward order:"))
    }

    @Test func marksALinkedKernelAndDoesNotFollowIt() throws {
        let path = Fixtures.directory.appendingPathComponent("extra/malformed/kernel_soft_link.h5").path
        let run = try Run(["inspect", path])
        #expect(run.status == 0)
        #expect(run.stdout.contains("final layer: none (the final layer 'dense_1' (Dense): its kernel"))
        #expect(run.stdout.contains("(a soft link to /model_weights/dense/dense/kernel:0, not followed)"))
    }

    @Test func failsWithOneLineOnBadInput() throws {
        let run = try Run(["inspect", Fixtures.named("malformed/not_keras.h5").path])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderr.hasPrefix("error: "))
    }
}
