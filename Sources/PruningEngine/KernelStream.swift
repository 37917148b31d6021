import HDF5

/// Walks a dataset in slabs along its first dimension, so each slab is a contiguous run of elements in
/// row-major order and memory stays bounded whatever the dataset's size.
struct KernelStream {
    /// Elements per slab to aim for: 1 Mi elements, 4 MiB as float32.
    static let slabElements = 1 << 20

    let shape: [Int]
    /// Elements in one index of the first dimension.
    let rowElements: Int
    /// Rows per slab.
    let slabRows: Int
    /// Bytes of chunk cache for one slab's chunks, for chunked datasets.
    let chunkCacheBytes: Int?

    init(shape: [Int], layout: StorageLayout, storedBytes: Int) {
        self.shape = shape
        rowElements = max(shape.dropFirst().reduce(1, *), 1)
        var rows = max(1, KernelStream.slabElements / rowElements)
        var cache: Int? = nil
        if case .chunked(let chunk) = layout, chunk.count == shape.count, let first = chunk.first, first > 0 {
            // Whole chunks per slab, and a cache holding one slab's worth of chunks, so every chunk is
            // decompressed once on read and compressed once on write.
            rows = max(first, (rows / first) * first)
            let chunksAcross = zip(shape.dropFirst(), chunk.dropFirst()).reduce(1) { $0 * (($1.0 + $1.1 - 1) / $1.1) }
            let chunkBytes = chunk.reduce(1, *) * storedBytes
            cache = min(chunksAcross * chunkBytes * ((rows + first - 1) / first) + (1 << 20), 512 << 20)
        }
        slabRows = rows
        chunkCacheBytes = cache
    }

    var count: Int { shape.reduce(1, *) }

    /// The slabs as (first row, row count, first flat index, element count).
    var slabs: [(row: Int, rows: Int, offset: Int, count: Int)] {
        guard let total = shape.first, total > 0 else { return [] }
        return stride(from: 0, to: total, by: slabRows).map { row in
            let rows = min(slabRows, total - row)
            return (row, rows, row * rowElements, rows * rowElements)
        }
    }

    func start(row: Int) -> [Int] { [row] + [Int](repeating: 0, count: shape.count - 1) }
    func count(rows: Int) -> [Int] { [rows] + Array(shape.dropFirst()) }

    /// Reads every slab in order into one reused buffer and hands it to `body` with its first flat index.
    func forEachSlab<T: HDF5Scalar & BinaryFloatingPoint>(
        of dataset: Dataset, as type: T.Type,
        _ body: (_ offset: Int, _ values: UnsafeMutableBufferPointer<T>) throws -> Void
    ) throws {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: min(slabRows * rowElements, max(count, 1)))
        defer { buffer.deallocate() }
        for slab in slabs {
            let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<slab.count])
            try dataset.read(start: start(row: slab.row), count: count(rows: slab.rows), into: values)
            try body(slab.offset, values)
        }
    }
}
