import Numerics

/// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum` of inputs of one shape, and `Concatenate`
/// along the last axis.
struct MergeLayer: ForwardLayer {
    enum Operation { case add, subtract, multiply, average, maximum, minimum, concatenate }
    let name: String
    let operation: Operation

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
            throw InferenceError(.shapeMismatch, layer: name,
                                 "layer \(name) merges inputs of shapes \(inputs.map(\.shape)), which differ")
        }
        var values = first.values
        for other in inputs.dropFirst() {
            for i in values.indices {
                let b = other.values[i]
                switch operation {
                case .add, .average: values[i] += b
                case .subtract: values[i] -= b
                case .multiply: values[i] *= b
                case .maximum: values[i] = max(values[i], b)
                case .minimum: values[i] = min(values[i], b)
                case .concatenate: break
                }
            }
        }
        if operation == .average { values = values.map { $0 / Float(inputs.count) } }
        return Tensor(shape: first.shape, values: values)
    }

    private func concatenate(_ inputs: [Tensor]) throws -> Tensor {
        let leading = Array(inputs[0].shape.dropLast())
        guard inputs.allSatisfy({ Array($0.shape.dropLast()) == leading }) else {
            throw InferenceError(.shapeMismatch, layer: name,
                                 "layer \(name) concatenates inputs of shapes \(inputs.map(\.shape))")
        }
        let widths = inputs.map { $0.shape.last ?? 1 }
        let rows = leading.reduce(1, *)
        var values: [Float] = []
        values.reserveCapacity(rows * widths.reduce(0, +))
        for row in 0..<rows {
            for (input, width) in zip(inputs, widths) {
                values += input.values[(row * width)..<((row + 1) * width)]
            }
        }
        return Tensor(shape: leading + [widths.reduce(0, +)], values: values)
    }
}
