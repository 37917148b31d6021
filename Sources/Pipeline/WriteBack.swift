import FileOutput
import FineTune
import Foundation
import HDF5
import KerasFormat
import Numerics
import Sparsity

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
    /// Given the store the kernel is read from, its segmentation and the progress counter, returns the rewrite
    /// and the full reads of the kernel it took to choose it (the data-free path selects its cut here).
    typealias Prepare<T: KernelElement> = (ElementStore<T>, Segmentation, ProgressCounter) throws
        -> (rewrite: KernelRewrite<T>, passes: Int)

    /// Writes `plan`'s output with the kernel rewritten as `prepare` decides, its slots zeroed where it newly
    /// became zero, and `replacements` written whole.
    /// - Parameters:
    ///   - readPasses: full reads of the kernel that `prepare` makes (for progress).
    ///   - observer: told after each segment read or written.
    static func write<T: KernelElement>(
        _ type: T.Type, _ plan: ConversionPlan, replacements: [Replacement] = [],
        output: AtomicOutput, readPasses: Int = 0,
        observer: (any PruningObserver)?, prepare: Prepare<T>
    ) throws
        -> RewriteOutcome
    {
        let model = plan.model
        // The staged weights of an archive are this run's own copy, rewritten in place.
        let inPlace = model.weightsFileIsStagedCopy
        let input = try FileDescriptor(path: model.weightsFile, flags: inPlace ? O_RDWR : O_RDONLY)
        let located = try File.withOpen(model.weightsFile) { file in
            try locate(
                T.self, kernel: plan.kernel,
                others: plan.slots.map(\.dataset) + replacements.map(\.weight.dataset), in: file, descriptor: input)
        }
        let progress = ProgressCounter(
            total: (readPasses + 1) * located.segmentation.segments.count,
            observer: observer)
        let job = Job(plan: plan, replacements: replacements, output: output, located: located, progress: progress)
        let outcome =
            if let direct = located.direct {
                try job.writeDirectly(T.self, input: input, offsets: direct, inPlace: inPlace, prepare: prepare)
            } else {
                try job.writeThroughLibrary(T.self, input: input, inPlace: inPlace, prepare: prepare)
            }
        try model.finishOutput(output)
        return outcome
    }

    /// One write-back's parts.
    private struct Job {
        let plan: ConversionPlan
        let replacements: [Replacement]
        let output: AtomicOutput
        let located: Located
        let progress: ProgressCounter

        /// The direct path: the file copied around the kernel with `copy_file_range`, the kernel, its slots and
        /// the replacements moved with `pread`/`pwrite` at their offsets.
        func writeDirectly<T: KernelElement>(
            _ type: T.Type, input: FileDescriptor, offsets: (kernel: Int, others: [Int]),
            inPlace: Bool, prepare: Prepare<T>
        ) throws -> RewriteOutcome {
            let source = plan.model.weightsFile
            let destination = inPlace ? input : try output.openForWriting()
            if !inPlace { try output.copyContents(of: source, excluding: located.kernelBytes) }
            func stores(_ offset: Int) -> (ElementStore<T>, ElementStore<T>) {
                (
                    DirectStore<T>(reading: input, writing: input, byteOffset: offset),
                    DirectStore<T>(reading: input, writing: destination, byteOffset: offset)
                )
            }
            let (kernelSource, kernelTarget) = stores(offsets.kernel)
            let slotStores: [any SlotRewriter] = plan.slots.indices.map { index in
                let (from, to) = stores(offsets.others[index])
                return SlotZeroer(source: from, destination: to)
            }
            let (rewrite, passes) = try prepare(kernelSource, located.segmentation, progress)
            var outcome = try KernelRewriter.apply(
                rewrite, source: kernelSource, destination: kernelTarget,
                slots: slotStores, segmentation: located.segmentation,
                progress: progress)
            outcome.passes = passes + 1
            for (index, replacement) in replacements.enumerated() {
                let (_, to) = stores(offsets.others[plan.slots.count + index])
                let values = replacement.values.map { T(Double($0)) }
                try values.withUnsafeBufferPointer { try to.write(0..<values.count, from: $0) }
            }
            try destination.close()
            return outcome
        }

        /// The libhdf5 path: the whole file copied, then the datasets rewritten through libhdf5, which converts
        /// to each dataset's stored type.
        func writeThroughLibrary<T: KernelElement>(
            _ type: T.Type, input: FileDescriptor, inPlace: Bool,
            prepare: Prepare<T>
        ) throws -> RewriteOutcome {
            try input.close()
            let source = plan.model.weightsFile
            if inPlace {
                // The archive's staged weights are read and rewritten through one handle (libhdf5 opens a file
                // once per process); a segment is always read before it is written.
                return try File.withOpen(source, mode: .readWrite) { try rewrite(T.self, $0, $0, prepare) }
            }
            try output.copyContents(of: source)
            return try File.withOpen(source) { inputFile in
                // libhdf5 resolves the path it opens, which fails for an unnamed file: it gets a named one.
                try File.withOpen(try output.namedTemporaryPath(), mode: .readWrite, name: output.destination) {
                    try rewrite(T.self, inputFile, $0, prepare)
                }
            }
        }

        /// Rewrites the kernel, its slots and the replacements from `inputFile` into `outputFile` through libhdf5.
        private func rewrite<T: KernelElement>(
            _ type: T.Type, _ inputFile: File, _ outputFile: File,
            _ prepare: Prepare<T>
        ) throws -> RewriteOutcome {
            let cache = located.segmentation.chunkCacheBytes
            func dataset(_ file: File, _ path: String) throws -> Dataset {
                try file.root().dataset(path, chunkCacheBytes: cache)
            }
            let slotStores = try plan.slots.map { slot in
                try WriteBack.slotZeroer(
                    source: dataset(inputFile, slot.dataset),
                    destination: dataset(outputFile, slot.dataset))
            }
            let source = HDF5Store<T>(try dataset(inputFile, plan.kernel.dataset))
            let (rewrite, passes) = try prepare(source, located.segmentation, progress)
            var outcome = try KernelRewriter.apply(
                rewrite, source: source,
                destination: HDF5Store<T>(try dataset(outputFile, plan.kernel.dataset)),
                slots: slotStores, segmentation: located.segmentation,
                progress: progress)
            outcome.passes = passes + 1
            for replacement in replacements {
                try dataset(outputFile, replacement.weight.dataset).writeAll(replacement.values)
            }
            return outcome
        }
    }

    /// The kernel as found: how it splits into segments, and whether it and the other datasets move directly.
    private struct Located {
        var segmentation: Segmentation
        /// Byte offsets of the kernel and each other dataset when all can move by `pread`/`pwrite`.
        var direct: (kernel: Int, others: [Int])?
        var kernelBytes: Range<Int>?
    }

    private static func locate<T: KernelElement>(
        _ type: T.Type, kernel: WeightInfo, others: [String], in file: File,
        descriptor: FileDescriptor
    ) throws -> Located {
        let root = try file.root()
        let dataset = try root.dataset(kernel.dataset)
        let segmentation = Segmentation(
            shape: dataset.shape, layout: try dataset.layout(),
            storedBytes: kernel.storedType.elementBytes)
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
    fileprivate static func slotZeroer(source: Dataset, destination: Dataset) throws -> any SlotRewriter {
        if case .float(bits: 64) = source.storedType {
            return SlotZeroer(source: HDF5Store<Double>(source), destination: HDF5Store<Double>(destination))
        }
        return SlotZeroer(source: HDF5Store<Float>(source), destination: HDF5Store<Float>(destination))
    }
}

extension StoredType {
    /// Bytes per stored element: a float's width, else 4 (what segments are sized for).
    fileprivate var elementBytes: Int {
        if case .float(let bits) = self { return bits / 8 }
        return 4
    }
}
