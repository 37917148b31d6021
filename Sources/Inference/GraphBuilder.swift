import HDF5
import KerasFormat
import Numerics

/// Builds the graph of a Keras model from its config and its weights file.
struct GraphBuilder {
    let model: KerasModel
    let root: Group
    let blas: BLAS
    /// Whether Keras 3 wrote the file: a few activations differ between the versions.
    var isKeras3: Bool { [.keras3H5, .keras3Archive, .keras3WeightsH5].contains(model.format) }
    /// Whether per-channel maps and activations are folded into the convolutions before them (off when every
    /// layer must stay a node of its own, to take one layer's inputs).
    var folds = true
    /// The layers with weights, by path (`outer/dense_1`).
    let weighted: [String: LayerInfo]

    init(model: KerasModel, root: Group, blas: BLAS) {
        self.model = model
        self.root = root
        self.blas = blas
        weighted = Dictionary(model.layers.map { ($0.path.description, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The shape of one sample of each of `config`'s inputs, from its `InputLayer`s (or, in Keras 2.0 files, the
    /// first layer's `batch_input_shape`): nil when the config gives none, a nil dimension where it leaves one
    /// open (or gives one that is not a size).
    static func inputShapes(_ config: ModelConfig) -> [[Int?]?] {
        func shape(_ layer: LayerConfig) -> [Int?]? {
            guard let batchShape = (layer.config["batch_shape"] ?? layer.config["batch_input_shape"])?.array else {
                return nil
            }
            return batchShape.dropFirst().map { $0.integer.flatMap { (1...Self.largestSize).contains($0) ? $0 : nil } }
        }
        let inputLayers = config.layers.filter { $0.className == "InputLayer" }
        if let names = config.inputLayers {
            return names.map { name in inputLayers.first { $0.name == name }.flatMap(shape) }
        }
        return [(inputLayers.first ?? config.layers.first).flatMap(shape)]
    }

    /// The graph of `config`, a model nested under `prefix` (the enclosing models' layer names): a node per call
    /// of each layer.
    func graph(_ config: ModelConfig, prefix: [String]) throws -> Graph {
        let isSequential = config.className == "Sequential" || config.inputLayers == nil
        var inputs = config.inputLayers ?? []
        var nodes: [Graph.Node] = []
        var previous: String? = nil
        let needed = isSequential ? nil : Self.neededLayers(config, outputs: config.outputTensors ?? [])
        for layer in config.layers where needed?.contains(layer.name) ?? true {
            if layer.className == "InputLayer" {
                if isSequential { previous = layer.name; inputs = [layer.name] } else if !inputs.contains(layer.name) {
                    inputs.append(layer.name)
                }
                continue
            }
            let calls: [LayerCall]
            if isSequential {
                if previous == nil { inputs = ["\(config.name)_input"]; previous = inputs[0] }
                calls = [LayerCall(inputs: [TensorReference(layer: previous ?? "")])]
            } else {
                calls = layer.inboundNodes
            }
            nodes += self.nodes(layer, calls: calls, forward: try self.layer(layer, prefix: prefix))
            previous = layer.name
        }
        let outputs = isSequential ? [TensorReference(layer: previous ?? inputs.first ?? "")] : config.outputTensors ?? []
        let graph = try Graph(name: config.name, inputs: inputs, nodes: nodes, outputs: outputs)
        return folds ? try graph.foldingNormalizations() : graph
    }

    /// The forward layer for one config entry; a layer that computes in float16 (its `dtype` or dtype policy)
    /// has its outputs rounded to float16, as Keras's are.
    func layer(_ layer: LayerConfig, prefix: [String]) throws -> any ForwardLayer {
        let forward = channelsOrdered(layer, try plainLayer(layer, prefix: prefix))
        guard Self.computesInHalf(layer.config), layer.model == nil else { return forward }
        if forward is any MaskingLayer {
            throw unsupported(layer, (prefix + [layer.name]).joined(separator: "/"), "float16 computation")
        }
        if var dense = forward as? DenseLayer {
            dense.half = true
            return HalfPrecision(inner: dense)
        }
        return HalfPrecision(inner: forward)
    }

    /// Whether a layer's config asks for float16 computation (`"dtype": "float16"`, or a dtype policy named
    /// `float16` or `mixed_float16`).
    static func computesInHalf(_ config: JSONValue) -> Bool {
        let dtype = config["dtype"]
        let name = dtype?.string ?? dtype?["config"]?["name"]?.string
        return name == "float16" || name == "mixed_float16"
    }

    private func plainLayer(_ layer: LayerConfig, prefix: [String]) throws -> any ForwardLayer {
        let name = (prefix + [layer.name]).joined(separator: "/")
        if let nested = layer.model { return try graph(nested, prefix: prefix + [layer.name]) }
        if Identity.classes.contains(layer.className) { return Identity(name: name) }
        if let operation = MergeLayer.classes[layer.className] {
            let axis = layer.config["axis"] ?? .number(-1)
            guard operation != .concatenate || axis.integer != nil else {
                throw unsupported(layer, name, "concatenation along axis \(axis)")
            }
            return MergeLayer(name: name, operation: operation, axis: axis.integer ?? -1)
        }
        switch layer.className {
        case "Dense": return try dense(layer, name)
        case "Dot": return try dot(layer, name)
        case "EinsumDense": return try einsumDense(layer, name)
        case "Activation": return ActivationLayer(name: name, activation: try activation(layer, name))
        case "Softmax": return try softmax(layer, name)
        case "ReLU": return ActivationLayer(name: name, activation: try reluLayer(layer, name))
        case "Flatten": return ReshapeLayer(name: name, target: nil)
        case "Reshape":
            let target = layer.config["target_shape"]?.array?.compactMap { $0.integer } ?? []
            return ReshapeLayer(name: name, target: target)
        case "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D":
            return try convolution(layer, name)
        case "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose", "Convolution3DTranspose":
            return try transposedConvolution(layer, name)
        case "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
             "SeparableConvolution2D":
            return try depthwise(layer, name)
        case "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
             "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D":
            return try pooling(layer, name)
        case "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
             "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
             "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D":
            try requireChannelsLast(layer, name)
            return GlobalPoolingLayer(name: name, average: layer.className.contains("Av"),
                                      keepDimensions: layer.config["keepdims"] == .bool(true))
        case "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
             "UpSampling1D", "UpSampling2D", "UpSampling3D", "Permute", "RepeatVector":
            return try rearrangement(layer, name)
        case "LeakyReLU", "ELU", "PReLU": return try parametricActivation(layer, name)
        case "LayerNormalization": return try layerNormalization(layer, name)
        case "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed", "Masking", "Embedding":
            return try sequenceLayer(layer, name, prefix: prefix)
        case "Normalization": return try normalization(layer, name)
        case "BatchNormalization": return try batchNormalization(layer, name)
        case "Rescaling":
            guard let scale = layer.config["scale"]?.number else { throw unsupported(layer, name, "a per-channel scale") }
            return AffineLayer(name: name, scale: [Float(scale)], shift: [Float(layer.config["offset"]?.number ?? 0)])
        default:
            throw InferenceError(.unsupportedLayer, layer: name,
                                 "layer \(name) is a \(layer.className), which kprune's forward pass does not run")
        }
    }

    /// A `Softmax` layer: over the last axis, or any one other axis.
    private func softmax(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
        switch layer.config["axis"] {
        case nil, .number(-1)?, .array([.number(-1)])?: return ActivationLayer(name: name, activation: .softmax)
        case let axis?:
            guard let index = axis.integer ?? axis.array.flatMap({ $0.count == 1 ? $0[0].integer : nil }) else {
                throw unsupported(layer, name, "softmax over axes \(axis) (one axis at a time)")
            }
            return SoftmaxLayer(name: name, axis: index)
        }
    }

    /// Integers of a config entry that may be one number or a list (`kernel_size: 3` or `[3, 3]`), `rank` long.
    /// Window sizes, strides, dilations and factors must lie in `least...largestWindow` (`least` is 1 unless
    /// said otherwise); anything else (zero, a negative number, `1e300` in a crafted file) is not read.
    func integers(_ layer: LayerConfig, _ key: String, rank: Int, default value: [Int]? = nil, least: Int = 1) -> [Int]? {
        func size(_ item: JSONValue) -> Int? { item.integer.flatMap { (least...Self.largestWindow).contains($0) ? $0 : nil } }
        switch layer.config[key] {
        case let item? where item.number != nil: return size(item).map { [Int](repeating: $0, count: rank) }
        case .array(let items)?:
            let numbers = items.compactMap(size)
            return numbers.count == rank && items.count == rank ? numbers : nil
        default: return value
        }
    }

    /// The largest window, stride, dilation, factor, padding or cropping read from a config.
    static let largestWindow = 1 << 16
    /// The largest dimension or count read from a config.
    static let largestSize = 1 << 24

    /// The activation layers with parameters: `LeakyReLU`, `ELU`, `PReLU`.
    private func parametricActivation(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
        switch layer.className {
        case "LeakyReLU":
            let slope = layer.config["negative_slope"]?.number ?? layer.config["alpha"]?.number ?? 0.3
            return ActivationLayer(name: name, activation: .leakyReLU(slope: Float(slope)))
        case "ELU":
            let alpha = layer.config["alpha"]?.number ?? 1
            return ActivationLayer(name: name, activation: alpha == 1 ? .elu : .eluScaled(alpha: Float(alpha)))
        case "PReLU":
            guard let alpha = try weights(name).first else {
                throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no alpha")
            }
            return PReLULayer(name: name, alpha: Tensor(shape: alpha.shape, values: alpha.values))
        default:
            throw InferenceError(.unsupportedLayer, layer: name, "layer \(name) is a \(layer.className)")
        }
    }

    /// The layers that move values without arithmetic: padding, cropping, up-sampling, `Permute`,
    /// `RepeatVector`.
    private func rearrangement(_ layer: LayerConfig, _ name: String) throws -> RearrangeLayer {
        switch layer.className {
        case "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D":
            try requireChannelsLast(layer, name)
            let rank = Int(String(layer.className.dropLast().last ?? "1")) ?? 1
            let padding = layer.className.hasPrefix("Zero")
            guard let (before, after) = pairs(layer.config[padding ? "padding" : "cropping"], rank: rank) else {
                throw unsupported(layer, name, "amounts it cannot read")
            }
            return RearrangeLayer(name: name, kind: padding ? .pad(before: before, after: after) : .crop(before: before, after: after))
        case "UpSampling1D", "UpSampling2D", "UpSampling3D":
            try requireChannelsLast(layer, name)
            if let method = layer.config["interpolation"]?.string, method != "nearest" {
                throw unsupported(layer, name, "\(method) interpolation (only nearest)")
            }
            let rank = Int(String(layer.className.dropLast().last ?? "1")) ?? 1
            guard let factors = integers(layer, "size", rank: rank) ?? integers(layer, "length", rank: rank) else {
                throw unsupported(layer, name, "a size it cannot read")
            }
            return RearrangeLayer(name: name, kind: .upsample(factors))
        case "Permute":
            let order = layer.config["dims"]?.array?.compactMap { $0.integer } ?? []
            return RearrangeLayer(name: name, kind: .permute(order))
        case "RepeatVector":
            guard let count = layer.config["n"]?.integer, (0...Self.largestSize).contains(count) else {
                throw unsupported(layer, name, "a count it cannot read")
            }
            return RearrangeLayer(name: name, kind: .repeatVector(count))
        default:
            throw InferenceError(.unsupportedLayer, layer: name, "layer \(name) is a \(layer.className)")
        }
    }

    /// Before-and-after amounts per spatial axis from `3`, `[1, 2]` (1-D: before, after) or `[[1, 2], [3, 4]]`.
    private func pairs(_ value: JSONValue?, rank: Int) -> (before: [Int], after: [Int])? {
        func amount(_ item: JSONValue) -> Int? { item.integer.flatMap { (0...Self.largestWindow).contains($0) ? $0 : nil } }
        switch value {
        case let item? where item.number != nil:
            return amount(item).map { ([Int](repeating: $0, count: rank), [Int](repeating: $0, count: rank)) }
        case .array(let items)?:
            if rank == 1, items.count == 2, let a = amount(items[0]), let b = amount(items[1]) { return ([a], [b]) }
            guard items.count == rank else { return nil }
            var before: [Int] = [], after: [Int] = []
            for item in items {
                if let n = amount(item) {
                    before.append(n)
                    after.append(n)
                } else if let pair = item.array, pair.count == 2, let a = amount(pair[0]), let b = amount(pair[1]) {
                    before.append(a)
                    after.append(b)
                } else {
                    return nil
                }
            }
            return (before, after)
        default: return nil
        }
    }

    private func layerNormalization(_ layer: LayerConfig, _ name: String) throws -> LayerNormalizationLayer {
        let axis = try featureAxis(layer, name)
        var stored = try weights(name)[...]
        let gamma = layer.config["scale"] != .bool(false) ? stored.popFirst()?.values : nil
        let beta = layer.config["center"] != .bool(false) ? stored.popFirst()?.values : nil
        return LayerNormalizationLayer(name: name, gamma: gamma, beta: beta,
                                       epsilon: Float(layer.config["epsilon"]?.number ?? 1e-3), axis: axis)
    }

    /// The feature axis a normalization names: nil for the last (`-1`), or a position, which the input's
    /// rank must make the last.
    private func featureAxis(_ layer: LayerConfig, _ name: String) throws -> Int? {
        switch layer.config["axis"] {
        case nil, .number(-1)?, .array([.number(-1)])?: return nil
        case let value? where (value.integer ?? 0) > 0: return value.integer
        case .array(let items)? where items.count == 1 && (items[0].integer ?? 0) > 0: return items[0].integer
        case let other?: throw unsupported(layer, name, "normalization over axis \(other) (only the last axis)")
        }
    }

    /// Refuses a `data_format` other than `channels_last` and `channels_first` (which `channelsOrdered`
    /// turns into channels last).
    func requireChannelsLast(_ layer: LayerConfig, _ name: String) throws {
        if let format = layer.config["data_format"]?.string, format != "channels_last", format != "channels_first" {
            throw unsupported(layer, name, "data_format \(format) (only channels_last and channels_first)")
        }
    }

    func padding(_ layer: LayerConfig, _ name: String) throws -> SpatialWindow.Padding {
        let text = layer.config["padding"]?.string ?? "valid"
        guard let padding = SpatialWindow.Padding(rawValue: text) else { throw unsupported(layer, name, "padding \(text)") }
        return padding
    }

    private func convolution(_ layer: LayerConfig, _ name: String) throws -> ConvolutionLayer {
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
    private func depthwise(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
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

    private func pooling(_ layer: LayerConfig, _ name: String) throws -> PoolingLayer {
        try requireChannelsLast(layer, name)
        let rank = Int(String(layer.className.dropLast().last ?? "2")) ?? 2
        guard let window = integers(layer, "pool_size", rank: rank) else {
            throw unsupported(layer, name, "a pool size it cannot read")
        }
        let strides = integers(layer, "strides", rank: rank, default: window) ?? window
        return PoolingLayer(name: name, average: layer.className.contains("Av"), window: window, strides: strides,
                            padding: try padding(layer, name), threads: blas.threads)
    }

    /// A `ReLU` layer: plain, capped at 6, or with any cap, threshold and negative slope.
    private func reluLayer(_ layer: LayerConfig, _ name: String) throws -> ForwardActivation {
        func value(_ key: String) -> Double? { layer.config[key]?.number }
        let slope = value("negative_slope") ?? 0, threshold = value("threshold") ?? 0, cap = value("max_value")
        guard slope.isFinite, threshold.isFinite, cap.map({ !$0.isNaN }) ?? true else {
            throw unsupported(layer, name, "a slope, threshold or cap that is not a number")
        }
        switch (slope, threshold, cap) {
        case (0, 0, nil): return .relu
        case (0, 0, 6?): return .relu6
        default:
            let finiteCap = cap.flatMap { $0.isFinite ? Float($0) : nil }
            return .reluGeneral(slope: Float(slope), maxValue: finiteCap, threshold: Float(threshold))
        }
    }

    func unsupported(_ layer: LayerConfig, _ name: String, _ what: String) -> InferenceError {
        InferenceError(.unsupportedConfig, layer: name, "layer \(name) (\(layer.className)) uses \(what)")
    }

    func activation(_ layer: LayerConfig, _ name: String) throws -> ForwardActivation {
        guard let activation = ForwardActivation(keras: layer.activation ?? layer.config["activation"]?.string,
                                                 keras3: isKeras3)
        else { throw unsupported(layer, name, "the activation \(layer.activation ?? "?")") }
        return activation
    }

    /// The layer's weights in the file's order, each read whole as float32.
    func weights(_ name: String) throws -> [(shape: [Int], values: [Float])] {
        guard let info = weighted[name] else { return [] }
        return try info.weights.map { weight in
            if let problem = weight.storageProblem ?? weight.link {
                throw InferenceError(.unsupportedConfig, layer: name, "the weight \(weight.name) of \(name) is \(problem)")
            }
            return (weight.shape, try root.dataset(weight.dataset).readAll(as: Float.self))
        }
    }

    private func dense(_ layer: LayerConfig, _ name: String) throws -> DenseLayer {
        let stored = try weights(name)
        guard let kernel = stored.first, kernel.shape.count == 2 else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no 2-D kernel")
        }
        let units = kernel.shape[1]
        let bias = stored.count > 1 ? stored[1].values : [Float](repeating: 0, count: units)
        guard bias.count == units else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name)'s bias has \(bias.count) values for \(units) units")
        }
        return DenseLayer(name: name, kernel: Tensor(shape: kernel.shape, values: kernel.values), bias: bias,
                          activation: try activation(layer, name), blas: blas)
    }

    /// `Dot` along the feature axis of 2-D inputs.
    private func dot(_ layer: LayerConfig, _ name: String) throws -> DotLayer {
        let axes = layer.config["axes"]
        guard axes == .number(1) || axes == .number(-1) || axes == .array([.number(1), .number(1)])
            || axes == .array([.number(-1), .number(-1)])
        else { throw unsupported(layer, name, "axes \(axes ?? .null) (only the feature axis of 2-D inputs)") }
        return DotLayer(name: name, normalize: layer.config["normalize"] == .bool(true))
    }

    /// `EinsumDense` whose equation is a matrix product; its bias on trailing output axes.
    private func einsumDense(_ layer: LayerConfig, _ name: String) throws -> EinsumDenseLayer {
        let stored = try weights(name)
        guard let kernel = stored.first, let equation = layer.config["equation"]?.string else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no kernel or equation")
        }
        let output = equation.split(separator: ">").last.map(String.init) ?? ""
        let biasAxes = layer.config["bias_axes"]?.string ?? ""
        guard biasAxes.isEmpty || output.hasSuffix(biasAxes) else {
            throw unsupported(layer, name, "a bias on axes \(biasAxes) that are not the output's last")
        }
        guard let einsum = EinsumDenseLayer(name: name, equation: equation,
                                            kernel: Tensor(shape: kernel.shape, values: kernel.values),
                                            bias: stored.count > 1 ? stored[1].values : [],
                                            activation: try activation(layer, name), blas: blas)
        else { throw unsupported(layer, name, "the equation \(equation) (not a matrix product)") }
        return einsum
    }

    private func normalization(_ layer: LayerConfig, _ name: String) throws -> AffineLayer {
        let axis = try featureAxis(layer, name)
        // Given in the config (`Normalization(mean=..., variance=...)`), or adapted and stored as weights.
        func values(_ key: String) -> [Float]? {
            if let number = layer.config[key]?.number { return [Float(number)] }
            return layer.config[key]?.array.map { $0.compactMap { $0.number.map(Float.init) } }
        }
        if let mean = values("mean"), let variance = values("variance"), mean.count == variance.count {
            var affine = AffineLayer.normalization(name, mean: mean, variance: variance)
            affine.axis = axis
            return affine
        }
        let stored = try weights(name)
        guard stored.count >= 2, stored[0].values.count == stored[1].values.count else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no mean and variance")
        }
        var affine = AffineLayer.normalization(name, mean: stored[0].values, variance: stored[1].values)
        affine.axis = axis
        return affine
    }

    private func batchNormalization(_ layer: LayerConfig, _ name: String) throws -> AffineLayer {
        let axis = try featureAxis(layer, name)
        var stored = try weights(name)[...]
        let scale = layer.config["scale"] != .bool(false), center = layer.config["center"] != .bool(false)
        let gamma = scale ? stored.popFirst()?.values : nil
        let beta = center ? stored.popFirst()?.values : nil
        guard let mean = stored.popFirst()?.values, let variance = stored.popFirst()?.values else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) lacks its moving statistics")
        }
        let epsilon = Float(layer.config["epsilon"]?.number ?? 1e-3)
        var affine = AffineLayer.batchNormalization(name, gamma: gamma, beta: beta, mean: mean, variance: variance,
                                                    epsilon: epsilon)
        affine.axis = axis
        return affine
    }
}
