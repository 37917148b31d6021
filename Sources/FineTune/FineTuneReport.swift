/// How well a kernel does on the held-out samples.
public struct SplitMetrics: Sendable, Encodable, Equatable {
    /// The objective: distillation from the original layer, plus the labels when given.
    public var loss: Double
    /// The share of samples whose top output matches the original layer's.
    public var agreement: Double
    /// The share of samples whose top output matches the label, when labels are given.
    public var accuracy: Double?
}

/// What a fine-tune did.
public struct FineTuneReport: Sendable, Encodable, Equatable {
    /// The original layer on the held-out rows.
    public var before: SplitMetrics
    /// The written layer on the held-out rows.
    public var after: SplitMetrics
    /// Rows trained on.
    public var trainSamples: Int
    /// Rows held out.
    public var heldOutSamples: Int
    /// Passes over the training rows.
    public var epochs: Int
    /// Optimizer steps taken (L1 path iterations included).
    public var steps: Int
    /// Whether the calibration data was streamed from its files rather than read whole.
    public var streamed: Bool = false
    /// Wall time of the training alone (data loading and writing excluded).
    public var trainSeconds: Double
    /// Floating-point operations of the matrix products during training, in units of 10^9.
    public var gflop: Double
    /// The activation the loss follows (`softmax`, `sigmoid`, `linear`, `relu`, `tanh`): the layer's own,
    /// or one a later layer applies to its outputs on the way to the model's output.
    public var activation: String
    /// The layer whose activation that is.
    public var activationLayer: String?
    /// The loss minimised, in words (`cross-entropy`).
    public var objective: String
    /// The candidate written: the method's own result (`mask`, `l1`) or `magnitude`, the data-free result at
    /// the same count, when that does better on the held-out rows.
    public var chosen: String
    /// Every candidate with how it does on the held-out rows (on the training sample when none are held
    /// out), the method's own result first.
    public var candidates: [CandidateReport]
    /// Whether the layer's bias was trained (a layer without a bias has none to train).
    public var biasTrained: Bool

    enum CodingKeys: String, CodingKey {
        case before, after, epochs, steps, streamed, gflop, activation, objective, chosen, candidates
        case trainSamples = "train_samples"
        case heldOutSamples = "held_out_samples"
        case trainSeconds = "train_seconds"
        case activationLayer = "activation_layer"
        case biasTrained = "bias_trained"
    }
}

/// One result the fine-tune could write, and how it does.
public struct CandidateReport: Sendable, Encodable, Equatable {
    /// `mask`, `l1` or `magnitude`.
    public var method: String
    /// Loss, agreement and accuracy on the held-out rows.
    public var heldOut: SplitMetrics

    /// A candidate of `method` with its held-out metrics.
    public init(method: String, heldOut: SplitMetrics) {
        self.method = method
        self.heldOut = heldOut
    }

    enum CodingKeys: String, CodingKey {
        case method
        case heldOut = "held_out"
    }
}
