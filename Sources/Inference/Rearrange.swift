import Numerics

/// Layers that move values without arithmetic: `ZeroPadding1D/2D/3D`, `Cropping1D/2D/3D`,
/// `UpSampling1D/2D/3D` (nearest), `Permute` and `RepeatVector`. Each output element reads one input
/// element, or zero.
struct RearrangeLayer: ForwardLayer {
    enum Kind {
        /// Zeros before and after each spatial axis.
        case pad(before: [Int], after: [Int])
        /// Elements dropped before and after each spatial axis.
        case crop(before: [Int], after: [Int])
        /// Each element repeated along each spatial axis.
        case upsample([Int])
        /// The non-sample axes reordered (1-based, as Keras writes them).
        case permute([Int])
        /// A 2-D input `[N, F]` repeated into `[N, n, F]`.
        case repeatVector(Int)
    }

    let name: String
    let kind: Kind

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let outputShape = try shape(of: input.shape)
        var values = [Float](repeating: 0, count: try Allocation.count(outputShape, layer: name))
        let inputStrides = Self.strides(input.shape)
        for index in values.indices {
            let coordinates = SpatialWindow.unflatten(index, outputShape)
            if let source = self.source(coordinates, input.shape) {
                values[index] = input.values[zip(source, inputStrides).reduce(0) { $0 + $1.0 * $1.1 }]
            }
        }
        return Tensor(shape: outputShape, values: values)
    }

    private static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        return strides
    }

    private func shape(of input: [Int]) throws -> [Int] {
        func spatial(_ count: Int) throws -> Range<Int> {
            guard input.count == count + 2 else {
                throw InferenceError(
                    .shapeMismatch, layer: name, "layer \(name) takes \(count)-D inputs, not shape \(input)")
            }
            return 1..<(count + 1)
        }
        var shape = input
        switch kind {
        case .pad(let before, let after):
            for (i, axis) in try spatial(before.count).enumerated() { shape[axis] += before[i] + after[i] }
        case .crop(let before, let after):
            for (i, axis) in try spatial(before.count).enumerated() {
                shape[axis] = max(0, shape[axis] - before[i] - after[i])
            }
        case .upsample(let factors):
            for (i, axis) in try spatial(factors.count).enumerated() { shape[axis] *= factors[i] }
        case .permute(let order):
            guard order.sorted() == Array(1...max(order.count, 1)), order.count == input.count - 1 else {
                throw InferenceError(
                    .shapeMismatch, layer: name, "layer \(name) permutes \(order), the input has shape \(input)")
            }
            shape = [input[0]] + order.map { input[$0] }
        case .repeatVector(let count):
            guard input.count == 2 else {
                throw InferenceError(
                    .shapeMismatch, layer: name, "layer \(name) repeats 2-D inputs, not shape \(input)")
            }
            shape = [input[0], count, input[1]]
        }
        return shape
    }

    /// The input coordinates an output element reads; nil for padding.
    private func source(_ out: [Int], _ input: [Int]) -> [Int]? {
        var source = out
        switch kind {
        case .pad(let before, _):
            for i in before.indices {
                source[i + 1] -= before[i]
                if source[i + 1] < 0 || source[i + 1] >= input[i + 1] { return nil }
            }
        case .crop(let before, _):
            for i in before.indices { source[i + 1] += before[i] }
        case .upsample(let factors):
            for i in factors.indices { source[i + 1] /= factors[i] }
        case .permute(let order):
            source = [Int](repeating: 0, count: out.count)
            source[0] = out[0]
            for (position, axis) in order.enumerated() { source[axis] = out[position + 1] }
        case .repeatVector:
            source = [out[0], out[2]]
        }
        return source
    }
}
