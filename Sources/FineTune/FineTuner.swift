public import Sparsity
public import Numerics
import Foundation

/// Fine-tunes a Dense layer's kernel and bias to an exact zero count on calibration data.
///
/// The work happens in the data's standardized coordinates (`Standardizer`), so that neither the method nor
/// its result depends on the units of the features. The result is the better, on the held-out rows and by
/// the fine-tune's own objective, of the method's kernel and the data-free magnitude kernel at the same
/// count: a fine-tune never ships a kernel worse than pruning without data would.
public struct FineTuner {
    public let data: any TrainingData
    public let activation: Activation
    public let options: FineTuneOptions
    /// Whether the layer has a bias; without one the bias stays zero and is not reported as trained.
    public let hasBias: Bool
    /// Width of the stored kernel elements: kept weights must stay non-zero once stored.
    public let storedBits: Int
    /// Told after each epoch (and each L1 solve) how far the fine-tune has come.
    public var observer: (any FineTuneObserver)? = nil

    /// At most 1,024 training rows (a seeded sample) for the full-batch work: the L1 path and the curvature.
    public let sample: (x: Tensor, targets: Tensor)
    /// An upper bound on the full-batch loss gradient's Lipschitz constant, from the sample.
    public let curvature: Float
    /// The momentum step: the option, or one over the curvature mini-batches meet.
    public let rate: Float
    /// Passes over the training rows: the option, or the automatic count.
    public let epochs: Int

    /// The layer whose activation the loss follows, for the report.
    public let activationLayer: String?
    /// The run's matrix products; the training data computes its targets with the same one.
    public let blas: BLAS
    /// Where zeros may go: every mask the methods make comes from it.
    public let pattern: any SparsityPattern
    /// The kernel's shape in Keras order (the matrix trained is that kernel, flattened to inputs × units).
    public let kernelShape: [Int]

    public init(data: any TrainingData, activation: Activation, activationLayer: String? = nil,
                options: FineTuneOptions, storedBits: Int, units: Int,
         hasBias: Bool = true, pattern: any SparsityPattern, kernelShape: [Int],
         blas: BLAS = BLAS(threads: Workers.available)) throws
    {
        self.data = data
        self.activationLayer = activationLayer
        self.blas = blas
        self.pattern = pattern
        self.kernelShape = kernelShape
        self.activation = activation
        self.options = options
        self.storedBits = storedBits
        self.hasBias = hasBias
        sample = try data.sample(limit: 1024, seed: options.seed &+ 3)
        curvature = max(Self.lipschitz(sample.x, units: units, activation: activation, bias: hasBias, blas: blas),
                        1e-12)
        let batchCurvature = Self.batchLipschitz(sample.x, full: curvature, batchSize: options.batchSize,
                                                 units: units, activation: activation, bias: hasBias, blas: blas)
        rate = options.learningRate.map(Float.init) ?? 1 / batchCurvature
        epochs = options.epochs ?? FineTuneOptions.automaticEpochs(batches: data.batchesPerEpoch(options.batchSize))
    }

    /// Tells the observer an epoch ended, with the held-out loss of the current weights under `mask`.
    private func reportEpoch(_ phase: String, _ epoch: Int, of epochs: Int, _ kernel: Tensor, _ bias: [Float],
                             mask: [Bool], from start: Double, to end: Double) throws
    {
        guard let observer else { return }
        var masked = kernel
        masked.zero(outside: mask)
        let loss = try metrics(masked, bias).loss
        observer.fineTuneProgressed(start + (end - start) * Double(epoch) / Double(max(epochs, 1)),
                                    .epochEnded(phase: phase, epoch: epoch, of: epochs, heldOutLoss: loss))
    }

    public struct Result {
        public var kernel: Tensor
        public var bias: [Float]
        public var report: FineTuneReport
    }

    /// Each input's root-mean-square over the training rows: a weight matters in proportion to its
    /// magnitude times the scale of the input it multiplies.
    public var inputScales: [Float] { data.inputScales }

    /// The positions to keep: the `keep` largest scores `|w_ij| · scale_i`, lowest indices pruned first on
    /// ties.
    public func keepMask(_ kernel: Tensor, keep: Int, scales: [Float]) -> [Bool] {
        var scores = kernel.values
        let columns = kernel.columns
        scores.withUnsafeMutableBufferPointer { scores in
            for i in 0..<kernel.rows {
                let scale = scales[i]
                for j in 0..<columns { scores[i * columns + j] = abs(scores[i * columns + j]) * scale }
            }
        }
        return keepMask(scores, keep: keep)
    }

    /// The pattern's mask keeping the `keep` highest `scores`.
    func keepMask(_ scores: [Float], keep: Int) -> [Bool] {
        pattern.keepMask(scores: scores, shape: kernelShape, zeros: scores.count - keep)
    }

    /// Runs the chosen method from `kernel` and `bias` (in the data's own coordinates) to exactly `target`
    /// zeros in the kernel, and keeps the better of its result and the data-free magnitude result.
    /// - Throws: `PruningError.diverged` when the method ends with weights that are not finite; errors
    ///   reading streamed data.
    public func run(kernel: Tensor, bias: [Float], target: Int) throws -> Result {
        let start = data.standardizer.into(kernel: kernel, bias: bias)
        let before = try metrics(start.kernel, start.bias)
        let started = ContinuousClock.now
        let gflopBefore = blas.gflop
        let (trained, trainedBias, steps) = try train(kernel: start.kernel, bias: start.bias, target: target)
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let gflop = blas.gflop - gflopBefore

        var candidates = [try ownResult(trained, trainedBias, originalBias: bias)]
        // The data-free result at the same count, when it exists: pruning alone cannot regrow weights.
        if options.method != .magnitude, kernel.values.count - kernel.values.filter({ $0 != 0 }).count <= target {
            var pruned = kernel
            pruned.zero(outside: keepMask(kernel.values, keep: kernel.values.count - target))
            candidates.append(Candidate(method: PruningMethod.magnitude.rawValue, kernel: pruned, bias: bias))
        }
        for index in candidates.indices {
            let moved = data.standardizer.into(kernel: candidates[index].kernel, bias: candidates[index].bias)
            candidates[index].metrics = try metrics(moved.kernel, moved.bias)
        }
        // The lowest held-out loss wins; on a tie, the method's own result.
        let chosen = candidates[candidates.indices.min { candidates[$0].loss < candidates[$1].loss } ?? 0]
        guard let after = chosen.metrics, after.loss.isFinite else {
            throw PruningError(.diverged, "the fine-tune diverged: its held-out loss is not a finite number",
                               hint: "lower the learning rate, or prune without training")
        }
        let report = FineTuneReport(before: before, after: after,
                                    trainSamples: data.trainCount, heldOutSamples: data.heldOutCount,
                                    epochs: options.method == .magnitude ? 0 : epochs, steps: steps,
                                    streamed: data.streamed, trainSeconds: seconds, gflop: gflop,
                                    activation: activation.name, activationLayer: activationLayer,
                                    objective: activation.lossName,
                                    chosen: chosen.method,
                                    candidates: candidates.compactMap { candidate in
                                        candidate.metrics.map { CandidateReport(method: candidate.method, heldOut: $0) }
                                    },
                                    biasTrained: hasBias && options.method != .magnitude)
        return Result(kernel: chosen.kernel, bias: chosen.bias, report: report)
    }

    /// Runs the chosen method in the standardized coordinates.
    /// - Returns: the kernel (exactly `target` zeros), the bias, and the optimizer steps taken.
    private func train(kernel: Tensor, bias: [Float], target: Int) throws -> (Tensor, [Float], Int) {
        switch options.method {
        case .mask:
            return try gradualMask(kernel: kernel, bias: bias, target: target)
        case .l1:
            return try l1Path(kernel: kernel, bias: bias, target: target)
        case .magnitude:
            var pruned = kernel
            pruned.zero(outside: keepMask(kernel.values, keep: kernel.values.count - target))
            return (pruned, bias, 0)
        }
    }

    /// The method's result back in the data's own coordinates, its zeros exactly where the method put them.
    /// - Throws: `PruningError.diverged` when a weight is not a finite number.
    private func ownResult(_ trained: Tensor, _ trainedBias: [Float], originalBias: [Float]) throws -> Candidate {
        guard trained.values.allSatisfy(\.isFinite), trainedBias.allSatisfy(\.isFinite) else {
            throw PruningError(.diverged, "the fine-tune diverged: its weights are no longer finite numbers",
                               hint: "lower the learning rate, or prune without training")
        }
        let mask = trained.values.map { $0 != 0 }
        var (plain, plainBias) = data.standardizer.out(kernel: trained, bias: trainedBias)
        plain.zero(outside: mask)
        if !hasBias { plainBias = originalBias }
        keepNonZero(&plain, mask: mask, shadow: trained)
        return Candidate(method: options.method.rawValue, kernel: plain, bias: plainBias)
    }

    /// A kernel and bias that could be written, with how they do on the held-out rows.
    private struct Candidate {
        let method: String
        let kernel: Tensor
        let bias: [Float]
        var metrics: SplitMetrics? = nil
        var loss: Double { metrics.map { $0.loss.isFinite ? $0.loss : .infinity } ?? .infinity }
    }

    // MARK: Mask

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
    private func gradualMask(kernel: Tensor, bias: [Float], target: Int) throws -> (Tensor, [Float], Int) {
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
        let regrowth = (1 - optimizer.momentum) / (rate * activation.weightCurvature(units: kernel.columns))
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
        try forEachBatch(epochs: epochs, seed: options.seed &+ 1, { x, targets in
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
        }, epochEnded: { epoch in
            try reportEpoch("mask", epoch, of: epochs, weights, bias, mask: mask, from: 0, to: 1)
        })
        if !fixed { update(keep: keepTarget) }
        keepNonZero(&weights, mask: mask, shadow: weights)
        return (weights, bias, step)
    }

    // MARK: L1

    /// A true L1 constraint: proximal gradient (soft-thresholding, which makes exact zeros) with FISTA
    /// momentum, full batch on the sample, step `1 / curvature`. The penalty weighs each weight by its input's
    /// RMS, as the mask method ranks them. Each solve runs to convergence (or its share of the iteration
    /// budget). The strength is found automatically: doubled, each solve warm-started from the last, until
    /// the zero count reaches the target, then bisected until it is exact or the bracket is tight. The
    /// solution with the most zeros not above the target is projected exactly (its smallest scored weights
    /// zeroed), and the support and the bias are fine-tuned to undo the shrinkage.
    private func l1Path(kernel: Tensor, bias: [Float], target: Int) throws -> (Tensor, [Float], Int) {
        let n = kernel.values.count
        let scales = inputScales.map { max($0, 1e-12) }
        let (pathX, pathTargets) = sample
        let step = 1 / curvature
        // Iterations: few while the strength is bracketed (those solutions only need their zero count
        // roughly), more while it is bisected, and the chosen strength's solve runs to convergence. The
        // whole path gets at most about 4·10^9 multiply-adds' worth of full-batch iterations (at least 600).
        let perIteration = 2 * Double(pathX.rows) * Double(kernel.rows) * Double(kernel.columns)
        var budget = max(600, Int(4e9 / max(perIteration, 1)))
        var steps = 0

        func zeros(_ w: Tensor) -> Int { w.values.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
        var solves = 0
        func solve(_ strength: Float, from start: (Tensor, [Float]), share: Int) -> (Tensor, [Float]) {
            solves += 1
            let limit = max(20, min(share, budget))
            let (w, b, used) = proximal(start.0, start.1, x: pathX, targets: pathTargets, strength: strength,
                                        scales: scales, step: step, iterations: limit)
            budget -= used
            steps += used
            observer?.fineTuneProgressed(min(0.5, 0.03 * Double(solves)),
                                         .l1Solved(strength: strength, zeros: zeros(w), target: target))
            return (w, b)
        }

        // The strength at which the gradient at zero could no longer move any weight off zero bounds the
        // search from above: there every weight is zero.
        let (gradientAtZero, _) = gradient(Tensor(zeros: kernel.rows, kernel.columns), bias, mask: nil, x: pathX,
                                           targets: pathTargets)
        var ceiling: Float = 0
        for i in 0..<kernel.rows {
            for j in 0..<kernel.columns { ceiling = max(ceiling, abs(gradientAtZero[i, j]) / scales[i]) }
        }
        ceiling = max(ceiling, 1e-12)
        // The path starts three decades below that bound.
        var low: (strength: Float, solution: (Tensor, [Float]))? = nil
        var high: Float? = nil
        var current = (kernel, bias)
        var strength = ceiling * 1e-3
        let bracketShare = budget / 40, bisectShare = budget / 20
        while high == nil, strength <= ceiling * 2 {
            current = solve(strength, from: current, share: bracketShare)
            let count = zeros(current.0)
            if count >= target { high = strength } else { low = (strength, current) }
            if count == target { low = (strength, current) }
            if high == nil { strength *= 2 }
        }
        var best = low ?? (ceiling * 1e-3, (kernel, bias))
        if let upper = high, zeros(best.solution.0) != target {
            var (a, b) = (best.strength, upper)
            for _ in 0..<10 where b / a > 1.001 {
                let middle = (a * b).squareRoot()
                let solution = solve(middle, from: best.solution, share: bisectShare)
                let count = zeros(solution.0)
                if count <= target {
                    a = middle
                    best = (middle, solution)
                    if count == target { break }
                } else {
                    b = middle
                }
            }
        }
        // The chosen strength, solved to convergence with what is left of the budget.
        let final = solve(best.strength, from: best.solution, share: budget)
        var mask = keepMask(final.0, keep: n - target, scales: scales)
        var start = final
        let shortfall = (0..<n).filter { mask[$0] && final.0.values[$0] == 0 }
        if !shortfall.isEmpty {
            // Fewer non-zeros than places kept: the solution's non-zeros stay, and the remaining places go
            // to the original weights that score highest among the solution's zeros.
            var scores = kernel.values
            for i in 0..<n {
                scores[i] = final.0.values[i] != 0 ? .infinity : abs(kernel.values[i]) * scales[i / kernel.columns]
            }
            mask = keepMask(scores, keep: n - target)
            for i in 0..<n where final.0.values[i] == 0 && mask[i] { start.0.values[i] = kernel.values[i] }
        }
        var weights = start.0
        weights.zero(outside: mask)
        var tunedBias = start.1
        steps += try trainOnSupport(&weights, &tunedBias, mask: mask, epochs: max(1, epochs / 2),
                                label: "l1 debias")
        keepNonZero(&weights, mask: mask, shadow: weights)
        return (weights, tunedBias, steps)
    }

    /// FISTA iterations of `W <- soft(W - step · grad, step · strength · scale_i)`, the bias unpenalised,
    /// until the largest change of a weight falls below 10^-4 of the largest weight, the zero pattern having
    /// held for the last 50 iterations, or `iterations` have run.
    /// - Returns: the kernel, the bias and the iterations run.
    private func proximal(_ kernel: Tensor, _ bias: [Float], x: Tensor, targets: Tensor, strength: Float,
                          scales: [Float], step: Float, iterations: Int) -> (Tensor, [Float], Int)
    {
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

    /// An upper bound on the loss gradient's Lipschitz constant in the kernel and the bias: the largest
    /// eigenvalue of [X 1]ᵀ[X 1] / rows (by power iteration from a seeded start) times the loss's curvature
    /// bound in the pre-activations.
    private static func lipschitz(_ x: Tensor, units: Int, activation: Activation, bias: Bool, blas: BLAS)
        -> Float
    {
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
        return eigenvalue * 1.05 * activation.preActivationCurvature(units: units)
    }

    /// The curvature a mini-batch step meets: a batch of fewer rows than inputs has a far larger largest
    /// eigenvalue than all rows together. The largest of the full-sample bound and the bounds of up to 8
    /// seeded batches of `batchSize` rows from the sample, with a margin of 10%.
    private static func batchLipschitz(_ x: Tensor, full: Float, batchSize: Int, units: Int,
                                       activation: Activation, bias: Bool, blas: BLAS) -> Float
    {
        guard x.rows > batchSize else { return full }
        var random = SplitMix64(seed: 0xBA7C)
        var order = Array(0..<x.rows)
        random.shuffle(&order)
        var largest = full
        for batch in 0..<min(8, x.rows / batchSize) {
            let rows = x.rows(Array(order[(batch * batchSize)..<((batch + 1) * batchSize)]))
            largest = max(largest, 1.1 * lipschitz(rows, units: units, activation: activation, bias: bias, blas: blas))
        }
        return largest
    }

    /// Momentum steps on the kept weights and the bias, shuffled mini-batches.
    /// - Returns: the steps taken.
    private func trainOnSupport(_ weights: inout Tensor, _ bias: inout [Float], mask: [Bool], epochs: Int,
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
    private func forEachBatch(epochs: Int, seed: UInt64, _ body: (Tensor, Tensor) -> Void,
                              epochEnded: (Int) throws -> Void = { _ in }) throws
    {
        try data.forEachBatch(epochs: epochs, batchSize: options.batchSize, seed: seed, body, epochEnded: epochEnded)
    }

    // MARK: Gradient and metrics

    /// The loss gradient on the rows `x` with their `targets`, for the kernel (masked, when a mask is given)
    /// and the bias.
    private func gradient(_ kernel: Tensor, _ bias: [Float], mask: [Bool]?, x: Tensor, targets: Tensor)
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
    public func metrics(_ kernel: Tensor, _ bias: [Float]) throws -> SplitMetrics {
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
    private func decision(_ outputs: Tensor, _ row: Int) -> Int {
        if outputs.columns == 1, activation == .sigmoid { return outputs[row, 0] >= 0.5 ? 1 : 0 }
        return outputs.argmax(row: row)
    }

    /// Kept weights that would be stored as zero become the smallest normal value of the stored type, with
    /// the sign of their shadow, so the stored kernel holds exactly the target count.
    private func keepNonZero(_ kernel: inout Tensor, mask: [Bool], shadow: Tensor) {
        let smallest: Float = storedBits == 16 ? Float(Float16.leastNormalMagnitude) : Float.leastNormalMagnitude
        for i in kernel.values.indices where mask[i] {
            let value = kernel.values[i]
            let stored = storedBits == 16 ? Float(Float16(value)) : value
            if stored == 0 || abs(value) < smallest {
                kernel.values[i] = shadow.values[i].sign == .minus ? -smallest : smallest
            }
        }
    }
}

/// Stochastic gradient descent with Nesterov momentum over the kernel and the bias. Plain gradient steps keep
/// the weights' magnitudes comparable with one another, which magnitude ranking relies on (a per-coordinate
/// normalising optimizer such as Adam does not).
public struct Momentum {
    public var kernelVelocity: [Float]
    public var biasVelocity: [Float]
    public let rate: Float
    public let momentum: Float = 0.9

    public init(kernel: Int, bias: Int, rate: Float) {
        kernelVelocity = [Float](repeating: 0, count: kernel)
        biasVelocity = [Float](repeating: 0, count: bias)
        self.rate = rate
    }

    /// `v <- mu v - rate g`, `w <- w + mu v - rate g`, with the rate multiplied by `scale` (a decay).
    public mutating func step(_ kernel: inout [Float], _ bias: inout [Float], _ gradKernel: [Float], _ gradBias: [Float],
                       scale: Float = 1)
    {
        let (mu, rate) = (momentum, rate * scale)
        func update(_ values: UnsafeMutableBufferPointer<Float>, _ velocity: UnsafeMutableBufferPointer<Float>,
                    _ gradients: UnsafeBufferPointer<Float>)
        {
            for i in 0..<values.count {
                let g = gradients[i]
                let v = mu * velocity[i] - rate * g
                velocity[i] = v
                values[i] += mu * v - rate * g
            }
        }
        kernel.withUnsafeMutableBufferPointer { values in
            kernelVelocity.withUnsafeMutableBufferPointer { velocity in
                gradKernel.withUnsafeBufferPointer { update(values, velocity, $0) }
            }
        }
        bias.withUnsafeMutableBufferPointer { values in
            biasVelocity.withUnsafeMutableBufferPointer { velocity in
                gradBias.withUnsafeBufferPointer { update(values, velocity, $0) }
            }
        }
    }

    /// Stops the movement of the weights outside the mask.
    public mutating func stop(outside mask: [Bool]) {
        for i in kernelVelocity.indices where !mask[i] { kernelVelocity[i] = 0 }
    }
}
