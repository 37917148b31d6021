import KerasFormat
import Numerics

/// The builders of convolutions: plain, grouped, depthwise, separable and transposed, and of channels-first layers.
extension GraphBuilder {
    /// `Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose`: kernel `[k..., F, C]`, then the bias;
    /// strides, dilation, `valid`/`same` padding and `output_padding`.
    func transposedConvolution(_ layer: LayerConfig, _ name: String) throws -> TransposedConvolutionLayer {
        try requireChannelsLast(layer, name)
        let stored = try weights(name)
        let kernel = try convolutionKernel(layer, name, stored, role: "transposed convolution kernel")
        let rank = kernel.shape.count - 2, filters = kernel.shape[rank]
        try requireConfigured(layer, name, "filters", filters, kernel.shape)
        try requireBias(layer, name, stored, count: filters)
        let ones = [Int](repeating: 1, count: rank)
        let bias = stored.count > 1 ? stored[1].values : [Float](repeating: 0, count: filters)
        guard let strides = integers(layer, "strides", rank: rank, default: ones),
            let dilation = integers(layer, "dilation_rate", rank: rank, default: ones)
        else { throw unsupported(layer, name, "strides or dilation it cannot read") }
        let outputPadding = integers(layer, "output_padding", rank: rank, least: 0)
        if outputPadding == nil, let given = layer.config["output_padding"], given != .null {
            throw unsupported(layer, name, "an output_padding it cannot read (\(given))")
        }
        let padding = try padding(layer, name)
        guard padding != .causal else { throw unsupported(layer, name, "causal padding") }
        if try whole(layer, name, "groups", in: 1...Self.largestWindow, default: 1) != 1 {
            throw unsupported(
                layer, name, "\(layer.config["groups"] ?? .null) groups (a transposed convolution has one)")
        }
        return TransposedConvolutionLayer(
            name: name, kernel: Tensor(shape: kernel.shape, values: kernel.values), bias: bias, strides: strides,
            dilation: dilation, padding: padding, outputPadding: outputPadding,
            activation: try activation(layer, name), blas: blas)
    }

    /// A convolution's `groups` (1 when the config has none).
    /// - Throws: `InferenceError` `.unsupportedConfig` when it is not a positive integer dividing the
    ///   filters.
    func groups(_ layer: LayerConfig, _ name: String) throws -> Int {
        let groups = try whole(layer, name, "groups", in: 1...Self.largestWindow, default: 1)
        let filters = try whole(layer, name, "filters", in: 1...Self.largestSize, default: groups)
        guard filters % groups == 0 else {
            throw unsupported(layer, name, "\(groups) groups for \(filters) filters")
        }
        return groups
    }

    /// The spatial rank a convolution or pooling class names (`Conv2D`: 2); nil when the name has no digit.
    static func spatialRank(_ className: String) -> Int? {
        className.first(where: \.isNumber).flatMap { Int(String($0)) }
    }

    /// The first stored weight as a convolution kernel: as many axes as the class's rank needs (`Conv2D`: 4),
    /// none empty, its window as the config's `kernel_size` gives it.
    /// - Throws: `InferenceError` `.shapeMismatch` naming the layer and the shapes.
    func convolutionKernel(
        _ layer: LayerConfig, _ name: String, _ stored: [(shape: [Int], values: [Float])],
        at index: Int = 0, role: String
    ) throws -> (shape: [Int], values: [Float]) {
        let rank = Self.spatialRank(layer.className)
        guard stored.indices.contains(index), let rank, stored[index].shape.count == rank + 2,
            stored[index].shape.allSatisfy({ $0 > 0 })
        else {
            let shape = stored.indices.contains(index) ? "\(stored[index].shape)" : "none"
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has no \(role) of \((rank ?? 0) + 2) axes (its shape: \(shape))")
        }
        let kernel = stored[index]
        if index == 0, let window = layer.config["kernel_size"], window != .null,
            integers(layer, "kernel_size", rank: rank) != Array(kernel.shape.prefix(rank))
        {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has kernel_size \(window), but its kernel has shape \(kernel.shape)"
            )
        }
        return kernel
    }

    /// `forward`, run on channels-last data when the config says `data_format: "channels_first"` for a layer
    /// that takes one; as it is otherwise.
    func channelsOrdered(_ layer: LayerConfig, _ forward: any ForwardLayer) -> any ForwardLayer {
        guard layer.config["data_format"]?.string == "channels_first",
            ChannelsFirstLayer.classes.contains(layer.className)
        else { return forward }
        return ChannelsFirstLayer(inner: forward)
    }

    func convolution(_ layer: LayerConfig, _ name: String) throws -> ConvolutionLayer {
        try requireChannelsLast(layer, name)
        let groups = try self.groups(layer, name)
        let stored = try weights(name)
        let kernel = try convolutionKernel(layer, name, stored, role: "convolution kernel")
        let rank = kernel.shape.count - 2, filters = kernel.shape[rank + 1]
        try requireConfigured(layer, name, "filters", filters, kernel.shape)
        try requireBias(layer, name, stored, count: filters)
        let bias = stored.count > 1 ? stored[1].values : [Float](repeating: 0, count: filters)
        guard let strides = integers(layer, "strides", rank: rank, default: [Int](repeating: 1, count: rank)),
            let dilation = integers(layer, "dilation_rate", rank: rank, default: [Int](repeating: 1, count: rank))
        else { throw unsupported(layer, name, "strides or dilation it cannot read") }
        return ConvolutionLayer(
            name: name, kernel: Tensor(shape: kernel.shape, values: kernel.values), bias: bias,
            strides: strides, dilation: dilation, padding: try padding(layer, name),
            activation: try activation(layer, name), blas: blas, groups: groups)
    }

    /// Depthwise convolutions, and separable ones (depthwise then pointwise). Weights in Keras's order:
    /// depthwise kernel, then the pointwise kernel (separable), then the bias.
    func depthwise(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
        try requireChannelsLast(layer, name)
        let all = try weights(name)
        let kernel = try convolutionKernel(layer, name, all, role: "depthwise kernel")
        var stored = all.dropFirst()
        let rank = kernel.shape.count - 2
        let separable = layer.className.hasPrefix("Separable")
        let depthOutputs = kernel.shape[rank] * kernel.shape[rank + 1]
        if separable {
            let pointwise = try convolutionKernel(layer, name, all, at: 1, role: "pointwise kernel")
            guard pointwise.shape.prefix(rank).allSatisfy({ $0 == 1 }), pointwise.shape[rank] == depthOutputs else {
                throw InferenceError(
                    .shapeMismatch, layer: name,
                    "layer \(name) (\(layer.className)) has a pointwise kernel of shape \(pointwise.shape) "
                        + "after a depthwise kernel of shape \(kernel.shape)")
            }
            try requireConfigured(layer, name, "filters", pointwise.shape[rank + 1], pointwise.shape)
            try requireBias(layer, name, all, count: pointwise.shape[rank + 1], index: 2)
        } else {
            try requireBias(layer, name, all, count: depthOutputs)
        }
        guard let strides = integers(layer, "strides", rank: rank, default: [Int](repeating: 1, count: rank)),
            let dilation = integers(layer, "dilation_rate", rank: rank, default: [Int](repeating: 1, count: rank))
        else { throw unsupported(layer, name, "strides or dilation it cannot read") }
        let pointwise = separable ? stored.popFirst() : nil
        let bias = stored.popFirst()?.values ?? []
        let depthwise = DepthwiseConvolutionLayer(
            name: name, kernel: Tensor(shape: kernel.shape, values: kernel.values), bias: separable ? [] : bias,
            strides: strides, dilation: dilation, padding: try padding(layer, name),
            activation: separable ? .linear : try activation(layer, name), threads: blas.threads)
        guard separable else { return depthwise }
        guard let pointwise, pointwise.shape.count == rank + 2 else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no pointwise kernel")
        }
        let filters = pointwise.shape[rank + 1], ones = [Int](repeating: 1, count: rank)
        return SeparableConvolutionLayer(
            depthwise: depthwise,
            pointwise: ConvolutionLayer(
                name: name, kernel: Tensor(shape: pointwise.shape, values: pointwise.values),
                bias: bias.isEmpty ? [Float](repeating: 0, count: filters) : bias, strides: ones, dilation: ones,
                padding: .valid, activation: try activation(layer, name), blas: blas))
    }
}
