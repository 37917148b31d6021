import Foundation
import Numerics

/// `LayerNormalization` over the last axis: each row's values minus their mean, over
/// `sqrt(variance + epsilon)`, times `gamma` plus `beta`.
struct LayerNormalizationLayer: ForwardLayer {
    let name: String
    let gamma: [Float]?
    let beta: [Float]?
    let epsilon: Float
    /// The axis normalized, when the config names it by position: it must be the last.
    var axis: Int? = nil

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        try requireLastAxis(axis, of: input, name)
        let width = input.shape.last ?? 1
        for parameter in [gamma, beta] {
            guard (parameter?.count ?? width) == width else {
                throw InferenceError(
                    .shapeMismatch, layer: name,
                    "layer \(name) normalizes \(parameter?.count ?? 0) features, the input has shape \(input.shape)")
            }
        }
        var values = input.values
        for start in stride(from: 0, to: values.count, by: max(width, 1)) {
            let row = values[start..<(start + width)]
            let mean = row.reduce(0, +) / Float(width)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(width)
            let scale = 1 / (variance + epsilon).squareRoot()
            for j in 0..<width {
                values[start + j] = (values[start + j] - mean) * scale * (gamma?[j] ?? 1) + (beta?[j] ?? 0)
            }
        }
        return Tensor(shape: input.shape, values: values)
    }
}

/// `Embedding`: each input value, an integer id, replaced by its row of the table (`[N, ...] -> [N, ..., D]`).
struct EmbeddingLayer: ForwardLayer {
    let name: String
    /// `[vocabulary, D]`.
    let table: Tensor

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let width = table.columns
        let count = try Allocation.count(input.shape + [width], layer: name)
        var values = [Float]()
        values.reserveCapacity(count)
        let perSample = input.shape.dropFirst().reduce(1, *)
        for (index, id) in input.values.enumerated() {
            // Checked as a float first: converting NaN, an infinity or 1e30 to an Int would trap.
            guard id.isFinite, id > -1, id < Float(table.rows) else {
                throw InferenceError(
                    dataFault: index / max(perSample, 1), layer: name,
                    before: "layer \(name) (Embedding) has \(table.rows) rows;",
                    after: "asks for id \(id)")
            }
            let row = Int(id.rounded(.towardZero))
            values += table.values[(row * width)..<((row + 1) * width)]
        }
        return Tensor(shape: input.shape + [width], values: values)
    }
}

/// `PReLU`: `max(x, 0) + alpha · min(x, 0)`, `alpha` learned per element of the sample (broadcast over shared
/// axes, which the stored alpha already has size 1 on).
struct PReLULayer: ForwardLayer {
    let name: String
    let alpha: Tensor

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let sample = Array(input.shape.dropFirst())
        guard alpha.rank == sample.count, zip(alpha.shape, sample).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw InferenceError(
                .shapeMismatch, layer: name, "layer \(name)'s alpha \(alpha.shape) does not fit \(input.shape)")
        }
        let perSample = sample.reduce(1, *)
        var values = input.values
        for i in values.indices where values[i] < 0 {
            let coordinates = SpatialWindow.unflatten(i % max(perSample, 1), sample)
            var index = 0
            for (axis, c) in coordinates.enumerated() {
                index = index * alpha.shape[axis] + (alpha.shape[axis] == 1 ? 0 : c)
            }
            values[i] *= alpha.values[index]
        }
        return Tensor(shape: input.shape, values: values)
    }
}
