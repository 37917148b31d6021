import CalibrationData
import Foundation
import HDF5
import KerasFormat

/// The conversion with calibration data: the kernel and bias are read whole, fine-tuned to the exact count,
/// and written back through libhdf5 (which converts to the stored type), with the kernel's optimizer slots
/// zeroed where the kernel newly became zero.
enum Calibrated {
    static func run(model: KerasModel, layer: LayerInfo, kernel: WeightInfo, slots: [WeightInfo], target: Int,
                    calibration: Calibration, output: AtomicOutput,
                    progress: (@Sendable (ConversionProgress) -> Void)?) throws -> ConversionReport
    {
        // The fine-tune models the layer as x · kernel + bias: a Dense layer. Without a config the class is
        // unknown and a 2-D kernel is taken as Dense, which the report notes.
        if let className = layer.className, className != "Dense" {
            throw PruningError(.unsupportedType, "fine-tuning handles Dense layers; \(layer.path) is \(className)",
                               hint: "use --method magnitude for this layer")
        }
        guard kernel.shape.count == 2 else {
            throw PruningError(.unsupportedType,
                               "fine-tuning needs a Dense kernel (2 dimensions); \(kernel.dataset) has \(kernel.shape.count)",
                               hint: "use --method magnitude for this layer")
        }
        guard case .float(let bits) = kernel.storedType else {
            throw PruningError(.unsupportedType, "the kernel \(kernel.dataset) is stored as \(kernel.storedType)")
        }
        let (activation, source, trailNote) = try lossActivation(own: layer.activation, of: layer.path,
                                                                 trail: model.outputTrail(of: layer),
                                                                 hasConfig: model.config != nil)
        let bias = layer.bias
        let (original, originalBias) = try File.withOpen(model.weightsFile) { file in
            let root = try file.root()
            let values = try root.dataset(kernel.dataset).readAll(as: Float.self)
            let biasValues = try bias.map { try root.dataset($0.dataset).readAll(as: Float.self) }
            return (Matrix(rows: kernel.shape[0], columns: kernel.shape[1], values: values),
                    biasValues ?? [Float](repeating: 0, count: kernel.shape[1]))
        }
        if original.values.contains(where: { !$0.isFinite }) {
            throw PruningError(.nonFinite, "the kernel \(kernel.dataset) holds NaN or infinite values",
                               hint: "the model's weights are broken; retrain or restore them")
        }
        let directory = (output.destination as NSString).deletingLastPathComponent
        let staging = directory.isEmpty ? "." : directory
        let features = try ArraySource.open(calibration.features, stagingDirectory: staging)
        let labels = try calibration.labels.map { try ArraySource.open($0, stagingDirectory: staging) }
        let options = calibration.options
        // Data up to the limit is read whole; larger data is streamed from its files a block at a time.
        let bytes = 4 * features.rows * (features.columns + (labels?.columns ?? 0))
        let streamed = bytes > options.inMemoryLimit
        let data: any TrainingData = streamed
            ? try StreamedCalibration(features: features, labels: labels, kernel: original, bias: originalBias,
                                      activation: activation, validationSplit: options.validationSplit,
                                      seed: options.seed)
            : try CalibrationSet.load(features: features, labels: labels, kernel: original, bias: originalBias,
                                      activation: activation, validationSplit: options.validationSplit,
                                      seed: options.seed)
        var tuner = try FineTuner(data: data, activation: activation, options: options, storedBits: bits,
                                  units: original.columns)
        tuner.progress = progress
        var result = try tuner.run(kernel: original, bias: originalBias, target: target)
        result.report.streamed = streamed
        result.report.activationLayer = source
        if bias == nil { result.bias = originalBias }

        // Write: the archive's staged weights in place, or a full copy opened through libhdf5.
        if model.format != .keras3Archive { try FileCopy.copy(from: model.weightsFile, to: output.temporaryPath) }
        let written = model.format == .keras3Archive ? model.weightsFile : output.temporaryPath
        let zeros = try File.withOpen(written, mode: .readWrite) { file in
            let root = try file.root()
            let kernelDataset = try root.dataset(kernel.dataset)
            try kernelDataset.writeAll(result.kernel.values)
            if let bias { try root.dataset(bias.dataset).writeAll(result.bias) }
            for slot in slots {
                let dataset = try root.dataset(slot.dataset)
                // As float64, which holds float16, float32 and float64 slots exactly: kept entries must not move.
                var values = try dataset.readAll(as: Double.self)
                for i in values.indices where result.kernel.values[i] == 0 && original.values[i] != 0 { values[i] = 0 }
                try dataset.writeAll(values)
            }
            // What was stored, counted back: the count is exact on disk, not only in memory.
            return try kernelDataset.readAll(as: Float.self).filter { $0 == 0 }.count
        }
        precondition(zeros == target, "stored \(zeros) zeros, target \(target)")
        if model.format == .keras3Archive {
            try model.writeArchive(to: output.temporaryPath, weightsFile: model.weightsFile)
        }
        return ConversionReport(
            input: model.path, output: output.destination, format: model.format.rawValue, layer: "",
            kernelDataset: kernel.dataset, kernelShape: kernel.shape, dtype: kernel.storedType.description,
            size: kernel.count, zerosBefore: original.values.filter { $0 == 0 }.count, zerosAfter: zeros,
            targetZeros: target, method: options.method.rawValue, optimizerSlots: slots.count, passes: 1, seconds: 0,
            notes: (layer.className == nil ? [Self.noConfigNote] : []) + (trailNote.map { [$0] } ?? []),
            fineTune: result.report)
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
    static func lossActivation(own ownName: String?, of layer: LayerPath, trail: OutputTrail, hasConfig: Bool) throws
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
            switch step.effect {
            case .none:
                continue
            case .reshape:
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
