@testable import KerasFormat
import Testing

/// Calls of layers in functional configs: which output of which call each takes, and Keras 3's recorded masks.
@Suite struct LayerCallTests {
    /// Keras 2's nested lists: node index, then tensor index; a second call of a shared layer is a second node.
    @Test func readsKeras2References() throws {
        let entry = try JSONValue.parse("""
            {"class_name": "Concatenate", "config": {"name": "merge"},
             "inbound_nodes": [[["lstm", 0, 2, {}], ["dense", 1, 0, {}]], [["lstm", 0, 1, {}]]]}
            """)
        let layer = try ModelConfig.parseLayer(entry, depth: 0)
        #expect(layer.inboundNodes.map(\.inputs) == [
            [TensorReference(layer: "lstm", node: 0, tensor: 2), TensorReference(layer: "dense", node: 1, tensor: 0)],
            [TensorReference(layer: "lstm", node: 0, tensor: 1)],
        ])
        #expect(layer.inboundNodes.allSatisfy { $0.mask == nil })
    }

    /// Keras 3's `keras_history`; the `mask` keyword is kept apart from the inputs, null or a tensor.
    @Test func readsKeras3ReferencesAndMasks() throws {
        let entry = try JSONValue.parse("""
            {"class_name": "LSTM", "config": {"name": "lstm"}, "inbound_nodes": [
             {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["embedding", 0, 0]}}],
              "kwargs": {"training": false, "mask": {"class_name": "__keras_tensor__",
                                                      "config": {"keras_history": ["not_equal", 0, 0]}}}},
             {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["gru", 2, 1]}}],
              "kwargs": {"mask": null}}]}
            """)
        let layer = try ModelConfig.parseLayer(entry, depth: 0)
        #expect(layer.inboundNodes.map(\.inputs) == [[TensorReference(layer: "embedding")],
                                                      [TensorReference(layer: "gru", node: 2, tensor: 1)]])
        #expect(layer.inboundNodes[0].mask == .some(TensorReference(layer: "not_equal")))
        #expect(layer.inboundNodes[1].mask == .some(nil))
    }

    /// A model's outputs keep the tensor index: a layer's state output can be the model's.
    @Test func readsOutputTensors() throws {
        let json = try JSONValue.parse("""
            {"class_name": "Functional", "config": {"name": "m", "layers": [], "input_layers": [["x", 0, 0]],
             "output_layers": [["lstm", 0, 2], ["dense", 0, 0]]}}
            """)
        #expect(try ModelConfig.parse(json).outputTensors == [TensorReference(layer: "lstm", node: 0, tensor: 2),
                                                               TensorReference(layer: "dense")])
    }
}
