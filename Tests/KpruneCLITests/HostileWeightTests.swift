import Foundation
import TestSupport
import Testing

/// Models whose weights were changed by `tools/make_hostile.py` (h5py, not Keras) so that one weight disagrees
/// with its layer's config or with the layer's input: the forward pass refuses each before or as the layer runs,
/// in one line naming the model file and the layer, through `predict` and `convert --data`; `inspect` reads them
/// without crashing. Nothing is written and the model is unchanged.
@Suite struct HostileWeightTests {
    struct Case: CustomTestStringConvertible, Sendable {
        /// The crafted model in fixtures/hostile.
        let file: String
        /// The model it was made from, in fixtures/inference/keras2, whose inputs it takes.
        let source: String
        /// The layer at fault, named in the error.
        let layer: String
        /// What the error says is wrong.
        let message: String
        var testDescription: String { file }

        /// The fixture's inputs, in fixtures/predict.
        var data: String {
            Fixtures.directory.appendingPathComponent("predict/inference_keras2_\(source)_h5.x.npy").path
        }

        /// The layer to convert: the recurrent model has two outputs, and `state_outputs` follows the crafted layers.
        var convertLayer: [String] { source == "recurrent" ? ["--layer", "state_outputs"] : [] }
    }

    static let cases: [Case] = [
        Case(
            file: "hostile_weight_dense_bias_short.h5", source: "image", layer: "dense_1",
            message: "layer dense_1 (Dense) has a bias of shape [4] for 5 outputs"),
        Case(
            file: "hostile_weight_dense_bias_long.h5", source: "image", layer: "dense_1",
            message: "layer dense_1 (Dense) has a bias of shape [6] for 5 outputs"),
        Case(
            file: "hostile_weight_dense_kernel_no_inputs.h5", source: "image", layer: "dense_1",
            message:
                "layer dense_1 (Dense) has no 2-D kernel with inputs and units (its weights have shapes [[0, 5], [5]])"),
        Case(
            file: "hostile_weight_dense_extra.h5", source: "image", layer: "dense_1",
            message: "layer dense_1 (Dense) has 3 weights; kprune's forward pass runs it with 2 at most"),
        Case(
            file: "hostile_weight_batchnorm_gamma_short.h5", source: "image", layer: "batch_normalization",
            message: "has weights of shapes [[3], [4], [4], [4]]; its config asks for 4 vectors of one length"),
        Case(
            file: "hostile_weight_batchnorm_features_short.h5", source: "image", layer: "batch_normalization",
            message: "layer batch_normalization normalizes 3 features, the input has shape [23, 6, 6, 4]"),
        Case(
            file: "hostile_weight_layernorm_gamma_short.h5", source: "image", layer: "layer_normalization",
            message: "has weights of shapes [[3], [4]]; its config asks for 2 vectors of one length (gamma, beta)"),
        Case(
            file: "hostile_weight_layernorm_features_short.h5", source: "image", layer: "layer_normalization",
            message: "layer layer_normalization normalizes 3 features, the input has shape [23, 3, 3, 4]"),
        Case(
            file: "hostile_weight_conv_kernel_3d.h5", source: "image", layer: "conv2d",
            message: "layer conv2d (Conv2D) has no convolution kernel of 4 axes (its shape: [9, 3, 4])"),
        Case(
            file: "hostile_weight_lstm_recurrent_gates.h5", source: "recurrent", layer: "lstm_2",
            message: "layer lstm_2 (LSTM) has a kernel of shape [3, 16] and a recurrent kernel of shape [4, 12]"),
        Case(
            file: "hostile_weight_gru_kernel_columns.h5", source: "recurrent", layer: "gru_2",
            message: "layer gru_2 (GRU) has a kernel of shape [3, 9] and a recurrent kernel of shape [4, 12]"),
        // 2^40 × 16 float32 declared, one gzip chunk of it stored: refused from its header, none of it read.
        Case(
            file: "hostile_weight_lstm_recurrent_2e40.h5", source: "recurrent", layer: "lstm_2",
            message: "the weight lstm_2/lstm_cell/recurrent_kernel:0 of lstm_2 is declared as shape [1099511627776, 16]"
        ),
        Case(
            file: "hostile_weight_embedding_empty.h5", source: "embedding", layer: "embedding",
            message: "layer embedding (Embedding) has no 2-D table (its weights have shapes [[0, 4]])"),
        Case(
            file: "hostile_weight_embedding_1d.h5", source: "embedding", layer: "embedding",
            message: "layer embedding (Embedding) has no 2-D table (its weights have shapes [[80]])"),
        Case(
            file: "hostile_weight_einsum_bias_shape.h5", source: "embedding", layer: "einsum_dense",
            message:
                "has weights of shapes [[4, 2, 3], [2, 2]]; its bias_axes 'de' ask for a kernel and a bias of shape [2, 3]"
        ),
    ]

    /// Runs `arguments(model, directory)` on a copy of the case's model in a fresh directory and checks the
    /// refusal: exit 1, nothing on stdout, one line naming the model and the layer, nothing written, the model
    /// unchanged.
    func expectRefused(_ testCase: Case, _ arguments: (String, TemporaryDirectory) -> [String]) throws {
        let directory = TemporaryDirectory()
        let model = try directory.copy(HostileInputTests.hostilePath(testCase.file))
        let before = contents(model)
        let run = try Run(arguments(model, directory))
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderrLines.count == 1, "one line: \(run.stderr)")
        let line = try #require(run.stderrLines.first)
        #expect(line.hasPrefix("error: \(model): "), "\(line)")
        #expect(line.contains(testCase.layer), "\(line)")
        #expect(line.contains(testCase.message), "\(line)")
        #expect(try directory.listing() == [testCase.file], "nothing written")
        #expect(contents(model) == before, "the model is unchanged")
    }

    @Test(arguments: cases)
    func predictRefuses(_ testCase: Case) throws {
        try expectRefused(testCase) { model, directory in
            ["predict", model, "--data", testCase.data, "-o", directory.file("p.npy")]
        }
    }

    @Test(arguments: cases)
    func convertWithDataRefuses(_ testCase: Case) throws {
        try expectRefused(testCase) { model, directory in
            ["convert", model, "--sparsity", "0.5", "--data", testCase.data, "-o", directory.file("out.h5")]
                + testCase.convertLayer
        }
    }

    /// `inspect` does not run the layers: it lists the model (exit 0), or refuses it in one line (exit 1),
    /// and never crashes.
    @Test(arguments: cases)
    func inspectDoesNotCrash(_ testCase: Case) throws {
        let run = try Run(["inspect", HostileInputTests.hostilePath(testCase.file)])
        #expect(run.status == 0 || run.status == 1, "\(run.status): \(run.stderr)")
        if run.status == 0 {
            #expect(run.stdout.contains(testCase.layer), "\(run.stdout)")
        } else {
            #expect(run.stderrLines.count == 1, "\(run.stderr)")
        }
    }

    /// The 2^40-row recurrent kernel is refused without allocating it: the run stays far below what even a
    /// slice of it would take.
    @Test func refusesAHugeRecurrentKernelWithoutAllocatingIt() throws {
        let directory = TemporaryDirectory()
        let huge = try #require(Self.cases.first { $0.file == "hostile_weight_lstm_recurrent_2e40.h5" })
        let (status, peak) = try HostileInputTests.peakResidentKiB([
            "predict", HostileInputTests.hostilePath(huge.file), "--data", huge.data, "-o", directory.file("p.npy"),
        ])
        #expect(status == 1)
        #expect(peak < 200 * 1024, "peak RSS of kprune and its child \(peak) KiB")
        #expect(try directory.listing().isEmpty)
    }
}
