import Foundation
import Numerics
import TestSupport
import Testing

@testable import Inference
@testable import KerasFormat

/// tf_keras's layers for TensorFlow functions called on Keras tensors (`TFOpLambda`, `SlicingOpLambda`): what is
/// refused, and how, in one line naming the layer and the function.
@Suite struct OperationLayerTests {
    /// An operation the forward pass does not run is refused in one line naming the layer, its class and the
    /// TensorFlow function, never run approximately.
    @Test(arguments: [
        ("TFOpLambda", "math.erf", "tf.math.erf"), ("TFOpLambda", "linalg.matmul", "tf.linalg.matmul"),
        ("SlicingOpLambda", "strided_slice", "tf.strided_slice"),
    ])
    func refusesAnOperationByName(_ className: String, _ function: String, _ named: String) throws {
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/activations.h5") { config in
                setting(
                    "function", to: .string(function), layer: "act_relu",
                    in: setting("class_name", to: .string(className), layer: "act_relu", entry: true, in: config))
            }
        }
        #expect(error.code == .unsupportedLayer)
        #expect(error.layer == "act_relu")
        #expect(
            error.message == "layer act_relu (\(className)) calls \(named), which kprune's forward pass does not run")
    }

    /// The refused fixtures tf_keras wrote (tools/make_tfop_fixtures.py): a function, an axis or a slice that
    /// reaches the samples' axis, each one line.
    @Test(arguments: [
        (
            "tfop_erf", "tf.math.erf",
            "layer tf.math.erf (TFOpLambda) calls tf.math.erf, which kprune's forward pass does not run"
        ),
        (
            "tfop_concat_samples", "tf.concat",
            "layer tf.concat (TFOpLambda) calls tf.concat with axis 0 (the samples' axis)"
        ),
        (
            "tfop_reduce_all", "tf.math.reduce_sum",
            "layer tf.math.reduce_sum (TFOpLambda) calls tf.math.reduce_sum with axis null (every axis, the samples' included)"
        ),
        (
            "tfop_slice_samples", "tf.__operators__.getitem",
            "layer tf.__operators__.getitem (SlicingOpLambda) calls tf.__operators__.getitem with the slice [1:], which does "
                + "not take the samples' axis whole"
        ),
    ])
    func refusesAFixture(_ name: String, _ layer: String, _ line: String) throws {
        let model = try KerasModel.open(Fixtures.directory.appendingPathComponent("inference/keras2/\(name).h5").path)
        let error = try #require(throws: InferenceError.self) { try Predictor(model: model, blas: BLAS(threads: 1)) }
        #expect(error.layer == layer)
        #expect(error.message == line)
    }

    /// An argument edited into tfop_mixed's calls, crafted or out of what the forward pass runs, is one error
    /// naming the layer, the function and the argument, never a trap.
    @Test(arguments: [
        (
            "tf.concat", #"[[["dense", 0, 0, {"axis": 1e300}], ["tf.math.reduce_mean", 0, 0, {"axis": 1e300}]]]"#,
            "layer tf.concat (TFOpLambda) calls tf.concat with axis 1e+300; it must be a whole number from -64 to 64"
        ),
        (
            "tf.math.reduce_mean", #"[["dense", 0, 0, {"axis": NaN, "keepdims": true}]]"#,
            "layer tf.math.reduce_mean (TFOpLambda) calls tf.math.reduce_mean with axis NaN; it must be a whole number from -64 to 64"
        ),
        (
            "tf.math.reduce_mean", #"[["dense", 0, 0, {"axis": [2, 0], "keepdims": true}]]"#,
            "layer tf.math.reduce_mean (TFOpLambda) calls tf.math.reduce_mean with axis [2, 0] (the samples' axis)"
        ),
        (
            "tf.math.reduce_mean", #"[["dense", 0, 0, {"axis": 1, "keepdims": 1}]]"#,
            "layer tf.math.reduce_mean (TFOpLambda) calls tf.math.reduce_mean with keepdims 1; it must be true or false"
        ),
        (
            "tf.math.reduce_mean", #"[["dense", 0, 0, {"axis": 1, "keep_dims": true}]]"#,
            "layer tf.math.reduce_mean (TFOpLambda) calls tf.math.reduce_mean with keep_dims true, which kprune's forward pass does not run"
        ),
        (
            "tf.__operators__.add", #"[["tf.concat", 0, 0, {"y": 1e300}]]"#,
            "layer tf.__operators__.add (TFOpLambda) calls tf.__operators__.add with y 1e+300; it must be a finite float32 "
                + "number or a rectangular list of them"
        ),
        (
            "tf.__operators__.add", #"[["tf.concat", 0, 0, {"y": [[1, 2], [3]]}]]"#,
            "layer tf.__operators__.add (TFOpLambda) calls tf.__operators__.add with y [[1, 2], [3]]; it must be a finite "
                + "float32 number or a rectangular list of them"
        ),
        (
            "tf.__operators__.add", #"[["tf.concat", 0, 0, {}]]"#,
            "layer tf.__operators__.add (TFOpLambda) calls tf.__operators__.add with no y"
        ),
        (
            "tf.compat.v1.transpose", #"[["tf.math.add", 0, 0, {"perm": [1, 0, 2], "conjugate": false}]]"#,
            "layer tf.compat.v1.transpose (TFOpLambda) calls tf.compat.v1.transpose with perm [1, 0, 2] (the samples' axis moved)"
        ),
        (
            "tf.compat.v1.transpose", #"[["tf.math.add", 0, 0, {"perm": [0, 2, 1], "conjugate": true}]]"#,
            "layer tf.compat.v1.transpose (TFOpLambda) calls tf.compat.v1.transpose with conjugate true, which kprune's "
                + "forward pass does not run"
        ),
        (
            "tf.reshape", #"[["tf.compat.v1.transpose", 0, 0, {"shape": [23, 25]}]]"#,
            "layer tf.reshape (TFOpLambda) calls tf.reshape with shape [23, 25], whose first dimension is not -1 (the samples')"
        ),
        (
            "tf.reshape", #"[["tf.compat.v1.transpose", 0, 0, {"shape": [-1, -1e300]}]]"#,
            "layer tf.reshape (TFOpLambda) calls tf.reshape with shape -1e+300; it must be a whole number from 0 to 16777216"
        ),
        (
            "tf.reshape", #"[["tf.compat.v1.transpose", 0, 0, {"shape": ["tf.math.add", 0, 0]}]]"#,
            "layer tf.reshape (TFOpLambda) calls tf.reshape with shape given by a tensor, which kprune's forward pass does not run"
        ),
    ])
    func refusesAnArgument(_ layer: String, _ node: String, _ line: String) throws {
        let inbound = try JSONValue.parse(node)
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/tfop_mixed.h5") {
                setting("inbound_nodes", to: inbound, layer: layer, entry: true, in: $0)
            }
        }
        #expect(error.layer == layer)
        #expect(error.message == line)
    }

    /// A slice spec edited into tfop_reduce's first slice (`h[:, :, :2]`): a crafted number or element is one
    /// error naming it, and a `None` before the samples' axis is refused.
    @Test(arguments: [
        (
            #"[{"start": null, "stop": null, "step": null}, {"start": 0, "stop": 1, "step": 0}]"#,
            #"calls tf.__operators__.getitem with the slice_spec element {"start": 0, "step": 0, "stop": 1}; it must be a slice whose step is not 0"#
        ),
        (
            #"[{"start": null, "stop": null, "step": null}, 1e300]"#,
            "calls tf.__operators__.getitem with the slice_spec element 1e+300; it must be a whole number from -281474976710656 to 281474976710656"
        ),
        (
            #"[{"start": null, "stop": null, "step": null}, {"start": NaN, "stop": null, "step": null}]"#,
            "calls tf.__operators__.getitem with the slice_spec element's start NaN; it must be a whole number from -281474976710656 to 281474976710656"
        ),
        (
            #"[{"start": null, "stop": null, "step": null}, "a"]"#,
            #"calls tf.__operators__.getitem with the slice_spec element "a"; it must be a slice, an integer, None or an Ellipsis"#
        ),
        (
            #"[null, {"start": null, "stop": null, "step": null}]"#,
            "calls tf.__operators__.getitem with the slice [None, :], which does not take the samples' axis whole"
        ),
    ])
    func refusesASlice(_ spec: String, _ line: String) throws {
        let node = JSONValue.array([
            .array([
                .string("dense"), .number(0), .number(0),
                .object(["slice_spec": try JSONValue.parse(spec)]),
            ])
        ])
        let error = try #require(throws: InferenceError.self) {
            try predictor("inference/keras2/tfop_reduce.h5") {
                setting("inbound_nodes", to: node, layer: "tf.__operators__.getitem", entry: true, in: $0)
            }
        }
        #expect(error.layer == "tf.__operators__.getitem")
        #expect(error.message == "layer tf.__operators__.getitem (SlicingOpLambda) " + line)
    }
}
