import Numerics

/// `TimeDistributed`: the wrapped layer run on every step of every sample, as one batch of samples·steps rows.
///
/// A time-step mask on the input passes to the output when the wrapped layer is one that carries or ignores
/// masks (Keras gives the wrapper's output the input's mask); a wrapped layer that would use the mask is refused.
struct TimeDistributedLayer: MaskingLayer {
    let name: String
    let inner: any ForwardLayer
    /// What the wrapped layer does with a mask.
    let innerMasks: MaskRule
    /// The wrapped layer's class, for messages.
    let innerClass: String

    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor] {
        guard inputs.count == 1, let input = inputs.first else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) takes one input, not \(inputs.count)")
        }
        guard input.tensor.rank >= 3 else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) takes samples × steps × features, not shape \(input.tensor.shape)")
        }
        if input.mask != nil, innerMasks == .refuses || inner is any MaskingLayer {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) (TimeDistributed) is given a time-step mask, which kprune does not "
                    + "pass to a wrapped \(innerClass)")
        }
        let shape = input.tensor.shape
        let rows = shape[0] * shape[1]
        let output = try inner.forward([input.tensor.reshaped([rows] + shape.dropFirst(2))])
        guard output.rank >= 1, output.shape[0] == rows else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name)'s wrapped layer gives shape \(output.shape)")
        }
        return [MaskedTensor(output.reshaped([shape[0], shape[1]] + output.shape.dropFirst()), mask: input.mask)]
    }
}
