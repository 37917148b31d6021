@testable import Inference
@testable import KerasFormat
import Testing

/// tf_keras's layers for TensorFlow functions called on Keras tensors (`TFOpLambda`, `SlicingOpLambda`).
@Suite struct OperationLayerTests {
    /// An operation the forward pass does not run is refused in one line naming the layer, its class and the
    /// TensorFlow function, never run approximately.
    @Test(arguments: [("TFOpLambda", "math.erf", "tf.math.erf"),
                      ("SlicingOpLambda", "__operators__.getitem", "tf.__operators__.getitem")])
    func refusesAnOperationByName(_ className: String, _ function: String, _ named: String) throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/activations.h5") { config in
                setting("function", to: .string(function), layer: "act_relu",
                        in: setting("class_name", to: .string(className), layer: "act_relu", entry: true, in: config))
            }
        }
        #expect(error.code == .unsupportedLayer)
        #expect(error.layer == "act_relu")
        #expect(error.message == "layer act_relu (\(className)) calls \(named), which kprune's forward pass does not run")
    }
}
