import Foundation
import TestSupport
import Testing

/// The commands on models with tf_keras's TensorFlow-op layers (tools/make_tfop_fixtures.py).
@Suite struct OperationLayerCommandTests {
    static let fixtures = Fixtures.directory.appendingPathComponent("inference/keras2")
    static let inputs = Fixtures.directory.appendingPathComponent("predict/inference_keras2_tfop_mixed_h5.x.npy").path

    /// `convert --data` runs the ops before the final Dense layer to get its inputs, and writes exactly the
    /// zeros it reports: 60% of the head's 25 × 3 kernel.
    @Test func convertsFromTheModelsInputs() throws {
        let directory = TemporaryDirectory()
        let model = try directory.copy(Self.fixtures.appendingPathComponent("tfop_mixed.h5").path, as: "m.h5")
        let run = try Run(["convert", model, "--sparsity", "0.6", "--data", Self.inputs, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["layer"] as? String == "head")
        #expect(report["zeros_after"] as? Int == 45)
        let kernel = try #require(try datasetValues(directory.file("m.pruned.h5"))["/model_weights/head/head/kernel:0"])
        #expect(kernel.count == 75)
        #expect(kernel.filter { $0 == 0 }.count == 45)
    }

    /// A function the forward pass does not run: `predict` and `convert --data` exit 1 with one line naming the
    /// layer and the function, and write nothing.
    @Test func refusesAFunctionInOneLine() throws {
        let directory = TemporaryDirectory()
        let model = try directory.copy(Self.fixtures.appendingPathComponent("tfop_erf.h5").path, as: "erf.h5")
        for arguments in [
            ["predict", model, "--data", Self.inputs, "-o", directory.file("p.npy")],
            ["convert", model, "--sparsity", "0.5", "--data", Self.inputs],
        ] {
            let run = try Run(arguments)
            #expect(run.status == 1)
            #expect(run.stderrLines.count == 1, "\(run.stderr)")
            #expect(
                run.stderr.hasPrefix(
                    "error: \(model): layer tf.math.erf (TFOpLambda) calls tf.math.erf, which "
                        + "kprune's forward pass does not run"))
        }
        #expect(try directory.listing() == ["erf.h5"])
    }
}
