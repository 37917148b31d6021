import Numerics

/// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum` of inputs of one shape, and `Concatenate`
/// along any axis but the samples'.
struct MergeLayer: ForwardLayer {
    enum Operation { case add, subtract, multiply, average, maximum, minimum, concatenate }
    let name: String
    let operation: Operation
    /// The axis `Concatenate` joins along, counted with the samples' axis as 0; negative from the end.
    var axis = -1

    static let classes: [String: Operation] = [
        "Add": .add, "Subtract": .subtract, "Multiply": .multiply, "Average": .average, "Maximum": .maximum,
        "Minimum": .minimum, "Concatenate": .concatenate,
    ]

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard let first = inputs.first else {
            throw InferenceError(.shapeMismatch, layer: name, "layer \(name) has no inputs")
        }
        if operation == .concatenate { return try concatenate(inputs) }
        guard inputs.allSatisfy({ $0.shape == first.shape }) else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) merges inputs of shapes \(inputs.map(\.shape)), which differ")
        }
        var values = first.values
        values.withUnsafeMutableBufferPointer { a in
            for other in inputs.dropFirst() {
                other.values.withUnsafeBufferPointer { b in
                    switch operation {
                    case .add, .average: for i in 0..<a.count { a[i] += b[i] }
                    case .subtract: for i in 0..<a.count { a[i] -= b[i] }
                    case .multiply: for i in 0..<a.count { a[i] *= b[i] }
                    case .maximum: for i in 0..<a.count { a[i] = max(a[i], b[i]) }
                    case .minimum: for i in 0..<a.count { a[i] = min(a[i], b[i]) }
                    case .concatenate: break
                    }
                }
            }
        }
        if operation == .average { values = values.map { $0 / Float(inputs.count) } }
        return Tensor(shape: first.shape, values: values)
    }

    /// The inputs joined along `axis`: for each index before it, each input's block of the axis and what
    /// follows it, in turn.
    private func concatenate(_ inputs: [Tensor]) throws -> Tensor {
        let rank = inputs[0].rank
        let along = axis < 0 ? rank + axis : axis
        func others(_ shape: [Int]) -> [Int] { shape.enumerated().filter { $0.offset != along }.map(\.element) }
        guard along >= 1, along < rank,
            inputs.allSatisfy({ $0.rank == rank && others($0.shape) == others(inputs[0].shape) })
        else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) concatenates inputs of shapes \(inputs.map(\.shape)) along axis \(axis)")
        }
        let outer = inputs[0].shape[..<along].reduce(1, *)
        let blocks = inputs.map { $0.count / max(outer, 1) }
        var shape = inputs[0].shape
        shape[along] = inputs.reduce(0) { $0 + $1.shape[along] }
        var values: [Float] = []
        values.reserveCapacity(try Allocation.count(shape, layer: name))
        for row in 0..<outer {
            for (input, block) in zip(inputs, blocks) {
                values += input.values[(row * block)..<((row + 1) * block)]
            }
        }
        return Tensor(shape: shape, values: values)
    }
}

/// `Dot` of two inputs `[N, D]` along their feature axis (optionally of L2-normalized rows): `[N, 1]`.
struct DotLayer: ForwardLayer {
    let name: String
    let normalize: Bool

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 2, inputs[0].rank == 2, inputs[0].shape == inputs[1].shape else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) takes the dot product of two [samples, features] inputs of one shape")
        }
        let (a, b) = (inputs[0], inputs[1])
        let width = a.columns
        var values = [Float](repeating: 0, count: a.rows)
        for row in 0..<a.rows {
            var (dot, na, nb): (Float, Float, Float) = (0, 0, 0)
            for j in 0..<width {
                let (x, y) = (a[row, j], b[row, j])
                dot += x * y
                na += x * x
                nb += y * y
            }
            values[row] = normalize ? dot / (max(na.squareRoot(), 1e-12) * max(nb.squareRoot(), 1e-12)) : dot
        }
        return Tensor(shape: [a.rows, 1], values: values)
    }
}
