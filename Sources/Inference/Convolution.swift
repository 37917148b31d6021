import Numerics

/// `Conv1D`, `Conv2D`, `Conv3D` (channels last, groups 1): each output position's patch (window offsets,
/// then input channels, the kernel's own order) times the kernel reshaped to patch × filters, through BLAS.
struct ConvolutionLayer: ForwardLayer {
    let name: String
    /// `[k1, ..., kd, C, F]`.
    let kernel: Tensor
    let bias: [Float]
    let strides: [Int]
    let dilation: [Int]
    let padding: SpatialWindow.Padding
    let activation: ForwardActivation
    let blas: BLAS

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let window = try SpatialWindow.sliding(kernel, over: input, strides: strides, dilation: dilation,
                                               padding: padding, layer: name)
        let channels = kernel.shape[kernel.rank - 2], filters = kernel.shape[kernel.rank - 1]
        let batch = input.shape[0]
        let table = window.gatherTable()
        let patch = window.offsets * channels
        let spatialCount = window.inputSize.reduce(1, *)
        var patches = Tensor(zeros: batch * window.positions, patch)
        patches.values.withUnsafeMutableBufferPointer { out in
            input.values.withUnsafeBufferPointer { x in
                for n in 0..<batch {
                    let base = n * spatialCount * channels
                    for p in 0..<window.positions {
                        let row = (n * window.positions + p) * patch
                        for o in 0..<window.offsets {
                            let source = table[p * window.offsets + o]
                            guard source >= 0 else { continue }
                            let from = base + source * channels, to = row + o * channels
                            for c in 0..<channels { out[to + c] = x[from + c] }
                        }
                    }
                }
            }
        }
        var output = Tensor(zeros: batch * window.positions, filters)
        blas.dense(patches, kernel.reshaped([patch, filters]), bias, .linear, into: &output)
        var values = output.values
        activation.apply(&values, lastAxis: filters)
        return Tensor(shape: [batch] + window.outputSize + [filters], values: values)
    }
}
