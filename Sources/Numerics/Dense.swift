extension BLAS {
    /// The outputs of a Dense layer on a batch: `activation(x · kernel + bias)`, one row per sample, written
    /// into `output`; the pre-activations `x · kernel + bias` into `preActivations` when given.
    /// - Precondition: `x` is samples × fan-in, `kernel` fan-in × units, `bias` has `units` entries and
    ///   `output` is samples × units.
    public func dense(
        _ x: Tensor, _ kernel: Tensor, _ bias: [Float], _ activation: Activation,
        into output: inout Tensor, preActivations: UnsafeMutablePointer<Tensor>? = nil
    ) {
        gemm(x, kernel, into: &output)
        let columns = output.columns
        precondition(bias.count == columns, "\(bias.count) biases for \(columns) units")
        output.values.withUnsafeMutableBufferPointer { output in
            bias.withUnsafeBufferPointer { bias in
                guard columns > 0 else { return }
                for start in stride(from: 0, to: output.count, by: columns) {
                    for j in 0..<columns { output[start + j] += bias[j] }
                }
            }
        }
        preActivations?.pointee = output
        activation.apply(&output)
    }
}
