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
        let rank = kernel.rank - 2
        let channels = kernel.shape[rank], filters = kernel.shape[rank + 1]
        guard input.rank == rank + 2, input.shape.last == channels else {
            throw InferenceError(.shapeMismatch, layer: name,
                                 "layer \(name) takes \(rank)-D inputs with \(channels) channels, not shape \(input.shape)")
        }
        let batch = input.shape[0]
        let spatial = Array(input.shape[1...rank])
        let window = SpatialWindow(inputSize: spatial, window: Array(kernel.shape[0..<rank]), strides: strides,
                                   dilation: dilation, padding: padding)
        let table = window.gatherTable()
        let patch = window.offsets * channels
        let spatialCount = spatial.reduce(1, *)
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
