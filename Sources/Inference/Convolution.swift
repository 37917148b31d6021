import Numerics

/// `Conv1D`, `Conv2D`, `Conv3D` (channels last; channels-first configs run through `ChannelsFirstLayer`),
/// with `groups`: group `g` convolves input channels `g·C/groups ..< (g+1)·C/groups` into filters
/// `g·F/groups ..< (g+1)·F/groups`, as Keras splits them.
///
/// Each output position's patch (window offsets, then the group's input channels: the kernel's own order) is
/// gathered into a row of a patch matrix and multiplied by the group's kernel (patch × filters) through BLAS,
/// straight into the output. The output positions of the batch are split over the threads, each gathering
/// and multiplying a chunk of rows at a time on its own. A 1 × 1 convolution with unit strides needs no
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

    /// Values of the patch matrices built at a time (32 MiB, shared among the threads), whatever the batch;
    /// at least one row each.
    static let patchBudget = 1 << 23

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let window = try self.window(over: input)
        let filters = kernel.shape[kernel.rank - 1]
        let batch = input.shape[0]
        // Every element is written by a product (each group its columns, beta 0): no zeros needed first.
        let count = batch * window.positions * filters
        var output = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            input.values.withUnsafeBufferPointer { x in
                kernel.values.withUnsafeBufferPointer { w in
                    convolve(x, batch: batch, window: window, kernel: w, into: out)
                }
            }
            addBias(bias, to: out, width: filters)
            initialized = count
        }
        activation.apply(&output, lastAxis: filters)
        return Tensor(shape: [batch] + window.outputSize + [filters], values: output)
    }

    /// The window the kernel slides over `input`, once the input, the groups and the bias are checked to fit.
    /// - Throws: `InferenceError` `.shapeMismatch` naming the layer.
    private func window(over input: Tensor) throws -> SpatialWindow {
        let rank = kernel.rank - 2
        let groupChannels = kernel.shape[rank], filters = kernel.shape[rank + 1]
        guard input.rank == rank + 2, input.shape.last == groupChannels * groups, filters % groups == 0,
            bias.count == filters
        else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) takes \(rank)-D inputs with "
                    + "\(groupChannels * groups) channels in \(groups) groups, \(filters) filters and as many "
                    + "biases, not shape \(input.shape) and \(bias.count) biases")
        }
        let window = SpatialWindow(
            inputSize: Array(input.shape[1...rank]), window: Array(kernel.shape[0..<rank]),
            strides: strides, dilation: dilation, padding: padding)
        try window.requireBounds(batch: input.shape[0], channels: filters, layer: name)
        return window
    }

    /// Each output position's patch of `input`, a row per position (samples outer), in the kernel's order: the
    /// rows the layer's outputs are the kernel (patch × filters) times, less the bias.
    /// - Throws: `InferenceError` when the input does not fit, or the layer has several groups (whose patches
    ///   a single kernel matrix does not multiply).
    func patches(of input: Tensor) throws -> Tensor {
        guard groups == 1 else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) convolves \(groups) groups apart; its inputs are not one patch matrix")
        }
        let window = try self.window(over: input)
        let rows = input.shape[0] * window.positions, channels = kernel.shape[kernel.rank - 2]
        var patches = Tensor(zeros: rows, window.offsets * channels)
        input.values.withUnsafeBufferPointer { x in
            patches.values.withUnsafeMutableBufferPointer { out in
                gather(
                    x, rows: 0..<rows, window: window, table: window.gatherTable(), channels: 0..<channels, into: out)
            }
        }
        return patches
    }

    /// `out` (`[N · P, F]`): the output rows split over the threads, each part a chunk of rows and a group
    /// at a time, its patch matrix times the group's kernel on its own thread.
    private func convolve(
        _ x: UnsafeBufferPointer<Float>, batch: Int, window: SpatialWindow,
        kernel w: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>
    ) {
        let rank = kernel.rank - 2
        let groupChannels = kernel.shape[rank], filters = kernel.shape[rank + 1]
        let groupFilters = filters / groups, patch = window.offsets * groupChannels
        let pointwise = window.offsets == 1 && strides.allSatisfy { $0 == 1 } && groups == 1
        let table = pointwise ? [] : window.gatherTable()
        let threads = blas.threads
        parallelRanges(batch * window.positions, threads: threads, cost: patch * filters) { rows in
            if pointwise {
                // The input is already the patch matrix.
                let from = UnsafeBufferPointer(rebasing: x[(rows.lowerBound * patch)...])
                let to = UnsafeMutableBufferPointer(rebasing: out[(rows.lowerBound * filters)...])
                blas.gemm(
                    BLAS.Matrix(from, rows: rows.count, columns: patch),
                    BLAS.Matrix(w, rows: patch, columns: filters), into: to, cStride: filters, threaded: false)
                return
            }
            let chunk = max(1, min(rows.count, Self.patchBudget / threads / max(patch, 1)))
            var patches = [Float](repeating: 0, count: chunk * patch)
            patches.withUnsafeMutableBufferPointer { patches in
                for first in stride(from: rows.lowerBound, to: rows.upperBound, by: chunk) {
                    let part = first..<min(first + chunk, rows.upperBound)
                    for group in 0..<groups {
                        gather(
                            x, rows: part, window: window, table: table,
                            channels: (group * groupChannels)..<((group + 1) * groupChannels), into: patches)
                        let kernelColumns = UnsafeBufferPointer(rebasing: w[(group * groupFilters)...])
                        let target = UnsafeMutableBufferPointer(
                            rebasing: out[(first * filters + group * groupFilters)...])
                        blas.gemm(
                            BLAS.Matrix(UnsafeBufferPointer(patches), rows: part.count, columns: patch),
                            BLAS.Matrix(kernelColumns, rows: patch, columns: groupFilters, stride: filters),
                            into: target, cStride: filters, threaded: false)
                    }
                }
            }
        }
    }

    /// The patch rows of output positions `rows` (sample · positions + position) for the input channels
    /// `channels`: per window offset, those channels of the input position it reads, or zeros in the padding.
    private func gather(
        _ x: UnsafeBufferPointer<Float>, rows: Range<Int>, window: SpatialWindow, table: [Int],
        channels: Range<Int>, into patches: UnsafeMutableBufferPointer<Float>
    ) {
        let inputChannels = channels.count * groups, width = channels.count
        let spatial = window.inputSize.reduce(1, *), offsets = window.offsets, positions = window.positions
        guard let x = x.baseAddress, var to = patches.baseAddress else { return }
        table.withUnsafeBufferPointer { table in
            for row in rows {
                let sample = row / positions, position = row % positions
                let base = x + sample * spatial * inputChannels + channels.lowerBound
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

/// Adds `bias` to each run of `width` values of `out` (a row of outputs); nothing when every bias is zero.
func addBias(_ bias: [Float], to out: UnsafeMutableBufferPointer<Float>, width: Int) {
    guard width > 0, bias.count == width, bias.contains(where: { $0 != 0 }) else { return }
    bias.withUnsafeBufferPointer { bias in
        for start in stride(from: 0, to: out.count, by: width) {
            for j in 0..<width { out[start + j] += bias[j] }
        }
    }
}
