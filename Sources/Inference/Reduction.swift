import Numerics

/// `tf.math.reduce_sum`, `reduce_mean`, `reduce_prod`, `reduce_max` and `reduce_min` over some of the axes after
/// the samples', dropping them or (`keepdims`) keeping them with size 1.
///
/// Elements are combined in row-major order in float32 (TensorFlow's vectorized sums may group them otherwise:
/// the results agree to float32 rounding). The mean is the sum divided by the count; over no elements the sum is
/// 0, the product 1, the maximum -∞, the minimum +∞ and the mean NaN, as in TensorFlow. The maximum and minimum
/// are NaN when an element is.
struct ReductionLayer: ForwardLayer {
    enum Kind { case sum, mean, product, maximum, minimum }

    let label: OperationLabel
    let kind: Kind
    /// The axes reduced, counted with the samples' axis as 0, negative from the end; none of them is 0.
    let axes: [Int]
    let keepDimensions: Bool

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 1, let input = inputs.first else {
            throw label.mismatch("on \(inputs.count) tensors, not one")
        }
        var reduced = [Bool](repeating: false, count: input.rank)
        for axis in axes {
            let resolved = try label.axis(axis, rank: input.rank, shape: input.shape)
            guard !reduced[resolved] else {
                throw label.mismatch("with axis \(axes), which names axis \(resolved) twice")
            }
            reduced[resolved] = true
        }
        var kept = input.shape
        for axis in kept.indices where reduced[axis] { kept[axis] = 1 }
        let count = try Allocation.count(kept, layer: label.layer)
        // The output offset of each input element: strides over the kept axes, 0 along the reduced ones.
        var strides = [Int](repeating: 0, count: input.rank)
        var stride = 1
        for axis in kept.indices.reversed() where !reduced[axis] {
            strides[axis] = stride
            stride *= kept[axis]
        }
        var values = [Float](repeating: initial, count: count)
        var index = [Int](repeating: 0, count: input.rank)
        var offset = 0
        for value in input.values {
            values[offset] = combine(values[offset], value)
            var axis = input.rank - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < input.shape[axis] { break }
                offset -= strides[axis] * input.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        if kind == .mean {
            let elements = Float(input.count / max(count, 1))
            values = values.map { $0 / elements }
        }
        let shape = keepDimensions ? kept : input.shape.indices.filter { !reduced[$0] }.map { input.shape[$0] }
        return Tensor(shape: shape, values: values)
    }

    /// The value over no elements.
    private var initial: Float {
        switch kind {
        case .sum, .mean: return 0
        case .product: return 1
        case .maximum: return -.infinity
        case .minimum: return .infinity
        }
    }

    /// The running value with one more element.
    private func combine(_ running: Float, _ value: Float) -> Float {
        switch kind {
        case .sum, .mean: return running + value
        case .product: return running * value
        case .maximum: return running.isNaN || value.isNaN ? .nan : max(running, value)
        case .minimum: return running.isNaN || value.isNaN ? .nan : min(running, value)
        }
    }
}
