import ArrayIO
import FileOutput
import FineTune
import Foundation
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// The conversion with calibration data: the kernel and bias are read whole, fine-tuned to the exact count,
/// and written through the same write-back as data-free pruning, with the kernel's optimizer slots zeroed
/// where the kernel newly became zero.
enum FineTunedPruning {
    /// Layer classes the fine-tune handles: the kernel reshaped to (inputs per output position) × (output
    /// channels) maps a row of inputs (for a convolution, one patch: kernel positions, then input channels,
    /// in the kernel's own order) to the outputs at one position.
    static let matrixClasses: Set<String> = [
        "Dense", "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
        "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
    ]

    /// Fine-tunes `plan`'s layer on `calibration` and writes the better of its result and the data-free one.
    /// - Throws: `PruningError` when the layer cannot be fine-tuned; data, read and write errors.
    static func run(
        _ plan: ConversionPlan, calibration: Calibration, output: AtomicOutput,
        observer: (any PruningObserver)?
    ) throws -> MethodOutcome {
        let prepared = try prepare(plan, calibration: calibration, observer: observer)
        defer { prepared.discard() }
        let result = try prepared.tune(plan.targetZeros)
        let written = try write(plan, result: result, bits: prepared.bits, output: output, observer: observer)
        return prepared.outcome(result, written: written)
    }

    /// Everything about a fine-tune that does not depend on the zero count: the layer checked, the loss's
    /// activation, the calibration rows computed (the forward pass over the data) and surveyed, the tuner made.
    /// `tune` then runs it to any count: a conversion runs it once, a sweep once per point.
    struct Prepared {
        let plan: ConversionPlan
        let calibration: Calibration
        let bits: Int
        let original: Tensor
        let originalBias: [Float]
        let tuner: FineTuner
        let features: CalibrationFeatures
        let notes: [String]

        /// The fine-tune's result at exactly `target` zeros, its products on `blas` when given (see
        /// `FineTuner.on`).
        func tune(_ target: Int, blas: BLAS? = nil) throws -> FineTuner.Result {
            try (blas.map(tuner.on) ?? tuner).run(kernel: original, bias: originalBias, target: target)
        }

        /// Whether `tune` may run on several threads at once: the rows are held in memory.
        var runsConcurrently: Bool { !tuner.data.streamed }

        /// What a conversion reports of `result`, written as `written`.
        func outcome(_ result: FineTuner.Result, written: RewriteOutcome) -> MethodOutcome {
            var notes = notes
            if result.report.chosen != calibration.options.method.rawValue {
                notes.append(chosenNote(result.report))
            }
            let dataFree = result.report.chosen == PruningMethod.magnitude.rawValue
            return MethodOutcome(
                zerosBefore: original.values.filter { $0 == 0 }.count, written: written, notes: notes,
                fineTune: result.report,
                tuned: dataFree ? nil : (result.kernel.values, plan.layer.bias == nil ? nil : result.bias))
        }

        /// Removes the calibration rows' scratch file, if any.
        func discard() { features.discard() }
    }

    /// Prepares the fine-tune of `plan`'s layer on `calibration` (see `Prepared`).
    static func prepare(_ plan: ConversionPlan, calibration: Calibration, observer: (any PruningObserver)?) throws
        -> Prepared
    {
        let bits = try checkLayer(plan)
        var trail = plan.model.outputTrail(of: plan.layer)
        if plan.kernel.shape.count > 2 {
            trail = positionPreserving(trail, units: plan.kernel.shape.last ?? 0, layerConfig: plan.layer.config)
        }
        // From the model's inputs, a convolution followed only by global average pooling is trained on its
        // pooled outputs (one mean patch per sample); the loss then follows what comes after the pooling.
        let pooled = Self.pooledTrail(plan, trail, calibration: calibration)
        if let pooled { trail = .through(pooled) }
        // Positions combined non-linearly on the way to the output: the loss is taken on the model's output.
        let grouped = pooled == nil ? Self.groupedTrail(plan, trail, calibration: calibration) : nil
        if let grouped { trail = .through(grouped.after) }
        let (activation, source, trailNote) = try lossActivation(
            own: grouped == nil ? plan.layer.activation : nil,
            of: plan.layer.path, trail: trail,
            hasConfig: plan.model.config != nil,
            perPosition: plan.kernel.shape.count > 2
                && pooled == nil && grouped == nil)
        let (original, originalBias) = try readWeights(plan)
        let blas = BLAS(threads: Workers.available)
        let features = try CalibrationFeatures(
            plan, calibration, pooled: pooled != nil, grouped: grouped != nil,
            blas: blas)
        do {
            let group = grouped.map { RowGroup(rows: features.rowsPerSample, inner: $0.inner, pooling: $0.pooling) }
            let tuner = try makeTuner(
                plan, original, originalBias, activation: activation, activationLayer: source,
                storedBits: bits, features: features.source, calibration: calibration,
                group: group, blas: blas, observer: observer)
            var notes: [String] = []
            if plan.layer.className == nil {
                notes.append(plan.kernel.shape.count > 2 ? Self.noConfigConvolutionNote : Self.noConfigNote)
            }
            if let note = features.note { notes.append(note) }
            if let trailNote { notes.append(trailNote) }
            return Prepared(
                plan: plan, calibration: calibration, bits: bits, original: original, originalBias: originalBias,
                tuner: tuner, features: features, notes: notes)
        } catch {
            features.discard()
            throw error
        }
    }

    /// Refuses layers the fine-tune cannot handle; returns the kernel's stored float width.
    private static func checkLayer(_ plan: ConversionPlan) throws -> Int {
        let (layer, kernel) = (plan.layer, plan.kernel)
        // Without a config the class is unknown: a 2-D kernel is taken as Dense, which the report notes, and a
        // kernel of more dimensions as a convolution's (Keras's `(k..., in, out)`), whose rows are patches.
        // A `TimeDistributed` layer is the layer it wraps, applied to every step.
        if let className = layer.computingClassName, !matrixClasses.contains(className) {
            throw PruningError(
                .notFineTunable,
                "fine-tuning handles Dense and convolution layers; \(layer.path) is \(className)")
        }
        guard kernel.shape.count >= 2 else {
            throw PruningError(
                .notFineTunable,
                "the kernel \(kernel.dataset) has shape \(kernel.shape), which is not a Dense or convolution kernel")
        }
        guard case .float(let bits) = kernel.storedType, [16, 32, 64].contains(bits) else {
            throw PruningError(
                .unsupportedType, "the kernel \(kernel.dataset) is stored as \(kernel.storedType)",
                hint: "kprune prunes float16, float32 and float64 kernels")
        }
        return bits
    }

    /// The kernel as a matrix (inputs × units) and the bias (zeros when the layer has none), both finite.
    private static func readWeights(_ plan: ConversionPlan) throws -> (Tensor, [Float]) {
        let units = plan.kernel.shape[plan.kernel.shape.count - 1]
        let kernel = Tensor(rows: plan.kernel.count / max(units, 1), columns: units, values: try plan.readKernel())
        let bias = try plan.readBias() ?? [Float](repeating: 0, count: units)
        try NonFinite.refuse(
            count: kernel.values.count { !$0.isFinite } + bias.count { !$0.isFinite },
            in: "the layer \(plan.layer.path)")
        return (kernel, bias)
    }

    /// Reads the calibration data (whole, or streamed above the memory limit) and makes the tuner.
    private static func makeTuner(
        _ plan: ConversionPlan, _ kernel: Tensor, _ bias: [Float], activation: Activation,
        activationLayer: String, storedBits: Int, features: ArraySource,
        calibration: Calibration, group: RowGroup?, blas: BLAS,
        observer: (any PruningObserver)?
    ) throws -> FineTuner {
        let labels = try calibration.labels.map { try ArraySource.open($0) }
        let options = calibration.options
        // Data up to the limit is read whole; larger data is streamed from its files a block at a time.
        let bytes = 4 * features.rows * (features.columns + (labels?.columns ?? 0))
        // The same rows in the same order either way: in memory, each block is read once and kept. The rows'
        // products are counted apart from the tuner's, so the report's GFLOP are the fine-tune's own whatever
        // BLAS a run is given (`FineTuner.on`).
        let data = try CalibrationRows(
            features: features, labels: labels, kernel: kernel, bias: bias,
            activation: activation, validationSplit: options.validationSplit,
            seed: options.seed, centred: plan.layer.bias != nil,
            retainsBlocks: bytes <= options.inMemoryLimit, group: group, blas: BLAS(threads: blas.threads))
        var tuner = try FineTuner(
            data: data, activation: activation, activationLayer: activationLayer,
            options: options, storedBits: storedBits, units: kernel.columns,
            hasBias: plan.layer.bias != nil, pattern: plan.request.pattern,
            kernelShape: plan.kernel.shape, group: group,
            start: group == nil ? nil : (kernel, bias), blas: blas)
        if observer?.wantsFineTuneEvents == true { tuner.observer = observer }
        return tuner
    }

    /// The layers after the global average pooling that follows `plan`'s convolution, when its rows come
    /// from the model's inputs, its activation is linear and nothing but layers that change nothing come
    /// between: its pooled outputs are then the mean patch times the kernel plus the bias. Nil otherwise.
    static func pooledTrail(_ plan: ConversionPlan, _ trail: OutputTrail, calibration: Calibration) -> [TrailingLayer]?
    {
        guard case .modelInputs = calibration.rows, plan.kernel.shape.count > 2,
            Activation(keras: plan.layer.activation) == .linear, case .through(let steps) = trail,
            let first = steps.firstIndex(where: { $0.effect != .none }), steps[first].effect == .pool
        else { return nil }
        return Array(steps[(first + 1)...])
    }

    /// Writes the chosen result: the data-free one keeps the stored values themselves (at their full width)
    /// and the bias; a fine-tuned one replaces the kernel and the bias.
    private static func write(
        _ plan: ConversionPlan, result: FineTuner.Result, bits: Int, output: AtomicOutput,
        observer: (any PruningObserver)?
    ) throws -> RewriteOutcome {
        let dataFree = result.report.chosen == PruningMethod.magnitude.rawValue
        let replacements = dataFree ? [] : plan.layer.bias.map { [Replacement(weight: $0, values: result.bias)] } ?? []
        let kept = result.kernel.values.map { $0 != 0 }
        // float64 kernels move as Double, float16 and float32 ones as Float (exact either way).
        func write<T: KernelElement>(_ type: T.Type) throws -> RewriteOutcome {
            try WriteBack.write(T.self, plan, replacements: replacements, output: output, observer: observer) {
                _, _, _ in
                (dataFree ? keeping(kept) : replacing(with: result.kernel.values), 0)
            }
        }
        return bits == 64 ? try write(Double.self) : try write(Float.self)
    }

    /// The rewrite that zeroes the weights outside `kept` and leaves the others as stored.
    private static func keeping<T: KernelElement>(_ kept: [Bool]) -> KernelRewrite<T> {
        KernelRewrite(concurrent: true) { _, range, buffer, newlyZero in
            var zeros = 0
            for (offset, index) in range.enumerated() {
                let pruned = !kept[index]
                if !newlyZero.isEmpty { newlyZero[offset] = pruned && buffer[offset] != 0 }
                if pruned { buffer[offset] = 0 }
                zeros += buffer[offset] == 0 ? 1 : 0
            }
            return zeros
        }
    }

    /// The rewrite that stores the fine-tuned kernel: every segment's values replaced by the result's.
    private static func replacing<T: KernelElement>(with values: [Float]) -> KernelRewrite<T> {
        KernelRewrite(concurrent: true) { _, range, buffer, newlyZero in
            var zeros = 0
            for (offset, index) in range.enumerated() {
                let value = T(values[index])
                if !newlyZero.isEmpty { newlyZero[offset] = value == 0 && buffer[offset] != 0 }
                buffer[offset] = value
                zeros += value == 0 ? 1 : 0
            }
            return zeros
        }
    }

    /// Says which candidate was written and by how much it beat the method's own result.
    static func chosenNote(_ report: FineTuneReport) -> String {
        let own = report.candidates.first
        let chosen = report.candidates.first { $0.method == report.chosen }
        guard let own, let chosen else { return "wrote the \(report.chosen) result" }
        if chosen.heldOut.loss >= own.heldOut.loss, chosen.heldOut.agreement > own.heldOut.agreement {
            return String(
                format: "wrote the %@ result: its held-out agreement %.4f is above the %@ result's %.4f",
                chosen.method, chosen.heldOut.agreement, own.method, own.heldOut.agreement)
        }
        return String(
            format: "wrote the %@ result: its held-out loss %.4f is below the %@ result's %.4f",
            chosen.method, chosen.heldOut.loss, own.method, own.heldOut.loss)
    }

    static let noConfigNote =
        "no model config: the layer was taken as a Dense layer whose linear outputs are the model's"
    static let noConfigConvolutionNote =
        "no model config: the layer was taken as a convolution whose rows are patches and whose linear outputs "
        + "are the model's"

}
