/// An N-dimensional array of float32 values: a shape and one contiguous, row-major buffer (the last index
/// varies fastest), the layout Keras stores kernels in (a Dense kernel is fan-in × units, a Conv2D kernel
/// height × width × input channels × filters) and the layout of a batch of inputs (samples × features).
///
/// Rank-2 tensors, the matrices of the fine-tune, have `rows`, `columns` and a `[row, column]` subscript.
public struct Tensor: Sendable, Equatable {
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    /// The elements, row-major.
    public var values: [Float]

    /// A tensor of `shape` holding `values`, row-major.
    /// - Precondition: `values.count` is the product of `shape`, and no extent is negative.
    @inlinable
    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in \(shape)")
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// A tensor of `shape` filled with zeros.
    @inlinable
    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A `rows` × `columns` matrix holding `values`, row-major.
    @inlinable
    public init(rows: Int, columns: Int, values: [Float]) {
        self.init(shape: [rows, columns], values: values)
    }

    /// A `rows` × `columns` matrix of zeros.
    @inlinable
    public init(zeros rows: Int, _ columns: Int) {
        self.init(zeros: [rows, columns])
    }

    /// The number of dimensions.
    @inlinable
    public var rank: Int { shape.count }

    /// The number of elements.
    @inlinable
    public var count: Int { values.count }

    /// The same elements under another shape with as many elements.
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, values: values) }
}

extension Tensor {
    /// Rows of a matrix: the first extent.
    /// - Precondition: the tensor has rank 2.
    @inlinable
    public var rows: Int {
        precondition(shape.count == 2, "rows of a rank-\(shape.count) tensor")
        return shape[0]
    }

    /// Columns of a matrix: the second extent.
    /// - Precondition: the tensor has rank 2.
    @inlinable
    public var columns: Int {
        precondition(shape.count == 2, "columns of a rank-\(shape.count) tensor")
        return shape[1]
    }

    /// The element at `row`, `column` of a matrix.
    @inlinable
    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// Sets every element whose `mask` entry is false to zero, in one pass over raw buffers (no per-element
    /// copy-on-write checks), which the compiler vectorizes.
    /// - Precondition: `mask` has one entry per element.
    @inlinable
    public mutating func zero(outside mask: [Bool]) {
        precondition(mask.count == values.count, "mask does not fit the tensor")
        values.withUnsafeMutableBufferPointer { values in
            mask.withUnsafeBufferPointer { mask in
                for i in 0..<values.count { values[i] = mask[i] ? values[i] : 0 }
            }
        }
    }

    /// The given rows of a matrix, in the given order.
    public func rows(_ indices: [Int]) -> Tensor {
        let columns = columns
        var picked: [Float] = []
        picked.reserveCapacity(indices.count * columns)
        for row in indices { picked += values[(row * columns)..<((row + 1) * columns)] }
        return Tensor(rows: indices.count, columns: columns, values: picked)
    }

    /// The column of a matrix row's largest value, the lowest column on ties.
    @inlinable
    public func argmax(row: Int) -> Int {
        var best = 0
        for j in 1..<max(columns, 1) where self[row, j] > self[row, best] { best = j }
        return best
    }
}
