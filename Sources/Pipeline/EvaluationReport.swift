import Foundation

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
