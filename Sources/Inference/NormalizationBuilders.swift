import KerasFormat
import Numerics

/// Normalizations: `LayerNormalization`, `Normalization` and `BatchNormalization`.
extension GraphBuilder {
    func layerNormalization(_ layer: LayerConfig, _ name: String) throws -> LayerNormalizationLayer {
        let axis = try featureAxis(layer, name)
        var stored = try weights(name)[...]
        let gamma = layer.config["scale"] != .bool(false) ? stored.popFirst()?.values : nil
        let beta = layer.config["center"] != .bool(false) ? stored.popFirst()?.values : nil
        return LayerNormalizationLayer(name: name, gamma: gamma, beta: beta,
                                       epsilon: Float(layer.config["epsilon"]?.number ?? 1e-3), axis: axis)
    }

    /// The feature axis a normalization names: nil for the last (`-1`), or a position, which the input's
    /// rank must make the last.
    func featureAxis(_ layer: LayerConfig, _ name: String) throws -> Int? {
        switch layer.config["axis"] {
        case nil, .number(-1)?, .array([.number(-1)])?: return nil
        case let value? where (value.integer ?? 0) > 0: return value.integer
        case .array(let items)? where items.count == 1 && (items[0].integer ?? 0) > 0: return items[0].integer
        case let other?: throw unsupported(layer, name, "normalization over axis \(other) (only the last axis)")
        }
    }

    func normalization(_ layer: LayerConfig, _ name: String) throws -> AffineLayer {
        let axis = try featureAxis(layer, name)
        // Given in the config (`Normalization(mean=..., variance=...)`), or adapted and stored as weights.
        func values(_ key: String) -> [Float]? {
            if let number = layer.config[key]?.number { return [Float(number)] }
            return layer.config[key]?.array.map { $0.compactMap { $0.number.map(Float.init) } }
        }
        if let mean = values("mean"), let variance = values("variance"), mean.count == variance.count {
            var affine = AffineLayer.normalization(name, mean: mean, variance: variance)
            affine.axis = axis
            return affine
        }
        let stored = try weights(name)
        guard stored.count >= 2, stored[0].values.count == stored[1].values.count else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no mean and variance")
        }
        var affine = AffineLayer.normalization(name, mean: stored[0].values, variance: stored[1].values)
        affine.axis = axis
        return affine
    }

    func batchNormalization(_ layer: LayerConfig, _ name: String) throws -> AffineLayer {
        let axis = try featureAxis(layer, name)
        var stored = try weights(name)[...]
        let scale = layer.config["scale"] != .bool(false), center = layer.config["center"] != .bool(false)
        let gamma = scale ? stored.popFirst()?.values : nil
        let beta = center ? stored.popFirst()?.values : nil
        guard let mean = stored.popFirst()?.values, let variance = stored.popFirst()?.values else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) lacks its moving statistics")
        }
        let epsilon = Float(layer.config["epsilon"]?.number ?? 1e-3)
        var affine = AffineLayer.batchNormalization(name, gamma: gamma, beta: beta, mean: mean, variance: variance,
                                                    epsilon: epsilon)
        affine.axis = axis
        return affine
    }
}
