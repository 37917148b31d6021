import Testing

@testable import KerasFormat

/// Calls of layers in functional configs: which output of which call each takes, and Keras 3's recorded masks.
@Suite struct LayerCallTests {
    /// Keras 2's nested lists: node index, then tensor index; a second call of a shared layer is a second node.
    @Test func readsKeras2References() throws {
        let entry = try JSONValue.parse(
            """
            {"class_name": "Concatenate", "config": {"name": "merge"},
             "inbound_nodes": [[["lstm", 0, 2, {}], ["dense", 1, 0, {}]], [["lstm", 0, 1, {}]]]}
            """)
        let layer = try ModelConfig.parseLayer(entry, depth: 0)
        #expect(
            layer.inboundNodes.map(\.inputs) == [
                [
                    TensorReference(layer: "lstm", node: 0, tensor: 2),
                    TensorReference(layer: "dense", node: 1, tensor: 0),
                ],
                [TensorReference(layer: "lstm", node: 0, tensor: 1)],
            ])
        #expect(layer.inboundNodes.allSatisfy { $0.mask == nil })
    }

    /// Keras 3's `keras_history`; the `mask` keyword is kept apart from the inputs, null or a tensor.
    @Test func readsKeras3ReferencesAndMasks() throws {
        let entry = try JSONValue.parse(
            """
            {"class_name": "LSTM", "config": {"name": "lstm"}, "inbound_nodes": [
             {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["embedding", 0, 0]}}],
              "kwargs": {"training": false, "mask": {"class_name": "__keras_tensor__",
                                                      "config": {"keras_history": ["not_equal", 0, 0]}}}},
             {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["gru", 2, 1]}}],
              "kwargs": {"mask": null}}]}
            """)
        let layer = try ModelConfig.parseLayer(entry, depth: 0)
        #expect(
            layer.inboundNodes.map(\.inputs) == [
                [TensorReference(layer: "embedding")],
                [TensorReference(layer: "gru", node: 2, tensor: 1)],
            ])
        #expect(layer.inboundNodes[0].mask == .some(TensorReference(layer: "not_equal")))
        #expect(layer.inboundNodes[1].mask == .some(nil))
    }

    /// tf_keras's record of a TensorFlow function's call: a tensor passed by keyword is an input after the first
    /// argument's, a constant first argument (`2.0 - x`) is no reference (its -1 is not refused), and a list first
    /// argument keeps its structure.
    @Test func readsTensorFlowCallArguments() throws {
        let entry = try JSONValue.parse(
            """
            {"class_name": "TFOpLambda", "config": {"name": "tf.math.subtract", "function": "math.subtract"},
             "inbound_nodes": [["_CONSTANT_VALUE", -1, 2.0, {"y": ["dense", 0, 0], "name": null}],
                               ["x", 0, 1, {"y": ["t", 1, 0], "axis": [1, 2]}]]}
            """)
        let layer = try ModelConfig.parseLayer(entry, depth: 0)
        #expect(
            layer.inboundNodes.map(\.inputs) == [
                [TensorReference(layer: "dense")],
                [TensorReference(layer: "x", tensor: 1), TensorReference(layer: "t", node: 1)],
            ])
        let constantFirst = try #require(layer.inboundNodes[0].arguments)
        #expect(constantFirst.first == .constant(.number(2)))
        #expect(constantFirst.keywords == ["y": .input(0), "name": .constant(.null)])
        let keyword = try #require(layer.inboundNodes[1].arguments)
        #expect(keyword.first == .input(0))
        #expect(keyword.keywords == ["y": .input(1), "axis": .constant(.array([.number(1), .number(2)]))])
        #expect(layer.inboundLayers == ["dense", "x", "t"])

        let concat = try ModelConfig.parseLayer(
            try JSONValue.parse(
                """
                {"class_name": "TFOpLambda", "config": {"name": "tf.concat", "function": "concat"},
                 "inbound_nodes": [[["a", 0, 0, {"axis": 1}], ["b", 0, 0, {"axis": 1}]]]}
                """), depth: 0)
        #expect(concat.inboundNodes[0].arguments?.first == .list([.input(0), .input(1)]))
        #expect(concat.inboundNodes[0].inputs == [TensorReference(layer: "a"), TensorReference(layer: "b")])
    }

    /// A tensor in a call's kwargs is validated like any reference: a crafted index is refused when parsed.
    @Test func refusesACraftedKeywordTensor() throws {
        let entry = try JSONValue.parse(
            """
            {"class_name": "TFOpLambda", "config": {"name": "tf.math.add", "function": "math.add"},
             "inbound_nodes": [["x", 0, 0, {"y": ["t", 1e300, 0]}]]}
            """)
        #expect(throws: ConfigError.self) { try ModelConfig.parseLayer(entry, depth: 0) }
    }

    /// A model's outputs keep the tensor index: a layer's state output can be the model's.
    @Test func readsOutputTensors() throws {
        let json = try JSONValue.parse(
            """
            {"class_name": "Functional", "config": {"name": "m", "layers": [], "input_layers": [["x", 0, 0]],
             "output_layers": [["lstm", 0, 2], ["dense", 0, 0]]}}
            """)
        #expect(
            try ModelConfig.parse(json).outputTensors == [
                TensorReference(layer: "lstm", node: 0, tensor: 2),
                TensorReference(layer: "dense"),
            ])
    }
}
