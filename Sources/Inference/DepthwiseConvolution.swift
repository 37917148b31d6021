import Numerics

/// `DepthwiseConv1D/2D` and the depthwise half of `SeparableConv1D/2D` (channels last): each input channel
/// convolved with its own `multiplier` filters; output channel `c · multiplier + m`.
struct DepthwiseConvolutionLayer: ForwardLayer {
    let name: String
    /// `[k1, ..., kd, C, multiplier]`.
    let kernel: Tensor
    /// One per output channel, or empty.
    let bias: [Float]
    let strides: [Int]
    let dilation: [Int]
    let padding: SpatialWindow.Padding
    let activation: ForwardActivation

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let window = try SpatialWindow.sliding(kernel, over: input, strides: strides, dilation: dilation,
                                               padding: padding, layer: name)
        let channels = kernel.shape[kernel.rank - 2], multiplier = kernel.shape[kernel.rank - 1]
        let batch = input.shape[0]
        let table = window.gatherTable()
        let spatialCount = window.inputSize.reduce(1, *), outChannels = channels * multiplier
        var values = [Float](repeating: 0, count: batch * window.positions * outChannels)
        for n in 0..<batch {
            for p in 0..<window.positions {
                let out = (n * window.positions + p) * outChannels
                for o in 0..<window.offsets {
                    let source = table[p * window.offsets + o]
                    guard source >= 0 else { continue }
                    let from = (n * spatialCount + source) * channels, weights = o * outChannels
                    for c in 0..<channels {
                        let x = input.values[from + c]
                        for m in 0..<multiplier {
                            values[out + c * multiplier + m] += x * kernel.values[weights + c * multiplier + m]
                        }
                    }
                }
                if !bias.isEmpty { for j in 0..<outChannels { values[out + j] += bias[j] } }
            }
        }
        activation.apply(&values, lastAxis: outChannels)
        return Tensor(shape: [batch] + window.outputSize + [outChannels], values: values)
    }
}

/// `SeparableConv1D/2D`: the depthwise convolution, then a pointwise (1 × 1) one with the bias and the
/// activation.
struct SeparableConvolutionLayer: ForwardLayer {
    let depthwise: DepthwiseConvolutionLayer
    let pointwise: DenseLayer

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        try pointwise.forward([try depthwise.forward(inputs)])
    }
}
