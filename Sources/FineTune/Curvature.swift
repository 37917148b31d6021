import Foundation
import Numerics
import Sparsity

/// Bounds on the loss's curvature, which size the fine-tune's steps.
extension FineTuner {
    /// An upper bound on the loss gradient's Lipschitz constant in the kernel and the bias: the largest
    /// eigenvalue of [X 1]ᵀ[X 1] / rows (by power iteration from a seeded start) times the loss's curvature
    /// bound in the pre-activations.
    static func lipschitz(_ x: Tensor, units: Int, activation: Activation, bias: Bool, blas: BLAS) -> Float {
        rowEigenvalue(x, bias: bias, blas: blas) * 1.05 * activation.preActivationCurvature(units: units)
    }

    /// The largest eigenvalue of [X 1]ᵀ[X 1] / rows (without the column of ones when `bias` is false), by
    /// power iteration from a seeded start.
    static func rowEigenvalue(_ x: Tensor, bias: Bool, blas: BLAS) -> Float {
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
        // Power iteration approaches the largest eigenvalue from below: callers keep a margin above it.
        return eigenvalue
    }

    /// The curvature of the loss taken per sample through a row `group`, at the weights `kernel` and `bias`:
    /// the largest eigenvalue of JᵀJ / samples, J the pooled values' Jacobian in the weights there (by power
    /// iteration), times the loss's curvature in the pooled values, with a margin of 5%. A relu or linear
    /// layer's positions are piecewise linear in the weights, so this is the Gauss-Newton curvature the
    /// steps meet while the active positions (and for max pooling, the chosen ones) stay as they are; a
    /// smooth activation adds its own second derivative, bounded on the positions' rows.
    static func groupedLipschitz(
        _ x: Tensor, kernel: Tensor, bias: [Float], hasBias: Bool, group: RowGroup,
        activation: Activation, blas: BLAS
    ) -> Float {
        let forward = group.forward(x, kernel, bias, outer: activation, blas: blas)
        let rows = group.positions(x)
        let samples = Float(max(x.rows, 1))
        var random = SplitMix64(seed: 0x5EED)
        var v = Tensor(
            rows: kernel.rows, columns: kernel.columns,
            values: (0..<kernel.values.count).map { _ in Float(random.next() % 1000 + 1) / 1000 })
        var vb = (0..<bias.count).map { _ in hasBias ? Float(random.next() % 1000 + 1) / 1000 : 0 }
        var eigenvalue: Float = 0
        for _ in 0..<60 {
            let moved = group.tangent(x, v, vb, at: forward, blas: blas)
            let dz = group.positionGradient(moved, forward)
            var next = Tensor(zeros: kernel.rows, kernel.columns)
            blas.gemm(rows, transposeA: true, dz, into: &next, alpha: 1 / samples)
            var nextBias = [Float](repeating: 0, count: bias.count)
            if hasBias {
                for r in 0..<dz.rows {
                    for j in 0..<dz.columns { nextBias[j] += dz.values[r * dz.columns + j] / samples }
                }
            }
            let norm = (next.values.reduce(0) { $0 + $1 * $1 } + nextBias.reduce(0) { $0 + $1 * $1 }).squareRoot()
            guard norm > 0 else { break }
            let previous = (v.values.reduce(0) { $0 + $1 * $1 } + vb.reduce(0) { $0 + $1 * $1 }).squareRoot()
            eigenvalue = norm / max(previous, 1e-30)
            v.values = next.values.map { $0 / norm }
            vb = nextBias.map { $0 / norm }
        }
        var curvature = eigenvalue * 1.05 * activation.preActivationCurvature(units: forward.pooled.columns)
        if group.innerCurvature > 0 {
            curvature +=
                group.innerCurvature * group.curvatureScale * 1.05 * rowEigenvalue(rows, bias: hasBias, blas: blas)
        }
        return curvature
    }

    /// For a row `group`: the mean over the kernel's weights of the pooled values' squared derivative in the
    /// weight (their Jacobian's mean squared entry, per sample), at `kernel` and `bias`. Rows taken one by
    /// one on standardized inputs have 1; the loss's curvature in one weight scales with it.
    static func groupedWeightScale(
        _ x: Tensor, kernel: Tensor, bias: [Float], group: RowGroup,
        activation: Activation, blas: BLAS
    ) -> Float {
        let forward = group.forward(x, kernel, bias, outer: activation, blas: blas)
        let ones = Tensor(
            rows: x.rows, columns: forward.pooled.columns,
            values: [Float](repeating: 1, count: forward.pooled.values.count))
        let dz = group.positionGradient(ones, forward)
        let rows = group.positions(x)
        var total: Double = 0
        var derivatives = Tensor(zeros: kernel.rows, kernel.columns)
        for n in 0..<x.rows {
            let span = (n * group.rows)..<((n + 1) * group.rows)
            blas.gemm(rows.rows(Array(span)), transposeA: true, dz.rows(Array(span)), into: &derivatives)
            total += derivatives.values.reduce(0) { $0 + Double($1 * $1) }
        }
        return Float(total / Double(max(x.rows * kernel.values.count, 1)))
    }

    /// The curvature a mini-batch step meets: a batch of fewer rows than inputs has a far larger largest
    /// eigenvalue than all rows together. The largest of the full-sample bound and the bounds of up to 8
    /// seeded batches of `batchSize` rows from the sample, with a margin of 10%. With a row `group`, a row
    /// of `x` is a sample, whose positions stay together.
    static func batchLipschitz(_ x: Tensor, full: Float, batchSize: Int, bound: (Tensor) -> Float) -> Float {
        guard x.rows > batchSize else { return full }
        var random = SplitMix64(seed: 0xBA7C)
        var order = Array(0..<x.rows)
        random.shuffle(&order)
        var largest = full
        for batch in 0..<min(8, x.rows / batchSize) {
            let rows = x.rows(Array(order[(batch * batchSize)..<((batch + 1) * batchSize)]))
            largest = max(largest, 1.1 * bound(rows))
        }
        return largest
    }
}
