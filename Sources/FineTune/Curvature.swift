import Foundation
import Numerics
import Sparsity

/// Bounds on the loss's curvature, which size the fine-tune's steps.
extension FineTuner {
    /// An upper bound on the loss gradient's Lipschitz constant in the kernel and the bias: the largest
    /// eigenvalue of [X 1]ᵀ[X 1] / rows (by power iteration from a seeded start) times the loss's curvature
    /// bound in the pre-activations.
    /// With a row `group`, `x` holds one wide row per sample and the bound is taken on its positions' rows.
    static func lipschitz(_ x: Tensor, units: Int, activation: Activation, bias: Bool, blas: BLAS,
                          group: RowGroup? = nil) -> Float
    {
        let curvature = group?.rowCurvature(outer: activation, units: units)
            ?? activation.preActivationCurvature(units: units)
        let x = group?.positions(x) ?? x
        // The bias is a weight on a constant input of 1: the rows get a column of ones.
        let columns = x.columns + (bias ? 1 : 0)
        var augmented = Tensor(zeros: x.rows, columns)
        for row in 0..<x.rows {
            for i in 0..<x.columns { augmented[row, i] = x[row, i] }
            if bias { augmented[row, x.columns] = 1 }
        }
        // [X 1]ᵀ[X 1] and [X 1][X 1]ᵀ share their non-zero eigenvalues: iterate on the smaller side.
        let wide = x.rows < columns
        let size = wide ? x.rows : columns
        var random = SplitMix64(seed: 0x5EED)
        var v = Tensor(rows: size, columns: 1, values: (0..<size).map { _ in Float(random.next() % 1000 + 1) / 1000 })
        var eigenvalue: Float = 0
        for _ in 0..<100 {
            var middle = Tensor(zeros: wide ? columns : x.rows, 1)
            var next = Tensor(zeros: size, 1)
            if wide {
                blas.gemm(augmented, transposeA: true, v, into: &middle)
                blas.gemm(augmented, middle, into: &next, alpha: 1 / Float(max(x.rows, 1)))
            } else {
                blas.gemm(augmented, v, into: &middle)
                blas.gemm(augmented, transposeA: true, middle, into: &next, alpha: 1 / Float(max(x.rows, 1)))
            }
            let norm = next.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return 0 }
            eigenvalue = norm / max(v.values.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-30)
            v.values = next.values.map { $0 / norm }
        }
        // Power iteration approaches the largest eigenvalue from below: a margin keeps the bound above it.
        return eigenvalue * 1.05 * curvature
    }

    /// The curvature a mini-batch step meets: a batch of fewer rows than inputs has a far larger largest
    /// eigenvalue than all rows together. The largest of the full-sample bound and the bounds of up to 8
    /// seeded batches of `batchSize` rows from the sample, with a margin of 10%. With a row `group`, a row
    /// of `x` is a sample, whose positions stay together.
    static func batchLipschitz(_ x: Tensor, full: Float, batchSize: Int, units: Int,
                               activation: Activation, bias: Bool, blas: BLAS, group: RowGroup? = nil) -> Float
    {
        guard x.rows > batchSize else { return full }
        var random = SplitMix64(seed: 0xBA7C)
        var order = Array(0..<x.rows)
        random.shuffle(&order)
        var largest = full
        for batch in 0..<min(8, x.rows / batchSize) {
            let rows = x.rows(Array(order[(batch * batchSize)..<((batch + 1) * batchSize)]))
            largest = max(largest, 1.1 * lipschitz(rows, units: units, activation: activation, bias: bias, blas: blas,
                                                   group: group))
        }
        return largest
    }
}
