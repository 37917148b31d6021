import FileOutput
public import HDF5

/// The Keras file formats kprune reads and writes.
public enum KerasFileFormat: String, Sendable, CaseIterable {
    /// Keras 2 `model.save("m.h5")`: config in `model_config`, weights under `/model_weights`.
    case keras2H5 = "keras2-h5"
    /// Keras 2 `model.save_weights("w.h5")`: layer groups at the root, no config.
    case keras2WeightsH5 = "keras2-weights-h5"
    /// Keras 3 `model.save("m.h5")`, the legacy HDF5 layout written by Keras 3.
    case keras3H5 = "keras3-h5"
    /// Keras 3 `.keras`: a zip of `config.json`, `metadata.json` and `model.weights.h5`.
    case keras3Archive = "keras3-keras"
    /// Keras 3 `.weights.h5`: `/layers/<saveable>/vars/<i>`, no config.
    case keras3WeightsH5 = "keras3-weights-h5"
}

/// One weight of a layer as stored in the file.
public struct WeightInfo: Sendable, Equatable {
    /// The weight's name as the file gives it (`dense/kernel:0`), or its position (`vars/0`) where the
    /// format stores no names.
    public var name: String
    /// The absolute path of its dataset in the HDF5 file.
    public var dataset: String
    /// The weight's shape as stored (Keras order); empty for a scalar, or for a link that was not followed.
    public var shape: [Int]
    /// The element type as stored.
    public var storedType: StoredType
    /// How the name is linked when it is not the dataset itself (`a soft link to /x`), else nil. Linked
    /// weights are never followed: writing through one would change another dataset or another file.
    public var link: String? = nil
    /// Why the weight's bytes cannot be trusted to lie inside this file (external raw storage, a virtual
    /// dataset, a declared size far beyond the bytes stored), as a clause after "is"; nil when they can.
    public var storageProblem: String? = nil

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
}

/// A layer and its stored weights.
public struct LayerInfo: Sendable, Equatable {
    /// Where the layer sits: its nested models' names and its own.
    public var path: LayerPath
    /// The Keras class from the config, when the file has one.
    public var className: String?
    /// For a wrapper (`TimeDistributed`, `Bidirectional`), the class of the layer it wraps.
    public var wrappedClassName: String?
    /// The activation from the config, when it is a plain name.
    public var activation: String?
    /// Every weight stored for the layer, in the layer's order, including those of sublayers nested below it.
    public var weights: [WeightInfo]
    /// Which of `weights` is the kernel, if the layer has a usable one.
    public var kernelIndex: Int?
    /// Why a layer whose class has a kernel has no usable one (no weights, a 1-D kernel, a linked kernel), as a
    /// clause: `its kernel 'dense/kernel:0' is 1-D (shape [64])`.
    public var kernelProblem: String?

    /// Finds the layer's kernel from its class and weights.
    init(path: LayerPath, className: String?, wrappedClassName: String? = nil, activation: String?,
         weights: [WeightInfo])
    {
        self.path = path
        self.className = className
        self.wrappedClassName = wrappedClassName
        self.activation = activation
        self.weights = weights
        (kernelIndex, kernelProblem) = Self.findKernel(className: className, wrapped: wrappedClassName,
                                                       weights: weights)
    }

    /// The kernel, when the layer has a usable one.
    public var kernel: WeightInfo? { kernelIndex.map { weights[$0] } }
    /// The bias: the first weight after the kernel whose shape is the kernel's last dimension.
    public var bias: WeightInfo? {
        guard let kernelIndex, let units = weights[kernelIndex].shape.last else { return nil }
        return weights.dropFirst(kernelIndex + 1).first { $0.shape == [units] }
    }

    /// Whether the layer is recurrent (`LSTM`, `GRU`, `SimpleRNN`, `Bidirectional`, a `TimeDistributed`
    /// recurrent layer...): kprune prunes it only when `--layer` names it.
    public var isRecurrent: Bool {
        [className, wrappedClassName].contains { $0.map(Self.recurrentClasses.contains) == true }
    }

    /// Whether the layer owns weights that a final-layer search must not pass over: a kernel, a broken
    /// kernel, or recurrent weights.
    var endsSearch: Bool { kernelIndex != nil || kernelProblem != nil || (isRecurrent && !weights.isEmpty) }

    /// `name (Class)` for messages.
    var described: String { "'\(path)'" + (className.map { " (\($0))" } ?? "") }

    /// Classes whose kernel is a known weight: the index of the weight that is the kernel.
    static let kernelIndexByClass: [String: Int] = [
        "Dense": 0, "EinsumDense": 0, "QuantizedDense": 0,
        "Conv1D": 0, "Conv2D": 0, "Conv3D": 0, "Convolution1D": 0, "Convolution2D": 0, "Convolution3D": 0,
        "Conv1DTranspose": 0, "Conv2DTranspose": 0, "Conv3DTranspose": 0,
        "Convolution2DTranspose": 0, "Convolution3DTranspose": 0, "Deconvolution2D": 0,
        "DepthwiseConv1D": 0, "DepthwiseConv2D": 0,
        "SeparableConv1D": 1, "SeparableConv2D": 1, "SeparableConvolution1D": 1, "SeparableConvolution2D": 1,
        "LocallyConnected1D": 0, "LocallyConnected2D": 0,
        // Recurrent layers store kernel, recurrent_kernel, bias: the input kernel comes first.
        "LSTM": 0, "GRU": 0, "SimpleRNN": 0, "CuDNNLSTM": 0, "CuDNNGRU": 0,
        "ConvLSTM1D": 0, "ConvLSTM2D": 0, "ConvLSTM3D": 0,
    ]

    /// Recurrent classes, and the wrapper that makes any layer recurrent.
    static let recurrentClasses: Set<String> = [
        "LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "RNN",
        "Bidirectional",
    ]

    /// Weight names that mark a kernel in layers of other classes.
    static let kernelNames: Set<String> = ["kernel", "pointwise_kernel"]

    /// Finds the kernel: by class where the class is known (a `TimeDistributed` layer by the class it wraps),
    /// else by the weight's own name. Only a dataset of its own of rank 2 or more is a kernel; otherwise the
    /// problem says why a layer of a class with a kernel has none.
    static func findKernel(className: String?, wrapped: String?, weights: [WeightInfo])
        -> (index: Int?, problem: String?)
    {
        let effective = className == "TimeDistributed" ? wrapped ?? className : className
        if className == "Bidirectional" {
            return (nil, weights.isEmpty ? nil : "it holds two input kernels, forward and backward")
        }
        let index: Int
        if let effective, let known = kernelIndexByClass[effective] {
            guard !weights.isEmpty else { return (nil, "it has no weights in the file") }
            guard known < weights.count else { return (nil, "it has \(weights.count) weights, no kernel among them") }
            index = known
        } else {
            let named = weights.firstIndex { weight in
                let last = weight.name.split(separator: "/").last.map { String($0.split(separator: ":")[0]) }
                return last.map(kernelNames.contains) == true
            }
            guard let named else { return (nil, nil) }
            index = named
        }
        let kernel = weights[index]
        if let link = kernel.link {
            return (nil, "its kernel '\(kernel.name)' is \(link), not a dataset of its own")
        }
        if let problem = kernel.storageProblem {
            return (nil, "its kernel '\(kernel.name)' is \(problem); kprune prunes only kernels whose bytes all "
                        + "lie in the file itself")
        }
        switch kernel.shape.count {
        case 0: return (nil, "its kernel '\(kernel.name)' is a scalar")
        case 1: return (nil, "its kernel '\(kernel.name)' is 1-D (shape \(kernel.shape))")
        default: return (index, nil)
        }
    }
}

/// In which order a file lists its layers.
public enum LayerOrder: String, Sendable {
    /// The model's forward order, from its config.
    case forward
    /// The order of the file's `layer_names` attribute: the model's layer order, without the graph.
    case layerNames = "layer_names"
    /// The order of the groups in the file (by name), which need not be the model's order.
    case file
}

/// A Keras model file, opened for reading: its format, config, layers and optimizer state.
///
/// For a `.keras` archive the weights file is extracted to a staging directory that lives as long as this
/// object; the archive itself is only read.
public final class KerasModel {
    /// The file the user named.
    public let path: String
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
    /// The HDF5 file holding the weights: `path` itself, or the extracted `model.weights.h5`.
    public let weightsFile: String
    /// The archive's members, for `.keras` files.
    let archive: ArchiveContents?

    init(path: String, format: KerasFileFormat, kerasVersion: String?, config: ModelConfig?, layers: [LayerInfo],
         optimizerWeights: [WeightInfo], weightsFile: String, archive: ArchiveContents?)
    {
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
    /// - Throws: `KerasFormatError` for files that are not Keras files or contradict themselves,
    ///   `HDF5Error` when libhdf5 cannot read them.
    public static func open(_ path: String, stagingDirectory: String? = nil) throws -> KerasModel {
        switch try FileKind.sniff(path) {
        case .zip:
            let contents = try ArchiveContents.extract(path, into: stagingDirectory)
            return try File.withOpen(contents.weightsFile) { file in
                try NativeLayout.read(file: file, userPath: path, format: .keras3Archive,
                                      kerasVersion: contents.kerasVersion, config: contents.config,
                                      archive: contents)
            }
        case .hdf5:
            return try File.withOpen(path) { file in try readHDF5(file) }
        case .other:
            throw KerasFormatError(.notKeras, file: path, "not an HDF5 file or a .keras archive",
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
            return try LegacyLayout.read(file: file, weightsGroup: root.group("model_weights"), format: format,
                                         kerasVersion: version, config: config)
        }
        if try root.hasAttribute("layer_names") {
            let version = try root.hasAttribute("keras_version") ? root.attribute("keras_version").string() : nil
            return try LegacyLayout.read(file: file, weightsGroup: root, format: .keras2WeightsH5,
                                         kerasVersion: version, config: nil)
        }
        if try root.contains("layers"), try root.kind(of: "layers") == .group {
            return try NativeLayout.read(file: file, userPath: file.path, format: .keras3WeightsH5,
                                         kerasVersion: nil, config: nil, archive: nil)
        }
        throw KerasFormatError(.notKeras, file: file.path,
                               "HDF5 file without Keras structure (no model_config, layer_names or /layers)",
                               hint: "expected a file written by Keras model.save or save_weights")
    }

    static func parseConfig(_ text: String, file: String) throws -> ModelConfig {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw KerasFormatError(.malformed, file: file, "model config is not valid JSON (\(error))")
        }
        do {
            return try ModelConfig.parse(json)
        } catch {
            throw KerasFormatError(.malformed, file: file, "model config: \(error)")
        }
    }
}

extension KerasModel {
    /// How `layers` is ordered.
    public var layerOrder: LayerOrder {
        if config != nil { return .forward }
        return format == .keras2WeightsH5 ? .layerNames : .file
    }

    /// Layers owning a kernel, in forward order: the candidates for `--layer`.
    public var kernelLayers: [LayerInfo] { layers.filter { $0.kernelIndex != nil } }

    /// The final layer: the last layer with a kernel in forward order, as the config's outputs say.
    ///
    /// - Returns: one layer, or nil when the file cannot say (no config, several outputs, merged branches);
    ///   `finalLayerProblem` then says why.
    public var finalLayer: LayerInfo? {
        switch finalLayerSearch() {
        case .found(let layer): layer
        default: nil
        }
    }

    /// Why the file does not name one final layer, or nil when it does.
    public var finalLayerProblem: String? { finalLayerSearch().problem }

    private enum Search {
        case found(LayerInfo)
        case unclear(String)
        /// The last weighted layer is recurrent.
        case recurrent(LayerInfo)
        /// The last weighted layer's kernel is missing or unusable.
        case broken(LayerInfo, String)

        var problem: String? {
            switch self {
            case .found: nil
            case .unclear(let reason): reason
            case .recurrent(let layer):
                "the last weighted layer \(layer.described) is recurrent, and kprune prunes a recurrent layer only "
                    + "when --layer names it"
            case .broken(let layer, let problem): "the final layer \(layer.described): \(problem)"
            }
        }
    }

    private func finalLayerSearch() -> Search {
        let byPath = Dictionary(layers.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        guard let config else {
            // layer_names gives the layers' order but not the graph: several outputs cannot be ruled out.
            return .unclear("the file has no model config, so it does not say which layer is final")
        }
        // The search stops at any weighted layer, usable or not, so that a broken or recurrent final layer is
        // reported rather than passed over for the layer before it.
        let perOutput = config.finalKernelLayers { path, _ in byPath[path]?.endsSearch == true }
        let distinct = perOutput.flatMap { $0 }.reduce(into: [LayerPath]()) { if !$0.contains($1) { $0.append($1) } }
        if perOutput.count > 1 {
            return .unclear("the model has \(perOutput.count) outputs")
        }
        guard distinct.count == 1, let layer = byPath[distinct[0]] else {
            return distinct.isEmpty ? .unclear("no layer with a kernel leads to the output")
                : .unclear("the output is fed by \(distinct.count) branches with kernels")
        }
        if let problem = layer.kernelProblem, !layer.isRecurrent { return .broken(layer, problem) }
        if layer.isRecurrent { return .recurrent(layer) }
        return .found(layer)
    }

    /// How the layer's outputs reach the model's output: the layers in between when the config says.
    public func outputTrail(of layer: LayerInfo) -> OutputTrail {
        guard let config else { return .unclear("the file has no model config") }
        let byPath = Dictionary(layers.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        return config.trail(from: layer.path) { path, _ in byPath[path]?.kernelIndex != nil }
    }

    /// The layer to prune: `name` when given, else the final layer.
    ///
    /// `name` matches a layer's full path (`outer/head`) or, when unique, its own name.
    /// - Throws: `KerasFormatError` `.noSuchLayer`, `.noKernel` or `.ambiguousLayer`, listing candidates.
    public func targetLayer(named name: String?) throws -> LayerInfo {
        let candidates = kernelLayers.map(\.path.description).joined(separator: ", ")
        guard let name else {
            let search = finalLayerSearch()
            let choose = "choose one with --layer: \(candidates.isEmpty ? "none has a kernel" : candidates)"
            switch search {
            case .found(let layer):
                try requireStoredInside(layer)
                return layer
            case .unclear:
                throw KerasFormatError(.ambiguousLayer, file: path, search.problem ?? "no final layer", hint: choose)
            case .recurrent:
                throw KerasFormatError(.recurrentLayer, file: path, search.problem ?? "recurrent final layer",
                                       hint: choose)
            case .broken:
                throw KerasFormatError(.malformed, file: path, search.problem ?? "broken final layer",
                                       hint: "the file may be damaged; another layer may be named with --layer: "
                                           + (candidates.isEmpty ? "none has a kernel" : candidates))
            }
        }
        let matches = layers.filter { $0.path.description == name }
        let byOwnName = matches.isEmpty ? layers.filter { $0.path.name == name } : matches
        guard !byOwnName.isEmpty else {
            throw KerasFormatError(.noSuchLayer, file: path, "no layer named '\(name)'",
                                   hint: "layers with a kernel: \(candidates.isEmpty ? "none" : candidates)")
        }
        guard byOwnName.count == 1 else {
            let paths = byOwnName.map(\.path.description).joined(separator: ", ")
            throw KerasFormatError(.ambiguousLayer, file: path, "several layers are named '\(name)'",
                                   hint: "give the full path: \(paths)")
        }
        let layer = byOwnName[0]
        if let problem = layer.kernelProblem {
            throw KerasFormatError(.noKernel, file: path, "layer \(layer.described): \(problem)",
                                   hint: "layers with a kernel: \(candidates.isEmpty ? "none" : candidates)")
        }
        guard layer.kernelIndex != nil else {
            throw KerasFormatError(.noKernel, file: path, "layer '\(name)' has no kernel",
                                   hint: "layers with a kernel: \(candidates.isEmpty ? "none" : candidates)")
        }
        try requireStoredInside(layer)
        return layer
    }

    /// Refuses a layer whose bias or kernel optimizer slots are not stored inside the file: writing them
    /// would write into another file or another object. (A kernel stored so has no usable kernel at all.)
    func requireStoredInside(_ layer: LayerInfo) throws {
        let slots = optimizerSlots(for: layer).slots.map { ("optimizer slot", $0) }
        let others = (layer.bias.map { [("bias", $0)] } ?? []) + slots
        for (role, weight) in others {
            if let problem = weight.storageProblem ?? weight.link {
                throw KerasFormatError(.unsupported, file: path,
                                       "the \(role) '\(weight.name)' of layer '\(layer.path)' is \(problem)",
                                       hint: "kprune reads and writes only bytes inside the file itself; "
                                           + "store the weights in the file (h5py: copy the dataset)")
            }
        }
    }
}

extension KerasModel {
    /// For a `.keras` archive: writes a new archive to `destination` with every member as read, in the same
    /// order and compression, and the weights taken from `weightsFile`.
    ///
    /// - Precondition: `format == .keras3Archive`.
    public func writeArchive(to destination: String, weightsFile: String) throws {
        guard let archive else { preconditionFailure("writeArchive on a \(format.rawValue) file") }
        do {
            try archive.write(to: destination, weightsFile: weightsFile)
        } catch let error as KerasFormatError {
            throw error
        } catch {
            throw OutputError(path: destination, "cannot write the archive: \(error)")
        }
    }
}
