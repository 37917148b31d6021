import FileOutput
public import FineTune
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// What a conversion did. Keys of its JSON form are stable, snake_case.
public struct ConversionReport: Sendable, Encodable {
    /// The input, as named in the request.
    public let input: String
    /// The output written.
    public let output: String
    /// The input's format (`keras2-h5`, `keras3-keras`, ...).
    public let format: String
    /// The pruned layer's path (`dense_1`, `outer/head`).
    public let layer: String
    /// The kernel's dataset path inside the (weights) file.
    public let kernelDataset: String
    /// The kernel's shape in Keras order.
    public let kernelShape: [Int]
    /// The kernel's stored element type (`float32`).
    public let dtype: String
    /// The kernel's element count.
    public let size: Int
    /// Zeros in the kernel as read.
    public let zerosBefore: Int
    /// Zeros in the kernel as written: always `targetZeros`.
    public let zerosAfter: Int
    /// The zeros asked for.
    public let targetZeros: Int
    /// The method asked for: `magnitude`, `mask` or `l1`.
    public let method: String
    /// Optimizer slots of the kernel in which entries were zeroed.
    public let optimizerSlots: Int
    /// Full reads of the kernel.
    public let passes: Int
    /// Wall time of the whole conversion.
    public let seconds: Double
    /// Remarks on what was assumed or chosen.
    public let notes: [String]
    /// Before and after on the held-out calibration samples, when the layer was fine-tuned.
    public let fineTune: FineTuneReport?
    /// Scores on the evaluation data, when given.
    public let eval: EvaluationReport?

    enum CodingKeys: String, CodingKey {
        case input, output, format, layer, dtype, size, method, passes, seconds, notes, eval
        case fineTune = "fine_tune"
        case kernelDataset = "kernel_dataset"
        case kernelShape = "kernel_shape"
        case zerosBefore = "zeros_before"
        case zerosAfter = "zeros_after"
        case targetZeros = "target_zeros"
        case optimizerSlots = "optimizer_slots"
    }

    /// The report of `plan`'s conversion, which the method ended with `outcome`, in `seconds`.
    init(_ plan: ConversionPlan, outcome: MethodOutcome, eval: EvaluationReport? = nil, seconds: Double) {
        input = plan.request.input
        output = plan.request.output
        format = plan.model.format.rawValue
        layer = plan.layer.path.description
        kernelDataset = plan.kernel.dataset
        kernelShape = plan.kernel.shape
        dtype = plan.kernel.storedType.description
        size = plan.kernel.count
        zerosBefore = outcome.zerosBefore
        zerosAfter = outcome.written.zeros
        targetZeros = plan.targetZeros
        method = plan.request.calibration?.options.method.rawValue ?? PruningMethod.magnitude.rawValue
        optimizerSlots = outcome.written.slotsRewritten
        passes = outcome.written.passes
        self.seconds = seconds
        notes = outcome.notes + (plan.slotNote.map { [$0] } ?? [])
        fineTune = outcome.fineTune
        self.eval = eval
    }
}

/// What a method found and wrote: the parts of the report only the method knows.
struct MethodOutcome {
    /// Zeros in the kernel as read.
    var zerosBefore: Int
    /// What the write-back did.
    var written: RewriteOutcome
    /// Remarks from the method.
    var notes: [String] = []
    /// The fine-tune's report, when the layer was fine-tuned.
    var fineTune: FineTuneReport? = nil
    /// The kernel and bias written, when a fine-tune's result was (nil for the data-free result).
    var tuned: (kernel: [Float], bias: [Float]?)? = nil
}
