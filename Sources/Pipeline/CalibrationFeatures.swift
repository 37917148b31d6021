import ArrayIO
import FileOutput
import FineTune
import Foundation
import Inference
import KerasFormat
import Numerics

/// The rows a fine-tune trains on: the final layer's inputs as the user gave them (`features`), or computed
/// from the model's own inputs (`data`) by running the layers before it.
///
/// Computed rows are kept in memory up to the calibration's in-memory limit; beyond it they go to a scratch
/// file beside the output that has no name (or a registered temporary one where the file system cannot make
/// unnamed files), removed when the conversion ends however it ends. The model's inputs are read a block of
/// samples at a time either way, so inputs larger than memory stream through.
struct CalibrationFeatures {
    /// The rows, read as a file's.
    let source: ArraySource
    /// What the report says about where the rows came from; nil for a features file.
    let note: String?
    /// Rows per sample: each row of `source` holds that many of the layer's rows side by side when the rows
    /// are grouped by sample, else 1.
    let rowsPerSample: Int
    /// The scratch file holding computed rows, discarded once the fine-tune is done.
    private let scratch: AtomicOutput?

    /// Samples run through the model at a time.
    static let samplesPerBlock = 128

    /// Opens `calibration`'s features, or computes the rows of `plan`'s layer from its data.
    /// - Parameter pooled: whether the layer is a convolution whose outputs are only globally averaged, so
    ///   that one mean patch per sample stands for its pooled outputs.
    /// - Parameter grouped: whether a sample's rows are kept together, side by side in one row, because the
    ///   loss is taken on the model's output per sample; labels then give one row per sample.
    /// - Throws: `DataError` for inputs that do not fit the model or hold NaN; `InferenceError` for a model
    ///   kprune cannot run; output errors for the scratch file.
    init(_ plan: ConversionPlan, _ calibration: Calibration, pooled: Bool, grouped: Bool = false, blas: BLAS) throws {
        switch calibration.rows {
        case .features(let features):
            source = try ArraySource.open(features)
            note = nil
            scratch = nil
            rowsPerSample = 1
        case .modelInputs(let data):
            let computed = try Self.compute(
                plan, data: data, limit: calibration.options.inMemoryLimit,
                hasLabels: calibration.labels != nil, pooled: pooled, grouped: grouped,
                blas: blas)
            (source, note, scratch, rowsPerSample) = computed
        }
    }

    /// Removes the scratch file, if any.
    func discard() { scratch?.discard() }

    private static func compute(
        _ plan: ConversionPlan, data: [String], limit: Int, hasLabels: Bool, pooled: Bool,
        grouped: Bool, blas: BLAS
    ) throws -> (ArraySource, String?, AtomicOutput?, Int) {
        let feed = try LayerFeed(model: plan.model, layer: plan.layer.path, pooled: pooled, blas: blas)
        let inputs = try ModelInputs(data, declared: feed.inputShapes)
        let name = data.joined(separator: ", ")
        guard inputs.samples >= 2 else { throw DataError(.tooFewRows, name, "at least two samples are needed") }
        var sink: RowSink? = nil
        var perSample = 0
        for start in stride(from: 0, to: inputs.samples, by: samplesPerBlock) {
            let range = start..<min(inputs.samples, start + samplesPerBlock)
            let batch = try inputs.batch(range, finite: true)
            let rows = try inputs.locatingFaults(firstRow: start) { try feed.rows(for: batch) }
            if sink == nil {
                perSample = rows.rows / range.count
                if perSample != 1, hasLabels, !grouped {
                    throw DataError(
                        .shapeMismatch, name,
                        "labels give one row per sample, but layer \(plan.layer.path) is trained on "
                            + "\(perSample) rows per sample (one per output position)",
                        hint: "fine-tune without labels: the layer then keeps to its own outputs")
                }
                // Grouped, a sample's rows lie side by side in one row: the same values in the same order.
                let shape =
                    grouped ? [inputs.samples, perSample * feed.columns] : [perSample * inputs.samples, feed.columns]
                sink = try RowSink(
                    shape: shape, inMemory: 4 * shape[0] * shape[1] <= limit, beside: plan.request.output,
                    name: name)
            }
            guard rows.rows == perSample * range.count else {
                throw DataError(.shapeMismatch, name, "samples \(range) give \(rows.rows) rows, not \(perSample) each")
            }
            try sink?.append(rows.values)
        }
        guard let sink else { throw DataError(.tooFewRows, name, "the arrays hold no samples") }
        let kind =
            switch feed.rows {
            case .features: perSample == 1 ? "" : " (\(perSample) positions each)"
            case .patches:
                " ("
                    + (perSample == 1
                        ? "1 patch each, its one output position"
                        : "\(perSample) patches each, one per output position")
                    + (grouped ? ", the loss taken per sample on the model's output)" : ")")
            case .pooledPatches: " (the mean patch of each: its outputs are only globally averaged)"
            }
        let note =
            "the fine-tune's rows are the inputs of \(plan.layer.path) computed from \(inputs.samples) samples of "
            + "\(name)\(kind)"
        return (try sink.finish(), note, sink.scratch, grouped ? perSample : 1)
    }
}

/// Where computed rows go: memory, or an `.npy` scratch file beside the output.
private struct RowSink {
    let shape: [Int]
    let name: String
    let scratch: AtomicOutput?
    private var values: [Float] = []
    private let writer: NPYWriter?

    init(shape: [Int], inMemory: Bool, beside output: String, name: String) throws {
        self.shape = shape
        self.name = name
        if inMemory {
            scratch = nil
            writer = nil
            values.reserveCapacity(shape.reduce(1, *))
        } else {
            let file = try AtomicOutput(destination: output + ".rows.npy")
            scratch = file
            writer = try NPYWriter(path: file.temporaryPath, shape: shape)
        }
    }

    mutating func append(_ rows: [Float]) throws {
        if let writer { try writer.append(rows) } else { values += rows }
    }

    func finish() throws -> ArraySource {
        guard let writer, let scratch else { return .inMemory(name: name, shape: shape, values: values) }
        try writer.close()
        return try ArraySource.npy(at: scratch.temporaryPath, name: name)
    }
}
