public import ArgumentParser
import FineTune
import Pipeline
import Sparsity

/// Where outputs go, and what they may replace.
struct OutputOptions: ParsableArguments {
    @Option(name: [.short, .customLong("output")], help: "Output file (one input only).")
    var output: String?

    @Option(help: "Directory for the outputs, named as by default.")
    var outputDir: String?

    @Flag(help: "Replace existing output files.")
    var force = false

    @Flag(help: "Replace each input with its converted file.")
    var inPlace = false

    func validate() throws {
        if output != nil, outputDir != nil { throw ValidationError("give -o or --output-dir, not both") }
        if inPlace, output != nil || outputDir != nil {
            throw ValidationError("--in-place writes over the input; it takes no -o or --output-dir")
        }
    }

    /// Where `input`'s output goes.
    func destination(for input: String) -> String {
        inPlace ? input : output ?? Converter.defaultOutputPath(for: input, directory: outputDir)
    }
}

/// Calibration data and the fine-tune's knobs.
struct FineTuneArguments: ParsableArguments {
    @Option(help: "Calibration data: the final layer's inputs, one row per sample (h.npy, h.npz:NAME, h.h5:/PATH).")
    var features: String?

    @Option(
        help:
            "Calibration data as the model's own inputs, one sample per row (x.npy, x.npz:NAME, x.h5:/PATH): kprune runs the layers before the final one to get its inputs. Once per input of a model with several, in their order."
    )
    var data: [String] = []

    @Option(help: "Labels for the calibration rows: class ids, one-hot rows or regression targets.")
    var labels: String?

    @Option(
        help:
            "mask: gradual magnitude pruning with regrowth and a fine-tune (default with --features or --data); l1: a proximal L1 path to the count, projection and debiasing; magnitude: no training."
    )
    var method: PruningMethod?

    @Option(help: "Passes over the calibration data (default: automatic, at least 100 and at least 2,000 steps).")
    var epochs: Int?

    @Option(help: "Samples per step.")
    var batchSize: Int = FineTuneOptions().batchSize

    @Option(help: "The momentum step (default: automatic, from the calibration data's curvature).")
    var learningRate: Double?

    @Option(help: "Seed for the split and the shuffles: the same seed gives the same output file.")
    var seed: UInt64 = FineTuneOptions().seed

    @Option(help: "Fraction of the calibration rows held out to measure before and after.")
    var validationSplit: Double = FineTuneOptions().validationSplit

    @Option(
        name: .customLong("in-memory-limit"),
        help: ArgumentHelp(
            "Calibration data up to this many MiB (as float32) is read into memory; larger data is streamed from its files in blocks.",
            valueName: "MiB"))
    var inMemoryLimit: Int = FineTuneOptions().inMemoryLimit >> 20

    /// Each option in the range the engine can compute with once converted.
    func validate() throws {
        if features != nil, !data.isEmpty {
            throw ValidationError("give --features (the final layer's inputs) or --data (the model's inputs), not both")
        }
        if labels != nil, features == nil, data.isEmpty {
            throw ValidationError("--labels goes with --features or --data")
        }
        if let method, method != .magnitude, features == nil, data.isEmpty {
            throw ValidationError(
                "--method \(method.rawValue) fine-tunes on calibration data: give --data or --features")
        }
        if let epochs, !Limits.epochs.contains(epochs) {
            throw ValidationError("--epochs \(epochs) is outside [1, \(Limits.epochs.upperBound)]")
        }
        guard Limits.batchSize.contains(batchSize) else {
            throw ValidationError("--batch-size \(batchSize) is outside [1, \(Limits.batchSize.upperBound)]")
        }
        if let learningRate { try Self.validate(learningRate: learningRate) }
        guard Limits.inMemoryMiB.contains(inMemoryLimit) else {
            throw ValidationError(
                "--in-memory-limit \(inMemoryLimit) is outside [0, \(Limits.inMemoryMiB.upperBound)] MiB")
        }
        guard validationSplit.isFinite, validationSplit >= 0, validationSplit < 1, validationSplit.sign == .plus else {
            throw ValidationError("--validation-split \(validationSplit) must lie in [0, 1)")
        }
    }

    private static func validate(learningRate: Double) throws {
        guard learningRate.isFinite, learningRate > 0, learningRate.sign == .plus else {
            throw ValidationError("--learning-rate \(learningRate) must be a positive number")
        }
        // The fine-tune computes in float32: 1e-300 would become 0 and nothing would train.
        guard Limits.learningRate.contains(learningRate) else {
            throw ValidationError(
                "--learning-rate \(learningRate) is outside [\(Limits.learningRate.lowerBound), "
                    + "\(Limits.learningRate.upperBound)], the steps float32 training can take")
        }
    }

    /// The calibration these options ask for; nil without `--features` or `--data`.
    var calibration: Calibration? {
        guard let rows = features.map(Calibration.Rows.features) ?? (data.isEmpty ? nil : .modelInputs(data)) else {
            return nil
        }
        return Calibration(
            rows: rows, labels: labels,
            options: FineTuneOptions(
                method: method ?? .mask, epochs: epochs, batchSize: batchSize, learningRate: learningRate,
                seed: seed, validationSplit: validationSplit, inMemoryLimit: inMemoryLimit << 20))
    }
}

/// Data the fine-tune never sees, on which the result is scored.
struct EvaluationArguments: ParsableArguments {
    @Option(
        name: .customLong("eval-data"),
        help: ArgumentHelp(
            "Evaluation data as the model's own inputs, one sample per row, never used by the fine-tune: the dense model, the written result and the data-free magnitude result at the same count are run on it and scored. Once per input of a model with several, in their order.",
            valueName: "x.npy"))
    var data: [String] = []

    @Option(
        name: .customLong("eval-features"),
        help: ArgumentHelp(
            "Evaluation data as the final layer's inputs, one row per sample, instead of --eval-data: the layer alone is scored, for a layer whose outputs reach the model's output through activations alone.",
            valueName: "h.npy"))
    var features: String?

    @Option(
        name: .customLong("eval-labels"),
        help: ArgumentHelp(
            "True labels of the evaluation samples (class ids, one-hot rows or targets), for accuracy and loss.",
            valueName: "y.npy"))
    var labels: String?

    func validate() throws {
        if features != nil, !data.isEmpty {
            throw ValidationError("give --eval-data (the model's inputs) or --eval-features (the layer's), not both")
        }
        if labels != nil, data.isEmpty, features == nil {
            throw ValidationError("--eval-labels goes with --eval-data or --eval-features")
        }
    }

    /// The evaluation these options ask for; nil without `--eval-data` or `--eval-features`.
    var evaluation: EvaluationData? {
        if let features { return EvaluationData(features: features, labels: labels) }
        return data.isEmpty ? nil : EvaluationData(inputs: data, labels: labels)
    }
}

/// How results and errors are printed.
struct ReportOptions: ParsableArguments {
    @Flag(help: "Print one JSON object per input on standard output.")
    var json = false

    @Flag(help: "Add libhdf5's function names and error stack to error lines.")
    var verbose = false
}

/// `--method mask|l1|magnitude`: the methods by their own names.
extension PruningMethod: ExpressibleByArgument {}

/// The ranges numeric options are checked against where they are converted.
enum Limits {
    static let epochs = 1...1_000_000
    static let batchSize = 1...(1 << 24)
    /// float32 keeps these as normal numbers, and steps beyond 1000 only diverge.
    static let learningRate = 1e-30...1e3
    /// MiB; shifted to bytes it stays far inside `Int`.
    static let inMemoryMiB = 0...(1 << 30)
}

/// `--pattern`'s value: `N:M` (checked as `NMPattern` checks it), `balanced`, or none.
enum PatternOption: Equatable {
    case nOfM(kept: Int, group: Int)
    case balanced
    case none

    static func parse(_ text: String?) throws -> PatternOption {
        guard let text else { return .none }
        if text == "balanced" { return .balanced }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let kept = Int(parts[0]), let group = Int(parts[1]) else {
            throw ValidationError("--pattern \(text): give N:M (such as 2:4) or balanced")
        }
        do {
            _ = try NMPattern(kept: kept, of: group)
        } catch {
            throw ValidationError("--pattern \(text): keep N of every M with 0 ≤ N ≤ M ≤ 1024")
        }
        return .nOfM(kept: kept, group: group)
    }
}
