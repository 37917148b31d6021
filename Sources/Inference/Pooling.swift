import Numerics

/// `MaxPooling1D/2D/3D` and `AveragePooling1D/2D/3D` (channels last): the maximum or the mean of each window
/// per channel; positions in the padding are left out (the mean divides by the positions inside).
struct PoolingLayer: ForwardLayer {
    let name: String
    let average: Bool
    let window: [Int]
    let strides: [Int]
    let padding: SpatialWindow.Padding

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let rank = window.count
        guard input.rank == rank + 2 else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) pools \(rank)-D inputs, not shape \(input.shape)")
        }
        let batch = input.shape[0], channels = input.shape[rank + 1]
        let spatial = Array(input.shape[1...rank])
        let geometry = SpatialWindow(inputSize: spatial, window: window, strides: strides,
                                     dilation: [Int](repeating: 1, count: rank), padding: padding)
        guard Allocation.product(window) != nil, Allocation.product([geometry.positions, geometry.offsets]) != nil else {
            throw InferenceError(.shapeMismatch, layer: name,
                                 "layer \(name) pools windows of \(window) over \(spatial): too many to gather")
        }
        let table = geometry.gatherTable()
        let spatialCount = spatial.reduce(1, *)
        var values = [Float](repeating: 0, count: try Allocation.count([batch, geometry.positions, channels], layer: name))
        for n in 0..<batch {
            for p in 0..<geometry.positions {
                for c in 0..<channels {
                    var result: Float = average ? 0 : -.infinity
                    var inside = 0
                    for o in 0..<geometry.offsets {
                        let source = table[p * geometry.offsets + o]
                        guard source >= 0 else { continue }
                        let value = input.values[(n * spatialCount + source) * channels + c]
                        result = average ? result + value : max(result, value)
                        inside += 1
                    }
                    values[(n * geometry.positions + p) * channels + c] = average ? result / Float(max(inside, 1)) : result
                }
            }
        }
        return Tensor(shape: [batch] + geometry.outputSize + [channels], values: values)
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
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) pools spatial axes, the input has shape \(input.shape)")
        }
        let batch = input.shape[0], channels = input.shape[input.rank - 1]
        let positions = input.count / max(batch * channels, 1)
        var values = [Float](repeating: average ? 0 : -.infinity, count: batch * channels)
        for n in 0..<batch {
            for p in 0..<positions {
                for c in 0..<channels {
                    let value = input.values[(n * positions + p) * channels + c]
                    values[n * channels + c] = average ? values[n * channels + c] + value : max(values[n * channels + c], value)
                }
            }
        }
        if average { values = values.map { $0 / Float(max(positions, 1)) } }
        let shape = keepDimensions ? [batch] + [Int](repeating: 1, count: input.rank - 2) + [channels] : [batch, channels]
        return Tensor(shape: shape, values: values)
    }
}
