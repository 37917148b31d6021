import Numerics

/// `EinsumDense` for the equations that are a matrix product: the input's trailing axes contracted with the
/// kernel's leading ones, in order (`ab,bc->ac`, `abc,cd->abd`, `abc,cde->abde`), the output the input's
/// other axes then the kernel's others; a bias on trailing output axes.
struct EinsumDenseLayer: ForwardLayer {
    let name: String
    /// The kernel as `[contracted, new]`.
    let kernel: Tensor
    /// The shape of the kernel's new axes.
    let newShape: [Int]
    /// How many input axes (after the samples') stay in the output.
    let keptAxes: Int
    /// Added over the output's trailing elements (empty for none).
    let bias: [Float]
    let activation: ForwardActivation
    let blas: BLAS

    /// The layer for `equation`, or nil when it is not a product of that form.
    init?(name: String, equation: String, kernel: Tensor, bias: [Float], activation: ForwardActivation, blas: BLAS) {
        let parts = equation.filter { $0 != " " }.split(separator: "->")
        guard parts.count == 2 else { return nil }
        let operands = parts[0].split(separator: ",")
        guard operands.count == 2 else { return nil }
        let input = Array(operands[0]), weights = Array(operands[1]), output = Array(parts[1])
        let contracted = input.filter { weights.contains($0) }
        let kept = input.filter { !weights.contains($0) }, new = weights.filter { !input.contains($0) }
        guard !input.isEmpty, input.first == output.first, input.suffix(contracted.count) == contracted[...],
            weights.prefix(contracted.count) == contracted[...], output == kept + new,
            kernel.rank == weights.count
        else { return nil }
        let contractedSize = kernel.shape.prefix(contracted.count).reduce(1, *)
        newShape = Array(kernel.shape.suffix(new.count))
        self.kernel = kernel.reshaped([contractedSize, newShape.reduce(1, *)])
        keptAxes = kept.count - 1
        self.name = name
        self.bias = bias
        self.activation = activation
        self.blas = blas
    }

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let contractedSize = kernel.rows
        guard input.rank >= keptAxes + 1, input.count % max(contractedSize, 1) == 0,
            input.shape.dropFirst(keptAxes + 1).reduce(1, *) == contractedSize
        else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name) cannot contract an input of shape \(input.shape)")
        }
        let rows = input.count / max(contractedSize, 1)
        _ = try Allocation.count(Array(input.shape.prefix(keptAxes + 1)) + [kernel.columns], layer: name)
        var output = Tensor(zeros: rows, kernel.columns)
        let widened =
            bias.isEmpty
            ? [Float](repeating: 0, count: kernel.columns)
            : (0..<kernel.columns).map { bias[$0 % bias.count] }
        blas.dense(input.reshaped([rows, contractedSize]), kernel, widened, .linear, into: &output)
        var values = output.values
        activation.apply(&values, lastAxis: newShape.last ?? 1)
        return Tensor(shape: Array(input.shape.prefix(keptAxes + 1)) + newShape, values: values)
    }
}
