import Foundation
import Numerics

/// A Keras activation, forward only, with Keras' own definition.
enum ForwardActivation: Equatable {
    case linear, relu, sigmoid, tanh, softmax, softplus, softsign, elu, selu, exponential, swish, relu6
    /// `max(x, slope·x)`.
    case leakyReLU(slope: Float)
    /// `x` for `x ≥ 0`, `alpha·(eˣ − 1)` below.
    case eluScaled(alpha: Float)
    /// Keras's `relu(x, negative_slope, max_value, threshold)`: `x` kept above `threshold` (else 0), clipped
    /// to `[0, maxValue]` when there is a cap, minus `slope·max(threshold − x, 0)`.
    case reluGeneral(slope: Float, maxValue: Float?, threshold: Float)
    /// `0.5·x·(1 + erf(x/√2))`, or with `approximate` the tanh form.
    case gelu(approximate: Bool)
    /// Keras 2's `clip(0.2·x + 0.5, 0, 1)`, or Keras 3's `relu6(x + 3) / 6`.
    case hardSigmoid(keras3: Bool)

    /// The activation a config value names, with the definitions of the Keras that wrote the file (`keras3`);
    /// nil for names the forward pass does not implement.
    init?(keras value: JSONLikeName?, keras3: Bool) {
        switch value ?? "linear" {
        case "gelu": self = .gelu(approximate: false)  // the name means the exact form in both versions
        case "hard_sigmoid": self = .hardSigmoid(keras3: keras3)
        case "leaky_relu": self = .leakyReLU(slope: 0.2)
        default: self.init(plain: value)
        }
    }

    /// The activations both Keras versions define alike.
    private init?(plain value: JSONLikeName?) {
        switch value ?? "linear" {
        case "linear", "None": self = .linear
        case "relu": self = .relu
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "softmax": self = .softmax
        case "softplus": self = .softplus
        case "softsign": self = .softsign
        case "elu": self = .elu
        case "selu": self = .selu
        case "exponential": self = .exponential
        case "swish", "silu": self = .swish
        case "relu6": self = .relu6
        default: return nil
        }
    }

    /// The fine-tune's activation of the same definition, which computes it (one implementation for both).
    private var shared: Activation? {
        switch self {
        case .linear: .linear
        case .relu: .relu
        case .sigmoid: .sigmoid
        case .tanh: .tanh
        case .softmax: .softmax
        default: nil
        }
    }

    /// Applies the activation in place; softmax normalizes along the last axis, `lastAxis` values long.
    func apply(_ values: inout [Float], lastAxis: Int) {
        values.withUnsafeMutableBufferPointer { v in
            if let shared {
                shared.apply(to: v, width: lastAxis)
                return
            }
            switch self {
            case .linear, .relu, .sigmoid, .tanh, .softmax: break  // computed by `shared`
            case .relu6: for i in v.indices { v[i] = min(max(v[i], 0), 6) }
            case .softplus: for i in v.indices { v[i] = v[i] > 20 ? v[i] : log1p(exp(v[i])) }
            case .softsign: for i in v.indices { v[i] = v[i] / (1 + abs(v[i])) }
            case .elu: for i in v.indices where v[i] < 0 { v[i] = expm1(v[i]) }
            case .selu:
                let (alpha, scale): (Float, Float) = (1.6732632423543772, 1.0507009873554805)
                for i in v.indices { v[i] = scale * (v[i] > 0 ? v[i] : alpha * expm1(v[i])) }
            case .exponential: for i in v.indices { v[i] = exp(v[i]) }
            case .swish: for i in v.indices { v[i] = v[i] / (1 + exp(-v[i])) }
            case .leakyReLU(let slope): for i in v.indices where v[i] < 0 { v[i] *= slope }
            case .eluScaled(let alpha): for i in v.indices where v[i] < 0 { v[i] = alpha * expm1(v[i]) }
            case .reluGeneral(let slope, let maxValue, let threshold):
                for i in v.indices {
                    let x = v[i]
                    var y = threshold != 0 ? (x > threshold ? x : 0) : max(x, 0)
                    if let maxValue { y = min(max(y, 0), maxValue) }
                    v[i] = y - slope * max(threshold - x, 0)
                }
            case .gelu(let approximate):
                if approximate {
                    let c = Float(0.7978845608028654)
                    for i in v.indices {
                        v[i] = 0.5 * v[i] * (1 + Foundation.tanh(c * (v[i] + 0.044715 * v[i] * v[i] * v[i])))
                    }
                } else {
                    for i in v.indices { v[i] = 0.5 * v[i] * (1 + erf(v[i] / Float(2).squareRoot())) }
                }
            case .hardSigmoid(let keras3):
                for i in v.indices { v[i] = keras3 ? min(max(v[i] + 3, 0), 6) / 6 : min(max(0.2 * v[i] + 0.5, 0), 1) }
            }
        }
    }
}

/// An activation as a config names it: a plain string.
typealias JSONLikeName = String
