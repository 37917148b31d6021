import Foundation
import Numerics
import Sparsity

extension FineTuner {
    /// Gradual magnitude pruning on TF-MOT's cubic schedule, with regrowth.
    ///
    /// The model trained is always the masked one: pruned weights stay at zero. Each pruned weight keeps an
    /// average of its gradient (its momentum velocity), and at each mask update it competes with the kept
    /// weights by the value one Newton step would give it, `|mean gradient| / h` with `h` a bound on its
    /// curvature, so a weight the loss keeps asking for grows back. A weight whose state changes restarts
    /// at zero velocity, which keeps re-entering weights from overshooting.
    /// The schedule runs over the first 70% of the steps from the kernel's own zero fraction (so a kernel
    /// with too many zeros regrows along the way); then the exact mask is fixed and the kept weights and
    /// the bias are fine-tuned alone, with a step decaying to zero.
    func gradualMask(kernel: Tensor, bias: [Float], target: Int) throws -> (Tensor, [Float], Int) {
        let n = kernel.values.count
        let keepTarget = n - target
        let steps = max(1, epochs * data.batchesPerEpoch(options.batchSize))
        let pruneEnd = max(1, Int(Double(steps) * 0.7))
        // About 50 re-rankings over the schedule (TF-MOT likewise updates its masks every so many steps).
        let frequency = max(1, pruneEnd / 50)
        let initial = Double(kernel.values.filter { $0 == 0 }.count) / Double(max(n, 1))
        let final = Double(target) / Double(max(n, 1))

        var weights = kernel
        var bias = bias
        let scales = inputScales
        var mask = keepMask(weights.values, keep: n - Int((initial * Double(n)).rounded()))
        var optimizer = Momentum(kernel: n, bias: bias.count, rate: rate)
        // A pruned weight's mean gradient is its velocity times (1 - momentum) / rate.
        let regrowth = (1 - optimizer.momentum) / (rate * weightCurvature(units: kernel.columns))
        func update(keep: Int) {
            var scores = weights.values
            for i in 0..<n {
                let value = mask[i] ? weights.values[i] : optimizer.kernelVelocity[i] * regrowth
                scores[i] = abs(value) * scales[i / weights.columns]
            }
            let next = keepMask(scores, keep: keep)
            for i in 0..<n where next[i] != mask[i] { optimizer.kernelVelocity[i] = 0 }
            mask = next
            weights.zero(outside: mask)
        }
        var fixed = false
        var step = 0
        try forEachBatch(
            epochs: epochs, seed: options.seed &+ 1,
            { x, targets in
                if !fixed, step >= pruneEnd {
                    update(keep: keepTarget)
                    optimizer.stop(outside: mask)
                    fixed = true
                } else if !fixed, step % frequency == 0 {
                    let progress = Double(step) / Double(pruneEnd)
                    let sparsity = final + (initial - final) * pow(1 - progress, 3)
                    update(keep: n - Int((sparsity * Double(n)).rounded()))
                }
                var (gradKernel, gradBias) = gradient(weights, bias, mask: mask, x: x, targets: targets)
                if fixed { gradKernel.zero(outside: mask) }
                // Once the mask is fixed the step decays linearly to zero, so the kept weights settle at the
                // minimum instead of jittering around it with the mini-batches' noise.
                let decay = fixed ? Float(max(steps - step, 1)) / Float(max(steps - pruneEnd, 1)) : 1
                optimizer.step(&weights.values, &bias, gradKernel.values, gradBias, scale: decay)
                weights.zero(outside: mask)
                step += 1
            },
            epochEnded: { epoch in
                try reportEpoch("mask", epoch, of: epochs, weights, bias, mask: mask, from: 0, to: 1)
            })
        if !fixed { update(keep: keepTarget) }
        keepNonZero(&weights, mask: mask, shadow: weights)
        return (weights, bias, step)
    }
}
