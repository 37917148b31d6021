import Foundation
package import Numerics
import Sparsity

extension FineTuner {
    /// Momentum steps on the kept weights and the bias, shuffled mini-batches.
    /// - Returns: the steps taken.
    func trainOnSupport(
        _ weights: inout Tensor, _ bias: inout [Float], mask: [Bool], epochs: Int,
        label: String
    ) throws -> Int {
        var optimizer = Momentum(kernel: weights.values.count, bias: bias.count, rate: rate)
        var steps = 0
        let total = max(1, epochs * data.batchesPerEpoch(options.batchSize))
        try forEachBatch(
            epochs: epochs, seed: options.seed &+ 2,
            { x, targets in
                var (gradKernel, gradBias) = gradient(weights, bias, mask: mask, x: x, targets: targets)
                gradKernel.zero(outside: mask)
                // The step decays linearly to zero over the pass.
                optimizer.step(
                    &weights.values, &bias, gradKernel.values, gradBias,
                    scale: Float(max(total - steps, 1)) / Float(total))
                weights.zero(outside: mask)
                steps += 1
            },
            epochEnded: { epoch in
                try reportEpoch(label, epoch, of: epochs, weights, bias, mask: mask, from: 0.5, to: 1)
            })
        return steps
    }

    /// Shuffled mini-batches of training rows with their targets, epoch after epoch, in an order fixed by
    /// `seed`.
    func forEachBatch(
        epochs: Int, seed: UInt64, _ body: (Tensor, Tensor) -> Void,
        epochEnded: (Int) throws -> Void = { _ in }
    ) throws {
        try data.forEachBatch(epochs: epochs, batchSize: options.batchSize, seed: seed, body, epochEnded: epochEnded)
    }

    /// The loss gradient on the rows `x` with their targets, for the kernel (masked, when a mask is given)
    /// and the bias. With a row group, `x` holds one wide row per sample and the gradient is summed over
    /// every sample's positions: `dL/dW = sum_samples sum_p patch_pᵀ · dL/dz_p`.
    func gradient(_ kernel: Tensor, _ bias: [Float], mask: [Bool]?, x: Tensor, targets: Tensor)
        -> (Tensor, [Float])
    {
        var used = kernel
        if let mask { used.zero(outside: mask) }
        let (rows, dz) =
            group.map { groupedDelta(used, bias, x: x, targets: targets, group: $0) }
            ?? (x, rowDelta(used, bias, x: x, targets: targets))
        var gradKernel = Tensor(zeros: kernel.rows, kernel.columns)
        blas.gemm(rows, transposeA: true, dz, into: &gradKernel)
        var gradBias = [Float](repeating: 0, count: bias.count)
        guard hasBias else { return (gradKernel, gradBias) }
        let columns = dz.columns
        dz.values.withUnsafeBufferPointer { dz in
            gradBias.withUnsafeMutableBufferPointer { gradBias in
                guard columns > 0 else { return }
                for start in stride(from: 0, to: dz.count, by: columns) {
                    for j in 0..<columns { gradBias[j] += dz[start + j] }
                }
            }
        }
        return (gradKernel, gradBias)
    }

    /// The loss's gradient with respect to each row's pre-activations, each row one output row of the layer.
    private func rowDelta(_ kernel: Tensor, _ bias: [Float], x: Tensor, targets: Tensor) -> Tensor {
        var outputs = Tensor(zeros: x.rows, kernel.columns)
        var pre = Tensor(zeros: x.rows, kernel.columns)
        blas.dense(x, kernel, bias, activation, into: &outputs, preActivations: &pre)
        var delta: Tensor? = Tensor(zeros: x.rows, kernel.columns)
        _ = activation.loss(outputs: outputs, preActivations: pre, targets: targets, gradient: &delta, value: false)
        return delta ?? Tensor(zeros: x.rows, kernel.columns)
    }

    /// The positions' rows of samples `x` and the loss's gradient with respect to their pre-activations,
    /// back through the pooling from the model's output per sample.
    private func groupedDelta(_ kernel: Tensor, _ bias: [Float], x: Tensor, targets: Tensor, group: RowGroup)
        -> (Tensor, Tensor)
    {
        let forward = group.forward(x, kernel, bias, outer: activation, blas: blas)
        var delta: Tensor? = Tensor(zeros: x.rows, forward.pooled.columns)
        _ = activation.loss(
            outputs: forward.outputs, preActivations: forward.pooled, targets: targets,
            gradient: &delta, value: false)
        let g = delta ?? Tensor(zeros: x.rows, forward.pooled.columns)
        return (group.positions(x), group.positionGradient(g, forward))
    }

    /// The outputs the loss is taken on for rows `x` (per sample with a row group) and the values the loss's
    /// activation was applied to.
    func evaluate(_ x: Tensor, _ kernel: Tensor, _ bias: [Float]) -> (outputs: Tensor, pre: Tensor) {
        if let group {
            let forward = group.forward(x, kernel, bias, outer: activation, blas: blas)
            return (forward.outputs, forward.pooled)
        }
        var outputs = Tensor(zeros: x.rows, kernel.columns)
        var pre = outputs
        blas.dense(x, kernel, bias, activation, into: &outputs, preActivations: &pre)
        return (outputs, pre)
    }

    /// A bound on the loss's second derivative in one kernel weight on standardized inputs, as
    /// `Activation.weightCurvature`, scaled by what a row group's pooling makes of a weight's derivatives.
    func weightCurvature(units: Int) -> Float {
        activation.weightCurvature(units: group?.outputs(units: units) ?? units) * weightScale
            + (group.map { $0.innerCurvature * $0.curvatureScale } ?? 0)
    }

    /// Loss, agreement with the original layer and accuracy on the held-out rows; without held-out rows,
    /// loss and agreement with the targets on the training sample.
    package func metrics(_ kernel: Tensor, _ bias: [Float]) throws -> SplitMetrics {
        guard data.heldOutCount > 0 else {
            let (outputs, pre) = evaluate(sample.x, kernel, bias)
            var none: Tensor? = nil
            let loss = activation.loss(outputs: outputs, preActivations: pre, targets: sample.targets, gradient: &none)
            let agree = (0..<sample.x.rows).filter { decision(outputs, $0) == decision(sample.targets, $0) }.count
            return SplitMetrics(loss: loss, agreement: Double(agree) / Double(max(sample.x.rows, 1)), accuracy: nil)
        }
        var loss: Double = 0
        var (rows, agree, correct) = (0, 0, 0)
        var classified = false
        try data.forEachHeldOut { block in
            let x = block.x
            let (outputs, pre) = evaluate(x, kernel, bias)
            var none: Tensor? = nil
            loss +=
                activation.loss(outputs: outputs, preActivations: pre, targets: block.targets, gradient: &none)
                * Double(x.rows)
            for row in 0..<x.rows {
                let predicted = decision(outputs, row)
                if predicted == decision(block.teacher, row) { agree += 1 }
                if let classes = block.classes, predicted == classes[row] { correct += 1 }
            }
            classified = block.classes != nil
            rows += x.rows
        }
        let count = Double(max(rows, 1))
        return SplitMetrics(
            loss: loss / count, agreement: Double(agree) / count,
            accuracy: classified ? Double(correct) / count : nil)
    }

    /// The decision a row's outputs make: the top output, or for one sigmoid unit, whether it exceeds 0.5.
    func decision(_ outputs: Tensor, _ row: Int) -> Int {
        if outputs.columns == 1, activation == .sigmoid { return outputs[row, 0] >= 0.5 ? 1 : 0 }
        return outputs.argmax(row: row)
    }
}
