import Foundation

/// Rows held in memory.
struct MemoryRows: ArrayBackend {
    let values: [Float]
    let columns: Int

    func read(rows range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        values.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress, let target = buffer.baseAddress else { return }
            target.update(from: base + range.lowerBound * columns, count: range.count * columns)
        }
    }
}

extension ArraySource {
    /// Rows computed in memory, read like a file's.
    /// - Parameters:
    ///   - name: how messages name the array.
    ///   - shape: rows first; `values` holds them row-major.
    public static func inMemory(name: String, shape: [Int], values: [Float]) -> ArraySource {
        precondition(shape.reduce(1, *) == values.count, "values do not fill the shape")
        return ArraySource(
            name: name, shape: shape, kind: .float,
            backend: MemoryRows(values: values, columns: shape.dropFirst().reduce(1, *)))
    }

    /// An `.npy` file reached at `path` (which need not end in `.npy`, such as a `/proc/self/fd/N` path),
    /// named `name` in messages.
    /// - Throws: `DataError` when the file cannot be read or is not an array numpy would write.
    public static func npy(at path: String, name: String) throws -> ArraySource {
        try NPY.open(path, name: name)
    }
}
