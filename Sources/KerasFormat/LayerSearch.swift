extension KerasModel {
    /// How `layers` is ordered.
    public var layerOrder: LayerOrder {
        if config != nil { return .forward }
        return format == .keras2WeightsH5 ? .layerNames : .file
    }

    /// Layers owning a kernel, in forward order: the candidates for a layer asked for by name.
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
                    + "when it is asked for by name"
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
            return distinct.isEmpty
                ? .unclear("no layer with a kernel leads to the output")
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
    /// `name` matches a layer's full path (`outer/head`) or, when unique, its own name. Errors about which
    /// layer to prune list the layers with a kernel in their hint and in `candidates`.
    /// - Throws: `KerasFormatError` `.ambiguousLayer`, `.recurrentLayer` or `.brokenFinalLayer` without a
    ///   name; `.noSuchLayer`, `.layerNameNotUnique` or `.noKernel` for a name; `.unsupported` when the
    ///   layer's bias or optimizer slots are stored outside the file.
    public func targetLayer(named name: String?) throws -> LayerInfo {
        let layer = try name.map(namedLayer) ?? finalTargetLayer()
        try requireStoredInside(layer)
        return layer
    }

    /// The paths of the layers with a kernel, the candidates for a name.
    private var candidates: [String] { kernelLayers.map(\.path.description) }

    /// "layers with a kernel: a, b", or "...: none".
    private var candidateList: String {
        "layers with a kernel: " + (candidates.isEmpty ? "none" : candidates.joined(separator: ", "))
    }

    /// The final layer, or the error saying why the file does not name one.
    private func finalTargetLayer() throws -> LayerInfo {
        let search = finalLayerSearch()
        let problem = search.problem ?? "no final layer"
        switch search {
        case .found(let layer):
            return layer
        case .unclear:
            throw KerasFormatError(.ambiguousLayer, file: path, problem, hint: candidateList, candidates: candidates)
        case .recurrent:
            throw KerasFormatError(.recurrentLayer, file: path, problem, hint: candidateList, candidates: candidates)
        case .broken:
            throw KerasFormatError(
                .brokenFinalLayer, file: path, problem,
                hint: "the file may be damaged; \(candidateList)", candidates: candidates)
        }
    }

    /// The layer `name` names, when it is one layer with a usable kernel.
    private func namedLayer(_ name: String) throws -> LayerInfo {
        let matches = layers.filter { $0.path.description == name }
        let byOwnName = matches.isEmpty ? layers.filter { $0.path.name == name } : matches
        guard !byOwnName.isEmpty else {
            throw KerasFormatError(
                .noSuchLayer, file: path, "no layer named '\(name)'", hint: candidateList,
                candidates: candidates)
        }
        guard byOwnName.count == 1 else {
            let paths = byOwnName.map(\.path.description)
            throw KerasFormatError(
                .layerNameNotUnique, file: path, "several layers are named '\(name)'",
                hint: "give the full path: \(paths.joined(separator: ", "))", candidates: paths)
        }
        let layer = byOwnName[0]
        if let problem = layer.kernelProblem {
            throw KerasFormatError(
                .noKernel, file: path, "layer \(layer.described): \(problem)", hint: candidateList,
                candidates: candidates)
        }
        guard layer.kernelIndex != nil else {
            throw KerasFormatError(
                .noKernel, file: path, "layer '\(name)' has no kernel", hint: candidateList,
                candidates: candidates)
        }
        return layer
    }

    /// Refuses a layer whose bias or kernel optimizer slots are not stored inside the file: writing them
    /// would write into another file or another object. (A kernel stored so has no usable kernel at all.)
    func requireStoredInside(_ layer: LayerInfo) throws {
        let slots = optimizerSlots(for: layer).slots.map { ("optimizer slot", $0) }
        let others = (layer.bias.map { [("bias", $0)] } ?? []) + slots
        for (role, weight) in others {
            if let problem = weight.storageProblem ?? weight.link {
                throw KerasFormatError(
                    .unsupported, file: path,
                    "the \(role) '\(weight.name)' of layer '\(layer.path)' is \(problem)",
                    hint: "kprune reads and writes only bytes inside the file itself; "
                        + "store the weights in the file (h5py: copy the dataset)")
            }
        }
    }
}
