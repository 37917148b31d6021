import Numerics

/// A model's layers as a graph, run in the config's order (Keras writes configs in forward order).
struct Graph: ForwardLayer {
    /// One layer and the layers it takes its inputs from.
    struct Node {
        let name: String
        let inbound: [String]
        let layer: any ForwardLayer
    }

    let name: String
    /// The names the model's inputs are known by, in order.
    let inputs: [String]
    let nodes: [Node]
    /// The layers whose outputs are the model's, in order.
    let outputs: [String]

    /// The model's outputs for `values`, one tensor per input.
    func run(_ values: [Tensor]) throws -> [Tensor] {
        guard values.count == inputs.count else {
            throw InferenceError(.shapeMismatch, layer: name, "model \(name) takes \(inputs.count) inputs, not \(values.count)")
        }
        var computed = Dictionary(uniqueKeysWithValues: zip(inputs, values))
        // A value no later layer or output reads is let go at once: a batch holds only the live activations.
        var lastReader: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { for inbound in node.inbound { lastReader[inbound] = index } }
        for output in outputs { lastReader[output] = nodes.count }
        for (index, node) in nodes.enumerated() {
            let arguments = try node.inbound.map { inbound in
                guard let value = computed[inbound] else {
                    throw InferenceError(.unsupportedConfig, layer: node.name,
                                         "layer \(node.name) takes the output of \(inbound), which comes later or not at all")
                }
                return value
            }
            for inbound in node.inbound where lastReader[inbound] == index { computed[inbound] = nil }
            computed[node.name] = try node.layer.forward(arguments)
        }
        return try outputs.map { output in
            guard let value = computed[output] else {
                throw InferenceError(.unsupportedConfig, layer: output, "the model's output \(output) is never computed")
            }
            return value
        }
    }

    /// As a layer inside another model: its single output.
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let results = try run(inputs)
        guard results.count == 1, let result = results.first else {
            throw InferenceError(.unsupportedConfig, layer: name,
                                 "the nested model \(name) has \(results.count) outputs; one is supported")
        }
        return result
    }
}
