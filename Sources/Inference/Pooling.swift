import Numerics

/// `MaxPooling1D/2D/3D` and `AveragePooling1D/2D/3D` (channels last): the maximum or the mean of each window
/// per channel; positions in the padding are left out (the mean divides by the positions inside).
struct PoolingLayer: ForwardLayer {
    let name: String
    let average: Bool
    let window: [Int]
    let strides: [Int]
    let padding: SpatialWindow.Padding
    /// Threads the output positions are split over.
    var threads = 1

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let rank = window.count
        guard input.rank == rank + 2 else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name) pools \(rank)-D inputs, not shape \(input.shape)")
        }
        let batch = input.shape[0], channels = input.shape[rank + 1]
        let geometry = SpatialWindow(
            inputSize: Array(input.shape[1...rank]), window: window, strides: strides,
            dilation: [Int](repeating: 1, count: rank), padding: padding)
        guard Allocation.product(window) != nil, Allocation.product([geometry.positions, geometry.offsets]) != nil
        else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) pools windows of \(window) over \(geometry.inputSize): too many to gather")
        }
        let table = geometry.gatherTable()
        var values = [Float](
            repeating: average ? 0 : -.infinity,
            count: try Allocation.count([batch, geometry.positions, channels], layer: name))
        values.withUnsafeMutableBufferPointer { out in
            input.values.withUnsafeBufferPointer { x in
                table.withUnsafeBufferPointer { table in
                    parallelRanges(batch * geometry.positions, threads: threads, cost: geometry.offsets * channels) {
                        pool(rows: $0, x, table, geometry: geometry, channels: channels, into: out)
                    }
                }
            }
        }
        return Tensor(shape: [batch] + geometry.outputSize + [channels], values: values)
    }

    /// The outputs at flat positions `rows` (sample · positions + position), each starting from the
    /// initial value (0 or -infinity): the maximum, or the mean over the window's positions inside the input.
    private func pool(
        rows: Range<Int>, _ x: UnsafeBufferPointer<Float>, _ table: UnsafeBufferPointer<Int>,
        geometry: SpatialWindow, channels: Int, into out: UnsafeMutableBufferPointer<Float>
    ) {
        let offsets = geometry.offsets, positions = geometry.positions
        let spatial = geometry.inputSize.reduce(1, *)
        guard let x = x.baseAddress, let out = out.baseAddress else { return }
        for row in rows {
            let sample = row / positions, position = row % positions
            let acc = out + row * channels
            var inside = 0
            for o in 0..<offsets {
                let source = table[position * offsets + o]
                guard source >= 0 else { continue }
                let input = x + (sample * spatial + source) * channels
                if average {
                    for c in 0..<channels { acc[c] += input[c] }
                } else {
                    for c in 0..<channels { acc[c] = max(acc[c], input[c]) }
                }
                inside += 1
            }
            if average, inside > 1 {
                let count = Float(inside)
                for c in 0..<channels { acc[c] /= count }
            }
        }
    }
}

/// `GlobalAveragePooling1D/2D/3D` and `GlobalMaxPooling1D/2D/3D` (channels last): the mean or maximum over
/// every spatial position, per channel; `keepdims` keeps the spatial axes with size 1.
struct GlobalPoolingLayer: ForwardLayer {
    let name: String
    let average: Bool
    let keepDimensions: Bool

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        guard input.rank >= 3 else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name) pools spatial axes, the input has shape \(input.shape)")
        }
        let batch = input.shape[0], channels = input.shape[input.rank - 1]
        let positions = input.count / max(batch * channels, 1)
        var values = [Float](repeating: average ? 0 : -.infinity, count: batch * channels)
        for n in 0..<batch {
            for p in 0..<positions {
                for c in 0..<channels {
                    let value = input.values[(n * positions + p) * channels + c]
                    values[n * channels + c] =
                        average ? values[n * channels + c] + value : max(values[n * channels + c], value)
                }
            }
        }
        if average { values = values.map { $0 / Float(max(positions, 1)) } }
        let shape =
            keepDimensions ? [batch] + [Int](repeating: 1, count: input.rank - 2) + [channels] : [batch, channels]
        return Tensor(shape: shape, values: values)
    }
}
