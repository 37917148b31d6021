import ArrayIO
import Foundation
import HDF5
import Inference
import KerasFormat
import Numerics
import Sparsity

/// Data the fine-tune never sees, on which a conversion is scored: the model's inputs (one array per input of
/// the model, one sample per row) and, optionally, the true labels.
public struct EvaluationData: Sendable, Equatable {
    /// The model's inputs, one array per input of the model; empty with `features`.
    public var inputs: [String]
    /// Instead of the model's inputs, the final layer's: one row per sample, scored on the layer's own outputs
    /// after the output's activation (for a layer whose outputs reach the model's output through activations
    /// alone).
    public var features: String?
    /// Class ids, one-hot or probability rows, or regression targets: one row per sample (for outputs with
    /// positions, the sample's labels at every position).
    public var labels: String?

    /// Evaluation on the model's `inputs`, scored against `labels` when given.
    public init(inputs: [String], labels: String? = nil) {
        self.inputs = inputs
        self.labels = labels
    }

    /// Evaluation on the layer's inputs `features`, scored against `labels` when given.
    public init(features: String, labels: String? = nil) {
        self.inputs = []
        self.features = features
        self.labels = labels
    }
}

/// Scores on the evaluation data: the written result's, with the dense model's and the data-free magnitude
/// result's at the same zero count beside it. Keys of its JSON form are stable; a figure that does not apply
/// (accuracy and loss without labels, accuracy and agreement for an output that makes no decisions) is absent.
public struct EvaluationReport: Sendable, Encodable, Equatable {
    /// One model's figures.
    public struct Figures: Sendable, Encodable, Equatable {
        /// The share of decisions (the top class, or each sigmoid output at 0.5) equal to the labels'.
        public var accuracy: Double?
        /// The share of decisions equal to the dense model's.
        public var agreement: Double?
        /// The mean loss against the labels: cross-entropy after softmax or sigmoid (probabilities clipped to
        /// [1e-7, 1 − 1e-7], as Keras does), else the mean squared error.
        public var loss: Double?
    }

    /// Samples scored.
    public let samples: Int
    /// The written result's figures.
    public let accuracy: Double?
    public let agreement: Double?
    public let loss: Double?
    /// The dense model's (accuracy and loss; its agreement with itself is 1).
    public let dense: Figures
    /// The data-free magnitude result's at the same count.
    public let magnitude: Figures
    /// The model output's activation, which decides the figures: `softmax`, `sigmoid`, or another (a regression).
    public let activation: String

    /// The written result's figures together.
    public var written: Figures { Figures(accuracy: accuracy, agreement: agreement, loss: loss) }

    enum CodingKeys: String, CodingKey {
        case samples, accuracy, agreement, loss, dense, magnitude, activation
    }
}

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
        original = try Self.readKernel(plan)
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
            let bias =
                try plan.layer.bias.map { info in
                    try File.withOpen(plan.model.weightsFile) {
                        try $0.root().dataset(info.dataset).readAll(as: Float.self)
                    }
                } ?? [Float](repeating: 0, count: units)
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
        let magnitudeKernel = Self.magnitudeKernel(plan, original, zeros: zeros)
        let magnitude: Weights
        let pruned: Weights
        switch runner {
        case .model(_, let built, _):
            let predictor =
                zeros == built.zeros
                ? built.predictor
                : try Predictor(model: plan.model, blas: blas, replacing: [plan.kernel.dataset: magnitudeKernel])
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
            magnitude = .replaced(nil, kernel: Tensor(rows: rows, columns: units, values: magnitudeKernel), bias: nil)
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

    /// The kernel as float32, as the forward pass reads it.
    private static func readKernel(_ plan: ConversionPlan) throws -> [Float] {
        try File.withOpen(plan.model.weightsFile) { file in
            try file.root().dataset(plan.kernel.dataset).readAll(as: Float.self)
        }
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

/// Label rows for a block of samples, as one row of `units` per output row: class ids become one-hot rows.
private struct Targets {
    /// Per output row: its class (softmax with class ids) or nil.
    var classes: [Int]?
    /// Per output value: the target (probabilities, one-hot rows or regression values).
    var values: [Float]

    init(_ labels: ArraySource, rows range: Range<Int>, outputRows: Int, units: Int, activation: Activation) throws {
        var raw = [Float](repeating: 0, count: range.count * labels.columns)
        try raw.withUnsafeMutableBufferPointer { try labels.read(rows: range, into: $0) }
        if let bad = raw.firstIndex(where: { !$0.isFinite }) {
            throw DataError(
                labels.name, "labels hold NaN or infinity (row \(range.lowerBound + bad / max(labels.columns, 1)))")
        }
        let perSample = outputRows / max(range.count, 1)
        if activation == .softmax, units > 1, labels.columns == perSample {
            var classes: [Int] = []
            classes.reserveCapacity(raw.count)
            for (index, value) in raw.enumerated() {
                guard value == value.rounded(), value >= 0, value < Float(units) else {
                    throw DataError(
                        labels.name,
                        "label \(value) in row \(range.lowerBound + index / labels.columns) is not a class id in "
                            + "0..<\(units)")
                }
                classes.append(Int(value))
            }
            var values = [Float](repeating: 0, count: outputRows * units)
            for (row, id) in classes.enumerated() { values[row * units + id] = 1 }
            self.classes = classes
            self.values = values
            return
        }
        guard labels.columns == perSample * units else {
            throw DataError(
                .shapeMismatch, labels.name,
                "labels have \(labels.columns) values per sample, the model's output has \(perSample * units)",
                hint: activation == .softmax
                    ? "give class ids or one-hot rows" : "give one target per output value")
        }
        if activation == .softmax || activation == .sigmoid,
            let bad = raw.firstIndex(where: { !($0 >= 0 && $0 <= 1) })
        {
            throw DataError(
                labels.name,
                "label \(raw[bad]) in row \(range.lowerBound + bad / labels.columns) is not a probability")
        }
        classes = nil
        values = raw
    }
}

/// Running sums of one model's figures.
private struct Score {
    var rows = 0, decisions = 0
    var correct = 0, agreeing = 0
    var loss = 0.0, lossTerms = 0

    func figures(labelled: Bool, activation: Activation) -> EvaluationReport.Figures {
        let decides = activation == .softmax || activation == .sigmoid
        return EvaluationReport.Figures(
            accuracy: labelled && decides && decisions > 0 ? Double(correct) / Double(decisions) : nil,
            agreement: decides && decisions > 0 ? Double(agreeing) / Double(decisions) : nil,
            loss: labelled && lossTerms > 0 ? loss / Double(lossTerms) : nil)
    }
}

/// Adds a block's outputs to a score: decisions against the labels and the dense outputs, and the loss.
private struct Scorer {
    let activation: Activation
    let units: Int
    /// The dense model's outputs for the block.
    let reference: [Float]
    static let epsilon: Float = 1e-7

    func add(_ outputs: [Float], targets: Targets?, into score: inout Score) {
        let rows = outputs.count / max(units, 1)
        score.rows += rows
        switch activation {
        case .softmax where units > 1:
            for row in 0..<rows {
                let top = argmax(outputs, row), denseTop = argmax(reference, row)
                score.decisions += 1
                if top == denseTop { score.agreeing += 1 }
                guard let targets else { continue }
                let truth = targets.classes?[row] ?? argmax(targets.values, row)
                if top == truth { score.correct += 1 }
                var crossEntropy = 0.0
                for j in 0..<units where targets.values[row * units + j] != 0 {
                    let p = min(max(outputs[row * units + j], Self.epsilon), 1 - Self.epsilon)
                    crossEntropy -= Double(targets.values[row * units + j]) * log(Double(p))
                }
                score.loss += crossEntropy
                score.lossTerms += 1
            }
        case .sigmoid:
            for index in 0..<outputs.count {
                score.decisions += 1
                if (outputs[index] > 0.5) == (reference[index] > 0.5) { score.agreeing += 1 }
                guard let targets else { continue }
                let y = Double(targets.values[index])
                if (outputs[index] > 0.5) == (y > 0.5) { score.correct += 1 }
                let p = Double(min(max(outputs[index], Self.epsilon), 1 - Self.epsilon))
                score.loss -= y * log(p) + (1 - y) * log(1 - p)
                score.lossTerms += 1
            }
        default:
            guard let targets else { return }
            for index in 0..<outputs.count {
                let difference = Double(outputs[index]) - Double(targets.values[index])
                score.loss += difference * difference
                score.lossTerms += 1
            }
        }
    }

    /// The lowest column of a row's largest value.
    private func argmax(_ values: [Float], _ row: Int) -> Int {
        var best = 0
        for j in 1..<max(units, 1) where values[row * units + j] > values[row * units + best] { best = j }
        return best
    }
}
