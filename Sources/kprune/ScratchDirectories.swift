import FileOutput
import Foundation

/// The directories in which working on one input may create temporary files and staging directories.
struct ScratchDirectories {
    var outputFile: String?
    var outputDirectory: String?

    /// The output's directory whichever option chose it (the input's own for the default name and
    /// `--in-place`, `-o`'s, `--output-dir`), and the system's temporary directory (`inspect`'s staging).
    func directories(for input: String) -> [String] {
        var result: [String] = []
        let candidates: [String?] = [
            outputDirectory, outputFile.map(PathComponents.directory(of:)), PathComponents.directory(of: input),
            NSTemporaryDirectory(),
        ]
        for candidate in candidates {
            guard let candidate else { continue }
            let normalized = (candidate as NSString).standardizingPath
            let path = normalized.isEmpty ? "." : normalized
            if !result.contains(path) { result.append(path) }
        }
        return result
    }

    /// Where the output goes: the first of `directories(for:)`.
    func outputDirectory(for input: String) -> String {
        directories(for: input)[0]
    }
}
