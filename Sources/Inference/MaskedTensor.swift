import Numerics

/// Which time steps of a batch of sequences count: `batch × steps`, row-major, true where a step counts.
///
/// Keras makes one with `Embedding(mask_zero=True)` (ids that are not 0) or `Masking` (steps whose features
/// are not all the mask value), carries it through the layers that support masks, and recurrent layers skip
/// the steps it leaves out.
struct TimeMask: Equatable {
    let batch: Int
    let steps: Int
    /// `batch × steps` flags, row-major.
    let values: [Bool]

    /// Whether step `step` of sample `sample` counts.
    subscript(sample: Int, step: Int) -> Bool { values[sample * steps + step] }

    /// Refuses a tensor whose first two axes are not this mask's samples and steps.
    func requireFits(_ tensor: Tensor, _ layer: String) throws {
        guard tensor.rank >= 2, tensor.shape[0] == batch, tensor.shape[1] == steps else {
            throw InferenceError(
                .shapeMismatch, layer: layer,
                "layer \(layer) takes shape \(tensor.shape) with a \(batch)×\(steps) time-step mask")
        }
    }
}

/// A tensor as it flows between layers: its values and the time-step mask Keras carries alongside it, if any.
struct MaskedTensor {
    var tensor: Tensor
    var mask: TimeMask?

    init(_ tensor: Tensor, mask: TimeMask? = nil) {
        self.tensor = tensor
        self.mask = mask
    }
}

/// A layer that reads or makes time-step masks, or gives several outputs (an LSTM's output and states).
protocol MaskingLayer: ForwardLayer {
    /// The layer's outputs for `inputs` (one per inbound tensor), each with its mask.
    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor]
}

extension MaskingLayer {
    /// Without masks, as a plain layer: its first output.
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard let output = try forward(masked: inputs.map { MaskedTensor($0) }).first else {
            preconditionFailure("a layer gave no output")
        }
        return output.tensor
    }
}

/// What a layer that knows nothing of masks does with the mask of its input, as Keras's layer of that class does.
enum MaskRule {
    /// It computes as if unmasked and its output carries the input's mask (`Dense`, `Dropout`, `Activation`...).
    case passes
    /// It computes as if unmasked and its output has no mask (Keras layers that do not support masking:
    /// `Flatten`, convolutions, pooling...).
    case drops
    /// It would use the mask in a way the forward pass does not implement: a masked input is refused.
    case refuses

    /// The mask of the output of a layer `layer` of `className` given `inputs`.
    /// - Throws: `InferenceError` when a masked input reaches a layer that refuses masks.
    func outputMask(of inputs: [MaskedTensor], layer: String, className: String) throws -> TimeMask? {
        guard let mask = inputs.lazy.compactMap(\.mask).first else { return nil }
        switch self {
        case .drops: return nil
        case .passes where inputs.count == 1: return mask
        case .passes, .refuses:
            throw InferenceError(
                .unsupportedConfig, layer: layer,
                "layer \(layer) (\(className)) is given a time-step mask (from Embedding mask_zero "
                    + "or Masking), which kprune's forward pass does not follow through a \(className)")
        }
    }
}
