import KerasFormat

/// How a functional config's layer calls become graph nodes.
extension GraphBuilder {
    /// The layers the model's outputs depend on through their calls' inputs. Keras 3 also records the op layers
    /// that computed a mask (`NotEqual`, `Any`); only the masks' presence is checked, so those are not run.
    static func neededLayers(_ config: ModelConfig, outputs: [TensorReference]) -> Set<String> {
        let byName = Dictionary(config.layers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var needed: Set<String> = []
        var pending = outputs.map(\.layer)
        while let name = pending.popLast() {
            guard needed.insert(name).inserted, let layer = byName[name] else { continue }
            pending += layer.inboundNodes.flatMap(\.inputs).map(\.layer)
        }
        return needed
    }

    /// The node index of a layer's first call in the config's references: 1 for a nested model built on its own
    /// inputs, whose first node (its own) Keras leaves out of the config but still counts; 0 otherwise.
    ///
    /// Keras 3 counts it for functional models; tf_keras also for a Sequential model that starts with an
    /// `InputLayer`.
    func firstCall(of layer: LayerConfig) -> Int {
        guard let model = layer.model else { return 0 }
        if model.className != "Sequential" { return 1 }
        return !isKeras3 && model.layers.first?.className == "InputLayer" ? 1 : 0
    }

    /// The graph nodes of one layer: one per call, each numbered as the config's references count it.
    func nodes(_ layer: LayerConfig, calls: [LayerCall], forward: any ForwardLayer) -> [Graph.Node] {
        let masks = maskRule(layer), first = firstCall(of: layer)
        return calls.enumerated().map { index, call in
            Graph.Node(name: layer.name, className: layer.className, call: first + index, inbound: call.inputs,
                       layer: forward, masks: masks, recordedMask: call.mask.map { $0 != nil })
        }
    }
}
