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
    /// - Parameter progress: called as the work advances (after each segment, or each fine-tune epoch), from
    ///   any thread.
    /// - Throws: `KerasFormatError`, `PruningError`, `OutputError` or `HDF5Error`, each naming what is wrong.
    public static func convert(_ request: ConversionRequest, progress: (@Sendable (ConversionProgress) -> Void)? = nil) throws
        -> ConversionReport
    {
        let clock = ContinuousClock.now
        try checkOutputPath(request)
        let output = try AtomicOutput(destination: request.output)
        defer { output.discard() }
        let directory = (request.output as NSString).deletingLastPathComponent
        let model = try KerasModel.open(request.input, stagingDirectory: directory.isEmpty ? "." : directory)
        let layer = try model.targetLayer(named: request.layer)
        guard let kernel = layer.kernel else { preconditionFailure("target layer without a kernel") }
        let target: Int
        do {
            target = try request.target.count(forSize: kernel.count)
        }
        let (slots, slotNote) = model.optimizerSlots(for: layer)

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

    /// Refuses outputs that would overwrite the input or an existing file without being asked to.
    static func checkOutputPath(_ request: ConversionRequest) throws {
        var outputInfo = stat()
        guard stat(request.output, &outputInfo) == 0 else { return }
        if (outputInfo.st_mode & S_IFMT) == S_IFDIR {
            throw OutputError(path: request.output, "output is a directory", hint: "use --output-dir for directories")
        }
        var inputInfo = stat()
        if stat(request.input, &inputInfo) == 0, inputInfo.st_dev == outputInfo.st_dev,
           inputInfo.st_ino == outputInfo.st_ino
        {
            if !request.inPlace {
                throw OutputError(path: request.output, "output is the input file",
                                  hint: "pass --in-place to replace the input, or choose another output with -o")
            }
            return
        }
        if !request.overwrite {
            throw OutputError(path: request.output, "output already exists", hint: "pass --force to replace it")
        }
    }

    /// The kernel and its slots as pass 1 found them: where they are, and whether they move directly.
    private struct Located {
        var segmentation: Segmentation
        /// Byte offsets of the kernel and each slot when all can move by `pread`/`pwrite`; nil otherwise.
        var direct: (kernel: Int, slots: [Int])?
        var kernelBytes: Range<Int>?
    }

    private static func run<T: KernelElement>(_ type: T.Type, model: KerasModel, kernel: WeightInfo,
                                              slots: [WeightInfo], target targetZeros: Int, output: AtomicOutput,
                                              progress report: (@Sendable (ConversionProgress) -> Void)?) throws
        -> ConversionReport
    {
        let archive = model.format == .keras3Archive
        // The staged weights of an archive are this run's own copy, rewritten in place.
        let input = try FileDescriptor(path: model.weightsFile, flags: archive ? O_RDWR : O_RDONLY)

        let located = try File.withOpen(model.weightsFile) { file in
            try locate(T.self, kernel: kernel, slots: slots, in: file, descriptor: input)
        }
        // Each segment is read twice: once to select, once to write.
        let progress = ProgressCounter(total: 2 * located.segmentation.segments.count, report: report)
        let selection: MagnitudeSelection<T>
        let zerosAfter: Int
        if let direct = located.direct {
            let destination = archive ? input : try FileDescriptor(path: output.temporaryPath, flags: O_RDWR)
            if !archive {
                try FileCopy.copy(from: model.weightsFile, to: output.temporaryPath, excluding: located.kernelBytes)
            }
            let store = { (offset: Int, writing: FileDescriptor) in
                DirectStore<T>(reading: input, writing: writing, byteOffset: offset)
            }
            let source = store(direct.kernel, input)
            let target = store(direct.kernel, destination)
            let slotStores = direct.slots.map { (source: store($0, input), destination: store($0, destination)) }
            selection = try MagnitudeSelector.select(source, segmentation: located.segmentation,
                                                     target: targetZeros, path: kernel.dataset, progress: progress)
            zerosAfter = try MagnitudePruner.apply(
                selection, source: source, destination: target,
                slots: slotStores.map { MagnitudePruner.Slot(source: $0.source, destination: $0.destination) },
                segmentation: located.segmentation, progress: progress)
            try destination.close()
        } else {
            selection = try File.withOpen(model.weightsFile) { file in
                try MagnitudeSelector.select(HDF5Store<T>(try file.root().dataset(kernel.dataset)),
                                             segmentation: located.segmentation, target: targetZeros,
                                             path: kernel.dataset, progress: progress)
            }
            zerosAfter = try writeThroughLibrary(selection, model: model, kernel: kernel, slots: slots,
                                                 segmentation: located.segmentation, input: input, output: output,
                                                 progress: progress)
        }
        if archive { try model.writeArchive(to: output.temporaryPath, weightsFile: model.weightsFile) }
        precondition(zerosAfter == targetZeros, "wrote \(zerosAfter) zeros, target \(targetZeros)")
        return ConversionReport(
            input: model.path, output: output.destination, format: model.format.rawValue, layer: "",
            kernelDataset: kernel.dataset, kernelShape: kernel.shape, dtype: kernel.storedType.description,
            size: kernel.count, zerosBefore: selection.zerosBefore, zerosAfter: zerosAfter, targetZeros: targetZeros,
            method: "magnitude", optimizerSlots: selection.threshold == nil ? 0 : slots.count,
            passes: selection.passes + 1, seconds: 0, notes: [])
    }

    /// Where the kernel and its slots are, and whether they all move directly.
    private static func locate<T: KernelElement>(_ type: T.Type, kernel: WeightInfo, slots: [WeightInfo], in file: File,
                                                 descriptor: FileDescriptor) throws -> Located
    {
        let root = try file.root()
        let dataset = try root.dataset(kernel.dataset)
        let segmentation = Segmentation(shape: dataset.shape, layout: try dataset.layout(),
                                        storedBytes: storedBytes(kernel.storedType))
        var located = Located(segmentation: segmentation, direct: nil, kernelBytes: nil)
        guard let offset = try DirectStore<T>.directOffset(of: dataset, in: file, descriptor: descriptor) else {
            return located
        }
        let slotOffsets = try slots.compactMap { slot in
            try DirectStore<T>.directOffset(of: root.dataset(slot.dataset), in: file, descriptor: descriptor)
        }
        if slotOffsets.count == slots.count {
            located.direct = (offset, slotOffsets)
            located.kernelBytes = offset..<(offset + kernel.count * MemoryLayout<T>.stride)
        }
        return located
    }

    /// The second pass through libhdf5, for kernels or slots that are chunked, filtered or converted.
    private static func writeThroughLibrary<T: KernelElement>(
        _ selection: MagnitudeSelection<T>, model: KerasModel, kernel: WeightInfo, slots: [WeightInfo],
        segmentation: Segmentation, input: FileDescriptor, output: AtomicOutput, progress: ProgressCounter
    ) throws -> Int {
        let cache = segmentation.chunkCacheBytes
        if model.format == .keras3Archive {
            try input.close()
            return try File.withOpen(model.weightsFile, mode: .readWrite) { file in
                let root = try file.root()
                let store = HDF5Store<T>(try root.dataset(kernel.dataset, chunkCacheBytes: cache))
                let slotStores = try slots.map { slot in
                    let slotStore = HDF5Store<T>(try root.dataset(slot.dataset, chunkCacheBytes: cache))
                    return MagnitudePruner.Slot<T>(source: slotStore, destination: slotStore)
                }
                return try MagnitudePruner.apply(selection, source: store, destination: store, slots: slotStores,
                                                 segmentation: segmentation, progress: progress)
            }
        }
        try FileCopy.copy(from: model.weightsFile, to: output.temporaryPath)
        return try File.withOpen(model.weightsFile) { inputFile in
            try File.withOpen(output.temporaryPath, mode: .readWrite) { outputFile in
                let open = { (file: File, path: String) in
                    HDF5Store<T>(try file.root().dataset(path, chunkCacheBytes: cache))
                }
                let slotStores = try slots.map { slot in
                    MagnitudePruner.Slot<T>(source: try open(inputFile, slot.dataset),
                                            destination: try open(outputFile, slot.dataset))
                }
                return try MagnitudePruner.apply(selection, source: try open(inputFile, kernel.dataset),
                                                 destination: try open(outputFile, kernel.dataset), slots: slotStores,
                                                 segmentation: segmentation, progress: progress)
            }
        }
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
