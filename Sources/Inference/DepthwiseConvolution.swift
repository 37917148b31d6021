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
    /// Threads the output positions are split over.
    var threads = 1

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let window = try SpatialWindow.sliding(
            kernel, over: input, strides: strides, dilation: dilation,
            padding: padding, layer: name)
        let channels = kernel.shape[kernel.rank - 2], multiplier = kernel.shape[kernel.rank - 1]
        let batch = input.shape[0], outChannels = channels * multiplier
        let table = window.gatherTable()
        var values = [Float](repeating: 0, count: batch * window.positions * outChannels)
        values.withUnsafeMutableBufferPointer { out in
            input.values.withUnsafeBufferPointer { x in
                kernel.values.withUnsafeBufferPointer { w in
                    table.withUnsafeBufferPointer { table in
                        parallelRanges(batch * window.positions, threads: threads, cost: window.offsets * outChannels) {
                            accumulate(rows: $0, x, w, table, window: window, into: out)
                        }
                    }
                }
            }
        }
        activation.apply(&values, lastAxis: outChannels)
        return Tensor(shape: [batch] + window.outputSize + [outChannels], values: values)
    }

    /// The outputs at flat positions `rows` (sample · positions + position): the bias, plus each window
    /// offset's input channels times their filters, a channel's run of `multiplier` outputs at a time.
    private func accumulate(
        rows: Range<Int>, _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>,
        _ table: UnsafeBufferPointer<Int>, window: SpatialWindow,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let channels = kernel.shape[kernel.rank - 2], multiplier = kernel.shape[kernel.rank - 1]
        let outChannels = channels * multiplier, offsets = window.offsets, positions = window.positions
        let spatial = window.inputSize.reduce(1, *)
        guard let x = x.baseAddress, let w = w.baseAddress, let out = out.baseAddress else { return }
        bias.withUnsafeBufferPointer { bias in
            for row in rows {
                let sample = row / positions, position = row % positions
                let acc = out + row * outChannels
                if bias.count == outChannels, let bias = bias.baseAddress { acc.update(from: bias, count: outChannels) }
                for o in 0..<offsets {
                    let source = table[position * offsets + o]
                    guard source >= 0 else { continue }
                    let input = x + (sample * spatial + source) * channels, weights = w + o * outChannels
                    if multiplier == 1 {
                        for c in 0..<channels { acc[c] += input[c] * weights[c] }
                    } else {
                        for c in 0..<channels {
                            for m in 0..<multiplier {
                                acc[c * multiplier + m] += input[c] * weights[c * multiplier + m]
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `SeparableConv1D/2D`: the depthwise convolution, then a pointwise (1 × 1) one with the bias and the
/// activation.
struct SeparableConvolutionLayer: ForwardLayer {
    let depthwise: DepthwiseConvolutionLayer
    let pointwise: ConvolutionLayer

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        try pointwise.forward([try depthwise.forward(inputs)])
    }
}
