import KerasFormat
import Numerics

/// `Dense`, `Dot` and `EinsumDense`.
extension GraphBuilder {
    func dense(_ layer: LayerConfig, _ name: String) throws -> DenseLayer {
        let stored = try weights(name)
        guard let kernel = stored.first, kernel.shape.count == 2, kernel.shape.allSatisfy({ $0 > 0 }) else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (Dense) has no 2-D kernel with inputs and units (its weights have shapes "
                    + "\(stored.map(\.shape)))")
        }
        let units = kernel.shape[1]
        try requireConfigured(layer, name, "units", units, kernel.shape)
        try requireBias(layer, name, stored, count: units)
        let bias = stored.count > 1 ? stored[1].values : [Float](repeating: 0, count: units)
        return DenseLayer(
            name: name, kernel: Tensor(shape: kernel.shape, values: kernel.values), bias: bias,
            activation: try activation(layer, name), blas: blas)
    }

    /// `Dot` along the feature axis of 2-D inputs.
    func dot(_ layer: LayerConfig, _ name: String) throws -> DotLayer {
        let axes = layer.config["axes"]
        guard
            axes == .number(1) || axes == .number(-1) || axes == .array([.number(1), .number(1)])
                || axes == .array([.number(-1), .number(-1)])
        else { throw unsupported(layer, name, "axes \(axes ?? .null) (only the feature axis of 2-D inputs)") }
        return DotLayer(name: name, normalize: layer.config["normalize"] == .bool(true))
    }

    /// `EinsumDense` whose equation is a matrix product; its bias on trailing output axes that are the kernel's.
    ///
    /// - Throws: `InferenceError` `.shapeMismatch` when the kernel has an empty axis, or the stored bias is not
    ///   the shape its `bias_axes` give (`de` in `abc,cde->abde`: the kernel's `d` and `e` sizes), or there are
    ///   weights beyond the kernel and that bias.
    func einsumDense(_ layer: LayerConfig, _ name: String) throws -> EinsumDenseLayer {
        let stored = try weights(name)
        guard let kernel = stored.first, let equation = layer.config["equation"]?.string else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no kernel or equation")
        }
        guard !kernel.shape.isEmpty, kernel.shape.allSatisfy({ $0 > 0 }) else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (EinsumDense) has a kernel of shape \(kernel.shape), with no values")
        }
        let output = equation.split(separator: ">").last.map(String.init) ?? ""
        let biasAxes = layer.config["bias_axes"]?.string ?? ""
        guard biasAxes.isEmpty || output.hasSuffix(biasAxes) else {
            throw unsupported(layer, name, "a bias on axes \(biasAxes) that are not the output's last")
        }
        guard
            let einsum = EinsumDenseLayer(
                name: name, equation: equation,
                kernel: Tensor(shape: kernel.shape, values: kernel.values),
                bias: stored.count > 1 ? stored[1].values : [],
                activation: try activation(layer, name), blas: blas)
        else { throw unsupported(layer, name, "the equation \(equation) (not a matrix product)") }
        try requireEinsumBias(layer, name, stored, biasAxes: biasAxes, newShape: einsum.newShape)
        return einsum
    }

    /// Refuses an `EinsumDense` bias that is not the shape of its axes, which must be among the kernel's new
    /// (output) axes: the forward pass repeats it over the others, and a bias over an input axis would be
    /// repeated where Keras adds it whole.
    private func requireEinsumBias(
        _ layer: LayerConfig, _ name: String, _ stored: [(shape: [Int], values: [Float])],
        biasAxes: String, newShape: [Int]
    ) throws {
        guard biasAxes.count <= newShape.count else {
            throw unsupported(layer, name, "a bias on axes \(biasAxes), some of them the input's")
        }
        let expected = biasAxes.isEmpty ? [] : [Array(newShape.suffix(biasAxes.count))]
        guard stored.dropFirst().map(\.shape) == expected else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (EinsumDense) has weights of shapes \(stored.map(\.shape)); its bias_axes "
                    + "'\(biasAxes)' ask for a kernel\(expected.first.map { " and a bias of shape \($0)" } ?? " alone")"
            )
        }
    }
}
