/// A layer between a layer and the model's output.
public struct TrailingLayer: Sendable, Equatable, CustomStringConvertible {
    /// Where the layer sits.
    public var path: LayerPath
    /// Its Keras class.
    public var className: String
    /// What it does to values at inference, as far as kprune follows it.
    public var effect: InferenceEffect
    /// Its `config` object as the file stores it (a `Reshape`'s `target_shape`, a `Flatten`'s
    /// `data_format`); `.null` when not known.
    public var config: JSONValue

    public init(path: LayerPath, className: String, effect: InferenceEffect, config: JSONValue = .null) {
        self.path = path
        self.className = className
        self.effect = effect
        self.config = config
    }

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
    public func trail(
        from target: LayerPath, prefix: [String] = [],
        hasKernel: (LayerPath, LayerConfig) -> Bool
    ) -> OutputTrail {
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

    private func walkBack(
        from output: String, to target: LayerPath, prefix: [String],
        hasKernel: (LayerPath, LayerConfig) -> Bool
    ) -> OutputTrail {
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
                steps.append(
                    TrailingLayer(
                        path: path, className: layer.className, effect: layer.effect,
                        config: layer.config))
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
