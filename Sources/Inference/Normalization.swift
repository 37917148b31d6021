import Numerics

/// A per-feature affine map on the last axis, `x · scale + shift`: `Normalization`
/// (`(x - mean) / max(sqrt(variance), 1e-7)`), `BatchNormalization` on its moving statistics
/// (`(x - mean) / sqrt(variance + epsilon) · gamma + beta`) and `Rescaling` (`x · scale + offset`).
struct AffineLayer: ForwardLayer {
    let name: String
    let scale: [Float]
    let shift: [Float]
    /// The axis the features lie on, when the config names it by position (`axis=1` of channels-first
    /// data): it is moved last for the map and back after.
    var axis: Int? = nil

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        if let axis, axis != input.rank - 1 {
            guard axis < input.rank else {
                throw InferenceError(
                    .shapeMismatch, layer: name,
                    "layer \(name) normalizes axis \(axis), the input has shape \(input.shape)")
            }
            return try mapLastAxis(input.movingAxisToEnd(axis)).movingLastAxis(to: axis)
        }
        return try mapLastAxis(input)
    }

    private func mapLastAxis(_ input: Tensor) throws -> Tensor {
        let width = scale.count
        guard width == 1 || input.shape.last == width else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) normalizes \(width) features, the input has shape \(input.shape)")
        }
        let values = [Float](unsafeUninitializedCapacity: input.count) { v, initialized in
            input.values.withUnsafeBufferPointer { x in
                scale.withUnsafeBufferPointer { scale in
                    shift.withUnsafeBufferPointer { shift in
                        guard width > 1 else {
                            for i in 0..<x.count { v[i] = x[i] * scale[0] + shift[0] }
                            return
                        }
                        for start in stride(from: 0, to: x.count, by: max(width, 1)) {
                            for j in 0..<width { v[start + j] = x[start + j] * scale[j] + shift[j] }
                        }
                    }
                }
            }
            initialized = input.count
        }
        return Tensor(shape: input.shape, values: values)
    }

    /// Keras' `Normalization`: the features minus `mean`, over `max(sqrt(variance), 1e-7)`.
    static func normalization(_ name: String, mean: [Float], variance: [Float]) -> AffineLayer {
        let scale = variance.map { 1 / max($0.squareRoot(), 1e-7) }
        return AffineLayer(name: name, scale: scale, shift: zip(mean, scale).map { -$0 * $1 })
    }

    /// Keras' `BatchNormalization` at inference.
    static func batchNormalization(
        _ name: String, gamma: [Float]?, beta: [Float]?, mean: [Float],
        variance: [Float], epsilon: Float
    ) -> AffineLayer {
        let gamma = gamma ?? [Float](repeating: 1, count: mean.count)
        let beta = beta ?? [Float](repeating: 0, count: mean.count)
        let scale = (0..<mean.count).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        return AffineLayer(name: name, scale: scale, shift: (0..<mean.count).map { beta[$0] - mean[$0] * scale[$0] })
    }
}
