import FileOutput
public import FineTune
import HDF5
import KerasFormat
import Numerics
public import Sparsity

/// One conversion: which file, where to, which zeros, which layer, and calibration data for a fine-tune.
public struct ConversionRequest: Sendable {
    /// The Keras file to read (never written, unless `inPlace` replaces it with the output).
    public var input: String
    /// Where the output goes.
    public var output: String
    /// Which weights may end as zeros, and how many.
    public var pattern: any SparsityPattern
    /// A layer name or nested path (`outer/head`); nil for the final layer.
    public var layer: String?
    /// Whether an existing output file may be replaced.
    public var overwrite: Bool
    /// Whether the output may be the input itself.
    public var inPlace: Bool
    /// Calibration data for a fine-tune; nil for data-free magnitude pruning.
    public var calibration: Calibration?
    /// Data the fine-tune never sees, on which the result is scored; nil for none.
    public var evaluation: EvaluationData?

    /// A request for `pattern`'s zeros in `input`'s final layer (or `layer`), written to `output`.
    public init(
        input: String, output: String, pattern: any SparsityPattern, layer: String? = nil,
        overwrite: Bool = false, inPlace: Bool = false, calibration: Calibration? = nil,
        evaluation: EvaluationData? = nil
    ) {
        self.input = input
        self.output = output
        self.pattern = pattern
        self.layer = layer
        self.overwrite = overwrite
        self.inPlace = inPlace
        self.calibration = calibration
        self.evaluation = evaluation
    }

    /// A request for an exact number of zeros anywhere in the kernel (`ExactCount(target)`).
    public init(
        input: String, output: String, target: ZeroTarget, layer: String? = nil, overwrite: Bool = false,
        inPlace: Bool = false, calibration: Calibration? = nil, evaluation: EvaluationData? = nil
    ) {
        self.init(
            input: input, output: output, pattern: ExactCount(target), layer: layer, overwrite: overwrite,
            inPlace: inPlace, calibration: calibration, evaluation: evaluation)
    }

    /// Whether the request fine-tunes (calibration data with a training method).
    var fineTunes: Bool { calibration.map { $0.options.method != .magnitude } ?? false }
}

/// Calibration data and how to fine-tune with it.
public struct Calibration: Sendable {
    /// Where the fine-tune's rows come from.
    public enum Rows: Sendable, Equatable {
        /// The final layer's inputs, one row per sample (for a convolution, one patch per row):
        /// `h.npy`, `h.npz:name` or `h.h5:/path`.
        case features(String)
        /// The model's own inputs, one array per input of the model (one sample per row), which kprune runs
        /// through the layers before the final one.
        case modelInputs([String])
    }

    /// Where the rows come from.
    public var rows: Rows
    /// Class ids, one-hot rows or regression targets, one row per sample.
    public var labels: String?
    /// The method and its knobs.
    public var options: FineTuneOptions

    /// Calibration from the rows `rows` (and `labels`), fine-tuned with `options`.
    public init(rows: Rows, labels: String? = nil, options: FineTuneOptions = FineTuneOptions()) {
        self.rows = rows
        self.labels = labels
        self.options = options
    }

    /// Calibration from the final layer's inputs `features` (and `labels`), fine-tuned with `options`.
    public init(features: String, labels: String? = nil, options: FineTuneOptions = FineTuneOptions()) {
        self.init(rows: .features(features), labels: labels, options: options)
    }
}
