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
    /// Values that stand for stored weights, by dataset path: a pruned kernel run without writing it.
    let replaced: [String: [Float]]

    init(model: KerasModel, root: Group, blas: BLAS, replacing replaced: [String: [Float]] = [:]) {
        self.model = model
        self.root = root
        self.blas = blas
        self.replaced = replaced
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
        let byName = Self.layersByName(config)
        let needed = isSequential ? nil : Self.neededLayers(config, outputs: config.outputTensors ?? [])
        for layer in config.layers where needed?.contains(layer.name) ?? true {
            if layer.className == "InputLayer" {
                if isSequential {
                    previous = layer.name
                    inputs = [layer.name]
                } else if !inputs.contains(layer.name) {
                    inputs.append(layer.name)
                }
                continue
            }
            let calls: [LayerCall]
            if isSequential {
                if previous == nil {
                    inputs = ["\(config.name)_input"]
                    previous = inputs[0]
                }
                calls = [LayerCall(inputs: [TensorReference(layer: previous ?? "")])]
            } else {
                calls = try self.calls(layer, in: config, byName: byName)
            }
            if Self.operationClasses.contains(layer.className) {
                nodes += try operationNodes(layer, calls: calls, prefix: prefix)
            } else {
                nodes += self.nodes(layer, calls: calls, forward: try self.layer(layer, prefix: prefix))
            }
            previous = layer.name
        }
        let outputs =
            isSequential
            ? [TensorReference(layer: previous ?? inputs.first ?? "")] : try self.outputs(config, byName: byName)
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
            let axis =
                operation == .concatenate
                ? try whole(layer, name, "axis", in: -Self.largestWindow...Self.largestWindow, default: -1) : -1
            return MergeLayer(name: name, operation: operation, axis: axis)
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
            return ReshapeLayer(
                name: name, target: try dimensions(layer, name, "target_shape", in: -1...Self.largestSize))
        case "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D":
            return try convolution(layer, name)
        case "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose",
            "Convolution3DTranspose":
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
            return GlobalPoolingLayer(
                name: name, average: layer.className.contains("Av"),
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
            if layer.config["scale"]?.array != nil || layer.config["offset"]?.array != nil {
                throw unsupported(layer, name, "a per-channel scale or offset")
            }
            return AffineLayer(
                name: name, scale: [try real(layer, name, "scale", default: 1)],
                shift: [try real(layer, name, "offset", default: 0)])
        case "TFOpLambda", "SlicingOpLambda": throw Self.unsupportedOperation(layer, name)
        default:
            throw InferenceError(
                .unsupportedLayer, layer: name,
                "layer \(name) is a \(layer.className), which kprune's forward pass does not run")
        }
    }

    func unsupported(_ layer: LayerConfig, _ name: String, _ what: String) -> InferenceError {
        InferenceError(.unsupportedConfig, layer: name, "layer \(name) (\(layer.className)) uses \(what)")
    }

    func activation(_ layer: LayerConfig, _ name: String) throws -> ForwardActivation {
        guard let activation = ForwardActivation(keras: layer.activation, keras3: isKeras3) else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) (\(layer.className)) uses the activation \(layer.activation ?? "?"), "
                    + "which kprune's forward pass does not run")
        }
        return activation
    }

    /// The most values one weight may hold (512 MiB of float32): far more than a layer kprune runs on a CPU
    /// needs, and little enough that a compressed dataset claiming more is refused before it is read.
    static let largestWeight = 1 << 27

    /// The layer's weights in the file's order, each read whole as float32.
    func weights(_ name: String) throws -> [(shape: [Int], values: [Float])] {
        guard let info = weighted[name] else { return [] }
        return try info.weights.map { weight in
            if let problem = weight.storageProblem ?? weight.link {
                throw InferenceError(
                    .unsupportedConfig, layer: name, "the weight \(weight.name) of \(name) is \(problem)")
            }
            guard Allocation.product(weight.shape, limit: Self.largestWeight) != nil else {
                throw InferenceError(
                    .shapeMismatch, layer: name,
                    "the weight \(weight.name) of \(name) has shape \(weight.shape), more than the "
                        + "\(Self.largestWeight) values kprune reads for one weight")
            }
            if let values = replaced[weight.dataset] {
                precondition(values.count == weight.count, "\(values.count) values replace \(weight.dataset)")
                return (weight.shape, values)
            }
            return (weight.shape, try root.dataset(weight.dataset).readAll(as: Float.self))
        }
    }
}
