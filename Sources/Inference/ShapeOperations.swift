import Numerics

/// TensorFlow functions that change a tensor's shape and keep its values in order: `tf.expand_dims` (an axis of
/// size 1 inserted), `tf.squeeze` (axes of size 1 removed) and `tf.stack` (inputs of one shape joined along a
/// new axis). Axes count the samples' axis as 0, negative from the end; none is 0.
struct ShapeOperationLayer: ForwardLayer {
    enum Kind {
        /// An axis of size 1 inserted at this position of the output.
        case expand(Int)
        /// These axes, each of size 1, removed.
        case squeeze([Int])
        /// The inputs joined along a new axis at this position of the output.
        case stack(Int)
    }

    let label: OperationLabel
    let kind: Kind

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard let first = inputs.first else { throw label.mismatch("on no tensors") }
        switch kind {
        case .expand(let axis):
            let input = try single(inputs)
            var shape = input.shape
            shape.insert(1, at: try label.axis(axis, rank: input.rank + 1, shape: input.shape))
            return input.reshaped(shape)
        case .squeeze(let axes):
            let input = try single(inputs)
            var removed = Set<Int>()
            for axis in axes {
                let resolved = try label.axis(axis, rank: input.rank, shape: input.shape)
                guard input.shape[resolved] == 1 else {
                    throw label.mismatch(
                        "with axis \(axis), of size \(input.shape[resolved]) in shape \(input.shape), not 1")
                }
                removed.insert(resolved)
            }
            return input.reshaped(input.shape.indices.filter { !removed.contains($0) }.map { input.shape[$0] })
        case .stack(let axis):
            guard inputs.allSatisfy({ $0.shape == first.shape }) else {
                throw label.mismatch("on shapes \(inputs.map(\.shape)), which differ")
            }
            let along = try label.axis(axis, rank: first.rank + 1, shape: first.shape)
            var shape = first.shape
            shape.insert(inputs.count, at: along)
            var values: [Float] = []
            values.reserveCapacity(try Allocation.count(shape, layer: label.layer))
            // For each index before the new axis, each input's block of what follows it, in turn.
            let outer = first.shape[..<along].reduce(1, *)
            let block = outer == 0 ? 0 : first.count / outer
            for row in 0..<outer {
                for input in inputs { values += input.values[(row * block)..<((row + 1) * block)] }
            }
            return Tensor(shape: shape, values: values)
        }
    }

    /// The one input of `expand_dims` and `squeeze`.
    private func single(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 1, let input = inputs.first else {
            throw label.mismatch("on \(inputs.count) tensors, not one")
        }
        return input
    }
}
