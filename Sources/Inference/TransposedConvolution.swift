import Numerics

/// Where a transposed convolution (`Conv1DTranspose/2D/3D`) puts what each input position contributes: the
/// output size Keras gives it, and for each input position and kernel offset the output position it lands on.
///
/// Per axis, with the dilated kernel span `K = (k - 1) · d + 1`: without `output_padding` the output is
/// `L · s + max(K - s, 0)` (`valid`) or `L · s` (`same`); with it, `(L - 1) · s + K - 2 · pad + output_padding`
/// where `pad` is `K / 2` (`same`) or 0 (`valid`). Input position `i` and offset `o` land on
/// `i · s + o · d - before`, where `before` is the padding TensorFlow gives a forward convolution from the
/// output's size back to the input's (`same`: half of `max(0, (L - 1) · s + K - out)`, rounded down; `valid`:
/// 0); what lands outside the output is dropped.
struct TransposedWindow {
    let inputSize: [Int]
    let window: [Int]
    let strides: [Int]
    let dilation: [Int]
    let outputSize: [Int]
    let padBefore: [Int]

    /// The geometry for `padding` `valid` or `same`; `outputPadding` nil when the config leaves it out.
    init(
        inputSize: [Int], window: [Int], strides: [Int], dilation: [Int], padding: SpatialWindow.Padding,
        outputPadding: [Int]?
    ) {
        self.inputSize = inputSize
        self.window = window
        self.strides = strides
        self.dilation = dilation
        var output: [Int] = [], before: [Int] = []
        for axis in inputSize.indices {
            let (length, stride) = (inputSize[axis], strides[axis])
            let span = (window[axis] - 1) * dilation[axis] + 1
            let size: Int
            if let outputPadding {
                let pad = padding == .same ? span / 2 : 0
                size = (length - 1) * stride + span - 2 * pad + outputPadding[axis]
            } else {
                size = padding == .same ? length * stride : length * stride + max(span - stride, 0)
            }
            output.append(max(size, 0))
            before.append(padding == .same ? max(0, (length - 1) * stride + span - size) / 2 : 0)
        }
        outputSize = output
        padBefore = before
    }

    /// Input positions, row-major over the spatial axes.
    var inputPositions: Int { inputSize.reduce(1, *) }
    /// Output positions, row-major over the spatial axes.
    var outputPositions: Int { outputSize.reduce(1, *) }
    /// Kernel offsets, row-major over the spatial axes.
    var offsets: Int { window.reduce(1, *) }

    /// For each input position and kernel offset (positions outer), the flat output position written, or -1
    /// outside the output.
    func scatterTable() -> [Int] {
        var table: [Int] = []
        table.reserveCapacity(inputPositions * offsets)
        let offsetIndices = (0..<offsets).map { SpatialWindow.unflatten($0, window) }
        for p in 0..<inputPositions {
            let position = SpatialWindow.unflatten(p, inputSize)
            for offset in offsetIndices {
                var index = 0
                for axis in inputSize.indices {
                    let coordinate = position[axis] * strides[axis] + offset[axis] * dilation[axis] - padBefore[axis]
                    guard coordinate >= 0, coordinate < outputSize[axis] else {
                        index = -1
                        break
                    }
                    index = index * outputSize[axis] + coordinate
                }
                table.append(index)
            }
        }
        return table
    }
}

/// `Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose` (channels last): each input position's channels
/// times the kernel give, per kernel offset, the filters it adds to one output position.
///
/// Computed as one product per chunk of samples, the inputs (positions × C) times the kernel
/// (C × offsets · F, its transpose), through BLAS; each row of the product is then added into the output
/// positions the scatter table names.
struct TransposedConvolutionLayer: ForwardLayer {
    let name: String
    /// `[k1, ..., kd, F, C]`: Keras stores a transposed kernel with the filters before the input channels.
    let kernel: Tensor
    let bias: [Float]
    let strides: [Int]
    let dilation: [Int]
    let padding: SpatialWindow.Padding
    let outputPadding: [Int]?
    let activation: ForwardActivation
    let blas: BLAS

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let rank = kernel.rank - 2
        let filters = kernel.shape[rank], channels = kernel.shape[rank + 1]
        guard input.rank == rank + 2, input.shape.last == channels else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) takes \(rank)-D inputs with \(channels) channels, not shape \(input.shape)")
        }
        let window = TransposedWindow(
            inputSize: Array(input.shape[1...rank]), window: Array(kernel.shape[0..<rank]),
            strides: strides, dilation: dilation, padding: padding,
            outputPadding: outputPadding)
        let batch = input.shape[0]
        try Allocation.requireTable([window.inputPositions, window.offsets], layer: name, "a scatter table")
        try Allocation.requireTable([window.inputPositions, window.offsets, filters], layer: name, "products")
        var output = [Float](
            repeating: 0, count: try Allocation.count([batch] + window.outputSize + [filters], layer: name))
        output.withUnsafeMutableBufferPointer { out in
            input.values.withUnsafeBufferPointer { x in
                kernel.values.withUnsafeBufferPointer { w in
                    scatter(x, batch: batch, window: window, kernel: w, into: out)
                }
            }
            addBias(bias, to: out, width: filters)
        }
        activation.apply(&output, lastAxis: filters)
        return Tensor(shape: [batch] + window.outputSize + [filters], values: output)
    }

    /// The contributions of every input position, a chunk of samples at a time, added into `out`.
    private func scatter(
        _ x: UnsafeBufferPointer<Float>, batch: Int, window: TransposedWindow,
        kernel w: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>
    ) {
        let rank = kernel.rank - 2
        let filters = kernel.shape[rank], channels = kernel.shape[rank + 1]
        let columns = window.offsets * filters, positions = window.inputPositions
        let outputPositions = window.outputPositions
        let chunk = max(1, min(batch, ConvolutionLayer.patchBudget / max(positions * columns, 1)))
        let table = window.scatterTable()
        var products = [Float](repeating: 0, count: chunk * positions * columns)
        products.withUnsafeMutableBufferPointer { products in
            for first in stride(from: 0, to: batch, by: chunk) {
                let samples = min(chunk, batch - first)
                let rows = UnsafeBufferPointer(rebasing: x[(first * positions * channels)...])
                blas.gemm(
                    BLAS.Matrix(rows, rows: samples * positions, columns: channels),
                    BLAS.Matrix(w, rows: columns, columns: channels), transposeB: true,
                    into: products, cStride: columns)
                // Samples write apart; within one, positions may land on the same output, so one thread each.
                let products = UnsafeBufferPointer(products)
                parallelRanges(samples, threads: blas.threads, cost: positions * columns) { range in
                    for sample in range {
                        let target = (first + sample) * outputPositions * filters
                        for p in 0..<positions {
                            let row = (sample * positions + p) * columns
                            for o in 0..<window.offsets {
                                let to = table[p * window.offsets + o]
                                guard to >= 0 else { continue }
                                let from = row + o * filters, at = target + to * filters
                                for f in 0..<filters { out[at + f] += products[from + f] }
                            }
                        }
                    }
                }
            }
        }
    }
}
