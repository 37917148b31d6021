import Foundation
package import Numerics
package import Sparsity

/// Fine-tunes a Dense layer's kernel and bias to an exact zero count on calibration data.
///
/// The work happens in the data's standardized coordinates (`Standardizer`), so that neither the method nor
/// its result depends on the units of the features. The result is the better, on the held-out rows and by
/// the fine-tune's own objective, of the method's kernel and the data-free magnitude kernel at the same
/// count: a fine-tune never ships a kernel worse than pruning without data would.
package struct FineTuner {
    package let data: any TrainingData
    package let activation: Activation
    package let options: FineTuneOptions
    /// Whether the layer has a bias; without one the bias stays zero and is not reported as trained.
    package let hasBias: Bool
    /// Width of the stored kernel elements: kept weights must stay non-zero once stored.
    package let storedBits: Int
    /// Told after each epoch (and each L1 solve) how far the fine-tune has come.
    package var observer: (any FineTuneObserver)? = nil

    /// A seeded sample of training rows (`sampleLimit` of them at most) for the full-batch work: the L1 path and
    /// the curvature.
    package let sample: (x: Tensor, targets: Tensor)
    /// An upper bound on the full-batch loss gradient's Lipschitz constant, from the sample.
    package let curvature: Float
    /// The mean squared derivative of the values the loss's activation takes in one kernel weight, per row:
    /// 1 for rows taken one by one on standardized inputs; for a row group, what the pooling makes of it.
    package let weightScale: Float
    /// The momentum step: the option, or one over the curvature mini-batches meet.
    package let rate: Float
    /// Passes over the training rows: the option, or the automatic count.
    package let epochs: Int

    /// How a sample's rows reach the model's output, when the loss is taken there per sample (`activation`
    /// then applies after the pooling); nil when each row is one output row of the layer.
    package let group: RowGroup?
    /// The layer whose activation the loss follows, for the report.
    package let activationLayer: String?
    /// The run's matrix products; the training data computes its targets with the same one.
    package private(set) var blas: BLAS
    /// Where zeros may go: every mask the methods make comes from it.
    package let pattern: any SparsityPattern
    /// The kernel's shape in Keras order (the matrix trained is that kernel, flattened to inputs × units).
    package let kernelShape: [Int]

    /// This tuner with its products on `blas`, which then counts their operations alone: runs of one tuner on
    /// several threads, each on a BLAS of its own, report what each alone would. Only for data held in memory
    /// (`data.streamed` false), which training reads and never changes.
    package func on(_ blas: BLAS) -> FineTuner {
        var copy = self
        copy.blas = blas
        return copy
    }

    package init(
        data: any TrainingData, activation: Activation, activationLayer: String? = nil,
        options: FineTuneOptions, storedBits: Int, units: Int,
        hasBias: Bool = true, pattern: any SparsityPattern, kernelShape: [Int], group: RowGroup? = nil,
        start: (kernel: Tensor, bias: [Float])? = nil, blas: BLAS = BLAS(threads: Workers.available)
    ) throws {
        self.data = data
        self.group = group
        self.activationLayer = activationLayer
        self.blas = blas
        self.pattern = pattern
        self.kernelShape = kernelShape
        self.activation = activation
        self.options = options
        self.storedBits = storedBits
        self.hasBias = hasBias
        sample = try data.sample(limit: Self.sampleLimit(group), seed: options.seed &+ 3)
        let bound: (Tensor) -> Float
        if let group {
            guard let start else { preconditionFailure("a row group's curvature is taken at the layer's weights") }
            // The pooled values' Jacobian depends on the weights: it is taken at the layer's own.
            let (kernel, bias) = data.standardizer.into(kernel: start.kernel, bias: start.bias)
            bound = { x in
                Self.groupedLipschitz(
                    x, kernel: kernel, bias: bias, hasBias: hasBias, group: group,
                    activation: activation, blas: blas)
            }
            weightScale = Self.groupedWeightScale(
                sample.x, kernel: kernel, bias: bias, group: group,
                activation: activation, blas: blas)
        } else {
            bound = { x in Self.lipschitz(x, units: units, activation: activation, bias: hasBias, blas: blas) }
            weightScale = 1
        }
        curvature = max(bound(sample.x), 1e-12)
        let batchCurvature = Self.batchLipschitz(sample.x, full: curvature, batchSize: options.batchSize, bound: bound)
        rate = options.learningRate.map(Float.init) ?? 1 / batchCurvature
        epochs = options.epochs ?? FineTuneOptions.automaticEpochs(batches: data.batchesPerEpoch(options.batchSize))
    }

    /// Tells the observer an epoch ended, with the held-out loss of the current weights under `mask`.
    func reportEpoch(
        _ phase: String, _ epoch: Int, of epochs: Int, _ kernel: Tensor, _ bias: [Float],
        mask: [Bool], from start: Double, to end: Double
    ) throws {
        guard let observer else { return }
        var masked = kernel
        masked.zero(outside: mask)
        let loss = try metrics(masked, bias).loss
        observer.fineTuneProgressed(
            start + (end - start) * Double(epoch) / Double(max(epochs, 1)),
            .epochEnded(phase: phase, epoch: epoch, of: epochs, heldOutLoss: loss))
    }

    package struct Result {
        package var kernel: Tensor
        package var bias: [Float]
        package var report: FineTuneReport
    }

    /// Each input's root-mean-square over the training rows: a weight matters in proportion to its
    /// magnitude times the scale of the input it multiplies.
    package var inputScales: [Float] { data.inputScales }

    /// The positions to keep: the `keep` largest scores `|w_ij| · scale_i`, lowest indices pruned first on
    /// ties.
    package func keepMask(_ kernel: Tensor, keep: Int, scales: [Float]) -> [Bool] {
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
    package func run(kernel: Tensor, bias: [Float], target: Int) throws -> Result {
        let start = data.standardizer.into(kernel: kernel, bias: bias)
        let before = try metrics(start.kernel, start.bias)
        let started = ContinuousClock.now
        let operationsBefore = blas.operationCount
        var (trained, trainedBias, steps) = try train(kernel: start.kernel, bias: start.bias, target: target)
        var candidates = [try ownResult(trained, trainedBias, originalBias: bias)]
        if let group, options.method != .magnitude {
            let (candidate, positionSteps) = try positionCandidate(
                group, start: start, originalBias: bias,
                target: target)
            candidates.append(candidate)
            steps += positionSteps
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let gflop = Double(blas.operationCount - operationsBefore) / 1e9

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
        // The best on the held-out rows wins (the lowest loss; between objectives, see `outranks`); on a tie,
        // the method's own result.
        let chosen = candidates[candidates.indices.min { outranks(candidates[$0], candidates[$1]) } ?? 0]
        guard let after = chosen.metrics, after.loss.isFinite else {
            throw PruningError(
                .diverged, "the fine-tune diverged: its held-out loss is not a finite number",
                hint: "lower the learning rate, or prune without training")
        }
        let report = FineTuneReport(
            before: before, after: after,
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
    func train(kernel: Tensor, bias: [Float], target: Int) throws -> (Tensor, [Float], Int) {
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

    /// Rows in the full-batch sample: 1,024; for a row group, samples whose positions make at most 65,536
    /// rows (at least 64 samples), so that the full-batch work (the curvature, the L1 path) of a layer
    /// with many positions stays within a few times the work of the same rows taken one by one.
    static func sampleLimit(_ group: RowGroup?) -> Int {
        guard let group else { return 1024 }
        return max(64, min(1024, 65536 / group.rows))
    }

    /// The suffix of the per-position objective's candidate: `mask per position`.
    static let perPositionSuffix = " per position"

    /// Through a row group, the same method on each position's own outputs (the layer's own activation of
    /// the original weights there), trained on the same samples' positions: matching every position can
    /// generalize better than matching the few values the pooling leaves.
    /// - Returns: the candidate, in the data's own coordinates, and the optimizer steps taken.
    private func positionCandidate(
        _ group: RowGroup, start: (kernel: Tensor, bias: [Float]), originalBias: [Float],
        target: Int
    ) throws -> (Candidate, Int) {
        let tuner = try FineTuner(
            data: PositionRows(
                base: data, group: group, kernel: start.kernel,
                bias: start.bias, blas: blas),
            activation: group.inner, options: options, storedBits: storedBits,
            units: start.kernel.columns, hasBias: hasBias, pattern: pattern,
            kernelShape: kernelShape, blas: blas)
        let (kernel, bias, steps) = try tuner.train(kernel: start.kernel, bias: start.bias, target: target)
        let own = try ownResult(kernel, bias, originalBias: originalBias)
        return (
            Candidate(method: options.method.rawValue + Self.perPositionSuffix, kernel: own.kernel, bias: own.bias),
            steps
        )
    }

    /// Whether candidate `a` beats `b` on the held-out rows: by loss; through a row group, where the
    /// candidates come from two objectives (each loss favours its own), a classifier's by the agreement of
    /// its decisions with the original model's first (what both aim at), then by loss.
    func outranks(_ a: Candidate, _ b: Candidate) -> Bool {
        guard group != nil, activation == .softmax || activation == .sigmoid, let x = a.metrics, let y = b.metrics,
            x.agreement != y.agreement
        else { return a.loss < b.loss }
        return x.agreement > y.agreement
    }

    /// The method's result back in the data's own coordinates, its zeros exactly where the method put them.
    /// - Throws: `PruningError.diverged` when a weight is not a finite number.
    func ownResult(_ trained: Tensor, _ trainedBias: [Float], originalBias: [Float]) throws -> Candidate {
        guard trained.values.allSatisfy(\.isFinite), trainedBias.allSatisfy(\.isFinite) else {
            throw PruningError(
                .diverged, "the fine-tune diverged: its weights are no longer finite numbers",
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
    struct Candidate {
        let method: String
        let kernel: Tensor
        let bias: [Float]
        var metrics: SplitMetrics? = nil
        var loss: Double { metrics.map { $0.loss.isFinite ? $0.loss : .infinity } ?? .infinity }
    }

    /// Kept weights that would be stored as zero become the smallest normal value of the stored type, with
    /// the sign of their shadow, so the stored kernel holds exactly the target count.
    func keepNonZero(_ kernel: inout Tensor, mask: [Bool], shadow: Tensor) {
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
