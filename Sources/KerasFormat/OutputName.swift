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

    /// Checks `output` against the format of `input`, as read when the input was opened.
    /// - Throws: `KerasFormatError` `.outputName`, for `input`, with a hint naming a fitting output.
    public static func check(output: String, for format: KerasFileFormat, input: String) throws {
        let suffixes = allowedSuffixes(for: format)
        let lowered = output.lowercased()
        guard !suffixes.contains(where: { lowered.hasSuffix($0) }) else { return }
        throw KerasFormatError(
            .outputName, file: input,
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
}
