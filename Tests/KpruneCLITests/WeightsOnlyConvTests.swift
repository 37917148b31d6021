import Foundation
import TestSupport
import Testing

/// A weights-only file has no config to say what a layer is: a kernel of more than two dimensions is a
/// convolution's (Keras's `(k..., in, out)`), fine-tuned on patches (tools/make_weights_only_conv.py).
@Suite struct WeightsOnlyConvTests {
    static let directory = Fixtures.directory.appendingPathComponent("calibration/conv1d_weights_only")

    @Test func aConv1DHeadIsFineTunedOnPatches() throws {
        let output = TemporaryDirectory()
        let run = try Run([
            "convert", Self.directory.appendingPathComponent("weights.h5").path, "--layer", "head",
            "--sparsity", "0.5", "--features", Self.directory.appendingPathComponent("h.npy").path,
            "-o", output.file("out.h5"),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("head kernel 2x4x5 float32, zeros 0 -> 20 of 40"), "\(run.stdout)")
        #expect(
            run.stdout.contains("note: no model config: the layer was taken as a convolution whose rows are patches"))
        #expect(try output.listing() == ["out.h5"])
    }

    @Test func patchesOfTheWrongWidthAreOneLine() throws {
        let output = TemporaryDirectory()
        writeNPY(output.file("h.npy"), rows: 16, columns: 12, values: [Float](repeating: 0.5, count: 192))
        let run = try Run([
            "convert", Self.directory.appendingPathComponent("weights.h5").path, "--layer", "head",
            "--sparsity", "0.5", "--features", output.file("h.npy"), "-o", output.file("out.h5"),
        ])
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: \(output.file("h.npy")): features have 12 columns but the layer takes 8 "
                    + "inputs (give the final layer's inputs, one row per sample)"
            ])
        #expect(try output.listing() == ["h.npy"])
    }
}
