import KerasFormat

/// The layers tf_keras records for TensorFlow functions called on Keras tensors in a functional model
/// (`tf.math.reduce_max(x, axis=1)`, `x + y`, `x[:, 1:3]`): a `TFOpLambda` or `SlicingOpLambda` whose
/// config's `function` names the TensorFlow symbol without its `tf.` (`math.reduce_max`,
/// `__operators__.getitem`), and whose inbound nodes carry the call's other arguments and constants
/// (`["x", 0, 0, {"axis": 1}]`, `{"y": 2.0}`).
extension GraphBuilder {
    /// The refusal of an operation kprune's forward pass does not run, naming the TensorFlow function.
    static func unsupportedOperation(_ layer: LayerConfig, _ name: String) -> InferenceError {
        let function = layer.config["function"]?.string.map { "tf." + $0 } ?? "an unnamed TensorFlow function"
        return InferenceError(.unsupportedLayer, layer: name,
                              "layer \(name) (\(layer.className)) calls \(function), which kprune's forward pass "
                                  + "does not run")
    }
}
