import KerasFormat
import Numerics

/// The activation layers: `Softmax`, `ReLU` and the parametric ones.
extension GraphBuilder {
    /// A `Softmax` layer: over the last axis, or any one other axis.
    func softmax(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
        switch layer.config["axis"] {
        case nil, .number(-1)?, .array([.number(-1)])?: return ActivationLayer(name: name, activation: .softmax)
        case let axis?:
            guard let index = axis.integer ?? axis.array.flatMap({ $0.count == 1 ? $0[0].integer : nil }) else {
                throw unsupported(layer, name, "softmax over axes \(axis) (one axis at a time)")
            }
            return SoftmaxLayer(name: name, axis: index)
        }
    }

    /// The activation layers with parameters: `LeakyReLU`, `ELU`, `PReLU`.
    func parametricActivation(_ layer: LayerConfig, _ name: String) throws -> any ForwardLayer {
        switch layer.className {
        case "LeakyReLU":
            let key = layer.config["negative_slope"] != nil ? "negative_slope" : "alpha"
            let slope = try real(layer, name, key, default: 0.3)
            return ActivationLayer(name: name, activation: .leakyReLU(slope: Float(slope)))
        case "ELU":
            let alpha = try real(layer, name, "alpha", default: 1)
            return ActivationLayer(name: name, activation: alpha == 1 ? .elu : .eluScaled(alpha: Float(alpha)))
        case "PReLU":
            guard let alpha = try weights(name).first, !alpha.shape.isEmpty else {
                throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no alpha")
            }
            return PReLULayer(name: name, alpha: Tensor(shape: alpha.shape, values: alpha.values))
        default:
            throw InferenceError(.unsupportedLayer, layer: name, "layer \(name) is a \(layer.className)")
        }
    }

    /// A `ReLU` layer: plain, capped at 6, or with any cap, threshold and negative slope.
    func reluLayer(_ layer: LayerConfig, _ name: String) throws -> ForwardActivation {
        func value(_ key: String) -> Double? { layer.config[key]?.number }
        let slope = value("negative_slope") ?? 0, threshold = value("threshold") ?? 0, cap = value("max_value")
        guard slope.isFinite, threshold.isFinite, cap.map({ !$0.isNaN }) ?? true else {
            throw unsupported(layer, name, "a slope, threshold or cap that is not a number")
        }
        switch (slope, threshold, cap) {
        case (0, 0, nil): return .relu
        case (0, 0, 6?): return .relu6
        default:
            let finiteCap = cap.flatMap { $0.isFinite ? Float($0) : nil }
            return .reluGeneral(slope: Float(slope), maxValue: finiteCap, threshold: Float(threshold))
        }
    }
}
