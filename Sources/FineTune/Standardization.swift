import Foundation
package import Numerics
import Sparsity

/// The coordinates the fine-tune works in: each input column moved to zero mean (when the layer has a bias
/// to absorb the shift) and divided by its spread, with the kernel and bias carried over so that the layer
/// computes the same outputs.
///
/// With `z_i = (x_i - mean_i) / scale_i`, `W'_ij = scale_i · W_ij` and `b'_j = b_j + sum_i mean_i · W_ij`,
/// `z · W' + b' = x · W + b` exactly in real arithmetic, and `W'` has its zeros where `W` has them. Every
/// step of the fine-tune (ranking, penalty, curvature, step size) then sees the same numbers whatever the
/// units of the features: multiplying a column of the inputs by `c > 0` and the kernel's row by `1 / c`
/// changes nothing but float rounding.
///
/// A column that does not vary (its spread is below 10^-5 of its root-mean-square, which float32 cannot
/// tell from noise) is not `live`: its `z` is 0, its weights are 0 in the standardized coordinates, and the
/// bias absorbs its constant value times its weights, exactly. Without a bias to absorb a shift the columns
/// are scaled by their root-mean-square and not centred; only all-zero columns are then not live.
package struct Standardizer: Sendable, Equatable {
    /// Subtracted from each column (all zero when not centring); a constant column's constant value.
    package let means: [Float]
    /// Each column is divided by this; 1 for constant columns.
    package let scales: [Float]
    /// 1 for columns that vary, 0 for constant ones: in the standardized coordinates, a weight's importance
    /// is its magnitude times this.
    package let live: [Float]

    /// - Parameters:
    ///   - sums: each column's sum over the training rows.
    ///   - squares: each column's sum of squares over the training rows.
    ///   - count: the number of training rows.
    ///   - centred: whether to subtract the means (the layer has a bias that absorbs them).
    package init(sums: [Double], squares: [Double], count: Int, centred: Bool) {
        precondition(sums.count == squares.count, "sums and squares differ in length")
        let n = Double(max(count, 1))
        var means = [Float](repeating: 0, count: sums.count)
        var scales = [Float](repeating: 1, count: sums.count)
        var live = [Float](repeating: 0, count: sums.count)
        for i in sums.indices {
            let mean = sums[i] / n
            let meanSquare = squares[i] / n
            let rms = meanSquare.squareRoot()
            let spread = centred ? max(meanSquare - mean * mean, 0).squareRoot() : rms
            if centred, mean.isFinite { means[i] = Float(mean) }
            guard spread.isFinite, spread > 1e-5 * rms, Float(spread) > 0 else { continue }
            scales[i] = Float(spread)
            live[i] = 1
        }
        self.means = means
        self.scales = scales
        self.live = live
    }

    /// The column sums and sums of squares of `x`, in double precision, to be added up over blocks.
    package static func moments(_ x: Tensor, into sums: inout [Double], _ squares: inout [Double]) {
        precondition(sums.count == x.columns && squares.count == x.columns, "moments do not fit the rows")
        x.values.withUnsafeBufferPointer { values in
            for row in 0..<x.rows {
                let start = row * x.columns
                for i in 0..<x.columns {
                    let value = Double(values[start + i])
                    sums[i] += value
                    squares[i] += value * value
                }
            }
        }
    }

    /// Rows moved into the standardized coordinates, in place.
    package func apply(_ x: inout Tensor) {
        let columns = x.columns
        precondition(columns == means.count, "rows have \(columns) columns, the standardizer \(means.count)")
        means.withUnsafeBufferPointer { means in
            scales.withUnsafeBufferPointer { scales in
                live.withUnsafeBufferPointer { live in
                    x.values.withUnsafeMutableBufferPointer { values in
                        for start in stride(from: 0, to: values.count, by: max(columns, 1)) {
                            for i in 0..<columns {
                                values[start + i] = live[i] == 0 ? 0 : (values[start + i] - means[i]) / scales[i]
                            }
                        }
                    }
                }
            }
        }
    }

    /// The kernel and bias in the standardized coordinates: `W' = diag(scale) · W` (0 on columns that are
    /// not live), `b' = b + mean · W`.
    package func into(kernel: Tensor, bias: [Float]) -> (kernel: Tensor, bias: [Float]) {
        var scaled = kernel
        var shifted = bias
        for i in 0..<kernel.rows {
            for j in 0..<kernel.columns {
                scaled[i, j] = live[i] == 0 ? 0 : kernel[i, j] * scales[i]
                shifted[j] += means[i] * kernel[i, j]
            }
        }
        return (scaled, shifted)
    }

    /// The kernel and bias back in the data's own coordinates: `W = diag(1 / scale) · W'` (0 on columns that
    /// are not live), `b = b' - mean · W`. Zeros of `W'` stay exact zeros.
    package func out(kernel: Tensor, bias: [Float]) -> (kernel: Tensor, bias: [Float]) {
        var plain = kernel
        var shifted = bias
        for i in 0..<kernel.rows {
            for j in 0..<kernel.columns {
                let value = live[i] == 0 ? 0 : kernel[i, j] / scales[i]
                plain[i, j] = value
                shifted[j] -= means[i] * value
            }
        }
        return (plain, shifted)
    }
}
