import HDF5

/// A Keras model file, opened for reading: its format, config, layers and optimizer state.
///
/// For a `.keras` archive the weights file is extracted to a staging directory that lives as long as this
/// object (`weightsFileIsStagedCopy`); the archive itself is only read, and `finishOutput(_:)` writes the new
/// archive from the staged copy.
public final class KerasModel {
    /// The file the user named.
    public let path: String
    /// The file's format, from its signature and structure.
    public let format: KerasFileFormat
    /// `keras_version` from the file or the archive's metadata, when recorded.
    public let kerasVersion: String?
    /// The model config, absent for weights-only files.
    public let config: ModelConfig?
    /// Layers in forward order (config order; `layer_names` or group order without a config: see
    /// `layerOrder`).
    public let layers: [LayerInfo]
    /// Optimizer state stored beside the weights, in stored order.
    public let optimizerWeights: [WeightInfo]
    /// The HDF5 file holding the weights, for libhdf5: `path` itself, or a `.keras` archive's
    /// `model.weights.h5` staged for this model.
    public let weightsFile: String
    /// For a `.keras` archive: its members and the staged weights file, for writing the output.
    let archive: ArchiveRewrite?

    init(
        path: String, format: KerasFileFormat, kerasVersion: String?, config: ModelConfig?, layers: [LayerInfo],
        optimizerWeights: [WeightInfo], weightsFile: String, archive: ArchiveRewrite?
    ) {
        self.path = path
        self.format = format
        self.kerasVersion = kerasVersion
        self.config = config
        self.layers = layers
        self.optimizerWeights = optimizerWeights
        self.weightsFile = weightsFile
        self.archive = archive
    }

    /// Opens a Keras file of any supported format.
    ///
    /// - Parameters:
    ///   - path: a `.h5`, `.keras` or `.weights.h5` file.
    ///   - stagingDirectory: where a `.keras` archive's weights are extracted; the system's temporary
    ///     directory when nil. Pass the output directory when the extracted file will be rewritten.
    ///   - formatKnown: called with the format as soon as it is known, before an archive's weights are
    ///     extracted; what it throws ends the opening.
    /// - Throws: `KerasFormatError` for files that are not Keras files or contradict themselves,
    ///   `HDF5Error` when libhdf5 cannot read them.
    public static func open(
        _ path: String, stagingDirectory: String? = nil,
        formatKnown: ((KerasFileFormat) throws -> Void)? = nil
    ) throws -> KerasModel {
        switch try FileKind.sniff(path) {
        case .zip:
            try formatKnown?(.keras3Archive)
            let contents = try ArchiveContents.extract(path, into: stagingDirectory)
            return try File.withOpen(contents.rewrite.stagedWeights) { file in
                try NativeLayout.read(
                    file: file, userPath: path, format: .keras3Archive,
                    kerasVersion: contents.kerasVersion, config: contents.config,
                    archive: contents.rewrite)
            }
        case .hdf5:
            let model = try File.withOpen(path) { file in try readHDF5(file) }
            try formatKnown?(model.format)
            return model
        case .other:
            throw KerasFormatError(
                .notKeras, file: path, "not an HDF5 file or a .keras archive",
                hint: "expected a Keras .h5, .keras or .weights.h5 file")
        }
    }

    private static func readHDF5(_ file: File) throws -> KerasModel {
        let root = try file.root()
        if try root.hasAttribute("model_config") {
            let version = try root.hasAttribute("keras_version") ? root.attribute("keras_version").string() : nil
            let format: KerasFileFormat = version?.hasPrefix("3") == true ? .keras3H5 : .keras2H5
            let config = try parseConfig(try root.attribute("model_config").string(), file: file.path)
            guard try root.contains("model_weights") else {
                throw KerasFormatError(.malformed, file: file.path, "model_config present but no /model_weights group")
            }
            return try LegacyLayout.read(
                file: file, weightsGroup: root.group("model_weights"), format: format,
                kerasVersion: version, config: config)
        }
        if try root.hasAttribute("layer_names") {
            let version = try root.hasAttribute("keras_version") ? root.attribute("keras_version").string() : nil
            return try LegacyLayout.read(
                file: file, weightsGroup: root, format: .keras2WeightsH5,
                kerasVersion: version, config: nil)
        }
        if try root.contains("layers"), try root.kind(of: "layers") == .group {
            return try NativeLayout.read(
                file: file, userPath: file.path, format: .keras3WeightsH5,
                kerasVersion: nil, config: nil, archive: nil)
        }
        if try NativeLayout.isSubclassedLayout(root) {
            let model = try NativeLayout.read(
                file: file, userPath: file.path, format: .keras3WeightsH5,
                kerasVersion: nil, config: nil, archive: nil)
            if !model.layers.isEmpty { return model }
        }
        throw KerasFormatError(
            .notKeras, file: file.path,
            "HDF5 file without Keras structure (no model_config, layer_names, /layers or layer groups beside /vars)",
            hint: "expected a file written by Keras model.save or save_weights")
    }

    static func parseConfig(_ text: String, file: String) throws -> ModelConfig {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw KerasFormatError(.malformed, file: file, "model config is not valid JSON (\(error))", cause: error)
        }
        do {
            return try ModelConfig.parse(json)
        } catch {
            throw KerasFormatError(.malformed, file: file, "model config: \(error)", cause: error)
        }
    }
}
