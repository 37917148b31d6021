import Numerics

/// `Bidirectional`: a recurrent layer run forward and a copy run backward on the same sequences, as Keras runs
/// them. With `returnSequences` the backward outputs are put back in time order before the merge; masked
/// steps give zeros (Keras sets `zero_output_for_mask` on both layers then).
///
/// Outputs: the merge of the two (`concat` on the last axis, `sum`, `mul`, `ave`), or with no merge mode both
/// of them; with `returnState` then the forward layer's final states and the backward layer's.
struct BidirectionalLayer: MaskingLayer {
    /// How the two directions' outputs combine.
    enum Merge: String {
        case concat, sum, mul, ave
    }

    let name: String
    let forwardLayer: RecurrentLayer
    let backwardLayer: RecurrentLayer
    /// nil: both outputs, unmerged.
    let merge: Merge?

    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor] {
        guard inputs.count == 1, let input = inputs.first else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) takes \(inputs.count) inputs; kprune runs Bidirectional on one (no initial state)")
        }
        let forward = try forwardLayer.run(input.tensor, mask: input.mask)
        let backward = try backwardLayer.run(input.tensor, mask: input.mask)
        let sequences = forwardLayer.returnSequences
        let reversed = sequences ? Self.reversedInTime(backward.output) : backward.output
        let mask = sequences ? input.mask : nil
        guard forward.output.shape == reversed.shape else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name)'s directions give shapes \(forward.output.shape) and \(reversed.shape)")
        }
        var outputs: [MaskedTensor]
        if let merge {
            outputs = [MaskedTensor(Self.merged(forward.output, reversed, merge), mask: mask)]
        } else {
            outputs = [MaskedTensor(forward.output, mask: mask), MaskedTensor(reversed, mask: mask)]
        }
        if forwardLayer.returnState { outputs += (forward.states + backward.states).map { MaskedTensor($0) } }
        return outputs
    }

    /// Samples × steps × features with the steps in reverse order.
    static func reversedInTime(_ tensor: Tensor) -> Tensor {
        let (batch, steps) = (tensor.shape[0], tensor.shape[1])
        let width = batch * steps == 0 ? 0 : tensor.count / (batch * steps)
        var values = [Float]()
        values.reserveCapacity(tensor.count)
        for sample in 0..<batch {
            for step in (0..<steps).reversed() {
                let start = (sample * steps + step) * width
                values += tensor.values[start..<(start + width)]
            }
        }
        return Tensor(shape: tensor.shape, values: values)
    }

    /// The two directions' outputs combined; `concat` joins them along the last axis.
    static func merged(_ a: Tensor, _ b: Tensor, _ merge: Merge) -> Tensor {
        switch merge {
        case .concat:
            let width = a.shape.last ?? 1
            var values = [Float]()
            values.reserveCapacity(a.count * 2)
            for start in stride(from: 0, to: a.count, by: max(width, 1)) {
                values += a.values[start..<(start + width)]
                values += b.values[start..<(start + width)]
            }
            return Tensor(shape: Array(a.shape.dropLast()) + [width * 2], values: values)
        case .sum: return Tensor(shape: a.shape, values: zip(a.values, b.values).map { $0 + $1 })
        case .mul: return Tensor(shape: a.shape, values: zip(a.values, b.values).map { $0 * $1 })
        case .ave: return Tensor(shape: a.shape, values: zip(a.values, b.values).map { ($0 + $1) / 2 })
        }
    }
}
