import FileOutput
public import HDF5

/// Splits a dataset into segments: flat, row-major ranges of about `targetElements` each, so work on a kernel
/// of any size and shape needs a few segment buffers of memory.
///
/// A segment is whole indices of one dimension, the `axis`: whole rows of the first dimension when one row
/// fits in the target (the usual Dense or convolution kernel with many rows). When even one index of the
/// first dimension is larger (a 1×1×240×256 convolution has a single row), the axis is the outermost
/// dimension whose indices fit, and segments run along it without crossing into the next index of the
/// dimension before it, so each segment is one rectangular block. In a chunked dataset segments hold whole
/// chunks along the axis.
public struct Segmentation: Sendable {
    /// Elements per segment to aim for: 1 Mi elements, 4 MiB as float32.
    public static let targetElements = 1 << 20

    /// The dataset's shape.
    public let shape: [Int]
    /// The dimension segments are made of whole indices of.
    public let axis: Int
    /// Indices of `axis` per segment (the last segment of each run along the axis may hold fewer).
    public let indicesPerSegment: Int
    /// Elements in one index of `axis`.
    public let indexElements: Int
    /// For chunked datasets, a chunk cache holding every chunk touched between a chunk's first and last use,
    /// so each chunk is decompressed once per pass.
    public let chunkCacheBytes: Int?

    /// Segments of about `targetElements` for a dataset of `shape` stored in `layout` with `storedBytes`
    /// bytes per element.
    public init(
        shape: [Int], layout: StorageLayout, storedBytes: Int, targetElements: Int = Segmentation.targetElements
    ) {
        self.shape = shape
        let rank = shape.count
        var unit = [Int](repeating: 1, count: rank)
        for dimension in stride(from: rank - 2, through: 0, by: -1) {
            unit[dimension] = unit[dimension + 1] * shape[dimension + 1]
        }
        let axis = unit.firstIndex { $0 <= max(targetElements, 1) } ?? 0
        self.axis = axis
        indexElements = rank == 0 ? 1 : max(unit[axis], 1)
        let extent = rank == 0 ? 1 : max(shape[axis], 1)
        var indices = max(1, targetElements / indexElements)
        if axis > 0 {
            // Runs along an inner axis repeat for every index before it: spread each run evenly over its
            // segments rather than leave a short one in every run.
            let pieces = (extent + indices - 1) / indices
            indices = (extent + pieces - 1) / pieces
        }
        var cache: Int? = nil
        if case .chunked(let chunk) = layout, chunk.count == rank, rank > 0, chunk.allSatisfy({ $0 > 0 }) {
            indices = max(chunk[axis], (indices / chunk[axis]) * chunk[axis])
            // A chunk is done once the segments have passed every index of the first dimension it covers:
            // the cache holds one band of chunk rows across the other dimensions, or a segment's, if larger.
            let across = zip(shape.dropFirst(), chunk.dropFirst()).reduce(1) { $0 * (($1.0 + $1.1 - 1) / $1.1) }
            let bands = axis == 0 ? (indices + chunk[0] - 1) / chunk[0] : 1
            let chunkBytes = chunk.reduce(1, *) * storedBytes
            cache = min(across * chunkBytes * bands + (1 << 20), 512 << 20)
        }
        indicesPerSegment = axis == 0 ? indices : min(indices, extent)
        chunkCacheBytes = cache
    }

    /// The dataset's element count.
    public var count: Int { shape.reduce(1, *) }

    /// The segments in row-major order.
    public var segments: [Range<Int>] {
        let step = indicesPerSegment * indexElements
        if count == 0 { return [] }
        if axis == 0 { return stride(from: 0, to: count, by: step).map { $0..<min($0 + step, count) } }
        // Whole indices of the dimension before `axis`, each split into runs along `axis`.
        let run = shape[axis] * indexElements
        return stride(from: 0, to: count, by: run).flatMap { first in
            stride(from: first, to: first + run, by: step).map { $0..<min($0 + step, first + run) }
        }
    }

    /// The longest segment.
    public var maxSegment: Int { min(indicesPerSegment * indexElements, count) }
}
