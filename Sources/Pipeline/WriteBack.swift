import FileOutput
import FineTune
import Sparsity
import Numerics
import Foundation
import HDF5
import KerasFormat

/// A weight other than the kernel written whole from new values (a fine-tuned bias).
struct Replacement {
    let weight: WeightInfo
    let values: [Float]
}

/// Writes the output file: a copy of the input in which only the kernel, its optimizer slots and the given
/// replacements differ. Every method writes through here.
///
/// When the kernel, its slots and the replacements are contiguous little-endian floats of the kernel's width,
/// the rest of the file is copied with `copy_file_range` and the changed elements are written with `pwrite`
/// at the offsets libhdf5 reports: the output then equals the input byte for byte elsewhere, and libhdf5
/// never opens it. Otherwise the whole file is copied and the datasets are rewritten through libhdf5, which
/// converts to each dataset's stored type. Slots are read and written at their own stored width.
enum WriteBack {
    /// - Parameters:
    ///   - model: the opened input.
    ///   - kernel: the weight to rewrite.
    ///   - slots: the kernel's optimizer slots.
    ///   - replacements: other weights written whole.
    ///   - output: where the file goes.
    ///   - readPasses: full reads of the kernel that `prepare` makes (for progress).
    ///   - report: progress, after each segment read or written.
    ///   - prepare: given the store the kernel is read from and its segmentation, returns the rewrite (the
    ///     data-free path selects its cut here).
    static func write<T: KernelElement>(
        _ type: T.Type, model: KerasModel, kernel: WeightInfo, slots: [WeightInfo], replacements: [Replacement] = [],
        output: AtomicOutput, readPasses: Int = 0, report: (@Sendable (ConversionProgress) -> Void)? = nil,
        prepare: (ElementStore<T>, Segmentation, ProgressCounter) throws -> (rewrite: KernelRewrite<T>, passes: Int)
    ) throws -> RewriteOutcome {
        let archive = model.format == .keras3Archive
        // The staged weights of an archive are this run's own copy, rewritten in place.
        let input = try FileDescriptor(path: model.weightsFile, flags: archive ? O_RDWR : O_RDONLY)
        let located = try File.withOpen(model.weightsFile) { file in
            try locate(T.self, kernel: kernel, others: slots.map(\.dataset) + replacements.map(\.weight.dataset),
                       in: file, descriptor: input)
        }
        let progress = ProgressCounter(total: (readPasses + 1) * located.segmentation.segments.count, report: report)
        var outcome: RewriteOutcome
        if let direct = located.direct {
            let destination = archive ? input : try FileDescriptor(path: output.temporaryPath, flags: O_RDWR)
            if !archive {
                try FileCopy.copy(from: model.weightsFile, to: output.temporaryPath, excluding: located.kernelBytes)
            }
            func store<U: KernelElement>(_ offset: Int, _ type: U.Type) -> (ElementStore<U>, ElementStore<U>) {
                (DirectStore<U>(reading: input, writing: input, byteOffset: offset),
                 DirectStore<U>(reading: input, writing: destination, byteOffset: offset))
            }
            let (source, target) = store(direct.kernel, T.self)
            let slotStores: [any SlotRewriter] = slots.indices.map { index in
                let (from, to) = store(direct.others[index], T.self)
                return SlotZeroer(source: from, destination: to)
            }
            let (rewrite, passes) = try prepare(source, located.segmentation, progress)
            outcome = try KernelRewriter.apply(rewrite, source: source, destination: target, slots: slotStores,
                                segmentation: located.segmentation, progress: progress)
            outcome.passes = passes + 1
            for (index, replacement) in replacements.enumerated() {
                let (_, to) = store(direct.others[slots.count + index], T.self)
                let values = replacement.values.map { T(Double($0)) }
                try values.withUnsafeBufferPointer { try to.write(0..<values.count, from: $0) }
            }
            try destination.close()
        } else {
            try input.close()
            if !archive { try FileCopy.copy(from: model.weightsFile, to: output.temporaryPath) }
            let cache = located.segmentation.chunkCacheBytes
            // The archive's staged weights are read and rewritten through one handle (libhdf5 opens a file
            // once per process); a segment is always read before it is written.
            func rewriteFiles(_ inputFile: File, _ outputFile: File) throws -> RewriteOutcome {
                func dataset(_ file: File, _ path: String) throws -> Dataset {
                    try file.root().dataset(path, chunkCacheBytes: cache)
                }
                let slotStores = try slots.map { slot in
                    try slotZeroer(source: dataset(inputFile, slot.dataset),
                                   destination: dataset(outputFile, slot.dataset))
                }
                let source = HDF5Store<T>(try dataset(inputFile, kernel.dataset))
                let (rewrite, passes) = try prepare(source, located.segmentation, progress)
                var outcome = try KernelRewriter.apply(rewrite, source: source,
                                        destination: HDF5Store<T>(try dataset(outputFile, kernel.dataset)),
                                        slots: slotStores, segmentation: located.segmentation, progress: progress)
                outcome.passes = passes + 1
                for replacement in replacements {
                    try dataset(outputFile, replacement.weight.dataset).writeAll(replacement.values)
                }
                return outcome
            }
            if archive {
                outcome = try File.withOpen(model.weightsFile, mode: .readWrite) { try rewriteFiles($0, $0) }
            } else {
                outcome = try File.withOpen(model.weightsFile) { inputFile in
                    // libhdf5 resolves the path it opens, which fails for an unnamed file: it gets a named one.
                    try File.withOpen(try output.namedTemporaryPath(), mode: .readWrite) {
                        try rewriteFiles(inputFile, $0)
                    }
                }
            }
        }
        if archive { try model.writeArchive(to: output.temporaryPath, weightsFile: model.weightsFile) }
        return outcome
    }

    /// The kernel as found: how it splits into segments, and whether it and the other datasets move directly.
    private struct Located {
        var segmentation: Segmentation
        /// Byte offsets of the kernel and each other dataset when all can move by `pread`/`pwrite`.
        var direct: (kernel: Int, others: [Int])?
        var kernelBytes: Range<Int>?
    }

    private static func locate<T: KernelElement>(_ type: T.Type, kernel: WeightInfo, others: [String], in file: File,
                                                 descriptor: FileDescriptor) throws -> Located
    {
        let root = try file.root()
        let dataset = try root.dataset(kernel.dataset)
        let segmentation = Segmentation(shape: dataset.shape, layout: try dataset.layout(),
                                        storedBytes: Converter.storedBytes(kernel.storedType))
        var located = Located(segmentation: segmentation, direct: nil, kernelBytes: nil)
        guard let offset = try DirectStore<T>.directOffset(of: dataset, in: file, descriptor: descriptor) else {
            return located
        }
        let offsets = try others.compactMap { path in
            try DirectStore<T>.directOffset(of: root.dataset(path), in: file, descriptor: descriptor)
        }
        if offsets.count == others.count {
            located.direct = (offset, offsets)
            located.kernelBytes = offset..<(offset + kernel.count * MemoryLayout<T>.stride)
        }
        return located
    }

    /// A slot's store at its own stored width: float64 slots as `Double`, the others as `Float` (float16 and
    /// float32 convert to `Float` and back exactly).
    private static func slotZeroer(source: Dataset, destination: Dataset) throws -> any SlotRewriter {
        if case .float(bits: 64) = source.storedType {
            return SlotZeroer(source: HDF5Store<Double>(source), destination: HDF5Store<Double>(destination))
        }
        return SlotZeroer(source: HDF5Store<Float>(source), destination: HDF5Store<Float>(destination))
    }
}
