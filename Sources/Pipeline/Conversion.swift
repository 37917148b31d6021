import FileOutput
public import FineTune
public import Sparsity
import Numerics
public import KerasFormat
import Foundation
import HDF5

/// One `kprune convert` job: which file, where to, how many zeros, which layer.
public struct ConversionRequest: Sendable {
    public var input: String
    public var output: String
    public var target: ZeroTarget
    /// `--layer`: a layer name or nested path; nil for the final layer.
    public var layer: String?
    /// Replace an existing output (`--force`).
    public var overwrite: Bool
    /// The output may be the input itself (`--in-place`).
    public var inPlace: Bool
    /// Calibration data for a fine-tune; nil for data-free magnitude pruning.
    public var calibration: Calibration?

    public init(input: String, output: String, target: ZeroTarget, layer: String? = nil, overwrite: Bool = false,
                inPlace: Bool = false, calibration: Calibration? = nil)
    {
        self.input = input
        self.output = output
        self.target = target
        self.layer = layer
        self.overwrite = overwrite
        self.inPlace = inPlace
        self.calibration = calibration
    }
}

/// Calibration data and how to fine-tune with it.
public struct Calibration: Sendable {
    /// The final layer's inputs, one row per sample: `h.npy`, `h.npz:name` or `h.h5:/path`.
    public var features: String
    /// Class ids, one-hot rows or regression targets, one row per sample.
    public var labels: String?
    public var options: FineTuneOptions

    public init(features: String, labels: String? = nil, options: FineTuneOptions = FineTuneOptions()) {
        self.features = features
        self.labels = labels
        self.options = options
    }
}

/// What a conversion did. Keys of its JSON form are stable, snake_case.
public struct ConversionReport: Sendable, Encodable {
    public var input: String
    public var output: String
    public var format: String
    public var layer: String
    public var kernelDataset: String
    public var kernelShape: [Int]
    public var dtype: String
    public var size: Int
    public var zerosBefore: Int
    public var zerosAfter: Int
    public var targetZeros: Int
    public var method: String
    public var optimizerSlots: Int
    public var passes: Int
    public var seconds: Double
    public var notes: [String]
    /// Before and after on the held-out calibration samples, when data was given.
    public var fineTune: FineTuneReport?

    enum CodingKeys: String, CodingKey {
        case input, output, format, layer, dtype, size, method, passes, seconds, notes
        case fineTune = "fine_tune"
        case kernelDataset = "kernel_dataset", kernelShape = "kernel_shape", zerosBefore = "zeros_before"
        case zerosAfter = "zeros_after", targetZeros = "target_zeros", optimizerSlots = "optimizer_slots"
    }
}

/// Runs conversions: exact magnitude pruning of one layer's kernel, written to a new file atomically.
public enum Converter {
    /// Converts one file.
    ///
    /// The input is only ever opened for reading. The output is written to a temporary file beside it and
    /// renamed into place once complete; any failure removes it.
    /// - Parameters:
    ///   - progress: called as the work advances (after each segment, or each fine-tune epoch), from
    ///   any thread.
    ///   - structureRead: called once the input's structure (format, config, layers, the kernel's and its
    ///   slots' locations) has been read and checked, before the kernel's values or any calibration data are.
    /// - Throws: `KerasFormatError`, `PruningError`, `OutputError` or `HDF5Error`, each naming what is wrong.
    public static func convert(_ request: ConversionRequest, progress: (@Sendable (ConversionProgress) -> Void)? = nil,
                               structureRead: (() -> Void)? = nil) throws -> ConversionReport
    {
        let clock = ContinuousClock.now
        try checkOutputPath(request)
        let directory = (request.output as NSString).deletingLastPathComponent
        let model = try KerasModel.open(request.input, stagingDirectory: directory.isEmpty ? "." : directory)
        let output = try AtomicOutput(destination: request.output, replacing: request.overwrite || request.inPlace)
        defer { output.discard() }
        let layer = try model.targetLayer(named: request.layer)
        guard let kernel = layer.kernel else { preconditionFailure("target layer without a kernel") }
        let target: Int
        do {
            target = try request.target.count(forSize: kernel.count)
        }
        let (slots, slotNote) = model.optimizerSlots(for: layer)
        structureRead?()

        var report: ConversionReport
        if let calibration = request.calibration, calibration.options.method != .magnitude {
            report = try Calibrated.run(model: model, layer: layer, kernel: kernel, slots: slots, target: target,
                                        calibration: calibration, output: output, progress: progress)
        } else { switch kernel.storedType {
        case .float(bits: 16), .float(bits: 32):
            report = try run(Float.self, model: model, kernel: kernel, slots: slots, target: target, output: output,
                             progress: progress)
        case .float(bits: 64):
            report = try run(Double.self, model: model, kernel: kernel, slots: slots, target: target, output: output,
                             progress: progress)
        default:
            throw PruningError(.unsupportedType, "the kernel \(kernel.dataset) is stored as \(kernel.storedType)",
                               hint: "kprune prunes float16, float32 and float64 kernels")
        } }
        try output.commit()
        report.input = request.input
        report.output = request.output
        report.layer = layer.path.description
        report.seconds = (ContinuousClock.now - clock) / .seconds(1)
        if let slotNote { report.notes.append(slotNote) }
        return report
    }

    /// Refuses outputs that cannot be written as asked: see `OutputPath.check`, and an output that is the input
    /// itself without `--in-place`. Runs again at the start of each conversion, since files may come and go.
    static func checkOutputPath(_ request: ConversionRequest) throws {
        var outputInfo = stat()
        var inputInfo = stat()
        if stat(request.output, &outputInfo) == 0, stat(request.input, &inputInfo) == 0,
           inputInfo.st_dev == outputInfo.st_dev, inputInfo.st_ino == outputInfo.st_ino, !request.inPlace
        {
            throw OutputError(path: request.output, "output is the input file",
                              hint: "pass --in-place to replace the input, or choose another output with -o")
        }
        try OutputPath.check(request.output, replacing: request.overwrite || request.inPlace)
    }

    /// Data-free pruning: pass 1 selects the exact cut, the write-back's pass applies it.
    private static func run<T: KernelElement>(_ type: T.Type, model: KerasModel, kernel: WeightInfo,
                                              slots: [WeightInfo], target targetZeros: Int, output: AtomicOutput,
                                              progress report: (@Sendable (ConversionProgress) -> Void)?) throws
        -> ConversionReport
    {
        var selected: MagnitudeSelection<T>? = nil
        let outcome = try WriteBack.write(T.self, model: model, kernel: kernel, slots: slots, output: output,
                                          readPasses: 1, report: report) { source, segmentation, progress in
            let selection = try MagnitudeSelector.select(source, segmentation: segmentation, target: targetZeros,
                                                         path: kernel.dataset, progress: progress)
            selected = selection
            return (MagnitudePruner.rewrite(selection), selection.passes)
        }
        guard let selection = selected, outcome.zeros == targetZeros else {
            throw PruningError(.invalidTarget, "wrote \(outcome.zeros) zeros in \(kernel.dataset), not the target \(targetZeros)",
                               hint: "the kernel changed while it was read")
        }
        return ConversionReport(
            input: model.path, output: output.destination, format: model.format.rawValue, layer: "",
            kernelDataset: kernel.dataset, kernelShape: kernel.shape, dtype: kernel.storedType.description,
            size: kernel.count, zerosBefore: selection.zerosBefore, zerosAfter: outcome.zeros, targetZeros: targetZeros,
            method: "magnitude", optimizerSlots: outcome.slotsRewritten,
            passes: outcome.passes, seconds: 0, notes: [])
    }

    static func storedBytes(_ type: StoredType) -> Int {
        if case .float(let bits) = type { return bits / 8 }
        return 4
    }
}

extension Converter {
    /// The default output path beside the input: `m.h5` -> `m.pruned.h5`, `m.keras` -> `m.pruned.keras`,
    /// `w.weights.h5` -> `w.pruned.weights.h5`; other names get `.pruned` before their last extension.
    public static func defaultOutputPath(for input: String, directory: String? = nil) -> String {
        let url = URL(fileURLWithPath: input)
        let name = url.lastPathComponent
        let base: String
        if name.hasSuffix(".weights.h5") {
            base = String(name.dropLast(".weights.h5".count)) + ".pruned.weights.h5"
        } else if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            base = name[..<dot] + ".pruned" + name[dot...]
        } else {
            base = name + ".pruned"
        }
        if let directory { return (directory as NSString).appendingPathComponent(base) }
        let parent = (input as NSString).deletingLastPathComponent
        return parent.isEmpty ? base : (parent as NSString).appendingPathComponent(base)
    }
}
