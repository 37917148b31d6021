import FileOutput
import FineTune
import Foundation
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// Runs conversions: one layer's kernel given an exact zero count, by magnitude or by a fine-tune on
/// calibration data, written to a new file atomically.
public enum Converter {
    /// Converts one file.
    ///
    /// The input is only ever opened for reading. The output is written to a file that has no name until it
    /// is complete; any failure removes it.
    /// - Parameter observer: told when the input's structure has been read and as the work advances.
    /// - Throws: `KerasFormatError`, `PruningError`, `OutputError`, `DataError` or `HDF5Error`, each naming
    ///   what is wrong.
    public static func convert(_ request: ConversionRequest, observer: (any PruningObserver)? = nil) throws
        -> ConversionReport
    {
        let clock = ContinuousClock.now
        try checkOutputPath(request)
        // A name Keras would not load is refused before any work; in place, the name is the input's.
        let model = try KerasModel.open(request.input, stagingDirectory: PathComponents.directory(of: request.output)) {
            if !request.inPlace { try OutputName.check(output: request.output, for: $0, input: request.input) }
        }
        let plan = try ConversionPlan(request: request, model: model)
        let output = try plan.reserveOutput()
        defer { output.discard() }
        observer?.structureRead()
        // Evaluation data is checked, and the dense model read, before anything is written.
        let blas = BLAS(threads: Workers.available)
        let evaluation = try request.evaluation.map { try Evaluation(plan, data: $0, blas: blas) }
        let outcome =
            if let calibration = request.calibration, request.fineTunes {
                try FineTunedPruning.run(plan, calibration: calibration, output: output, observer: observer)
            } else {
                try DataFreePruning.run(plan, output: output, observer: observer)
            }
        guard outcome.written.zeros == plan.targetZeros else {
            throw PruningError(
                .invalidTarget,
                "wrote \(outcome.written.zeros) zeros in \(plan.kernel.dataset), "
                    + "not the target \(plan.targetZeros)",
                hint: "the kernel changed while it was read")
        }
        // Scored before the output is named: evaluation data that does not fit leaves nothing written.
        let eval = try evaluation?.run(plan, written: outcome.tuned, blas: blas)
        try output.commit()
        return ConversionReport(
            plan, outcome: outcome, eval: eval, seconds: (ContinuousClock.now - clock) / .seconds(1))
    }

    /// Refuses outputs that cannot be written as asked (see `OutputPath.check`) and an output that is the
    /// input itself unless the request is in place. Runs at the start of each conversion, since files may come
    /// and go.
    static func checkOutputPath(_ request: ConversionRequest) throws {
        var outputInfo = stat()
        var inputInfo = stat()
        if stat(request.output, &outputInfo) == 0, stat(request.input, &inputInfo) == 0,
            inputInfo.st_dev == outputInfo.st_dev, inputInfo.st_ino == outputInfo.st_ino, !request.inPlace
        {
            throw OutputError(.outputIsInput, path: request.output, "output is the input file")
        }
        try OutputPath.check(request.output, replacing: request.overwrite || request.inPlace)
    }

    /// The default output path beside the input: `m.h5` -> `m.pruned.h5`, `m.keras` -> `m.pruned.keras`,
    /// `w.weights.h5` -> `w.pruned.weights.h5`; other names get `.pruned` before their last extension. With
    /// `directory`, the same name in that directory.
    public static func defaultOutputPath(for input: String, directory: String? = nil) -> String {
        let name = PathComponents.lastComponent(of: input)
        let base: String
        if name.hasSuffix(".weights.h5") {
            base = String(name.dropLast(".weights.h5".count)) + ".pruned.weights.h5"
        } else if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            base = name[..<dot] + ".pruned" + name[dot...]
        } else {
            base = name + ".pruned"
        }
        if let directory { return PathComponents.joining(directory, base) }
        return input.contains("/") ? PathComponents.joining(PathComponents.directory(of: input), base) : base
    }
}
