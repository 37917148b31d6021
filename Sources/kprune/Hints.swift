import ArrayIO
import FileOutput
import Inference
import KerasFormat
import Sparsity

/// What to do about an error, in command-line terms: libraries name no flags, so the hints that need one
/// are made here, by error code.
enum Hints {
    /// The flag-naming hint for a pruning error, if its code has one.
    static func hint(for error: PruningError) -> String? {
        switch error.code {
        case .notFineTunable: "use --method magnitude"
        default: nil
        }
    }

    /// The flag-naming hint for an output error, if its code has one.
    static func hint(for error: OutputError) -> String? {
        switch error.code {
        case .emptyName: "name a file with -o OUT"
        case .namesDirectory: "name a file with -o, or write into a directory with --output-dir"
        case .nameTooLong: "choose a shorter name with -o"
        case .existsAsDirectory: "use --output-dir to write into a directory"
        case .notRegularFile: "kprune replaces only regular files, even with --force"
        case .alreadyExists: "pass --force to replace it"
        case .directoryMissing: "create it first or choose another with -o or --output-dir"
        case .directoryNotWritable: "choose a writable directory with -o or --output-dir"
        case .outputIsInput: "pass --in-place to replace the input, or choose another output with -o"
        default: nil
        }
    }

    /// For the errors that ask which layer to prune, the hint naming `--layer` and the layers it may name;
    /// for other errors, the library's hint.
    static func hint(for error: KerasFormatError) -> String? {
        let candidates = error.candidates.joined(separator: ", ")
        switch error.code {
        case .ambiguousLayer, .recurrentLayer:
            return "choose one with --layer: \(candidates.isEmpty ? "none has a kernel" : candidates)"
        case .brokenFinalLayer:
            return "the file may be damaged; another layer may be named with --layer: "
                + (candidates.isEmpty ? "none has a kernel" : candidates)
        default:
            return error.hint
        }
    }

    /// The flag-naming hint for a calibration data error, if its code has one.
    static func hint(for error: DataError) -> String? {
        switch error.code {
        case .tooFewRows: "lower --validation-split"
        default: nil
        }
    }

    /// The hint for a model the forward pass cannot run.
    static func hint(for error: InferenceError) -> String? {
        switch error.code {
        case .unsupportedLayer, .noConfig:
            "to prune, give the final layer's inputs with --features instead of raw inputs"
        default: nil
        }
    }

    /// `message (hint; hint)`, with the hints that are given.
    static func line(_ message: String, _ hints: String?...) -> String {
        let given = hints.compactMap { $0 }
        return given.isEmpty ? message : "\(message) (\(given.joined(separator: "; ")))"
    }
}
