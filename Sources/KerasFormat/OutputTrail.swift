/// What a layer without a kernel does to the values passing through it at inference, as far as kprune
/// follows it.
public enum InferenceEffect: Sendable, Equatable {
    /// Passes values through unchanged: layers active only in training (`Dropout`, `GaussianNoise`, ...),
    /// `ActivityRegularization` and `Identity`.
    case none
    /// Keeps every value and changes only the shape: `Flatten`, `Reshape`.
    case reshape
    /// Averages over the positions of each channel: `GlobalAveragePooling1D/2D/3D`.
    case pool
    /// Applies the named activation: an `Activation` layer, a `Softmax` layer over the last axis, or a
    /// `ReLU` layer without a cap, slope or threshold.
    case activation(String)
    /// Anything else: kprune does not know what the layer does to values.
    case unknown

    /// Classes that are the identity at inference.
    static let identityClasses: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise",
        "AlphaDropout", "ActivityRegularization", "Identity",
    ]

    /// The effect of a layer of `className` with `config`; `inboundNodes` tells whether it was called with
    /// `training=True`, which keeps dropout and noise active at inference.
    init(className: String, config: JSONValue, inboundNodes: JSONValue?) {
        func isNumber(_ value: JSONValue?, _ expected: Double, orAbsent: Bool) -> Bool {
            guard let value, value != .null else { return orAbsent }
            return value.number == expected
        }
        switch className {
        case _ where Self.identityClasses.contains(className):
            self = inboundNodes.map(Self.callsWithTraining) == true ? .unknown : .none
        case "Flatten", "Reshape":
            self = .reshape
        case "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D",
             "GlobalAvgPool2D", "GlobalAvgPool3D":
            self = .pool
        case "Activation":
            self = config["activation"]?.string.map(InferenceEffect.activation) ?? .unknown
        case "Softmax":
            let axis = config["axis"]
            let lastAxis = axis == nil || isNumber(axis, -1, orAbsent: false)
                || axis?.array.map { $0.count == 1 && $0[0].number == -1 } == true
            self = lastAxis ? .activation("softmax") : .unknown
        case "ReLU":
            let plain = isNumber(config["max_value"], .infinity, orAbsent: true)
                && isNumber(config["negative_slope"], 0, orAbsent: true)
                && isNumber(config["threshold"], 0, orAbsent: true)
            self = plain ? .activation("relu") : .unknown
        default:
            self = .unknown
        }
    }

    /// Whether a layer's inbound nodes pass `training: true` (Keras 2 node kwargs, Keras 3 call kwargs).
    static func callsWithTraining(_ nodes: JSONValue) -> Bool {
        switch nodes {
        case .object(let members):
            if members["training"] == .bool(true) { return true }
            return members.values.contains(where: callsWithTraining)
        case .array(let items):
            return items.contains(where: callsWithTraining)
        default:
            return false
        }
    }
}

/// A layer between a layer and the model's output.
public struct TrailingLayer: Sendable, Equatable, CustomStringConvertible {
    public var path: LayerPath
    public var className: String
    public var effect: InferenceEffect

    /// `activation (Activation softmax)`, `rescaling (Rescaling)`.
    public var description: String {
        if case .activation(let name) = effect, className == "Activation" { return "\(path) (Activation \(name))" }
        return "\(path) (\(className))"
    }
}

/// How a layer's outputs reach the model's output.
public enum OutputTrail: Sendable, Equatable {
    /// Through these layers, in forward order, none with a kernel; empty when the layer's outputs are the
    /// model's.
    case through([TrailingLayer])
    /// Only through another layer with a kernel: the layer is not the last before any output.
    case hidden
    /// The config does not say; the reason.
    case unclear(String)
}

extension ModelConfig {
    /// The layers between the layer at `target` and the model's output.
    ///
    /// Each output is walked back, through nested models, until a layer with a kernel. A Sequential's
    /// output is its last layer; a functional layer's input is its one inbound layer. A walk that meets a
    /// merge, or a target feeding several outputs, leaves the trail unclear.
    /// - Parameter hasKernel: whether the layer at that path owns a kernel.
    public func trail(from target: LayerPath, prefix: [String] = [],
                      hasKernel: (LayerPath, LayerConfig) -> Bool) -> OutputTrail
    {
        let outputs = outputLayers ?? layers.last.map { [$0.name] } ?? []
        var found: [[TrailingLayer]] = []
        for output in outputs {
            switch walkBack(from: output, to: target, prefix: prefix, hasKernel: hasKernel) {
            case .through(let steps): found.append(steps)
            case .hidden: continue
            case .unclear(let reason): return .unclear(reason)
            }
        }
        guard found.count <= 1 else {
            return .unclear("\(target) feeds \(found.count) of the model's outputs")
        }
        return found.first.map(OutputTrail.through) ?? .hidden
    }

    private func walkBack(from output: String, to target: LayerPath, prefix: [String],
                          hasKernel: (LayerPath, LayerConfig) -> Bool) -> OutputTrail
    {
        let byName = Dictionary(layers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let sequential = outputLayers == nil
        var steps: [TrailingLayer] = []
        var index = layers.count - 1
        var name = output
        // At most one visit per layer: a config whose references loop is not followed forever.
        for _ in 0..<layers.count {
            guard let layer = sequential ? layers[index] : byName[name] else {
                return .unclear("the config refers to a layer '\(name)' it does not list")
            }
            let path = LayerPath(models: prefix, name: layer.name)
            if let model = layer.model {
                let inside = prefix + [layer.name]
                if target.models.starts(with: inside) {
                    if let outputs = model.outputLayers, outputs.count > 1 {
                        return .unclear("the nested model \(path) has \(outputs.count) outputs")
                    }
                    switch model.trail(from: target, prefix: inside, hasKernel: hasKernel) {
                    case .through(let inner): return .through(inner + steps.reversed())
                    case let other: return other
                    }
                }
                if model.flattened(prefix: inside).contains(where: { hasKernel($0.path, $0.layer) }) { return .hidden }
                steps.append(TrailingLayer(path: path, className: layer.className, effect: .unknown))
            } else if path == target {
                return .through(steps.reversed())
            } else if hasKernel(path, layer) {
                return .hidden
            } else {
                steps.append(TrailingLayer(path: path, className: layer.className, effect: layer.effect))
            }
            if sequential {
                index -= 1
                if index < 0 { return .hidden }
            } else {
                switch layer.inboundLayers.count {
                case 0: return .hidden
                case 1: name = layer.inboundLayers[0]
                default: return .unclear("\(path) merges \(layer.inboundLayers.count) inputs")
                }
            }
        }
        return .unclear("the config's layer references loop")
    }
}
