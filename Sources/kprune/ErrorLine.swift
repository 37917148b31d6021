import CalibrationData
import Foundation
import HDF5
import KerasFormat
import PruningEngine

/// Formats any failure as the one line kprune prints: `error: FILE: what went wrong (hint)`.
enum ErrorLine {
    static func text(for error: any Error, file: String) -> String {
        switch error {
        case let error as KerasFormatError:
            return "error: \(error.file): \(error)"
        case let error as PruningError:
            return "error: \(file): \(error)"
        case let error as OutputError:
            return "error: \(error.path): \(error)"
        case let error as DataError:
            return "error: \(error.source): \(error)"
        case let error as HDF5Error:
            return "error: \(error.file): \(describe(error))"
        default:
            return "error: \(file): \(error)"
        }
    }

    /// HDF5 failures in words a user can act on, with libhdf5's innermost reason.
    static func describe(_ error: HDF5Error) -> String {
        let reason = error.stack.last.map { ": \($0)" } ?? ""
        switch error.code {
        case .notHDF5:
            return "not an HDF5 file or a .keras archive (expected a Keras .h5, .keras or .weights.h5 file)"
        case .openFailed where error.object == nil:
            return "cannot open as HDF5\(reason) (the file may be truncated or corrupt)"
        case .readFailed:
            return "cannot read \(error.object ?? "data")\(reason) (the file may be truncated or corrupt)"
        default:
            return "\(error)"
        }
    }

    /// Prints the line to standard error.
    static func report(_ error: any Error, file: String) {
        FileHandle.standardError.write(Data((text(for: error, file: file) + "\n").utf8))
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
