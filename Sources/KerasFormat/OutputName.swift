import HDF5

/// Whether an output file's name fits the format of the input it is converted from.
///
/// Keras picks the reader from the name: `keras.saving.load_model` reads a zip only from a `.keras` file and
/// HDF5 from `.h5`/`.hdf5`, and Keras 3's `load_weights` demands the `.weights.h5` suffix. An output under
/// another name would be written but not loaded, so the name is checked before any work.
public enum OutputName {
    /// The suffixes an output may end with for an input of that format; the first is the one suggested.
    public static func allowedSuffixes(for format: KerasFileFormat) -> [String] {
        switch format {
        case .keras3Archive: [".keras"]
        case .keras3WeightsH5: [".weights.h5"]
        case .keras2H5, .keras2WeightsH5, .keras3H5: [".h5", ".hdf5"]
        }
    }

    /// Checks `output` against the format of `input`, reading only as much of the input as tells the format.
    ///
    /// An input that cannot be read, or is not a Keras file, passes: the conversion reports that itself.
    /// - Throws: `KerasFormatError` `.outputName`, for `input`, with a hint naming a fitting output.
    public static func check(output: String, forInput input: String) throws {
        guard let format = formatWithoutReadingWeights(input) else { return }
        let suffixes = allowedSuffixes(for: format)
        let lowered = output.lowercased()
        guard !suffixes.contains(where: { lowered.hasSuffix($0) }) else { return }
        throw KerasFormatError(.outputName, file: input,
                               "the output \(output) does not end in \(suffixes.joined(separator: " or ")), "
                                   + "so Keras would not load it as the \(format.rawValue) file it is",
                               hint: "name the output \(suggestion(for: output, suffix: suffixes[0]))")
    }

    /// `out.h5` -> `out.keras`: the name with its Keras extension replaced.
    static func suggestion(for output: String, suffix: String) -> String {
        var stem = output
        for known in [".weights.h5", ".keras", ".hdf5", ".h5"] where stem.lowercased().hasSuffix(known) {
            stem.removeLast(known.count)
            break
        }
        return stem + suffix
    }

    /// The input's format from its signature and, for HDF5, its root's attributes and groups.
    static func formatWithoutReadingWeights(_ path: String) -> KerasFileFormat? {
        do {
            switch try FileKind.sniff(path) {
            case .zip:
                return .keras3Archive
            case .other:
                return nil
            case .hdf5:
                return try File.withOpen(path) { file in
                    let root = try file.root()
                    if try root.hasAttribute("model_config") {
                        return .keras2H5  // Keras 3's legacy .h5 takes the same names.
                    }
                    if try root.hasAttribute("layer_names") { return .keras2WeightsH5 }
                    if try root.contains("layers") { return .keras3WeightsH5 }
                    return nil
                }
            }
        } catch {
            return nil  // unreadable or missing: the conversion itself says why, in its own words
        }
    }
}
