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

    /// Applies the activation to a batch of pre-activations, row by row, in place.
    func apply(_ z: inout Matrix) {
        switch self {
        case .linear:
            break
        case .relu:
            for i in z.values.indices { z.values[i] = max(z.values[i], 0) }
        case .tanh:
            for i in z.values.indices { z.values[i] = Foundation.tanh(z.values[i]) }
        case .sigmoid:
            for i in z.values.indices { z.values[i] = 1 / (1 + exp(-z.values[i])) }
        case .softmax:
            for row in 0..<z.rows {
                let start = row * z.columns
                var largest = -Float.infinity
                for j in 0..<z.columns { largest = max(largest, z.values[start + j]) }
                var sum: Float = 0
                for j in 0..<z.columns {
                    let e = exp(z.values[start + j] - largest)
                    z.values[start + j] = e
                    sum += e
                }
                for j in 0..<z.columns { z.values[start + j] /= sum }
            }
        }
    }

    /// The loss of outputs `a` (activations, already applied to pre-activations `z`) against `targets`,
    /// averaged over rows, and its gradient with respect to `z` written into `gradient`.
    ///
    /// Softmax and sigmoid use cross-entropy, whose gradient with respect to the pre-activation is
    /// `(a - t) / rows`; the others use the squared error of the activation's output.
    func loss(outputs a: Matrix, preActivations z: Matrix, targets t: Matrix, gradient: inout Matrix?,
              value wanted: Bool = true) -> Double
    {
        precondition(a.rows == t.rows && a.columns == t.columns, "targets do not match the outputs")
        let rows = Float(max(a.rows, 1))
        let epsilon: Float = 1e-7
        var total: Double = 0
        for i in a.values.indices {
            let p = a.values[i]
            let target = t.values[i]
            switch self {
            case .softmax:
                if wanted, target > 0 { total -= Double(target * log(max(p, epsilon))) }
                gradient?.values[i] = (p - target) / rows
            case .sigmoid:
                if wanted {
                    total -= Double(target * log(max(p, epsilon)) + (1 - target) * log(max(1 - p, epsilon)))
                }
                gradient?.values[i] = (p - target) / rows
            case .linear, .relu, .tanh:
                let difference = p - target
                total += Double(difference * difference)
                let derivative: Float
                switch self {
                case .relu: derivative = z.values[i] > 0 ? 1 : 0
                case .tanh: derivative = 1 - p * p
                default: derivative = 1
                }
                gradient?.values[i] = 2 * difference * derivative / (rows * Float(a.columns))
            }
        }
        switch self {
        case .softmax, .sigmoid: return total / Double(rows)
        default: return total / Double(rows) / Double(max(a.columns, 1))
        }
    }
}
