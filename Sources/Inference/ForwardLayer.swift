import Foundation
import Numerics

/// One layer's inference on a batch: every tensor's first axis is the samples.
protocol ForwardLayer {
    /// The layer's output for `inputs` (one tensor per inbound layer, in the config's order).
    func forward(_ inputs: [Tensor]) throws -> Tensor
}

/// The single input of a layer that takes one.
func single(_ inputs: [Tensor], _ layer: String) throws -> Tensor {
    guard inputs.count == 1, let input = inputs.first else {
        throw InferenceError(.shapeMismatch, layer: layer, "layer \(layer) takes one input, not \(inputs.count)")
    }
    return input
}

/// Refuses an input whose last axis is not `axis`, the feature axis a config named by position (nil: the last).
func requireLastAxis(_ axis: Int?, of input: Tensor, _ layer: String) throws {
    guard let axis, axis != input.rank - 1 else { return }
    throw InferenceError(
        .unsupportedConfig, layer: layer,
        "layer \(layer) normalizes axis \(axis) of shape \(input.shape) (only the last axis)")
}

/// Layers that change nothing at inference: dropout and noise of every kind, activity regularization.
struct Identity: ForwardLayer {
    let name: String
    static let classes: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise",
        "AlphaDropout", "ActivityRegularization", "Identity",
    ]
    func forward(_ inputs: [Tensor]) throws -> Tensor { try single(inputs, name) }
}

/// An `Activation` layer, or a layer applying one activation.
struct ActivationLayer: ForwardLayer {
    let name: String
    let activation: ForwardActivation
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        var values = input.values
        activation.apply(&values, lastAxis: input.shape.last ?? 1)
        return Tensor(shape: input.shape, values: values)
    }
}

/// A `Softmax` layer over an axis other than the last: for each position of the other axes, the values along
/// `axis` (counted with the samples' axis as 0; negative from the end) normalized to sum to 1.
struct SoftmaxLayer: ForwardLayer {
    let name: String
    let axis: Int

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let along = axis < 0 ? input.rank + axis : axis
        guard along >= 1, along < input.rank else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name) takes a softmax over axis \(axis) of shape \(input.shape)")
        }
        let length = input.shape[along], inner = input.shape[(along + 1)...].reduce(1, *)
        let outer = input.shape[..<along].reduce(1, *)
        var values = input.values
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var largest = -Float.infinity
                for k in 0..<length { largest = max(largest, values[base + k * inner]) }
                var sum: Float = 0
                for k in 0..<length {
                    let e = exp(values[base + k * inner] - largest)
                    values[base + k * inner] = e
                    sum += e
                }
                for k in 0..<length { values[base + k * inner] /= sum }
            }
        }
        return Tensor(shape: input.shape, values: values)
    }
}

/// `Flatten` (every axis after the samples into one) and `Reshape` (to `target`, -1 inferred).
struct ReshapeLayer: ForwardLayer {
    let name: String
    /// The shape after the samples' axis; nil to flatten.
    let target: [Int]?
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let batch = input.shape.first ?? 0
        let per = batch == 0 ? 0 : input.count / batch
        guard var target else { return input.reshaped([batch, per]) }
        if let unknown = target.firstIndex(of: -1) {
            let known = Allocation.product(target.enumerated().filter { $0.offset != unknown }.map(\.element)) ?? 0
            target[unknown] = known <= 0 ? 0 : per / known
        }
        guard target.allSatisfy({ $0 >= 0 }), Allocation.product(target) == per else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name) cannot reshape \(input.shape.dropFirst()) to \(target)")
        }
        return input.reshaped([batch] + target)
    }
}

/// A layer whose computation Keras runs in float16: its output rounded to float16.
struct HalfPrecision: ForwardLayer {
    let inner: any ForwardLayer
    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let output = try inner.forward(inputs.map(Self.rounded))
        return Self.rounded(output)
    }

    /// The tensor with every value rounded to the nearest float16.
    static func rounded(_ tensor: Tensor) -> Tensor {
        Tensor(shape: tensor.shape, values: tensor.values.map { Float(Float16($0)) })
    }
}

/// Bounds on what a layer may allocate, so that sizes a crafted config or input claims (an up-sampling factor of
/// 65,536, a reshape to 2^60 values, a million time steps) are refused instead of allocated. Every layer output,
/// and every table or product a layer builds on the way, is counted against them before it is allocated.
public enum Allocation {
    /// Values one sample of one layer's output, or of a table a layer builds, may hold (256 MiB of float32).
    public static let perSample = 1 << 26
    /// Values one layer's output may hold for a whole batch (256 MiB of float32). A batch whose output would hold
    /// more is run in smaller parts (`Graph.runInParts`), down to one sample, whose bound is `perSample`.
    public static let perBatch = 1 << 26

    /// The number of values of `shape` (samples first), refused when it overflows or exceeds the bounds.
    /// - Throws: `InferenceError` `.shapeMismatch` naming `layer` when one sample passes `perSample`,
    ///   `.batchTooLarge` when only the whole batch passes `perBatch`.
    static func count(_ shape: [Int], layer: String) throws -> Int {
        var perSampleCount = 1
        for dimension in shape.dropFirst() {
            let (product, overflow) = perSampleCount.multipliedReportingOverflow(by: max(dimension, 0))
            guard !overflow, product <= perSample else { throw tooLarge(shape, layer) }
            perSampleCount = product
        }
        let (total, overflow) = perSampleCount.multipliedReportingOverflow(by: max(shape.first ?? 0, 0))
        guard !overflow, total <= perBatch else {
            throw InferenceError(
                .batchTooLarge, layer: layer,
                "layer \(layer) would make an output of shape \(shape) for the batch, more than the "
                    + "\(perBatch) values kprune allocates for one")
        }
        return total
    }

    /// Refuses a table of `dimensions` (a convolution's gather table: positions × window offsets) larger than
    /// `perSample`.
    /// - Throws: `InferenceError` `.shapeMismatch` naming `layer`.
    static func requireTable(_ dimensions: [Int], layer: String, _ what: String) throws {
        guard product(dimensions) == nil else { return }
        throw InferenceError(
            .shapeMismatch, layer: layer,
            "layer \(layer) would build \(what) of \(dimensions.map(String.init).joined(separator: " × ")) "
                + "entries, more than the \(perSample) kprune allocates")
    }

    /// The product of `dimensions`, or nil when it overflows or exceeds `limit` (`perSample` unless given).
    public static func product(_ dimensions: [Int], limit: Int = perSample) -> Int? {
        var result = 1
        for dimension in dimensions {
            let (product, overflow) = result.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= limit, product >= 0 else { return nil }
            result = product
        }
        return result
    }

    private static func tooLarge(_ shape: [Int], _ layer: String) -> InferenceError {
        InferenceError(
            .shapeMismatch, layer: layer,
            "layer \(layer) would make an output of shape \(shape), more values than kprune allocates "
                + "(\(perSample) per sample, \(perBatch) per batch)")
    }
}
