import FileOutput
import FineTune
import Sparsity
import Numerics
import ArrayIO
import Foundation
import HDF5
import KerasFormat

/// The conversion with calibration data: the kernel and bias are read whole, fine-tuned to the exact count,
/// and written through the same write-back as data-free pruning, with the kernel's optimizer slots zeroed
/// where the kernel newly became zero.
enum Calibrated {
    /// Layer classes the fine-tune handles: the kernel reshaped to (inputs per output position) × (output
    /// channels) maps a row of inputs (for a convolution, one patch: kernel positions, then input channels,
    /// in the kernel's own order) to the outputs at one position.
    static let matrixClasses: Set<String> = [
        "Dense", "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
        "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
    ]

    static func run(model: KerasModel, layer: LayerInfo, kernel: WeightInfo, slots: [WeightInfo], target: Int,
                    calibration: Calibration, output: AtomicOutput,
                    progress: (@Sendable (ConversionProgress) -> Void)?) throws -> ConversionReport
    {
        // Without a config the class is unknown and a 2-D kernel is taken as Dense, which the report notes.
        if let className = layer.className, !matrixClasses.contains(className) {
            throw PruningError(.unsupportedType,
                               "fine-tuning handles Dense and convolution layers; \(layer.path) is \(className)",
                               hint: "use --method magnitude for this layer")
        }
        guard kernel.shape.count >= 2, layer.className != nil || kernel.shape.count == 2 else {
            throw PruningError(.unsupportedType,
                               "the kernel \(kernel.dataset) has shape \(kernel.shape), which is not a Dense or convolution kernel",
                               hint: "use --method magnitude for this layer")
        }
        guard case .float(let bits) = kernel.storedType, [16, 32, 64].contains(bits) else {
            throw PruningError(.unsupportedType, "the kernel \(kernel.dataset) is stored as \(kernel.storedType)",
                               hint: "kprune prunes float16, float32 and float64 kernels")
        }
        let perPosition = kernel.shape.count > 2
        let (activation, source, trailNote) = try lossActivation(own: layer.activation, of: layer.path,
                                                                 trail: model.outputTrail(of: layer),
                                                                 hasConfig: model.config != nil,
                                                                 perPosition: perPosition)
        let bias = layer.bias
        let units = kernel.shape[kernel.shape.count - 1]
        let (original, originalBias) = try File.withOpen(model.weightsFile) { file in
            let root = try file.root()
            let values = try root.dataset(kernel.dataset).readAll(as: Float.self)
            let biasValues = try bias.map { try root.dataset($0.dataset).readAll(as: Float.self) }
            return (Tensor(rows: kernel.count / max(units, 1), columns: units, values: values),
                    biasValues ?? [Float](repeating: 0, count: units))
        }
        if original.values.contains(where: { !$0.isFinite }) || originalBias.contains(where: { !$0.isFinite }) {
            throw PruningError(.nonFinite, "the layer \(layer.path) holds NaN or infinite weights",
                               hint: "the model's weights are broken; retrain or restore them")
        }
        let result = try fineTune(original, originalBias, hasBias: bias != nil, activation: activation,
                                  storedBits: bits, target: target, calibration: calibration, output: output, progress: progress)
        var report = result.report
        report.activationLayer = source

        // The data-free result keeps the stored values themselves (at their full width) and the bias.
        let dataFree = report.chosen == PruningMethod.magnitude.rawValue
        let replacements = dataFree ? [] : bias.map { [Replacement(weight: $0, values: result.bias)] } ?? []
        let kept = result.kernel.values.map { $0 != 0 }
        // float64 kernels move as Double, float16 and float32 ones as Float (exact either way).
        func write<T: KernelElement>(_ type: T.Type) throws -> RewriteOutcome {
            try WriteBack.write(T.self, model: model, kernel: kernel, slots: slots, replacements: replacements,
                                output: output) { _, _, _ in
                (dataFree ? keeping(kept) : replacing(with: result.kernel.values), 0)
            }
        }
        let outcome = bits == 64 ? try write(Double.self) : try write(Float.self)
        guard outcome.zeros == target else {
            throw PruningError(.invalidTarget, "wrote \(outcome.zeros) zeros in \(kernel.dataset), not the target \(target)")
        }
        var notes: [String] = []
        if layer.className == nil { notes.append(Self.noConfigNote) }
        if let trailNote { notes.append(trailNote) }
        if report.chosen != calibration.options.method.rawValue {
            notes.append(chosenNote(report))
        }
        return ConversionReport(
            input: model.path, output: output.destination, format: model.format.rawValue, layer: "",
            kernelDataset: kernel.dataset, kernelShape: kernel.shape, dtype: kernel.storedType.description,
            size: kernel.count, zerosBefore: original.values.filter { $0 == 0 }.count, zerosAfter: outcome.zeros,
            targetZeros: target, method: calibration.options.method.rawValue, optimizerSlots: outcome.slotsRewritten,
            passes: outcome.passes, seconds: 0, notes: notes, fineTune: report)
    }

    /// Reads the calibration data (whole, or streamed above the memory limit) and runs the fine-tune.
    private static func fineTune(_ kernel: Tensor, _ bias: [Float], hasBias: Bool, activation: Activation,
                                 storedBits: Int, target: Int, calibration: Calibration, output: AtomicOutput,
                                 progress: (@Sendable (ConversionProgress) -> Void)?) throws -> FineTuner.Result
    {
        let directory = (output.destination as NSString).deletingLastPathComponent
        let staging = directory.isEmpty ? "." : directory
        let features = try ArraySource.open(calibration.features, stagingDirectory: staging)
        let labels = try calibration.labels.map { try ArraySource.open($0, stagingDirectory: staging) }
        let options = calibration.options
        // Data up to the limit is read whole; larger data is streamed from its files a block at a time.
        let bytes = 4 * features.rows * (features.columns + (labels?.columns ?? 0))
        let streamed = bytes > options.inMemoryLimit
        // The same rows in the same order either way: in memory, each block is read once and kept.
        let data = try CalibrationRows(features: features, labels: labels, kernel: kernel, bias: bias,
                                           activation: activation, validationSplit: options.validationSplit,
                                           seed: options.seed, centred: hasBias, retainsBlocks: !streamed)
        var tuner = try FineTuner(data: data, activation: activation, options: options, storedBits: storedBits,
                                  units: kernel.columns, hasBias: hasBias)
        tuner.progress = progress
        var result = try tuner.run(kernel: kernel, bias: bias, target: target)
        result.report.streamed = streamed
        return result
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
        return String(format: "wrote the %@ result: its held-out loss %.4f is below the %@ result's %.4f",
                      chosen.method, chosen.heldOut.loss, own.method, own.heldOut.loss)
    }

    static let noConfigNote =
        "no model config: the layer was taken as a Dense layer whose linear outputs are the model's"

    /// The activation the loss follows: the layer's own, then those of the layers between it and the model's
    /// output, which may only pass values through, reshape them, or apply one more activation to a linear
    /// layer's outputs.
    ///
    /// - Parameters:
    ///   - ownName: the activation the layer's config names.
    ///   - layer: the layer's path.
    ///   - trail: how its outputs reach the model's output.
    ///   - hasConfig: whether the file has a model config (without one, the report already says so).
    /// - Returns: the activation, the layer that applies it, and a note when the config does not say what
    ///   follows the layer (the layer's own activation is then used).
    /// - Throws: `PruningError` when an activation or a layer on the way changes the outputs in a way the
    ///   fine-tune cannot follow.
    static func lossActivation(own ownName: String?, of layer: LayerPath, trail: OutputTrail, hasConfig: Bool,
                               perPosition: Bool = false) throws
        -> (activation: Activation, source: String, note: String?)
    {
        guard let own = Activation(keras: ownName) else {
            throw PruningError(.unsupportedType,
                               "the layer's activation '\(ownName ?? "?")' has no loss kprune can follow",
                               hint: "use --method magnitude, or a layer with softmax, sigmoid, linear, relu or tanh")
        }
        var activation = own
        var source = layer.description
        let steps: [TrailingLayer]
        switch trail {
        case .hidden:
            return (own, source, nil)
        case .unclear(let reason):
            let note = !hasConfig ? nil
                : "the loss follows \(source)'s own activation (\(own.name)); what follows the layer is unclear: "
                    + reason
            return (own, source, note)
        case .through(let trail):
            steps = trail
        }
        func refusal(_ step: TrailingLayer, _ reason: String) -> PruningError {
            PruningError(.unsupportedType,
                         "\(layer)'s outputs reach the model's output through \(step), \(reason)",
                         hint: "use --method magnitude")
        }
        var reshapedBy: TrailingLayer? = nil
        for step in steps {
            // A convolution is fine-tuned one output position at a time: once positions are pooled or
            // flattened together, what follows no longer applies to a single position's outputs.
            if perPosition, step.effect == .reshape || step.effect == .pool {
                let note = "the loss is taken at each output position on \(source)'s \(activation.name) outputs; "
                    + "the model then combines positions (\(step))"
                return (activation, source, note)
            }
            switch step.effect {
            case .none:
                continue
            case .reshape, .pool:
                reshapedBy = reshapedBy ?? step
            case .activation(let name):
                guard let next = Activation(keras: name) else {
                    throw refusal(step, "an activation the fine-tune has no loss for")
                }
                if next == .linear { continue }
                guard activation == .linear else {
                    throw refusal(step, "which applies \(name) on top of \(source)'s \(activation.name); "
                                          + "the fine-tune's loss follows one activation only")
                }
                if next == .softmax, let reshapedBy {
                    throw refusal(step, "a softmax over outputs \(reshapedBy.path) reshaped, which the fine-tune's "
                                          + "loss cannot follow")
                }
                activation = next
                source = step.path.description
            case .unknown:
                throw refusal(step, "which changes them in a way the fine-tune's loss cannot follow")
            }
        }
        return (activation, source, nil)
    }
}
