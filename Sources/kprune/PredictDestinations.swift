import FileOutput
import Foundation

/// Where `kprune predict` writes a model's outputs: every destination of a run, worked out and checked
/// before the forward pass runs.
///
/// One output written goes to `OUT.npy` (`-o`, or `X.predictions.npy` beside the first `--data` array `X`).
/// A model with several outputs writes each to `OUT.NAME.npy`, NAME being the output layer's name made safe
/// for a file name (see `fileLabels(_:)`): a layer that gives several outputs (an LSTM with `return_state`,
/// a shared layer) gives `OUT.lstm.npy`, `OUT.lstm_1.npy`, `OUT.lstm_2.npy`, in the model's output order.
struct PredictDestinations {
    /// One output to write: its position among the model's outputs, and its file.
    struct Output {
        var index: Int
        var label: String
        var destination: String
    }

    /// The outputs written, in the model's output order.
    let outputs: [Output]

    /// The destinations of the outputs chosen among `names`.
    ///
    /// - Parameters:
    ///   - names: the model's output layers, in order (a layer may appear more than once).
    ///   - base: `OUT.npy`, where the only output goes, and which names the files of several.
    ///   - chosen: `--output NAME`: only the output with this file label or, failing that, the first with this
    ///     layer name.
    /// - Throws: `ChosenOutputMissing` when `chosen` names none of them.
    init(names: [String], base: String, chosen: String?) throws {
        let labels = Self.fileLabels(names)
        var indices = Array(names.indices)
        if let chosen {
            guard let index = labels.firstIndex(of: chosen) ?? names.firstIndex(of: chosen) else {
                throw ChosenOutputMissing(name: chosen, labels: labels)
            }
            indices = [index]
        }
        let stem = base.lowercased().hasSuffix(".npy") ? String(base.dropLast(4)) : base
        outputs = indices.map { index in
            Output(
                index: index, label: labels[index],
                destination: indices.count == 1 ? base : "\(stem).\(labels[index]).npy")
        }
    }

    /// `OUT.npy` when `-o` gives none: `X.predictions.npy` beside the first data array, `X` being its file
    /// without the extension (`d/x.npz:inputs` -> `d/x.predictions.npy`).
    ///
    /// - Parameter dataFile: the first `--data` array's file, without a member.
    static func defaultBase(dataFile: String) -> String {
        let name = PathComponents.lastComponent(of: dataFile)
        let directoryPart = dataFile.hasSuffix(name) ? String(dataFile.dropLast(name.utf8.count)) : ""
        var stem = Substring(name)
        if let dot = stem.lastIndex(of: "."), dot != stem.startIndex { stem = stem[..<dot] }
        return directoryPart + stem + ".predictions.npy"
    }

    /// The output layers' names as parts of file names, one per output, all different: `/`, `\`, control
    /// characters and `..` become `_`, so a name from the file never reaches another directory; a name that
    /// came before gets `_1`, `_2`, ... (skipping labels that another output has as its own).
    static func fileLabels(_ names: [String]) -> [String] {
        let safe = names.map(safeLabel)
        let own = Set(safe)
        var taken: Set<String> = []
        var result: [String] = []
        for label in safe {
            var candidate = label
            var suffix = 0
            while taken.contains(candidate) || (candidate != label && own.contains(candidate)) {
                suffix += 1
                candidate = "\(label)_\(suffix)"
            }
            taken.insert(candidate)
            result.append(candidate)
        }
        return result
    }

    /// `name` with what cannot be in a file name, or could step out of a directory, replaced by `_`.
    static func safeLabel(_ name: String) -> String {
        var result = ""
        for scalar in name.unicodeScalars {
            let control = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            result.unicodeScalars.append(control || scalar == "/" || scalar == "\\" ? "_" : scalar)
        }
        while result.contains("..") { result = result.replacingOccurrences(of: "..", with: "_") }
        return result.isEmpty ? "_" : result
    }

    /// Lines refusing destinations that are one file, or that are a file the run reads (the model, a data
    /// array's file), compared by path and by file identity; empty when none is.
    ///
    /// - Parameters:
    ///   - destinations: the run's outputs.
    ///   - inputs: the files the run reads, as given.
    static func collisions(_ destinations: [String], with inputs: [String]) -> [String] {
        var lines: [String] = []
        var seen: [String: String] = [:]
        for destination in destinations {
            let key = OutputCollisions.key(destination)
            if let earlier = seen[key] {
                lines.append(
                    "error: \(Escaped.text(destination)): the outputs \(Escaped.text(earlier)) and "
                        + "\(Escaped.text(destination)) are the same file (choose another output with -o)")
            }
            seen[key] = seen[key] ?? destination
            if let input = sameFile(destination, among: inputs) {
                lines.append(
                    "error: \(Escaped.text(destination)): the output is the input "
                        + "\(Escaped.text(input)) (choose another output with -o)")
            }
        }
        return lines
    }

    /// The first of `inputs` that is the file at `path`: the same resolved path, or the same device and inode.
    static func sameFile(_ path: String, among inputs: [String]) -> String? {
        let key = OutputCollisions.key(path)
        let identity = FileIdentity(of: path)
        return inputs.first { input in
            OutputCollisions.key(input) == key || (identity != nil && FileIdentity(of: input) == identity)
        }
    }
}

/// `--output NAME` names none of the model's outputs.
struct ChosenOutputMissing: Error, CustomStringConvertible {
    var name: String
    var labels: [String]
    var description: String {
        "the model has no output named \(name) (its outputs: \(labels.joined(separator: ", ")))"
    }
}
