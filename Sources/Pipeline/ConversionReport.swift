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
    /// The structured pattern the zeros follow, when one was asked for.
    public let pattern: PatternReport?

    enum CodingKeys: String, CodingKey {
        case input, output, format, layer, dtype, size, method, passes, seconds, notes, eval, pattern
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
        var notes = outcome.notes + (plan.slotNote.map { [$0] } ?? [])
        fineTune = outcome.fineTune
        self.eval = eval
        pattern = PatternReport(plan.request.pattern, shape: plan.kernel.shape)
        if let note = pattern?.note { notes.append(note) }
        self.notes = notes
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

/// A structured pattern as the report states it. Keys of its JSON form are stable; those that do not apply are
/// absent.
public struct PatternReport: Sendable, Encodable, Equatable {
    /// `n:m` or `balanced`.
    public let kind: String
    /// N:M: weights per group (M), kept (N) and zero (M − N) in each.
    public let groupSize: Int?
    public let keptPerGroup: Int?
    public let zerosPerGroup: Int?
    /// Balanced: zeros and kept weights in each output unit, and what the same sparsity anywhere in the kernel
    /// gives.
    public let zerosPerUnit: Int?
    public let keptPerUnit: Int?
    public let unstructuredZeros: Int?

    enum CodingKeys: String, CodingKey {
        case kind
        case groupSize = "group_size"
        case keptPerGroup = "kept_per_group"
        case zerosPerGroup = "zeros_per_group"
        case zerosPerUnit = "zeros_per_unit"
        case keptPerUnit = "kept_per_unit"
        case unstructuredZeros = "unstructured_zeros"
    }

    /// The report of `pattern` on a kernel of `shape`; nil for zeros anywhere.
    init?(_ pattern: any SparsityPattern, shape: [Int]) {
        if let pattern = pattern as? NMPattern {
            kind = "n:m"
            groupSize = pattern.groupSize
            keptPerGroup = pattern.keptPerGroup
            zerosPerGroup = pattern.zerosPerGroup
            (zerosPerUnit, keptPerUnit, unstructuredZeros) = (nil, nil, nil)
        } else if let pattern = pattern as? BalancedPattern, let zeros = try? pattern.zerosPerUnit(shape: shape) {
            kind = "balanced"
            let units = max(shape.last ?? 1, 1)
            zerosPerUnit = zeros
            keptPerUnit = shape.reduce(1, *) / units - zeros
            unstructuredZeros = try? pattern.target.count(forSize: shape.reduce(1, *))
            (groupSize, keptPerGroup, zerosPerGroup) = (nil, nil, nil)
        } else {
            return nil
        }
    }

    /// What the text report says of the pattern.
    var note: String {
        if let groupSize, let keptPerGroup, let zerosPerGroup {
            return
                "pattern \(keptPerGroup):\(groupSize): \(keptPerGroup) kept and \(zerosPerGroup) zero in every group "
                + "of \(groupSize) consecutive inputs of each output unit"
        }
        var text = "balanced: \(zerosPerUnit ?? 0) zeros (\(keptPerUnit ?? 0) kept) in every output unit"
        if let unstructuredZeros {
            text += "; the same sparsity anywhere in the kernel gives \(unstructuredZeros) zeros"
        }
        return text
    }
}
