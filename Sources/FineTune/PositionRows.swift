import Foundation
import Numerics
import Sparsity

/// Grouped calibration rows seen one output position at a time: each position's patch is a row whose
/// targets are the layer's own outputs there (its `inner` activation of the original weights). The
/// per-position objective trains on these; a sample's positions stay in the same batch and on the same side
/// of the held-out split, so its result is measured on the very samples the grouped one is.
struct PositionRows: TrainingData {
    let base: any TrainingData
    let group: RowGroup
    /// The original layer in the standardized coordinates, whose outputs are the targets.
    let kernel: Tensor
    let bias: [Float]
    let blas: BLAS

    var trainCount: Int { base.trainCount * group.rows }
    var heldOutCount: Int { base.heldOutCount * group.rows }
    var streamed: Bool { base.streamed }
    var standardizer: Standardizer { base.standardizer }

    /// The positions' rows of samples `x` (standardized wide rows) and the layer's outputs on them.
    private func expand(_ x: Tensor) -> (x: Tensor, targets: Tensor) {
        let rows = group.positions(x)
        var outputs = Tensor(zeros: rows.rows, kernel.columns)
        blas.dense(rows, kernel, bias, group.inner, into: &outputs)
        return (rows, outputs)
    }

    func sample(limit: Int, seed: UInt64) throws -> (x: Tensor, targets: Tensor) {
        // `limit` positions drawn from as many samples as the grouped sample holds.
        let rows = expand(try base.sample(limit: min(limit, FineTuner.sampleLimit(group)), seed: seed).x)
        guard rows.x.rows > limit else { return rows }
        var random = SplitMix64(seed: seed &+ 7)
        var order = Array(0..<rows.x.rows)
        random.shuffle(&order)
        let chosen = Array(order[..<limit]).sorted()
        return (rows.x.rows(chosen), rows.targets.rows(chosen))
    }

    func forEachBatch(
        epochs: Int, batchSize: Int, seed: UInt64, _ body: (Tensor, Tensor) -> Void,
        epochEnded: (Int) throws -> Void
    ) throws {
        // A batch of samples gives `rows` batches of positions, shuffled across its samples so that no batch
        // holds one sample's correlated positions only.
        var random = SplitMix64(seed: seed &+ 1)
        try base.forEachBatch(
            epochs: epochs, batchSize: batchSize, seed: seed,
            { x, _ in
                let rows = expand(x)
                var order = Array(0..<rows.x.rows)
                random.shuffle(&order)
                let count = max(1, order.count / batchSize)
                for index in 0..<count {
                    let chosen = Array(
                        order[(index * batchSize)..<(index == count - 1 ? order.count : (index + 1) * batchSize)])
                    body(rows.x.rows(chosen), rows.targets.rows(chosen))
                }
            }, epochEnded: epochEnded)
    }

    func forEachHeldOut(_ body: (HeldOutBlock) -> Void) throws {
        try base.forEachHeldOut { block in
            let rows = expand(block.x)
            body(HeldOutBlock(x: rows.x, targets: rows.targets, teacher: rows.targets, classes: nil))
        }
    }
}
