import KerasFormat

/// How a functional config's layer calls become graph nodes.
///
/// The graph numbers a layer's calls from 0, in the order of its `inbound_nodes`. The config's references
/// count them differently, by writer and by where the reference sits: a nested model built on its own inputs
/// has a first node of its own (its inputs to its outputs) that its config leaves out, and tf_keras counts it
/// everywhere, Keras 3 only in `input_layers` and `output_layers` (Keras 3's `Functional.get_config` starts a
/// nested functional model's node map at 1, while `serialize_node` writes a call's inputs counting only the
/// outer model's own calls). `calls(_:in:)` and `outputs(_:)` turn the config's references into the graph's.
extension GraphBuilder {
    /// The layers the model's outputs depend on through their calls' inputs. Keras 3 also records the op layers
    /// that computed a mask (`NotEqual`, `Any`); only the masks' presence is checked, so those are not run.
    static func neededLayers(_ config: ModelConfig, outputs: [TensorReference]) -> Set<String> {
        let byName = layersByName(config)
        var needed: Set<String> = []
        var pending = outputs.map(\.layer)
        while let name = pending.popLast() {
            guard needed.insert(name).inserted, let layer = byName[name] else { continue }
            pending += layer.inboundNodes.flatMap(\.inputs).map(\.layer)
        }
        return needed
    }

    /// The node index the config gives a layer's first call: 1 for a nested model built on its own inputs,
    /// whose first node (its own) Keras leaves out of the config but still counts; 0 otherwise.
    ///
    /// tf_keras counts it for functional models, and for a Sequential model that starts with an `InputLayer`
    /// (`_should_skip_first_node`), in every reference. Keras 3 counts it for functional models in the model's
    /// `input_layers` and `output_layers` only (`inOutputs`); a call's inputs count from 0.
    func recordedFirstCall(of layer: LayerConfig, inOutputs: Bool) -> Int {
        guard let model = layer.model else { return 0 }
        if isKeras3 { return inOutputs && model.className != "Sequential" ? 1 : 0 }
        if model.className != "Sequential" { return 1 }
        return model.layers.first?.className == "InputLayer" ? 1 : 0
    }

    /// A config's reference as the graph numbers calls (from 0).
    /// - Throws: `InferenceError` when it names a call before the layer's first, which no node gives.
    private func graphReference(
        _ reference: TensorReference, by byName: [String: LayerConfig], inOutputs: Bool,
        model: String, reader: String
    ) throws -> TensorReference {
        guard let layer = byName[reference.layer] else { return reference }
        let first = recordedFirstCall(of: layer, inOutputs: inOutputs)
        guard reference.node >= first else {
            throw InferenceError(
                .unsupportedConfig, layer: reader,
                "layer \(reader) takes \(reference), which no layer of model \(model) gives")
        }
        var call = reference
        call.node -= first
        return call
    }

    /// A config's layers by name (the first of a repeated name).
    static func layersByName(_ config: ModelConfig) -> [String: LayerConfig] {
        Dictionary(config.layers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A layer's calls, their inputs numbered as the graph numbers calls; `byName` is the model's
    /// `layersByName`.
    func calls(_ layer: LayerConfig, in config: ModelConfig, byName: [String: LayerConfig]) throws -> [LayerCall] {
        try layer.inboundNodes.map { call in
            var resolved = call
            resolved.inputs = try call.inputs.map {
                try graphReference($0, by: byName, inOutputs: false, model: config.name, reader: layer.name)
            }
            return resolved
        }
    }

    /// A functional model's outputs, numbered as the graph numbers calls.
    func outputs(_ config: ModelConfig, byName: [String: LayerConfig]) throws -> [TensorReference] {
        try (config.outputTensors ?? []).map {
            try graphReference($0, by: byName, inOutputs: true, model: config.name, reader: config.name)
        }
    }

    /// The graph nodes of one layer: one per call, numbered from 0.
    func nodes(_ layer: LayerConfig, calls: [LayerCall], forward: any ForwardLayer) -> [Graph.Node] {
        let masks = maskRule(layer)
        return calls.enumerated().map { index, call in
            Graph.Node(
                name: layer.name, className: layer.className, call: index, inbound: call.inputs,
                layer: forward, masks: masks, recordedMask: call.mask.map { $0 != nil })
        }
    }
}
