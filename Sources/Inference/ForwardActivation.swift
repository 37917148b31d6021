import Foundation
import Numerics

/// A Keras activation, forward only, with Keras' own definition.
enum ForwardActivation: Equatable {
    case linear, relu, sigmoid, tanh, softmax, softplus, softsign, elu, selu, exponential, swish, relu6

    /// The activation a config value names; nil for names the forward pass does not implement.
    init?(keras value: JSONLikeName?) {
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

    /// Applies the activation in place; softmax normalizes along the last axis of `shape`.
    func apply(_ values: inout [Float], lastAxis: Int) {
        values.withUnsafeMutableBufferPointer { v in
            switch self {
            case .linear: break
            case .relu: for i in v.indices { v[i] = max(v[i], 0) }
            case .relu6: for i in v.indices { v[i] = min(max(v[i], 0), 6) }
            case .sigmoid: for i in v.indices { v[i] = 1 / (1 + exp(-v[i])) }
            case .tanh: for i in v.indices { v[i] = Foundation.tanh(v[i]) }
            case .softplus: for i in v.indices { v[i] = v[i] > 20 ? v[i] : log1p(exp(v[i])) }
            case .softsign: for i in v.indices { v[i] = v[i] / (1 + abs(v[i])) }
            case .elu: for i in v.indices where v[i] < 0 { v[i] = expm1(v[i]) }
            case .selu:
                let (alpha, scale): (Float, Float) = (1.6732632423543772, 1.0507009873554805)
                for i in v.indices { v[i] = scale * (v[i] > 0 ? v[i] : alpha * expm1(v[i])) }
            case .exponential: for i in v.indices { v[i] = exp(v[i]) }
            case .swish: for i in v.indices { v[i] = v[i] / (1 + exp(-v[i])) }
            case .softmax: Self.softmax(v, lastAxis: lastAxis)
            }
        }
    }

    /// Softmax over consecutive runs of `lastAxis` values, shifted by each run's maximum.
    static func softmax(_ v: UnsafeMutableBufferPointer<Float>, lastAxis: Int) {
        guard lastAxis > 0 else { return }
        for start in stride(from: 0, to: v.count, by: lastAxis) {
            var largest = -Float.infinity
            for j in start..<(start + lastAxis) { largest = max(largest, v[j]) }
            var sum: Float = 0
            for j in start..<(start + lastAxis) {
                v[j] = exp(v[j] - largest)
                sum += v[j]
            }
            for j in start..<(start + lastAxis) { v[j] /= sum }
        }
    }
}

/// An activation as a config names it: a plain string.
typealias JSONLikeName = String
