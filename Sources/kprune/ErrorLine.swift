import ArrayIO
import FileOutput
import FineTune
import Foundation
import HDF5
import Inference
import KerasFormat
import Pipeline
import Sparsity

/// Formats any failure as the one line kprune prints: `error: FILE: what went wrong (hint)`.
enum ErrorLine {
    static func text(for error: any Error, file: String) -> String {
        Escaped.text(userPaths(in: rawText(for: error, file: file), input: file))
    }

    /// The line with every staging path kprune made replaced by the file the user named: an archive's staging
    /// directory by the input. (Outputs' errors name their destination themselves.)
    static func userPaths(in line: String, input: String) -> String {
        line.replacingOccurrences(
            of: #"[^\s:'"()]*\.kprune-[0-9A-Fa-f-]+\.staging(/[^\s:'"()]*)?"#,
            with: NSRegularExpression.escapedTemplate(for: input),
            options: .regularExpression)
    }

    private static func rawText(for error: any Error, file: String) -> String {
        switch error {
        case let error as KerasFormatError:
            return "error: \(error.file): " + Hints.line(error.message, Hints.hint(for: error))
        case let error as PruningError:
            return "error: \(file): " + Hints.line(error.message, Hints.hint(for: error), error.hint)
        case let error as OutputError:
            return "error: \(error.path.isEmpty ? "\"\"" : error.path): "
                + Hints.line(error.message, Hints.hint(for: error), error.hint)
        case let error as InferenceError:
            return "error: \(file): " + Hints.line(error.message, Hints.hint(for: error))
        case let error as InputError:
            return "error: \(error.path): \(error)"
        case let error as DataError:
            return "error: \(error.source): " + Hints.line(error.message, Hints.hint(for: error), error.hint)
                + libraryDetails(error.cause)
        case let error as HDF5Error:
            return "error: \(error.file): \(describe(error))"
        case let error as SweepError:
            return "error: \(file): " + Hints.line(error.message, error.hint)
        default:
            return "error: \(file): \(error)"
        }
    }

    /// HDF5 failures in words a user can act on, with libhdf5's innermost reason in its own words (the names
    /// of libhdf5's functions only with `--verbose`).
    static func describe(_ error: HDF5Error) -> String {
        let reason = error.stack.last.map { ": \(withoutFunction($0))" } ?? ""
        let object = error.object.map { "'\($0)'" }
        let corrupt = " (the file may be truncated or corrupt)"
        let text: String
        switch error.code {
        case .notHDF5:
            text = "not an HDF5 file or a .keras archive (expected a Keras .h5, .keras or .weights.h5 file)"
        case .openFailed:
            text = (object.map { "cannot open \($0)" } ?? "cannot open as HDF5") + reason + corrupt
        case .notFound:
            text = "\(object ?? "an object") is not in the file" + reason
        case .readFailed:
            text = "cannot read \(object ?? "data")\(reason)" + corrupt
        case .writeFailed:
            text = "cannot write \(object ?? "data")\(reason) (is the disk full?)"
        case .closeFailed:
            text = "cannot finish with the file\(reason) (is the disk full?)"
        case .unsupportedType:
            text = "\(object ?? "a dataset") has a type kprune cannot read\(reason)"
        case .outsideFile, .tooLarge:
            text = "\(error.object ?? "an object"): \(error.stack.last.map(withoutFunction) ?? "\(error.code)")"
        default:
            text = "libhdf5 could not work on \(object ?? "the file")\(reason)" + corrupt
        }
        return text + libraryDetails(error)
    }

    /// With `--verbose`, libhdf5's call and error stack behind an error of kprune's own: ` [libhdf5: ...]`.
    static func libraryDetails(_ cause: (any Error)?) -> String {
        guard verbose, let error = cause as? HDF5Error else { return "" }
        return " [libhdf5: \(error.operation); " + error.stack.joined(separator: " | ") + "]"
    }

    /// A libhdf5 error-stack line without the name of the function that recorded it:
    /// `actual len exceeds EOA (H5C__verify_len_eoa)` -> `actual len exceeds EOA`.
    static func withoutFunction(_ line: String) -> String {
        guard line.hasSuffix(")"), let open = line.range(of: " (H5", options: .backwards) else { return line }
        return String(line[..<open.lowerBound])
    }

    /// Whether error lines carry libhdf5's function names and whole error stack (`--verbose`).
    nonisolated(unsafe) static var verbose = false

    /// Prints the line to standard error.
    static func report(_ error: any Error, file: String) {
        FileHandle.standardError.write(Data((text(for: error, file: file) + "\n").utf8))
    }
}

/// Text for a terminal: control characters (newline, ESC, DEL, C1 controls) are shown as escapes, so one
/// record stays on one line and a file name cannot drive the terminal.
enum Escaped {
    static func text(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                result +=
                    scalar.value < 0x100
                    ? String(format: "\\x%02x", scalar.value)
                    : String(format: "\\u{%04x}", scalar.value)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            || scalar.properties.generalCategory == .format
                && [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069].contains(scalar.value)
    }
}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// One JSON object on one line, keys sorted.
func jsonLine(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch {
        preconditionFailure("report not encodable: \(error)")
    }
}
