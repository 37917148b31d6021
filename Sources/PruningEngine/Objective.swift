import Foundation

/// The final layer's activation, which decides the loss the fine-tune minimises.
enum Activation: Sendable, Equatable {
    /// Cross-entropy against soft targets.
    case softmax
    /// Binary cross-entropy per unit.
    case sigmoid
    /// Mean squared error on the outputs.
    case linear
    /// Mean squared error on the activation's output, for `relu` and `tanh`.
    case relu, tanh

    /// The activation a Keras config names; nil for activations kprune cannot differentiate.
    init?(keras name: String?) {
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
    var name: String {
        switch self {
        case .softmax: "softmax"
        case .sigmoid: "sigmoid"
        case .linear: "linear"
        case .relu: "relu"
        case .tanh: "tanh"
        }
    }

    /// The loss the fine-tune minimises for it, in words.
    var lossName: String {
        switch self {
        case .softmax: "cross-entropy"
        case .sigmoid: "binary cross-entropy"
        case .linear: "mean squared error"
        case .relu, .tanh: "squared error of the \(name) outputs"
        }
    }

    /// A bound on the loss's curvature in the pre-activations of one row: the Hessian of cross-entropy
    /// through softmax has eigenvalues below 1 (1/4 through sigmoid); squared errors averaged over `units`
    /// outputs have `2 / units`.
    func preActivationCurvature(units: Int) -> Float {
        switch self {
        case .softmax: 1
        case .sigmoid: 0.25
        case .linear, .relu, .tanh: 2 / Float(max(units, 1))
        }
    }

    /// A bound on the loss's second derivative in one kernel weight on standardized inputs (unit second
    /// moment): the curvature of the loss in one pre-activation. Cross-entropy through softmax or sigmoid
    /// has `p (1 - p) <= 1/4`; the squared errors, averaged over `units` outputs, `2 / units` (relu and tanh
    /// only flatten it).
    func weightCurvature(units: Int) -> Float {
        switch self {
        case .softmax, .sigmoid: 0.25
        case .linear, .relu, .tanh: 2 / Float(max(units, 1))
        }
    }

    /// Applies the activation to a batch of pre-activations, row by row, in place.
    func apply(_ z: inout Matrix) {
        let columns = z.columns
        z.values.withUnsafeMutableBufferPointer { z in
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
                guard columns > 0 else { return }
                for start in stride(from: 0, to: z.count, by: columns) {
                    var largest = -Float.infinity
                    for j in start..<(start + columns) { largest = max(largest, z[j]) }
                    var sum: Float = 0
                    for j in start..<(start + columns) {
                        let e = exp(z[j] - largest)
                        z[j] = e
                        sum += e
                    }
                    let scale = 1 / sum
                    for j in start..<(start + columns) { z[j] *= scale }
                }
            }
        }
    }

    /// The loss of outputs `a` (activations, already applied to pre-activations `z`) against `targets`,
    /// averaged over rows, and its gradient with respect to `z` written into `gradient`.
    ///
    /// Softmax and sigmoid use cross-entropy, whose gradient with respect to the pre-activation is
    /// `(a - t) / rows`; the others use the squared error of the activation's output. With `value` false
    /// only the gradient is computed (the returned loss is 0).
    func loss(outputs a: Matrix, preActivations z: Matrix, targets t: Matrix, gradient: inout Matrix?,
              value wanted: Bool = true) -> Double
    {
        precondition(a.rows == t.rows && a.columns == t.columns, "targets do not match the outputs")
        let rows = Float(max(a.rows, 1))
        let columns = Float(max(a.columns, 1))
        let epsilon: Float = 1e-7
        var total: Double = 0
        a.values.withUnsafeBufferPointer { a in
            t.values.withUnsafeBufferPointer { t in
                if wanted {
                    for i in 0..<a.count {
                        let (p, target) = (a[i], t[i])
                        switch self {
                        case .softmax:
                            if target > 0 { total -= Double(target * log(max(p, epsilon))) }
                        case .sigmoid:
                            total -= Double(target * log(max(p, epsilon)) + (1 - target) * log(max(1 - p, epsilon)))
                        case .linear, .relu, .tanh:
                            total += Double((p - target) * (p - target))
                        }
                    }
                }
                guard gradient != nil else { return }
                z.values.withUnsafeBufferPointer { z in
                    gradient!.values.withUnsafeMutableBufferPointer { g in
                        switch self {
                        case .softmax, .sigmoid:
                            let scale = 1 / rows
                            for i in 0..<a.count { g[i] = (a[i] - t[i]) * scale }
                        case .linear:
                            let scale = 2 / (rows * columns)
                            for i in 0..<a.count { g[i] = (a[i] - t[i]) * scale }
                        case .relu:
                            let scale = 2 / (rows * columns)
                            for i in 0..<a.count { g[i] = z[i] > 0 ? (a[i] - t[i]) * scale : 0 }
                        case .tanh:
                            let scale = 2 / (rows * columns)
                            for i in 0..<a.count { g[i] = (a[i] - t[i]) * (1 - a[i] * a[i]) * scale }
                        }
                    }
                }
            }
        }
        switch self {
        case .softmax, .sigmoid: return total / Double(rows)
        default: return total / Double(rows) / Double(max(a.columns, 1))
        }
    }
}
