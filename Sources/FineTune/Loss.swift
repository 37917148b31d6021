import Foundation
public import Numerics
import Sparsity

/// The loss the fine-tune minimises follows the final layer's activation: cross-entropy through softmax and
/// sigmoid, the squared error of the outputs otherwise.
extension Activation {
    /// The loss the fine-tune minimises for it, in words.
    public var lossName: String {
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
    public func preActivationCurvature(units: Int) -> Float {
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
    public func weightCurvature(units: Int) -> Float {
        switch self {
        case .softmax, .sigmoid: 0.25
        case .linear, .relu, .tanh: 2 / Float(max(units, 1))
        }
    }

    /// The loss of outputs `a` (activations, already applied to pre-activations `z`) against `targets`,
    /// averaged over rows, and its gradient with respect to `z` written into `gradient` when one is given.
    ///
    /// Softmax and sigmoid use cross-entropy, whose gradient with respect to the pre-activation is
    /// `(a - t) / rows`; the others use the squared error of the activation's output. With `value` false
    /// only the gradient is computed (the returned loss is 0).
    public func loss(
        outputs a: Tensor, preActivations z: Tensor, targets t: Tensor, gradient: inout Tensor?,
        value wanted: Bool = true
    ) -> Double {
        precondition(a.rows == t.rows && a.columns == t.columns, "targets do not match the outputs")
        if var g = gradient.take() {
            writeGradient(outputs: a, preActivations: z, targets: t, into: &g)
            gradient = g
        }
        return wanted ? lossValue(outputs: a, targets: t) : 0
    }

    /// The loss of outputs `a` against targets `t`, averaged over rows (and for squared errors, outputs).
    private func lossValue(outputs a: Tensor, targets t: Tensor) -> Double {
        let epsilon: Float = 1e-7
        var total: Double = 0
        a.values.withUnsafeBufferPointer { a in
            t.values.withUnsafeBufferPointer { t in
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
        }
        let rows = Double(max(a.rows, 1))
        switch self {
        case .softmax, .sigmoid: return total / rows
        default: return total / rows / Double(max(a.columns, 1))
        }
    }

    /// The loss's gradient with respect to the pre-activations `z`, written into `g`.
    private func writeGradient(outputs a: Tensor, preActivations z: Tensor, targets t: Tensor, into g: inout Tensor) {
        let rows = Float(max(a.rows, 1))
        let columns = Float(max(a.columns, 1))
        a.values.withUnsafeBufferPointer { a in
            t.values.withUnsafeBufferPointer { t in
                z.values.withUnsafeBufferPointer { z in
                    g.values.withUnsafeMutableBufferPointer { g in
                        switch self {
                        case .softmax, .sigmoid:
                            let scale = 1 / rows
                            for i in 0..<a.count { g[i] = (a[i] - t[i]) * scale }
                        case .linear:
                            let scale = 2 / (rows * columns)
                            for i in 0..<a.count { g[i] = (a[i] - t[i]) * scale }
                        case .relu, .tanh:
                            let scale = 2 / (rows * columns)
                            for i in 0..<a.count {
                                g[i] = (a[i] - t[i]) * derivative(output: a[i], input: z[i]) * scale
                            }
                        }
                    }
                }
            }
        }
    }
}
