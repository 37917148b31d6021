import KerasFormat
import Numerics

/// A model's layers as a graph: one node per call of a layer (a shared layer has several), run so that every
/// node comes after the nodes it takes from. Each node keeps all its outputs (an LSTM with `return_state` has
/// three) with their time-step masks.
struct Graph: MaskingLayer {
    /// One call of a layer and the tensors it takes.
    struct Node {
        let name: String
        let className: String
        /// Which call of the layer this is, counted from 0.
        let call: Int
        let inbound: [TensorReference]
        let layer: any ForwardLayer
        /// What a layer that does not handle masks itself does with the mask of its input.
        let masks: MaskRule
        /// Whether Keras recorded that this call was given a mask (Keras 3 files); nil when not recorded.
        var recordedMask: Bool? = nil
    }

    /// A node's outputs are found by its layer's name and call.
    private struct Key: Hashable {
        let layer: String
        let call: Int
    }

    let name: String
    /// The names the model's inputs are known by, in order.
    let inputs: [String]
    /// The nodes, each after the nodes whose outputs it takes.
    let nodes: [Node]
    /// The tensors that are the model's outputs, in order.
    let outputs: [TensorReference]

    /// The graph of `nodes`, put in an order that runs; refused when a node takes a tensor no node gives.
    ///
    /// The order is by waves: the nodes whose inputs are all available, in the given order, then those that
    /// became ready, and so on. It takes time linear in the nodes and their inputs.
    init(name: String, inputs: [String], nodes: [Node], outputs: [TensorReference]) throws {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        var available = Set(inputs.map { Key(layer: $0, call: 0) })
        // For each node, how many of its inbound references wait for a tensor; for each awaited tensor, the
        // nodes waiting (once per reference).
        var waiting = [Int](repeating: 0, count: nodes.count)
        var waiters: [Key: [Int]] = [:]
        var wave: [Int] = []
        for (index, node) in nodes.enumerated() {
            for reference in node.inbound where !available.contains(Key(layer: reference.layer, call: reference.node)) {
                waiting[index] += 1
                waiters[Key(layer: reference.layer, call: reference.node), default: []].append(index)
            }
            if waiting[index] == 0 { wave.append(index) }
        }
        var ordered: [Node] = []
        ordered.reserveCapacity(nodes.count)
        var placed = [Bool](repeating: false, count: nodes.count)
        while !wave.isEmpty {
            var next: [Int] = []
            for index in wave {
                ordered.append(nodes[index])
                placed[index] = true
                let key = Key(layer: nodes[index].name, call: nodes[index].call)
                guard available.insert(key).inserted else { continue }
                for waiter in waiters.removeValue(forKey: key) ?? [] {
                    waiting[waiter] -= 1
                    if waiting[waiter] == 0 { next.append(waiter) }
                }
            }
            wave = next.sorted()
        }
        if let stuck = placed.firstIndex(of: false) {
            let node = nodes[stuck]
            let missing = node.inbound.first { !available.contains(Key(layer: $0.layer, call: $0.node)) }?.description
            throw InferenceError(
                .unsupportedConfig, layer: node.name,
                "layer \(node.name) takes \(missing ?? "a tensor"), which no layer of model \(name) gives")
        }
        self.nodes = ordered
    }

    /// The model's outputs for `values`, one tensor per input.
    func run(_ values: [Tensor]) throws -> [Tensor] {
        try run(masked: values.map { MaskedTensor($0) }).map(\.tensor)
    }

    /// The model's outputs, with their masks, for inputs with theirs.
    func run(masked values: [MaskedTensor]) throws -> [MaskedTensor] {
        guard values.count == inputs.count else {
            throw InferenceError(
                .shapeMismatch, layer: name, "model \(name) takes \(inputs.count) inputs, not \(values.count)")
        }
        var computed: [Key: [MaskedTensor]] = [:]
        for (input, value) in zip(inputs, values) { computed[Key(layer: input, call: 0)] = [value] }
        func tensor(_ reference: TensorReference, for layer: String) throws -> MaskedTensor {
            let found = computed[Key(layer: reference.layer, call: reference.node)] ?? []
            guard found.indices.contains(reference.tensor) else {
                throw InferenceError(
                    .unsupportedConfig, layer: layer,
                    "layer \(layer) takes \(reference), but that call of \(reference.layer) gives \(found.count) outputs"
                )
            }
            return found[reference.tensor]
        }
        // A call's outputs are let go once no later node or output reads them: a batch holds only the live
        // activations.
        var lastReader: [Key: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for inbound in node.inbound { lastReader[Key(layer: inbound.layer, call: inbound.node)] = index }
        }
        for output in outputs { lastReader[Key(layer: output.layer, call: output.node)] = nodes.count }
        for (index, node) in nodes.enumerated() {
            let arguments = try node.inbound.map { try tensor($0, for: node.name) }
            for inbound in node.inbound {
                let key = Key(layer: inbound.layer, call: inbound.node)
                if lastReader[key] == index { computed[key] = nil }
            }
            do {
                computed[Key(layer: node.name, call: node.call)] = try Self.evaluate(node, arguments)
            } catch var error as InferenceError {
                if var fault = error.dataFault {
                    fault.input = modelInput(feeding: node, through: fault.input)
                    error.dataFault = fault
                }
                throw error
            }
        }
        return try outputs.map { try tensor($0, for: name) }
    }

    /// The model input a value at fault reached `node` through: the input of this graph that feeds the node
    /// straight (for a nested model, the one feeding its input `inner`); nil when it came through other layers.
    private func modelInput(feeding node: Node, through inner: Int?) -> Int? {
        let reference: TensorReference?
        if node.layer is Graph {
            reference = inner.flatMap { node.inbound.indices.contains($0) ? node.inbound[$0] : nil }
        } else {
            reference = node.inbound.count == 1 ? node.inbound[0] : nil
        }
        guard let reference, reference.node == 0, reference.tensor == 0 else { return nil }
        return inputs.firstIndex(of: reference.layer)
    }

    /// One node's outputs: a masking layer handles masks itself; any other gives one output, masked by its rule.
    private static func evaluate(_ node: Node, _ arguments: [MaskedTensor]) throws -> [MaskedTensor] {
        if let recorded = node.recordedMask, recorded != arguments.contains(where: { $0.mask != nil }) {
            throw InferenceError(
                .unsupportedConfig, layer: node.name,
                "layer \(node.name) (\(node.className)) was given \(recorded ? "a" : "no") time-step mask in Keras, "
                    + "but kprune's forward pass follows \(recorded ? "none" : "one") to it")
        }
        if let layer = node.layer as? any MaskingLayer { return try layer.forward(masked: arguments) }
        let output = try node.layer.forward(arguments.map(\.tensor))
        return [
            MaskedTensor(
                output,
                mask: try node.masks.outputMask(
                    of: arguments, layer: node.name,
                    className: node.className))
        ]
    }

    /// As a layer inside another model: all its outputs. Masks are not carried into or out of a nested model.
    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor] {
        guard inputs.allSatisfy({ $0.mask == nil }) else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "the nested model \(name) is given a time-step mask, which kprune does not carry into nested models")
        }
        let results = try run(masked: inputs)
        guard results.allSatisfy({ $0.mask == nil }) else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "the nested model \(name) gives a time-step mask, which kprune does not carry out of nested models")
        }
        return results
    }
}
