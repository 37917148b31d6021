import Foundation
public import Numerics
import Sparsity

extension FineTuner {
    /// Momentum steps on the kept weights and the bias, shuffled mini-batches.
    /// - Returns: the steps taken.
    func trainOnSupport(_ weights: inout Tensor, _ bias: inout [Float], mask: [Bool], epochs: Int,
                                label: String) throws -> Int
    {
        var optimizer = Momentum(kernel: weights.values.count, bias: bias.count, rate: rate)
        var steps = 0
        let total = max(1, epochs * data.batchesPerEpoch(options.batchSize))
        try forEachBatch(epochs: epochs, seed: options.seed &+ 2, { x, targets in
            var (gradKernel, gradBias) = gradient(weights, bias, mask: mask, x: x, targets: targets)
            gradKernel.zero(outside: mask)
            // The step decays linearly to zero over the pass.
            optimizer.step(&weights.values, &bias, gradKernel.values, gradBias,
                           scale: Float(max(total - steps, 1)) / Float(total))
            weights.zero(outside: mask)
            steps += 1
        }, epochEnded: { epoch in
            try reportEpoch(label, epoch, of: epochs, weights, bias, mask: mask, from: 0.5, to: 1)
        })
        return steps
    }

    /// Shuffled mini-batches of training rows with their targets, epoch after epoch, in an order fixed by
    /// `seed`.
    func forEachBatch(epochs: Int, seed: UInt64, _ body: (Tensor, Tensor) -> Void,
                              epochEnded: (Int) throws -> Void = { _ in }) throws
    {
        try data.forEachBatch(epochs: epochs, batchSize: options.batchSize, seed: seed, body, epochEnded: epochEnded)
    }

    /// The loss gradient on the rows `x` with their `targets`, for the kernel (masked, when a mask is given)
    /// and the bias.
    func gradient(_ kernel: Tensor, _ bias: [Float], mask: [Bool]?, x: Tensor, targets: Tensor)
        -> (Tensor, [Float])
    {
        var outputs = Tensor(zeros: x.rows, kernel.columns)
        var pre = Tensor(zeros: x.rows, kernel.columns)
        if let mask {
            var masked = kernel
            masked.zero(outside: mask)
            blas.dense(x, masked, bias, activation, into: &outputs, preActivations: &pre)
        } else {
            blas.dense(x, kernel, bias, activation, into: &outputs, preActivations: &pre)
        }
        var delta: Tensor? = Tensor(zeros: x.rows, kernel.columns)
        _ = activation.loss(outputs: outputs, preActivations: pre, targets: targets, gradient: &delta, value: false)
        let dz = delta ?? Tensor(zeros: x.rows, kernel.columns)
        var gradKernel = Tensor(zeros: kernel.rows, kernel.columns)
        blas.gemm(x, transposeA: true, dz, into: &gradKernel)
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

    /// Loss, agreement with the original layer and accuracy on the held-out rows; without held-out rows,
    /// loss and agreement with the targets on the training sample.
    package func metrics(_ kernel: Tensor, _ bias: [Float]) throws -> SplitMetrics {
        guard data.heldOutCount > 0 else {
            var outputs = Tensor(zeros: sample.x.rows, kernel.columns)
            var pre = outputs
            blas.dense(sample.x, kernel, bias, activation, into: &outputs, preActivations: &pre)
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
            var outputs = Tensor(zeros: x.rows, kernel.columns)
            var pre = Tensor(zeros: x.rows, kernel.columns)
            blas.dense(x, kernel, bias, activation, into: &outputs, preActivations: &pre)
            var none: Tensor? = nil
            loss += activation.loss(outputs: outputs, preActivations: pre, targets: block.targets, gradient: &none)
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
        return SplitMetrics(loss: loss / count, agreement: Double(agree) / count,
                            accuracy: classified ? Double(correct) / count : nil)
    }

    /// The decision a row's outputs make: the top output, or for one sigmoid unit, whether it exceeds 0.5.
    func decision(_ outputs: Tensor, _ row: Int) -> Int {
        if outputs.columns == 1, activation == .sigmoid { return outputs[row, 0] >= 0.5 ? 1 : 0 }
        return outputs.argmax(row: row)
    }
}
