import HDF5

/// Splits a dataset into segments: flat, row-major ranges made of whole rows of the first dimension, each
/// about `targetElements` long, so work on a kernel of any size needs a few segment buffers of memory.
struct Segmentation: Sendable {
    /// Elements per segment to aim for: 1 Mi elements, 4 MiB as float32.
    static let targetElements = 1 << 20

    let shape: [Int]
    /// Elements in one index of the first dimension.
    let rowElements: Int
    let rowsPerSegment: Int
    /// For chunked datasets, a chunk cache holding every chunk one segment touches, so each chunk is
    /// decompressed once per pass.
    let chunkCacheBytes: Int?

    init(shape: [Int], layout: StorageLayout, storedBytes: Int, targetElements: Int = Segmentation.targetElements) {
        self.shape = shape
        rowElements = max(shape.dropFirst().reduce(1, *), 1)
        var rows = max(1, targetElements / rowElements)
        var cache: Int? = nil
        if case .chunked(let chunk) = layout, chunk.count == shape.count, let first = chunk.first, first > 0 {
            rows = max(first, (rows / first) * first)
            let across = zip(shape.dropFirst(), chunk.dropFirst()).reduce(1) { $0 * (($1.0 + $1.1 - 1) / $1.1) }
            let chunkBytes = chunk.reduce(1, *) * storedBytes
            cache = min(across * chunkBytes * ((rows + first - 1) / first) + (1 << 20), 512 << 20)
        }
        rowsPerSegment = rows
        chunkCacheBytes = cache
    }

    var count: Int { shape.reduce(1, *) }

    /// The segments in row-major order.
    var segments: [Range<Int>] {
        let step = rowsPerSegment * rowElements
        return stride(from: 0, to: count, by: step).map { $0..<min($0 + step, count) }
    }

    /// The longest segment.
    var maxSegment: Int { min(rowsPerSegment * rowElements, count) }
}
