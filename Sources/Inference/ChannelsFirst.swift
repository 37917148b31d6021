import Numerics

extension Tensor {
    /// The tensor with axis `axis` moved to the end, the other axes in their order (`[N, C, H, W]` with
    /// axis 1 becomes `[N, H, W, C]`).
    /// - Precondition: `axis` is an axis of the tensor.
    func movingAxisToEnd(_ axis: Int) -> Tensor {
        precondition(shape.indices.contains(axis), "axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *), middle = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        let moved = Self.transposedBlocks(values, outer: outer, rows: middle, columns: inner)
        return Tensor(shape: Array(shape[..<axis]) + Array(shape[(axis + 1)...]) + [middle], values: moved)
    }

    /// The tensor with its last axis moved to position `axis` (the inverse of `movingAxisToEnd`).
    /// - Precondition: `axis` is an axis of the tensor.
    func movingLastAxis(to axis: Int) -> Tensor {
        precondition(shape.indices.contains(axis), "axis \(axis) of shape \(shape)")
        let last = shape[rank - 1]
        let outer = shape[..<axis].reduce(1, *), inner = shape[axis..<(rank - 1)].reduce(1, *)
        let moved = Self.transposedBlocks(values, outer: outer, rows: inner, columns: last)
        return Tensor(shape: Array(shape[..<axis]) + [last] + Array(shape[axis..<(rank - 1)]), values: moved)
    }

    /// `outer` row-major `rows` × `columns` blocks, each transposed.
    private static func transposedBlocks(_ values: [Float], outer: Int, rows: Int, columns: Int) -> [Float] {
        guard rows > 1, columns > 1 else { return values }
        return [Float](unsafeUninitializedCapacity: values.count) { out, count in
            values.withUnsafeBufferPointer { x in
                for block in 0..<outer {
                    let base = block * rows * columns
                    for r in 0..<rows {
                        for c in 0..<columns { out[base + c * rows + r] = x[base + r * columns + c] }
                    }
                }
            }
            count = values.count
        }
    }
}

/// A spatial layer whose config says `data_format: "channels_first"`: its inputs' channels (axis 1) are
/// moved last, the channels-last layer runs, and the channels of an output with spatial axes are moved back
/// to axis 1. An output without them (global pooling, `Flatten`) is left as the layer gives it, which is
/// Keras's order: `Flatten` of channels-first data flattens in channels-last order.
struct ChannelsFirstLayer: ForwardLayer {
    let inner: any ForwardLayer

    /// The layer classes that take a `data_format`.
    static let classes: Set<String> = [
        "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D", "Conv1DTranspose",
        "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose", "Convolution3DTranspose",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
        "SeparableConvolution2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
        "AveragePooling2D", "AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
        "AvgPool3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
        "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "ZeroPadding1D",
        "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D",
        "UpSampling2D", "UpSampling3D", "Flatten",
    ]

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let moved = inputs.map { $0.rank >= 3 ? $0.movingAxisToEnd(1) : $0 }
        let output = try inner.forward(moved)
        return output.rank >= 3 ? output.movingLastAxis(to: 1) : output
    }
}
