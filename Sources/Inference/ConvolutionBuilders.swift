import KerasFormat
import Numerics

/// The builders of convolutions: plain, grouped, depthwise, separable and transposed, and of channels-first layers.
extension GraphBuilder {
    /// `Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose`: kernel `[k..., F, C]`, then the bias;
    /// strides, dilation, `valid`/`same` padding and `output_padding`.
    func transposedConvolution(_ layer: LayerConfig, _ name: String) throws -> TransposedConvolutionLayer {
        try requireChannelsLast(layer, name)
        let stored = try weights(name)
        guard let kernel = stored.first, kernel.shape.count >= 3 else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no transposed convolution kernel")
        }
        let rank = kernel.shape.count - 2, filters = kernel.shape[rank]
        let ones = [Int](repeating: 1, count: rank)
        let bias = stored.count > 1 ? stored[1].values : [Float](repeating: 0, count: filters)
        guard bias.count == filters else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name)'s bias has \(bias.count) values for \(filters) filters")
        }
        guard let strides = integers(layer, "strides", rank: rank, default: ones),
              let dilation = integers(layer, "dilation_rate", rank: rank, default: ones)
        else { throw unsupported(layer, name, "strides or dilation it cannot read") }
        let outputPadding = integers(layer, "output_padding", rank: rank, least: 0)
        if outputPadding == nil, let given = layer.config["output_padding"], given != .null {
            throw unsupported(layer, name, "an output_padding it cannot read (\(given))")
        }
        let padding = try padding(layer, name)
        guard padding != .causal else { throw unsupported(layer, name, "causal padding") }
        if let groups = layer.config["groups"]?.number, groups != 1 {
            throw unsupported(layer, name, "\(Int(groups)) groups (a transposed convolution has one)")
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
        guard let value = layer.config["groups"], value != .null else { return 1 }
        guard let number = value.number, number >= 1, number == number.rounded() else {
            throw unsupported(layer, name, "groups \(value)")
        }
        let groups = Int(number)
        if let filters = layer.config["filters"]?.number, Int(filters) % groups != 0 {
            throw unsupported(layer, name, "\(groups) groups for \(Int(filters)) filters")
        }
        return groups
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
        guard let kernel = stored.first, kernel.shape.count >= 3 else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no convolution kernel")
        }
        let rank = kernel.shape.count - 2, filters = kernel.shape[rank + 1]
        let bias = stored.count > 1 ? stored[1].values : [Float](repeating: 0, count: filters)
        guard bias.count == filters, let strides = integers(layer, "strides", rank: rank, default: [Int](repeating: 1, count: rank)),
              let dilation = integers(layer, "dilation_rate", rank: rank, default: [Int](repeating: 1, count: rank))
        else { throw unsupported(layer, name, "strides, dilation or a bias it cannot read") }
        return ConvolutionLayer(name: name, kernel: Tensor(shape: kernel.shape, values: kernel.values), bias: bias,
                                strides: strides, dilation: dilation, padding: try padding(layer, name),
                                activation: try activation(layer, name), blas: blas, groups: groups)
    }

    /// Depthwise convolutions, and separable ones (depthwise then pointwise). Weights in Keras's order:
    /// depthwise kernel, then the pointwise kernel (separable), then the bias.
    func depthwise(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
        try requireChannelsLast(layer, name)
        var stored = try weights(name)[...]
        guard let kernel = stored.popFirst(), kernel.shape.count >= 3 else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no depthwise kernel")
        }
        let rank = kernel.shape.count - 2
        guard let strides = integers(layer, "strides", rank: rank, default: [Int](repeating: 1, count: rank)),
              let dilation = integers(layer, "dilation_rate", rank: rank, default: [Int](repeating: 1, count: rank))
        else { throw unsupported(layer, name, "strides or dilation it cannot read") }
        let separable = layer.className.hasPrefix("Separable")
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
        return SeparableConvolutionLayer(depthwise: depthwise, pointwise: ConvolutionLayer(
            name: name, kernel: Tensor(shape: pointwise.shape, values: pointwise.values),
            bias: bias.isEmpty ? [Float](repeating: 0, count: filters) : bias, strides: ones, dilation: ones,
            padding: .valid, activation: try activation(layer, name), blas: blas))
    }
}
