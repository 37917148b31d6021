import ArrayIO
import Foundation
package import Numerics
import Sparsity

/// Calibration rows as the fine-tune consumes them: shuffled mini-batches of training rows with their
/// targets, a sample of training rows for full-batch work, and the held-out rows for measuring.
///
/// `CalibrationRows` reads blocks of rows from the files, or keeps them in memory; tests may supply their
/// own rows.
package protocol TrainingData {
    /// Rows trained on.
    var trainCount: Int { get }
    /// Rows held out to measure before and after.
    var heldOutCount: Int { get }
    /// Whether the rows are read from their files again on each pass rather than held in memory.
    var streamed: Bool { get }
    /// The coordinates the rows are given in: the training rows' columns standardized. Targets and the
    /// teacher's outputs are those of the original layer on the raw rows.
    var standardizer: Standardizer { get }
    /// Up to `limit` training rows, a sample fixed by `seed` (every training row when there are no more),
    /// with their targets.
    func sample(limit: Int, seed: UInt64) throws -> (x: Tensor, targets: Tensor)
    /// Mini-batches of training rows and their targets, epoch after epoch, in an order fixed by `seed`.
    func forEachBatch(
        epochs: Int, batchSize: Int, seed: UInt64, _ body: (Tensor, Tensor) -> Void,
        epochEnded: (Int) throws -> Void) throws
    /// The held-out rows, a block at a time.
    func forEachHeldOut(_ body: (HeldOutBlock) -> Void) throws
}

extension TrainingData {
    /// Each input's weight in a kernel entry's importance, in the standardized coordinates: 1 for columns
    /// that vary, 0 for constant ones.
    package var inputScales: [Float] { standardizer.live }

    /// Mini-batches per epoch: rows that do not fill a batch join the epoch's last one.
    package func batchesPerEpoch(_ batchSize: Int) -> Int { max(1, trainCount / max(batchSize, 1)) }
}

/// Held-out rows with what they are measured against.
package struct HeldOutBlock {
    package let x: Tensor
    /// The objective's targets.
    package let targets: Tensor
    /// The original layer's outputs, for agreement.
    package let teacher: Tensor
    /// Class ids, when labels are given and the layer classifies.
    package let classes: [Int]?
}

/// The fine-tune's targets for rows `x`: the original layer's outputs, averaged with the label rows when
/// given. With a row `group`, `x` holds one wide row per sample and the outputs are the model's, per sample,
/// after the pooling and `activation`.
package func targets(
    _ x: Tensor, kernel: Tensor, bias: [Float], activation: Activation, labels: Tensor?, blas: BLAS,
    group: RowGroup? = nil
) -> (targets: Tensor, teacher: Tensor) {
    if let group {
        let teacher = group.forward(x, kernel, bias, outer: activation, blas: blas).outputs
        return (mixedTargets(teacher: teacher, labels: labels), teacher)
    }
    var teacher = Tensor(zeros: x.rows, kernel.columns)
    blas.dense(x, kernel, bias, activation, into: &teacher)
    return (mixedTargets(teacher: teacher, labels: labels), teacher)
}

/// The fine-tune's targets from the original layer's outputs: those outputs, averaged with the label rows
/// when given.
package func mixedTargets(teacher: Tensor, labels: Tensor?) -> Tensor {
    guard let labels else { return teacher }
    var mixed = teacher
    mixed.values.withUnsafeMutableBufferPointer { mixed in
        labels.values.withUnsafeBufferPointer { labels in
            for i in 0..<mixed.count { mixed[i] = 0.5 * mixed[i] + 0.5 * labels[i] }
        }
    }
    return mixed
}
