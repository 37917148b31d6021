import KerasFormat
import Numerics

/// Normalizations: `LayerNormalization`, `Normalization` and `BatchNormalization`. Their per-feature weights
/// are checked to be one length before any work; the input's features are checked against it when it runs.
extension GraphBuilder {
    func layerNormalization(_ layer: LayerConfig, _ name: String) throws -> LayerNormalizationLayer {
        let axis = try featureAxis(layer, name)
        if layer.config["rms_scaling"] == .bool(true) { throw unsupported(layer, name, "rms_scaling") }
        let stored = try weights(name)
        let parameters = try perFeature(
            layer, name, stored,
            names: [
                layer.config["scale"] != .bool(false) ? "gamma" : nil,
                layer.config["center"] != .bool(false) ? "beta" : nil,
            ])
        return LayerNormalizationLayer(
            name: name, gamma: parameters["gamma"], beta: parameters["beta"],
            epsilon: try real(layer, name, "epsilon", default: 1e-3, in: 0...1e6), axis: axis)
    }

    /// The feature axis a normalization names: nil for the last (`-1`), or a position, which the input's
    /// rank must make the last.
    func featureAxis(_ layer: LayerConfig, _ name: String) throws -> Int? {
        let positive = 1...Self.largestWindow
        switch layer.config["axis"] {
        case nil, .number(-1)?, .array([.number(-1)])?: return nil
        case let value? where value.integer.map(positive.contains) == true: return value.integer
        case .array(let items)? where items.count == 1 && items[0].integer.map(positive.contains) == true:
            return items[0].integer
        case let other?: throw unsupported(layer, name, "normalization over axis \(other) (only the last axis)")
        }
    }

    func normalization(_ layer: LayerConfig, _ name: String) throws -> AffineLayer {
        let axis = try featureAxis(layer, name)
        // Given in the config (`Normalization(mean=..., variance=...)`), or adapted and stored as weights.
        let mean: [Float], variance: [Float]
        if let given = try reals(layer, name, "mean"), let spread = try reals(layer, name, "variance") {
            (mean, variance) = (given, spread)
        } else {
            let stored = try weights(name)
            guard stored.count >= 2 else {
                throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no mean and variance")
            }
            (mean, variance) = (stored[0].values, stored[1].values)
        }
        guard !mean.isEmpty, mean.count == variance.count, variance.allSatisfy({ $0 >= 0 }) else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (Normalization) has \(mean.count) means and \(variance.count) variances "
                    + "(as many, and none negative)")
        }
        var affine = AffineLayer.normalization(name, mean: mean, variance: variance)
        affine.axis = axis
        return affine
    }

    func batchNormalization(_ layer: LayerConfig, _ name: String) throws -> AffineLayer {
        let axis = try featureAxis(layer, name)
        let stored = try weights(name)
        let parameters = try perFeature(
            layer, name, stored,
            names: [
                layer.config["scale"] != .bool(false) ? "gamma" : nil,
                layer.config["center"] != .bool(false) ? "beta" : nil,
                "moving_mean", "moving_variance",
            ])
        guard let mean = parameters["moving_mean"], let variance = parameters["moving_variance"] else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) lacks its moving statistics")
        }
        let epsilon = try real(layer, name, "epsilon", default: 1e-3, in: 0...1e6)
        var affine = AffineLayer.batchNormalization(
            name, gamma: parameters["gamma"], beta: parameters["beta"],
            mean: mean, variance: variance, epsilon: epsilon)
        affine.axis = axis
        return affine
    }

    /// A normalization's stored per-feature weights by name, in the order the config's flags make Keras store
    /// them (`names`, nil where a flag leaves one out).
    /// - Throws: `InferenceError` `.shapeMismatch` unless there are exactly that many weights, each a vector of
    ///   one common, non-zero length.
    private func perFeature(
        _ layer: LayerConfig, _ name: String, _ stored: [(shape: [Int], values: [Float])],
        names: [String?]
    ) throws -> [String: [Float]] {
        let wanted = names.compactMap { $0 }
        let length = stored.first?.values.count ?? 0
        guard stored.count == wanted.count,
            stored.allSatisfy({ $0.shape.count == 1 && $0.values.count == length }), wanted.isEmpty || length > 0
        else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has weights of shapes \(stored.map(\.shape)); its "
                    + "config asks for \(wanted.count) vectors of one length (\(wanted.joined(separator: ", ")))")
        }
        return Dictionary(uniqueKeysWithValues: zip(wanted, stored.map(\.values)))
    }
}
