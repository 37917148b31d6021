import Foundation
package import Numerics

/// How one sample's rows reach the model's output when a convolution is fine-tuned on the model's real
/// output: each row (the patch at one output position) gives `z_p = patch_p · W + b`, the layer's own
/// activation makes `a_p = inner(z_p)`, and the positions are pooled over, per filter, into the values the
/// loss's activation (the one after the pooling, `FineTuner.activation`) is applied to:
/// `o = outer(pool_p a_p)`.
///
/// A sample's rows are stored side by side as one wide row of `rows × patch` values, so that everything that
/// moves rows (the held-out split, shuffling, batches, the full-batch sample) moves a sample's rows together.
package struct RowGroup: Sendable, Equatable {
    /// How the positions are combined.
    package enum Pooling: Sendable, Equatable {
        /// Global average pooling: the mean over positions.
        case mean
        /// Global max pooling: the largest value over positions, the first position on ties.
        case max
        /// `Flatten` (or a `Reshape` to one axis): every position's values side by side, position after
        /// position, so that the loss's activation (a softmax) spans all of a sample's outputs.
        case flatten
    }

    /// Rows (output positions) per sample.
    package let rows: Int
    /// The layer's own activation, applied at each position before the pooling; not softmax.
    package let inner: Activation
    /// How positions are combined.
    package let pooling: Pooling

    /// - Precondition: `rows` is positive and `inner` is elementwise (not softmax).
    package init(rows: Int, inner: Activation, pooling: Pooling) {
        precondition(rows > 0 && inner != .softmax, "a row group needs positions and an elementwise activation")
        self.rows = rows
        self.inner = inner
        self.pooling = pooling
    }

    /// The scale on a bound taken over the positions' rows one by one (their mean) that makes it hold for
    /// the pooled values, used for the second-order term a smooth inner activation adds: the mean over
    /// positions contracts (by Cauchy-Schwarz, `|mean_p d_p x_p·v|² <= mean_p (x_p·v)²` when `|d_p| <= 1`);
    /// the maximum picks one position, whose square is at most the sum over positions, `rows` times their
    /// mean; flattened, every position takes the loss's gradient whole, a sum over positions too.
    package var curvatureScale: Float { pooling == .mean ? 1 : Float(rows) }

    /// The values per sample the loss is taken on, for a layer of `units` outputs per position.
    package func outputs(units: Int) -> Int { pooling == .flatten ? rows * units : units }

    /// A bound on `|inner''|`: the curvature the layer's own activation adds, weighed by the loss's gradient
    /// in the pooled values (at most 1 in each for cross-entropy). Relu and linear add none.
    package var innerCurvature: Float {
        switch inner {
        case .tanh: 0.77
        case .sigmoid: 0.1
        case .linear, .relu, .softmax: 0
        }
    }

    /// The same values seen as one row per position: `x` holds one wide row per sample.
    package func positions(_ x: Tensor) -> Tensor {
        Tensor(rows: x.rows * rows, columns: x.columns / rows, values: x.values)
    }

    /// A forward pass over samples, with what the gradient needs.
    package struct Forward {
        /// Per position and filter (`units` of them): the layer's own activation's derivative there, `inner'(z)`.
        var slope: [Float]
        var units: Int
        /// Per sample: the pooled values (the loss activation's inputs) and the model's outputs.
        package var pooled: Tensor
        package var outputs: Tensor
        /// For max pooling, each sample's and filter's chosen position.
        var chosen: [Int]
    }

    /// Runs samples `x` (one wide row each) through the layer, the pooling and `outer`.
    package func forward(_ x: Tensor, _ kernel: Tensor, _ bias: [Float], outer: Activation, blas: BLAS) -> Forward {
        let rowsX = positions(x)
        let units = kernel.columns
        var a = Tensor(zeros: rowsX.rows, units)
        var z = Tensor(zeros: rowsX.rows, units)
        blas.dense(rowsX, kernel, bias, inner, into: &a, preActivations: &z)
        let slope = a.values.indices.map { inner.derivative(output: a.values[$0], input: z.values[$0]) }
        if pooling == .flatten {
            // Row-major positions × units per sample: the flattened order of a channels-last output.
            let flat = Tensor(rows: x.rows, columns: rows * units, values: a.values)
            var outputs = flat
            outer.apply(&outputs)
            return Forward(slope: slope, units: units, pooled: flat, outputs: outputs, chosen: [])
        }
        var pooled = Tensor(zeros: x.rows, units)
        var chosen = pooling == .max ? [Int](repeating: 0, count: x.rows * units) : []
        a.values.withUnsafeBufferPointer { a in
            pooled.values.withUnsafeMutableBufferPointer { pooled in
                for n in 0..<x.rows {
                    for j in 0..<units {
                        var value = a[n * rows * units + j]
                        var best = 0
                        for p in 1..<max(rows, 1) {
                            let next = a[(n * rows + p) * units + j]
                            if pooling == .max {
                                if next > value { (value, best) = (next, p) }
                            } else {
                                value += next
                            }
                        }
                        pooled[n * units + j] = pooling == .mean ? value / Float(rows) : value
                        if pooling == .max { chosen[n * units + j] = best }
                    }
                }
            }
        }
        var outputs = pooled
        outer.apply(&outputs)
        return Forward(slope: slope, units: units, pooled: pooled, outputs: outputs, chosen: chosen)
    }

    /// The Jacobian of the pooled values in the kernel and bias at `forward`, applied to a direction
    /// (`dKernel`, `dBias`): how each sample's pooled values move, to first order, when the weights move along
    /// it. `x` holds one wide row per sample.
    package func tangent(_ x: Tensor, _ dKernel: Tensor, _ dBias: [Float], at forward: Forward, blas: BLAS) -> Tensor {
        let units = dKernel.columns
        var dz = Tensor(zeros: x.rows * rows, units)
        blas.gemm(positions(x), dKernel, into: &dz)
        var pooled = Tensor(zeros: x.rows, outputs(units: units))
        for n in 0..<x.rows {
            for j in 0..<units {
                func moved(_ p: Int) -> Float {
                    let index = (n * rows + p) * units + j
                    return (dz.values[index] + dBias[j]) * forward.slope[index]
                }
                switch pooling {
                case .mean: pooled.values[n * units + j] = (0..<rows).reduce(0) { $0 + moved($1) } / Float(rows)
                case .max: pooled.values[n * units + j] = moved(forward.chosen[n * units + j])
                case .flatten: for p in 0..<rows { pooled.values[(n * rows + p) * units + j] = moved(p) }
                }
            }
        }
        return pooled
    }

    /// The loss's gradient with respect to every position's pre-activations, from its gradient `g` with
    /// respect to the pooled values (samples × units): spread back through the pooling, times the inner
    /// activation's derivative.
    package func positionGradient(_ g: Tensor, _ forward: Forward) -> Tensor {
        let units = forward.units
        var dz = Tensor(zeros: g.rows * rows, units)
        let share = 1 / Float(rows)
        for n in 0..<g.rows {
            for j in 0..<units {
                let upstream = pooling == .flatten ? 0 : g.values[n * units + j]
                for p in 0..<rows {
                    let index = (n * rows + p) * units + j
                    let reaching: Float =
                        switch pooling {
                        case .mean: upstream * share
                        case .max: forward.chosen[n * units + j] == p ? upstream : 0
                        case .flatten: g.values[index]
                        }
                    dz.values[index] = reaching * forward.slope[index]
                }
            }
        }
        return dz
    }
}
