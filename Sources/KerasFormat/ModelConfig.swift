/// A model config (`model_config` attribute or `config.json`): its layers and how they connect.
public struct ModelConfig: Sendable, Equatable {
    /// The model's name (`config.name`; for a nested model, its layer name; else the class in lower case).
    public var name: String
    /// The Keras class: `Sequential`, `Functional` or `Model`.
    public var className: String
    /// The layers in the order the config lists them, which is forward order for Keras' own configs.
    public var layers: [LayerConfig]
    /// For functional models, the layers producing the model's outputs; nil for Sequential.
    public var outputLayers: [String]?
    /// The model's whole `config` value as the file stores it (`layers`, `input_layers`, `output_layers`,
    /// `name`, ...), or the plain layer list of a Keras 2.0-2.2 Sequential; `.null` when absent.
    public let config: JSONValue

    /// The deepest nesting of models inside models that is parsed; Keras models nest a few levels deep, and
    /// every walk of the config (`flattened`, `finalKernelLayers`) recurses once per level.
    public static let maximumNesting = 64

    /// For functional models, the layers whose outputs are the model's inputs, in order; nil for Sequential.
    public var inputLayers: [String]? {
        guard className != "Sequential", let list = config["input_layers"] else { return nil }
        return Self.layerReferences(in: list)
    }

    /// For functional models, the tensors that are the model's outputs, in order (a layer with several outputs
    /// may give one of its others); nil for Sequential.
    public var outputTensors: [TensorReference]? {
        guard className != "Sequential", let list = config["output_layers"] else { return nil }
        return TensorReference.all(in: list)
    }

    /// Classes that mark a model nested inside another.
    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    /// Parses a model config.
    ///
    /// Accepts Sequential configs as an object with `layers` or, as Keras 2.0-2.2 wrote them, a plain list;
    /// functional configs with Keras 2 nested-list inbound nodes or Keras 3 `keras_history` tensors.
    /// - Throws: `ConfigError` naming what is missing.
    public static func parse(_ json: JSONValue) throws(ConfigError) -> ModelConfig {
        guard let className = json["class_name"]?.string else {
            throw ConfigError(.incomplete, "no class_name at the top")
        }
        return try parseModel(className: className, config: json["config"] ?? .null, fallbackName: nil, depth: 0)
    }

    private static func parseModel(
        className: String, config: JSONValue, fallbackName: String?,
        depth: Int
    ) throws(ConfigError) -> ModelConfig {
        guard depth <= maximumNesting else {
            throw ConfigError(.tooDeep, "models nest more than \(maximumNesting) deep (Keras files nest a few levels)")
        }
        let layerList: [JSONValue]
        var name = fallbackName ?? className.lowercased()
        if let list = config.array {
            layerList = list
        } else if let list = config["layers"]?.array {
            layerList = list
            name = config["name"]?.string ?? name
        } else {
            throw ConfigError(.incomplete, "model \(name) has no layer list")
        }
        var layers: [LayerConfig] = []
        var names: Set<String> = []
        for entry in layerList {
            let layer = try parseLayer(entry, depth: depth)
            // Keras refuses to build such a model; a config that has one is not Keras's, and which layer a name
            // means would be a guess.
            guard names.insert(layer.name).inserted else {
                throw ConfigError(.invalidValue, "model \(name) has two layers named \(layer.name)")
            }
            layers.append(layer)
        }
        var outputs: [String]? = nil
        for key in ["input_layers", "output_layers"] {
            if let list = config[key] { try TensorReference.validate(list, place: "model \(name)'s \(key)") }
        }
        if className != "Sequential", let outputList = config["output_layers"] {
            outputs = layerReferences(in: outputList)
            if outputs?.isEmpty ?? true { throw ConfigError(.incomplete, "model \(name) lists no output layers") }
        }
        return ModelConfig(name: name, className: className, layers: layers, outputLayers: outputs, config: config)
    }

    static func parseLayer(_ entry: JSONValue, depth: Int) throws(ConfigError) -> LayerConfig {
        guard let className = entry["class_name"]?.string else {
            throw ConfigError(.incomplete, "a layer has no class_name")
        }
        let config = entry["config"] ?? .null
        guard let name = config["name"]?.string ?? entry["name"]?.string else {
            throw ConfigError(.incomplete, "a \(className) layer has no name")
        }
        var model: ModelConfig? = nil
        if modelClasses.contains(className) || config["layers"] != nil {
            model = try parseModel(className: className, config: config, fallbackName: name, depth: depth + 1)
            model?.name = name
        }
        if let nodes = entry["inbound_nodes"] {
            try TensorReference.validate(nodes, place: "layer \(name)'s inbound_nodes")
        }
        let inbound = entry["inbound_nodes"].map(layerReferences(in:)) ?? []
        let calls = entry["inbound_nodes"]?.array?.map(LayerCall.init(node:)) ?? []
        return LayerConfig(
            name: name, className: className, wrappedClassName: config["layer"]?["class_name"]?.string,
            activation: activationName(config["activation"])
                ?? (className == "TimeDistributed" ? activationName(config["layer"]?["config"]?["activation"]) : nil),
            model: model, inboundLayers: inbound,
            inboundNodes: calls,
            effect: InferenceEffect(
                className: className, config: config,
                inboundNodes: entry["inbound_nodes"]),
            config: config)
    }

    /// The activation a layer's config names: its name (`relu`), or for a function Keras 3 serialized as an
    /// object (a custom one: `{"class_name": "function", "config": "Custom>scaled", ...}`) a name no built-in
    /// activation has, `Custom>scaled (a custom function)`, so that nothing takes it for a built-in one.
    static func activationName(_ value: JSONValue?) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let name)?: return name
        case let other?:
            let name = other["config"]?.string ?? other["registered_name"]?.string ?? other["class_name"]?.string
            return "\(name ?? "an unnamed function") (a custom function)"
        }
    }

    /// Collects the layer names a node or output list refers to, in order, without repeats.
    ///
    /// Keras 2 writes references as `[name, node_index, tensor_index, kwargs]`; Keras 3 as tensors carrying
    /// `keras_history: [name, node_index, tensor_index]`.
    static func layerReferences(in json: JSONValue) -> [String] {
        var names: [String] = []
        for reference in TensorReference.all(in: json) where !names.contains(reference.layer) {
            names.append(reference.layer)
        }
        return names
    }
}

extension ModelConfig {
    /// All layers in forward order, nested models expanded in place after the model itself.
    public func flattened(prefix: [String] = []) -> [(path: LayerPath, layer: LayerConfig)] {
        var result: [(path: LayerPath, layer: LayerConfig)] = []
        for layer in layers {
            result.append((LayerPath(models: prefix, name: layer.name), layer))
            if let model = layer.model { result += model.flattened(prefix: prefix + [layer.name]) }
        }
        return result
    }

    /// The last layer with a kernel on the way back from each output, one entry per output.
    ///
    /// Sequential models are read from the end; functional models are walked back from `output_layers`
    /// through inbound layers, entering nested models. An output whose path back forks before a kernel
    /// (a merge of two branches) yields all the branches' candidates.
    /// - Parameter hasKernel: whether the layer at that path owns a kernel.
    public func finalKernelLayers(prefix: [String] = [], hasKernel: (LayerPath, LayerConfig) -> Bool)
        -> [[LayerPath]]
    {
        guard let outputs = outputLayers else {
            for layer in layers.reversed() {
                if let found = finalInside(layer, prefix: prefix, hasKernel: hasKernel) { return [found] }
            }
            return [[]]
        }
        let byName = Dictionary(layers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return outputs.map { output in
            var found: [LayerPath] = []
            var visited: Set<String> = []
            var pending = [output]
            while let name = pending.popLast() {
                guard visited.insert(name).inserted, let layer = byName[name] else { continue }
                if let inside = finalInside(layer, prefix: prefix, hasKernel: hasKernel) {
                    for path in inside where !found.contains(path) { found.append(path) }
                } else {
                    pending += layer.inboundLayers.reversed()
                }
            }
            return found
        }
    }

    /// The kernel layer a layer stands for: itself when it has a kernel, the final one of a nested model.
    private func finalInside(_ layer: LayerConfig, prefix: [String], hasKernel: (LayerPath, LayerConfig) -> Bool)
        -> [LayerPath]?
    {
        if let model = layer.model {
            let inner = model.finalKernelLayers(prefix: prefix + [layer.name], hasKernel: hasKernel)
                .flatMap { $0 }
            return inner.isEmpty ? nil : inner
        }
        let path = LayerPath(models: prefix, name: layer.name)
        return hasKernel(path, layer) ? [path] : nil
    }
}
