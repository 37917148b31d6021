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
        let rank = kernel.rank - 2
        let channels = kernel.shape[rank], multiplier = kernel.shape[rank + 1]
        guard input.rank == rank + 2, input.shape.last == channels else {
            throw InferenceError(.shapeMismatch, layer: name,
                                 "layer \(name) takes \(rank)-D inputs with \(channels) channels, not shape \(input.shape)")
        }
        let batch = input.shape[0], spatial = Array(input.shape[1...rank])
        let window = SpatialWindow(inputSize: spatial, window: Array(kernel.shape[0..<rank]), strides: strides,
                                   dilation: dilation, padding: padding)
        let table = window.gatherTable()
        let spatialCount = spatial.reduce(1, *), outChannels = channels * multiplier
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
