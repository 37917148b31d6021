import FileOutput
import Foundation
import HDF5
import KerasFormat
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

/// Kernel shapes of real final layers, most with many input rows and a small first dimension: 1×1 and 3×3
/// convolutions, Conv1D and Conv3D heads, a single-output Dense.
let kernelShapes: [[Int]] = [
    [1, 1, 8, 256], [1, 1, 240, 256], [3, 3, 128, 7], [1, 8, 256], [3, 3, 3, 8, 32], [1, 1, 1025, 1], [2048, 1],
]

/// How a kernel is stored: as Keras writes it, or repacked.
enum KernelLayout: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case contiguous, chunked, gzip

    /// Chunks that do not divide the shape: about a third of each dimension.
    func chunks(for shape: [Int]) -> [Int]? {
        self == .contiguous ? nil : shape.map { max(1, ($0 + 2) / 3) }
    }

    var testDescription: String { rawValue }
}

/// Weights with repeated magnitudes of both signs and a few zeros, the same on every run.
func kernelValues(_ count: Int) -> [Double] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { index in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        if index % 97 == 5 { return 0 }
        // 4,096 distinct magnitudes, so larger kernels hold many ties.
        let magnitude = Double((state >> 40) % 4096 + 1) / 4096
        return (state >> 20) & 1 == 0 ? magnitude : -magnitude
    }
}

/// The kernel after exact magnitude pruning to `target` zeros: the smallest non-zero magnitudes go first,
/// equal magnitudes lowest index first.
func expectedPruning(_ values: [Double], target: Int) -> [Double] {
    let zeros = values.filter { $0 == 0 }.count
    let order = values.indices.filter { values[$0] != 0 }.sorted {
        abs(values[$0]) != abs(values[$1]) ? abs(values[$0]) < abs(values[$1]) : $0 < $1
    }
    var pruned = values
    for index in order.prefix(target - zeros) { pruned[index] = 0 }
    return pruned
}

@Suite struct SegmentationTests {
    @Test(arguments: kernelShapes, KernelLayout.allCases)
    func segmentsAreBoundedBlocksInRowMajorOrder(_ shape: [Int], _ layout: KernelLayout) {
        let chunks = layout.chunks(for: shape)
        let segmentation = Segmentation(
            shape: shape, layout: chunks.map { .chunked($0) } ?? .contiguous,
            storedBytes: 4, targetElements: 1000)
        let segments = segmentation.segments
        #expect(segments.first?.lowerBound == 0)
        #expect(segments.last?.upperBound == shape.reduce(1, *))
        #expect(zip(segments, segments.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(segments.allSatisfy { !$0.isEmpty && $0.count <= segmentation.maxSegment })
        // Bounded: a segment holds the target or less, unless one chunk along the axis is larger.
        let chunkElements = chunks.map { $0[segmentation.axis] * segmentation.indexElements } ?? 0
        #expect(segmentation.maxSegment <= max(1000, chunkElements))
        for segment in segments {
            let blocks = Hyperslab.blocks(covering: segment, of: shape)
            #expect(blocks.count == 1, "segment \(segment) is one block")
            if let chunks, let block = blocks.first {
                #expect(block.start[segmentation.axis] % chunks[segmentation.axis] == 0, "aligned to chunks")
            }
        }
    }

    @Test func aSingleRowLargerThanTheTargetIsSplit() {
        let segmentation = Segmentation(
            shape: [1, 1, 240, 256], layout: .contiguous, storedBytes: 4,
            targetElements: 4096)
        #expect(segmentation.axis == 2)
        #expect(segmentation.segments == (0..<15).map { ($0 * 4096)..<($0 * 4096 + 4096) })
        // Runs along an inner axis are spread evenly: 1,025 lines in two segments, not 1,024 and 1.
        let narrow = Segmentation(shape: [1, 1, 1025, 1], layout: .contiguous, storedBytes: 4, targetElements: 1024)
        #expect(narrow.axis == 2)
        #expect(narrow.segments == [0..<513, 513..<1025])
        // Each index of the dimensions before the axis is split on its own: a 3x3x128x7 kernel's 9 runs of
        // 128 lines, in two segments of 64 lines each.
        let conv = Segmentation(shape: [3, 3, 128, 7], layout: .contiguous, storedBytes: 4, targetElements: 500)
        #expect(conv.axis == 2)
        #expect(conv.segments.count == 9 * 2)
        #expect(conv.segments.prefix(2) == [0..<448, 448..<896])
        // Rows of the first dimension that fit stay whole rows, as before.
        let rows = Segmentation(shape: [64, 1000], layout: .contiguous, storedBytes: 4, targetElements: 4096)
        #expect(rows.axis == 0)
        #expect(rows.segments == [0..<4000, 4000..<8000] + (2..<16).map { ($0 * 4000)..<($0 * 4000 + 4000) })
    }
}

@Suite struct KernelShapeTests {
    /// Writes `/kernel` of `shape` and layout in a new file and returns its values.
    func makeKernel(_ path: String, shape: [Int], layout: KernelLayout, bits: Int) throws -> [Double] {
        let values = kernelValues(shape.reduce(1, *))
        let file = try File.create(path)
        let dataset = try file.root().createDataset(
            "kernel", shape: shape, bits: bits, chunks: layout.chunks(for: shape),
            gzip: layout == .gzip ? 4 : nil)
        try dataset.writeAll(values)
        try file.close()
        return values
    }

    /// Data-free pruning of `/kernel` from `input` into `output` (a copy), as a conversion does it: direct
    /// reads and writes when the kernel is contiguous, libhdf5 otherwise. Returns the zeros written and
    /// whether the direct path ran.
    func prune<T: KernelElement>(
        _ type: T.Type, input: String, output: String, target: Int, segmentElements: Int,
        limits: MagnitudeSelector.Limits
    ) throws -> (zeros: Int, direct: Bool) {
        let reading = try FileDescriptor(path: input, flags: O_RDONLY)
        let writing = try FileDescriptor(path: output, flags: O_RDWR)
        let result = try File.withOpen(input) { source in
            let dataset = try source.root().dataset("kernel")
            let segmentation = Segmentation(
                shape: dataset.shape, layout: try dataset.layout(), storedBytes: T.storedBits / 8,
                targetElements: segmentElements)
            if let offset = try DirectStore<T>.directOffset(of: dataset, in: source, descriptor: reading) {
                let from = DirectStore<T>(reading: reading, writing: writing, byteOffset: offset)
                let selection = try MagnitudeSelector.select(
                    from, segmentation: segmentation, target: target,
                    path: "/kernel", limits: limits)
                let zeros = try KernelRewriter.apply(
                    MagnitudePruner.rewrite(selection), source: from, destination: from, slots: [],
                    segmentation: segmentation
                ).zeros
                return (zeros, true)
            }
            return try File.withOpen(output, mode: .readWrite) { destination in
                let from = HDF5Store<T>(dataset)
                let selection = try MagnitudeSelector.select(
                    from, segmentation: segmentation, target: target,
                    path: "/kernel", limits: limits)
                let zeros = try KernelRewriter.apply(
                    MagnitudePruner.rewrite(selection), source: from,
                    destination: HDF5Store<T>(try destination.root().dataset("kernel")),
                    slots: [], segmentation: segmentation
                ).zeros
                return (zeros, false)
            }
        }
        try writing.close()
        return result
    }

    @Test(arguments: kernelShapes, KernelLayout.allCases)
    func prunesEveryShapeExactly(_ shape: [Int], _ layout: KernelLayout) throws {
        let directory = TemporaryDirectory()
        for bits in [32, 64] {
            let input = directory.file("kernel\(bits).h5")
            let values = try makeKernel(input, shape: shape, layout: layout, bits: bits)
            let target = Int((0.8 * Double(values.count)).rounded(.toNearestOrAwayFromZero))
            let expected = expectedPruning(values, target: target)
            // Small segments split even the smallest kernels; the streamed selection brackets from samples.
            for (segmentElements, limits) in [
                (Segmentation.targetElements, MagnitudeSelector.Limits()),
                (1000, MagnitudeSelector.Limits(inMemory: 0)),
            ] {
                let output = directory.file("out\(bits)-\(segmentElements).h5")
                try FileManager.default.copyItem(atPath: input, toPath: output)
                let (zeros, direct) =
                    bits == 32
                    ? try prune(
                        Float.self, input: input, output: output, target: target,
                        segmentElements: segmentElements, limits: limits)
                    : try prune(
                        Double.self, input: input, output: output, target: target,
                        segmentElements: segmentElements, limits: limits)
                #expect(direct == (layout == .contiguous), "contiguous kernels move directly")
                #expect(zeros == target)
                let written = try File.withOpen(output) { try $0.root().dataset("kernel").readAll(as: Double.self) }
                #expect(written.filter { $0 == 0 }.count == target)
                #expect(written == expected, "\(bits) bits, segments of \(segmentElements)")
            }
        }
    }
}
