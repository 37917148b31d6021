import Numerics

/// `Conv1D`, `Conv2D`, `Conv3D` (channels last; channels-first configs run through `ChannelsFirstLayer`),
/// with `groups`: group `g` convolves input channels `g·C/groups ..< (g+1)·C/groups` into filters
/// `g·F/groups ..< (g+1)·F/groups`, as Keras splits them.
///
/// Each output position's patch (window offsets, then the group's input channels: the kernel's own order) is
/// gathered into a row of a patch matrix, a chunk of samples at a time, and multiplied by the group's kernel
/// (patch × filters) through BLAS, straight into the output. A 1 × 1 convolution with unit strides needs no
/// patches: the input is already that matrix.
struct ConvolutionLayer: ForwardLayer {
    let name: String
    /// `[k1, ..., kd, C / groups, F]`.
    let kernel: Tensor
    let bias: [Float]
    let strides: [Int]
    let dilation: [Int]
    let padding: SpatialWindow.Padding
    let activation: ForwardActivation
    let blas: BLAS
    /// Groups of channels convolved apart.
    var groups = 1

    /// Values of the patch matrix built at a time (32 MiB), whatever the batch; at least one sample's.
    static let patchBudget = 1 << 23

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let rank = kernel.rank - 2
        let groupChannels = kernel.shape[rank], filters = kernel.shape[rank + 1]
        guard input.rank == rank + 2, input.shape.last == groupChannels * groups else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) takes \(rank)-D inputs with "
                                 + "\(groupChannels * groups) channels, not shape \(input.shape)")
        }
        let window = SpatialWindow(inputSize: Array(input.shape[1...rank]), window: Array(kernel.shape[0..<rank]),
                                   strides: strides, dilation: dilation, padding: padding)
        let batch = input.shape[0]
        var output = [Float](repeating: 0, count: batch * window.positions * filters)
        output.withUnsafeMutableBufferPointer { out in
            input.values.withUnsafeBufferPointer { x in
                kernel.values.withUnsafeBufferPointer { w in
                    if window.offsets == 1, strides.allSatisfy({ $0 == 1 }), groups == 1 {
                        blas.gemm(BLAS.Matrix(x, rows: batch * window.positions, columns: groupChannels),
                                  BLAS.Matrix(w, rows: groupChannels, columns: filters), into: out, cStride: filters)
                    } else {
                        convolve(x, batch: batch, window: window, kernel: w, into: out)
                    }
                }
            }
            addBias(out, width: filters)
        }
        activation.apply(&output, lastAxis: filters)
        return Tensor(shape: [batch] + window.outputSize + [filters], values: output)
    }

    /// The products of patch matrices, a chunk of samples and a group at a time, into `out` (`[N · P, F]`).
    private func convolve(_ x: UnsafeBufferPointer<Float>, batch: Int, window: SpatialWindow,
                          kernel w: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>)
    {
        let rank = kernel.rank - 2
        let groupChannels = kernel.shape[rank], filters = kernel.shape[rank + 1]
        let groupFilters = filters / groups, patch = window.offsets * groupChannels
        let perSample = window.positions * patch
        let chunk = max(1, min(batch, Self.patchBudget / max(perSample, 1)))
        let table = window.gatherTable()
        var patches = [Float](repeating: 0, count: chunk * perSample)
        patches.withUnsafeMutableBufferPointer { patches in
            for first in stride(from: 0, to: batch, by: chunk) {
                let samples = min(chunk, batch - first), rows = samples * window.positions
                for group in 0..<groups {
                    gather(x, samples: first..<(first + samples), window: window, table: table,
                           channels: (group * groupChannels)..<((group + 1) * groupChannels), into: patches)
                    let kernelColumns = UnsafeBufferPointer(rebasing: w[(group * groupFilters)...])
                    let target = UnsafeMutableBufferPointer(rebasing: out[(first * window.positions * filters + group * groupFilters)...])
                    blas.gemm(BLAS.Matrix(UnsafeBufferPointer(patches), rows: rows, columns: patch),
                              BLAS.Matrix(kernelColumns, rows: patch, columns: groupFilters, stride: filters),
                              into: target, cStride: filters)
                }
            }
        }
    }

    /// The patch rows of `samples` for the input channels `channels`: per output position, per window offset,
    /// those channels of the input position it reads, or zeros in the padding.
    private func gather(_ x: UnsafeBufferPointer<Float>, samples: Range<Int>, window: SpatialWindow, table: [Int],
                        channels: Range<Int>, into patches: UnsafeMutableBufferPointer<Float>)
    {
        let inputChannels = channels.count * groups, width = channels.count
        let spatial = window.inputSize.reduce(1, *), offsets = window.offsets, positions = window.positions
        guard let x = x.baseAddress, let patches = patches.baseAddress else { return }
        table.withUnsafeBufferPointer { table in
            parallelRanges(samples.count * positions, threads: blas.threads, cost: offsets * width) { rows in
                for row in rows {
                    let sample = samples.lowerBound + row / positions, position = row % positions
                    let base = x + sample * spatial * inputChannels + channels.lowerBound
                    var to = patches + row * offsets * width
                    for o in 0..<offsets {
                        let source = table[position * offsets + o]
                        if source >= 0 {
                            to.update(from: base + source * inputChannels, count: width)
                        } else {
                            to.update(repeating: 0, count: width)
                        }
                        to += width
                    }
                }
            }
        }
    }

    private func addBias(_ out: UnsafeMutableBufferPointer<Float>, width: Int) {
        guard width > 0, bias.contains(where: { $0 != 0 }) else { return }
        bias.withUnsafeBufferPointer { bias in
            for start in stride(from: 0, to: out.count, by: width) {
                for j in 0..<width { out[start + j] += bias[j] }
            }
        }
    }
}
