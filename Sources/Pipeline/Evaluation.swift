import ArrayIO
import Foundation
import HDF5
import Inference
import KerasFormat
import Numerics
import Sparsity

/// Runs the dense model and the pruned ones on evaluation data, a block of samples at a time. Made before the
/// conversion writes anything (a `.keras` input's staged weights are rewritten in place), so the dense model and
/// the data-free result come from the weights as read, and the data is checked before any work.
struct Evaluation {
    /// Samples run at once.
    static let blockSamples = 256

    /// What runs the samples: the whole model, or the layer alone on its inputs.
    private enum Runner {
        /// The model from its inputs; the magnitude result at the plan's count is built before anything is
        /// written.
        case model(dense: Predictor, magnitude: (zeros: Int, predictor: Predictor), inputs: ModelInputs)
        /// The layer on `features`, with its kernel (fan-in × units) and bias as read.
        case layer(features: ArraySource, kernel: Tensor, bias: [Float])
    }

    private let runner: Runner
    /// Which of the model's outputs is scored: the one the layer's values reach.
    private var outputIndex = 0
    /// The kernel as read, as float32.
    private let original: [Float]
    /// The dense model's outputs, block by block: the same for every result scored.
    private let denseOutputs: [Tensor]
    /// The labels, block by block, checked against the outputs before any work.
    private let targets: [Targets?]
    private let samples: Int
    private let labels: ArraySource?
    private let activation: Activation

    /// Builds the dense model and the magnitude result at `plan`'s count, and opens `data`.
    /// - Throws: `DataError` for evaluation arrays that do not fit the model; `InferenceError` for a model the
    ///   forward pass cannot run or with several outputs; `PruningError` for features of a layer whose outputs
    ///   reach the model's output through more than activations.
    init(_ plan: ConversionPlan, data: EvaluationData, blas: BLAS) throws {
        original = try plan.readKernel()
        activation = Self.outputActivation(plan)
        let units = plan.kernel.shape.last ?? 1
        if let features = data.features {
            try Self.checkLayerAlone(plan, features: features)
            let source = try ArraySource.open(features)
            guard source.columns * units == plan.kernel.count else {
                throw DataError(
                    .shapeMismatch, source.name,
                    "rows of \(source.columns) values do not fit \(plan.layer.path)'s kernel of shape "
                        + "\(plan.kernel.shape), which takes \(plan.kernel.count / max(units, 1))",
                    hint: "give the layer's inputs, one row per sample")
            }
            let bias = try plan.readBias() ?? [Float](repeating: 0, count: units)
            runner = .layer(
                features: source, kernel: Tensor(rows: source.columns, columns: units, values: original), bias: bias)
            samples = source.rows
        } else {
            let dense = try Predictor(model: plan.model, blas: blas)
            // The output the layer's values reach: the last layer of its trail, or the layer itself.
            guard let output = Self.outputIndex(plan, names: dense.outputNames) else {
                throw InferenceError(
                    .unsupportedConfig,
                    "the model has \(dense.outputNames.count) outputs and \(plan.layer.path)'s values reach none of "
                        + "them alone; evaluation data is scored on the output the layer reaches")
            }
            outputIndex = output
            let inputs = try ModelInputs(data.inputs, declared: dense.inputShapes)
            let magnitude = try Predictor(
                model: plan.model, blas: blas,
                replacing: [plan.kernel.dataset: Self.magnitudeKernel(plan, original, zeros: plan.targetZeros)])
            runner = .model(dense: dense, magnitude: (plan.targetZeros, magnitude), inputs: inputs)
            samples = inputs.samples
        }
        labels = try data.labels.map { try ArraySource.open($0) }
        if let labels, labels.rows != samples {
            throw DataError(
                .shapeMismatch, labels.name, "\(labels.rows) labels for \(samples) evaluation samples",
                hint: "give one label row per sample of the evaluation data")
        }
        var denseOutputs: [Tensor] = []
        var targets: [Targets?] = []
        var start = 0
        while start < samples {
            let range = start..<min(start + Self.blockSamples, samples)
            let output = try Self.outputs(
                runner, range, .dense, activation: activation, output: outputIndex, blas: blas)
            let units = output.shape.last ?? 1
            if let labels {
                targets.append(
                    try Targets(
                        labels, rows: range, outputRows: output.values.count / max(units, 1), units: units,
                        activation: activation))
            } else {
                targets.append(nil)
            }
            denseOutputs.append(output)
            start = range.upperBound
        }
        self.denseOutputs = denseOutputs
        self.targets = targets
    }

    /// Which weights a block runs with.
    private enum Weights {
        case dense
        case replaced(Predictor?, kernel: Tensor?, bias: [Float]?)
    }

    /// The outputs of samples `range` with `weights`.
    private static func outputs(
        _ runner: Runner, _ range: Range<Int>, _ weights: Weights, activation: Activation, output: Int = 0,
        blas: BLAS
    ) throws -> Tensor {
        switch runner {
        case .model(let dense, _, let inputs):
            let batch = try inputs.batch(range, finite: true)
            let predictor: Predictor
            switch weights {
            case .dense: predictor = dense
            case .replaced(let replaced, _, _): predictor = replaced ?? dense
            }
            return try inputs.locatingFaults(firstRow: range.lowerBound) { try predictor.predict(batch)[output] }
        case .layer(let features, let kernel, let bias):
            var values = [Float](repeating: 0, count: range.count * features.columns)
            try values.withUnsafeMutableBufferPointer { try features.read(rows: range, into: $0) }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw DataError(
                    features.name,
                    "the features hold NaN or infinity (row \(range.lowerBound + bad / max(features.columns, 1)))",
                    hint: "clean the data")
            }
            let x = Tensor(rows: range.count, columns: features.columns, values: values)
            var output = Tensor(zeros: range.count, kernel.columns)
            switch weights {
            case .dense:
                blas.dense(x, kernel, bias, activation, into: &output)
            case .replaced(_, let replacedKernel, let replacedBias):
                blas.dense(x, replacedKernel ?? kernel, replacedBias ?? bias, activation, into: &output)
            }
            return output
        }
    }

    /// Refuses features for a layer whose outputs reach the model's output through anything but activations
    /// and layers that change nothing: the layer alone would not give the model's outputs.
    private static func checkLayerAlone(_ plan: ConversionPlan, features: String) throws {
        guard case .through(let steps) = plan.model.outputTrail(of: plan.layer) else { return }
        for step in steps {
            switch step.effect {
            case .none, .activation: continue
            default:
                throw DataError(
                    .shapeMismatch, features,
                    "evaluation features score \(plan.layer.path)'s own outputs, but they reach the model's output "
                        + "through \(step.path) (\(step.className))",
                    hint: "give the model's inputs with --eval-data")
            }
        }
    }

    /// Scores `written` (the kernel and bias as stored, as float32; nil for the data-free result) against the
    /// dense model and the data-free magnitude result at the same count: `zeros`, by default the plan's. A count
    /// other than the plan's is for a file not rewritten meanwhile (a sweep).
    func run(
        _ plan: ConversionPlan, zeros: Int? = nil, written: (kernel: [Float], bias: [Float]?)?, blas: BLAS
    ) throws -> EvaluationReport {
        let zeros = zeros ?? plan.targetZeros
        let units = plan.kernel.shape.last ?? 1
        let rows = plan.kernel.count / max(units, 1)
        let magnitude: Weights
        let pruned: Weights
        switch runner {
        case .model(_, let built, _):
            let predictor =
                zeros == built.zeros
                ? built.predictor
                : try Predictor(
                    model: plan.model, blas: blas,
                    replacing: [plan.kernel.dataset: Self.magnitudeKernel(plan, original, zeros: zeros)])
            magnitude = .replaced(predictor, kernel: nil, bias: nil)
            if let written {
                var replaced = [plan.kernel.dataset: written.kernel]
                if let biasInfo = plan.layer.bias, let values = written.bias { replaced[biasInfo.dataset] = values }
                // The file's other weights are the input's (only this layer's change).
                pruned = .replaced(
                    try Predictor(model: plan.model, blas: blas, replacing: replaced), kernel: nil, bias: nil)
            } else {
                pruned = magnitude
            }
        case .layer:
            let kernel = Self.magnitudeKernel(plan, original, zeros: zeros)
            magnitude = .replaced(nil, kernel: Tensor(rows: rows, columns: units, values: kernel), bias: nil)
            pruned =
                written.map {
                    .replaced(nil, kernel: Tensor(rows: rows, columns: units, values: $0.kernel), bias: $0.bias)
                } ?? magnitude
        }
        var scores = (dense: Score(), pruned: Score(), magnitude: Score())
        var start = 0
        for (denseOutput, targets) in zip(denseOutputs, targets) {
            let range = start..<min(start + Self.blockSamples, samples)
            let prunedOutput = try Self.outputs(
                runner, range, pruned, activation: activation, output: outputIndex, blas: blas)
            // The data-free result is the written one when nothing was fine-tuned: run once.
            let magnitudeOutput =
                written == nil
                ? prunedOutput
                : try Self.outputs(runner, range, magnitude, activation: activation, output: outputIndex, blas: blas)
            let units = denseOutput.shape.last ?? 1
            let scorer = Scorer(activation: activation, units: units, reference: denseOutput.values)
            scorer.add(denseOutput.values, targets: targets, into: &scores.dense)
            scorer.add(prunedOutput.values, targets: targets, into: &scores.pruned)
            scorer.add(magnitudeOutput.values, targets: targets, into: &scores.magnitude)
            start = range.upperBound
        }
        let labelled = labels != nil
        let writtenFigures = scores.pruned.figures(labelled: labelled, activation: activation)
        var denseFigures = scores.dense.figures(labelled: labelled, activation: activation)
        denseFigures.agreement = nil
        return EvaluationReport(
            samples: samples, accuracy: writtenFigures.accuracy, agreement: writtenFigures.agreement,
            loss: writtenFigures.loss, dense: denseFigures,
            magnitude: scores.magnitude.figures(labelled: labelled, activation: activation),
            activation: activation.name)
    }

    /// The data-free result at `plan`'s count: the largest magnitudes kept, the lowest indices pruned first on
    /// ties, as `DataFreePruning` writes it.
    static func magnitudeKernel(_ plan: ConversionPlan, _ kernel: [Float], zeros: Int) -> [Float] {
        let keep = plan.request.pattern.keepMask(scores: kernel, shape: plan.kernel.shape, zeros: zeros)
        return zip(kernel, keep).map { $1 ? $0 : 0 }
    }

    /// The index among `names` (the model's outputs) of the output the layer's values reach: the last layer of
    /// its trail, or the layer itself; for a single-output model, that output.
    static func outputIndex(_ plan: ConversionPlan, names: [String]) -> Int? {
        if names.count == 1 { return 0 }
        var last = plan.layer.path
        if case .through(let steps) = plan.model.outputTrail(of: plan.layer), let step = steps.last { last = step.path }
        // A nested model's output is named by the outer model: its own top-level layer.
        return names.firstIndex(of: last.description) ?? names.firstIndex(of: last.models.first ?? last.name)
    }

    /// The activation at the model's output: the last activation after the layer, else its own.
    static func outputActivation(_ plan: ConversionPlan) -> Activation {
        var name = plan.layer.activation
        if case .through(let steps) = plan.model.outputTrail(of: plan.layer) {
            for step in steps {
                if case .activation(let next) = step.effect, Activation(keras: next) != .linear { name = next }
            }
        }
        return Activation(keras: name) ?? .linear
    }
}
