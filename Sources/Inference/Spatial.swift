import Numerics

/// The geometry of a sliding window over the spatial axes of a channels-last tensor (`[N, d1, ..., dk, C]`):
/// window size, strides, dilation and padding per axis, as Keras computes them.
struct SpatialWindow {
    let window: [Int]
    let strides: [Int]
    let dilation: [Int]
    /// Zeros (or, for pooling, nothing) before each axis's first element.
    let padBefore: [Int]
    let inputSize: [Int]
    let outputSize: [Int]

    enum Padding: String { case valid, same, causal }

    /// The window over `inputSize` with Keras's padding rule: `valid` none, `same` the output is
    /// `ceil(input / stride)` with the padding split evenly, the odd one after (TensorFlow's rule), `causal`
    /// (1-D) all of it before.
    init(inputSize: [Int], window: [Int], strides: [Int], dilation: [Int], padding: Padding) {
        self.inputSize = inputSize
        self.window = window
        self.strides = strides
        self.dilation = dilation
        var before: [Int] = [], output: [Int] = []
        for axis in inputSize.indices {
            let span = dilation[axis] * (window[axis] - 1) + 1
            switch padding {
            case .valid:
                output.append(max(0, (inputSize[axis] - span) / strides[axis] + 1))
                before.append(0)
            case .same:
                let size = (inputSize[axis] + strides[axis] - 1) / strides[axis]
                let total = max(0, (size - 1) * strides[axis] + span - inputSize[axis])
                output.append(size)
                before.append(total / 2)
            case .causal:
                output.append(max(0, (inputSize[axis] + span - 1 - span) / strides[axis] + 1))
                before.append(span - 1)
            }
        }
        padBefore = before
        outputSize = output
    }

    /// Every output position, row-major over the spatial axes.
    var positions: Int { outputSize.reduce(1, *) }
    /// Every window offset, row-major over the spatial axes.
    var offsets: Int { window.reduce(1, *) }

    /// The input coordinates a window offset reads at an output position; nil on any axis that falls in the
    /// padding.
    func inputIndex(position: [Int], offset: [Int]) -> Int? {
        var index = 0
        for axis in inputSize.indices {
            let coordinate = position[axis] * strides[axis] + offset[axis] * dilation[axis] - padBefore[axis]
            guard coordinate >= 0, coordinate < inputSize[axis] else { return nil }
            index = index * inputSize[axis] + coordinate
        }
        return index
    }

    /// The multi-index of flat `index` in `shape`, row-major.
    static func unflatten(_ index: Int, _ shape: [Int]) -> [Int] {
        var rest = index
        var result = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            result[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return result
    }

    /// For each output position and window offset (row-major, positions outer), the flat spatial input
    /// index read, or -1 in the padding.
    func gatherTable() -> [Int] {
        var table: [Int] = []
        table.reserveCapacity(positions * offsets)
        let offsetIndices = (0..<offsets).map { Self.unflatten($0, window) }
        for p in 0..<positions {
            let position = Self.unflatten(p, outputSize)
            for offset in offsetIndices { table.append(inputIndex(position: position, offset: offset) ?? -1) }
        }
        return table
    }
}

extension SpatialWindow {
    /// The window a convolution kernel `[k1, ..., kd, C, outputs]` slides over a channels-last input
    /// `[N, d1, ..., dd, C]`, after checking that the input fits the kernel.
    /// - Throws: `InferenceError` `.shapeMismatch` naming `layer` when it does not.
    static func sliding(
        _ kernel: Tensor, over input: Tensor, strides: [Int], dilation: [Int], padding: Padding,
        layer: String
    ) throws -> SpatialWindow {
        let rank = kernel.rank - 2
        let channels = kernel.shape[rank]
        guard input.rank == rank + 2, input.shape.last == channels else {
            throw InferenceError(
                .shapeMismatch, layer: layer,
                "layer \(layer) takes \(rank)-D inputs with \(channels) channels, not shape \(input.shape)")
        }
        let window = SpatialWindow(
            inputSize: Array(input.shape[1...rank]), window: Array(kernel.shape[0..<rank]),
            strides: strides, dilation: dilation, padding: padding)
        try window.requireBounds(
            batch: input.shape[0], channels: kernel.shape[rank] * kernel.shape[rank + 1], layer: layer)
        return window
    }

    /// Refuses a window whose gather table (positions × offsets) or whose output for `batch` samples of
    /// `channels` values each would pass `Allocation`'s bounds.
    /// - Throws: `InferenceError` naming `layer`.
    func requireBounds(batch: Int, channels: Int, layer: String) throws {
        try Allocation.requireTable([positions, offsets], layer: layer, "a gather table")
        _ = try Allocation.count([batch] + outputSize + [channels], layer: layer)
    }
}
