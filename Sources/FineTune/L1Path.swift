import Foundation
import Numerics
import Sparsity

extension FineTuner {
    /// A true L1 constraint: proximal gradient (soft-thresholding, which makes exact zeros) with FISTA
    /// momentum, full batch on the sample, step `1 / curvature`. The penalty weighs each weight by its input's
    /// RMS, as the mask method ranks them. Each solve runs to convergence (or its share of the iteration
    /// budget). The strength is found automatically: doubled, each solve warm-started from the last, until
    /// the zero count reaches the target, then bisected until it is exact or the bracket is tight. The
    /// solution with the most zeros not above the target is projected exactly (its smallest scored weights
    /// zeroed), and the support and the bias are fine-tuned to undo the shrinkage.
    func l1Path(kernel: Tensor, bias: [Float], target: Int) throws -> (Tensor, [Float], Int) {
        let scales = inputScales.map { max($0, 1e-12) }
        var path = L1Solver(tuner: self, scales: scales, target: target, kernel: kernel)
        let ceiling = path.ceiling(bias: bias)
        var best = path.bracketAndBisect(from: (kernel, bias), ceiling: ceiling)
        // The chosen strength, solved to convergence with what is left of the budget.
        best.solution = path.solve(best.strength, from: best.solution, share: path.budget)
        var (weights, tunedBias, mask) = project(best.solution, original: kernel, target: target, scales: scales)
        let steps =
            try path.steps
            + trainOnSupport(
                &weights, &tunedBias, mask: mask, epochs: max(1, epochs / 2),
                label: "l1 debias")
        keepNonZero(&weights, mask: mask, shadow: weights)
        return (weights, tunedBias, steps)
    }

    /// The exact projection of an L1 solution onto the count: its `n - target` highest scored weights are
    /// kept. When the solution has fewer non-zeros than places kept, its non-zeros stay and the remaining
    /// places go to the original weights that score highest among its zeros.
    private func project(_ solution: (Tensor, [Float]), original kernel: Tensor, target: Int, scales: [Float])
        -> (Tensor, [Float], [Bool])
    {
        let n = kernel.values.count
        var mask = keepMask(solution.0, keep: n - target, scales: scales)
        var start = solution
        let shortfall = (0..<n).filter { mask[$0] && solution.0.values[$0] == 0 }
        if !shortfall.isEmpty {
            var scores = kernel.values
            for i in 0..<n {
                scores[i] = solution.0.values[i] != 0 ? .infinity : abs(kernel.values[i]) * scales[i / kernel.columns]
            }
            mask = keepMask(scores, keep: n - target)
            for i in 0..<n where solution.0.values[i] == 0 && mask[i] { start.0.values[i] = kernel.values[i] }
        }
        var weights = start.0
        weights.zero(outside: mask)
        return (weights, start.1, mask)
    }

    /// FISTA iterations of `W <- soft(W - step · grad, step · strength · scale_i)`, the bias unpenalised,
    /// until the largest change of a weight falls below 10^-4 of the largest weight, the zero pattern having
    /// held for the last 50 iterations, or `iterations` have run.
    /// - Returns: the kernel, the bias and the iterations run.
    func proximal(
        _ kernel: Tensor, _ bias: [Float], x: Tensor, targets: Tensor, strength: Float,
        scales: [Float], step: Float, iterations: Int
    ) -> (Tensor, [Float], Int) {
        var w = kernel, b = bias
        var yw = kernel, yb = bias
        var t: Float = 1
        var stable = 0
        var used = 0
        let columns = kernel.columns
        let thresholds = scales.map { step * strength * $0 }
        while used < iterations {
            used += 1
            let (gw, gb) = gradient(yw, yb, mask: nil, x: x, targets: targets)
            let nextT = (1 + (1 + 4 * t * t).squareRoot()) / 2
            let momentum = (t - 1) / nextT
            var change: Float = 0, largest: Float = 0
            var patternChanges = 0
            w.values.withUnsafeMutableBufferPointer { w in
                yw.values.withUnsafeMutableBufferPointer { y in
                    gw.values.withUnsafeBufferPointer { g in
                        thresholds.withUnsafeBufferPointer { thresholds in
                            for i in 0..<thresholds.count {
                                let threshold = thresholds[i]
                                for k in (i * columns)..<((i + 1) * columns) {
                                    let value = y[k] - step * g[k]
                                    let shrunk = max(abs(value) - threshold, 0)
                                    let soft = value < 0 ? -shrunk : shrunk
                                    change = max(change, abs(soft - w[k]))
                                    largest = max(largest, abs(soft))
                                    patternChanges &+= (soft == 0) != (w[k] == 0) ? 1 : 0
                                    // Keep exact zeros exact: momentum would smear them.
                                    y[k] = soft == 0 ? 0 : soft + momentum * (soft - w[k])
                                    w[k] = soft
                                }
                            }
                        }
                    }
                }
            }
            for j in b.indices {
                let next = yb[j] - step * gb[j]
                change = max(change, abs(next - b[j]))
                yb[j] = next + momentum * (next - b[j])
                b[j] = next
            }
            t = nextT
            stable = patternChanges > 0 ? 0 : stable + 1
            if stable >= 50, change <= 1e-4 * max(largest, 1e-12) { break }
        }
        return (w, b, used)
    }
}

/// The L1 path's search for the penalty strength that gives the target count, on the fine-tune's sample.
struct L1Solver {
    let tuner: FineTuner
    let scales: [Float]
    let target: Int
    let rows: Int
    let step: Float
    /// Iterations left: few while the strength is bracketed (those solutions only need their zero count
    /// roughly), more while it is bisected, and the chosen strength's solve runs to convergence. The whole
    /// path gets at most about 4·10^9 multiply-adds' worth of full-batch iterations (at least 600).
    private(set) var budget: Int
    /// Iterations run.
    private(set) var steps = 0
    private var solves = 0

    init(tuner: FineTuner, scales: [Float], target: Int, kernel: Tensor) {
        self.tuner = tuner
        self.scales = scales
        self.target = target
        rows = kernel.rows
        step = 1 / tuner.curvature
        // The sample's values: rows times inputs, or samples times each one's positions' inputs.
        let perIteration = 2 * Double(tuner.sample.x.values.count) * Double(kernel.columns)
        budget = max(600, Int(4e9 / max(perIteration, 1)))
    }

    /// The strength at which the gradient at zero could no longer move any weight off zero: there every
    /// weight is zero, which bounds the search from above.
    func ceiling(bias: [Float]) -> Float {
        let x = tuner.sample.x
        let units = bias.count
        let (gradientAtZero, _) = tuner.gradient(
            Tensor(zeros: rows, units), bias, mask: nil, x: x,
            targets: tuner.sample.targets)
        var ceiling: Float = 0
        for i in 0..<rows {
            for j in 0..<units { ceiling = max(ceiling, abs(gradientAtZero[i, j]) / scales[i]) }
        }
        return max(ceiling, 1e-12)
    }

    /// Solves at `strength` from `start` with at most `share` iterations (at least 20) of what is left.
    mutating func solve(_ strength: Float, from start: (Tensor, [Float]), share: Int) -> (Tensor, [Float]) {
        solves += 1
        let limit = max(20, min(share, budget))
        let (w, b, used) = tuner.proximal(
            start.0, start.1, x: tuner.sample.x, targets: tuner.sample.targets,
            strength: strength, scales: scales, step: step, iterations: limit)
        budget -= used
        steps += used
        tuner.observer?.fineTuneProgressed(
            min(0.5, 0.03 * Double(solves)),
            .l1Solved(strength: strength, zeros: Self.zeros(w), target: target))
        return (w, b)
    }

    /// From three decades below the ceiling, doubles the strength until the count reaches the target, then
    /// bisects (geometrically) until it is exact or the bracket is within 0.1%.
    /// - Returns: the strength with the most zeros not above the target, and its solution.
    mutating func bracketAndBisect(from start: (Tensor, [Float]), ceiling: Float)
        -> (strength: Float, solution: (Tensor, [Float]))
    {
        var low: (strength: Float, solution: (Tensor, [Float]))? = nil
        var high: Float? = nil
        var current = start
        var strength = ceiling * 1e-3
        let bracketShare = budget / 40, bisectShare = budget / 20
        while high == nil, strength <= ceiling * 2 {
            current = solve(strength, from: current, share: bracketShare)
            let count = Self.zeros(current.0)
            if count >= target { high = strength } else { low = (strength, current) }
            if count == target { low = (strength, current) }
            if high == nil { strength *= 2 }
        }
        var best = low ?? (ceiling * 1e-3, start)
        guard let upper = high, Self.zeros(best.solution.0) != target else { return best }
        var (a, b) = (best.strength, upper)
        for _ in 0..<10 where b / a > 1.001 {
            let middle = (a * b).squareRoot()
            let solution = solve(middle, from: best.solution, share: bisectShare)
            let count = Self.zeros(solution.0)
            if count <= target {
                a = middle
                best = (middle, solution)
                if count == target { break }
            } else {
                b = middle
            }
        }
        return best
    }

    static func zeros(_ w: Tensor) -> Int { w.values.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
}
