import Numerics

/// `Dense`: `activation(x · kernel + bias)` on the last axis.
struct DenseLayer: ForwardLayer {
    let name: String
    let kernel: Tensor
    let bias: [Float]
    let activation: ForwardActivation
    let blas: BLAS
    /// Whether Keras computes the layer in float16: the product, the bias sum and the activation are each
    /// rounded to float16, as its ops are.
    var half = false

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let input = try single(inputs, name)
        let fanIn = kernel.rows
        guard input.shape.last == fanIn else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) takes \(fanIn) features, the input has shape \(input.shape)")
        }
        let rows = fanIn == 0 ? 0 : input.count / fanIn
        _ = try Allocation.count(Array(input.shape.dropLast()) + [kernel.columns], layer: name)
        var output = Tensor(zeros: rows, kernel.columns)
        var values: [Float]
        if half {
            blas.gemm(input.reshaped([rows, fanIn]), kernel, into: &output)
            values = output.values.map { Float(Float16($0)) }
            for i in values.indices { values[i] = Float(Float16(values[i] + bias[i % kernel.columns])) }
            activation.apply(&values, lastAxis: kernel.columns)
            values = values.map { Float(Float16($0)) }
        } else {
            blas.dense(input.reshaped([rows, fanIn]), kernel, bias, .linear, into: &output)
            values = output.values
            activation.apply(&values, lastAxis: kernel.columns)
        }
        return Tensor(shape: Array(input.shape.dropLast()) + [kernel.columns], values: values)
    }
}
