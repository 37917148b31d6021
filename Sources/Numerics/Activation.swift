import Foundation

/// An activation kprune can differentiate: a layer's elementwise (or, for softmax, row-wise) output function.
public enum Activation: Sendable, Equatable {
    /// Cross-entropy against soft targets.
    case softmax
    /// Binary cross-entropy per unit.
    case sigmoid
    /// Mean squared error on the outputs.
    case linear
    /// Mean squared error on the activation's output, for `relu` and `tanh`.
    case relu, tanh

    /// The activation a Keras config names; nil for activations kprune cannot differentiate.
    public init?(keras name: String?) {
        switch name ?? "linear" {
        case "softmax": self = .softmax
        case "sigmoid": self = .sigmoid
        case "linear", "None": self = .linear
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }

    /// The name Keras gives it.
    public var name: String {
        switch self {
        case .softmax: "softmax"
        case .sigmoid: "sigmoid"
        case .linear: "linear"
        case .relu: "relu"
        case .tanh: "tanh"
        }
    }

    /// Applies the activation to a batch of pre-activations (a matrix, one row per sample), in place; softmax
    /// normalizes each row.
    public func apply(_ z: inout Tensor) {
        let columns = z.columns
        z.values.withUnsafeMutableBufferPointer { apply(to: $0, width: columns) }
    }

    /// Applies the activation to `values` in place; softmax normalizes each run of `width` consecutive values
    /// (a row, or the last axis of any tensor), shifted by the run's maximum.
    public func apply(to z: UnsafeMutableBufferPointer<Float>, width: Int) {
        switch self {
        case .linear:
            break
        case .relu:
            for i in 0..<z.count { z[i] = max(z[i], 0) }
        case .tanh:
            for i in 0..<z.count { z[i] = Foundation.tanh(z[i]) }
        case .sigmoid:
            for i in 0..<z.count { z[i] = 1 / (1 + exp(-z[i])) }
        case .softmax:
            guard width > 0 else { return }
            for start in stride(from: 0, to: z.count, by: width) {
                var largest = -Float.infinity
                for j in start..<(start + width) { largest = max(largest, z[j]) }
                var sum: Float = 0
                for j in start..<(start + width) {
                    let e = exp(z[j] - largest)
                    z[j] = e
                    sum += e
                }
                let scale = 1 / sum
                for j in start..<(start + width) { z[j] *= scale }
            }
        }
    }

    /// The derivative of an elementwise activation at one element, from its output `a` and its input `z`
    /// (relu: 1 where `z > 0`, else 0; tanh: `1 - a²`; sigmoid: `a (1 - a)`; linear: 1).
    /// - Precondition: not softmax, whose derivative couples a row's elements.
    @inlinable
    public func derivative(output a: Float, input z: Float) -> Float {
        switch self {
        case .linear: 1
        case .relu: z > 0 ? 1 : 0
        case .tanh: 1 - a * a
        case .sigmoid: a * (1 - a)
        case .softmax: preconditionFailure("softmax has no elementwise derivative")
        }
    }
}
