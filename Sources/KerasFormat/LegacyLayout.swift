import HDF5

/// The HDF5 layout Keras 2 writes, and Keras 3 for `.h5`: a group per layer with `weight_names`.
enum LegacyLayout {
    static func read(
        file: File, weightsGroup: Group, format: KerasFileFormat, kerasVersion: String?,
        config: ModelConfig?
    ) throws -> KerasModel {
        let layerNames = try weightsGroup.attribute("layer_names").strings()
        var stored: [String: [WeightInfo]] = [:]
        for name in layerNames {
            guard try weightsGroup.contains(name) else {
                throw KerasFormatError(
                    .malformed, file: file.path,
                    "layer_names lists '\(name)' but \(weightsGroup.path) has no such group")
            }
            stored[name] = try weights(of: weightsGroup.group(name))
        }

        var layers: [LayerInfo] = []
        if let config {
            for (path, layer) in config.flattened() where !layer.isModel {
                let outer = path.models.first ?? path.name
                guard let all = stored[outer] else {
                    layers.append(LayerInfo(path: path, layer: layer, weights: []))
                    continue
                }
                // A nested model keeps all its layers' weights in one group; a weight belongs to the inner
                // layer whose name is one of the scopes in the weight's name.
                let own = path.models.isEmpty ? all : all.filter { scopes(of: $0.name).contains(path.name) }
                layers.append(LayerInfo(path: path, layer: layer, weights: own))
            }
        } else {
            for name in layerNames {
                let own = stored[name] ?? []
                layers.append(LayerInfo(path: LayerPath(models: [], name: name), weights: own))
            }
        }

        var optimizer: [WeightInfo] = []
        let root = try file.root()
        if weightsGroup.path != "/", try root.contains("optimizer_weights") {
            optimizer = try weights(of: root.group("optimizer_weights"))
        }
        return KerasModel(
            path: file.path, format: format, kerasVersion: kerasVersion, config: config,
            layers: layers, optimizerWeights: optimizer, weightsFile: file.path, archive: nil)
    }

    /// The weights a group lists in `weight_names`, in that order, each at `<group>/<weight name>`.
    ///
    /// A weight whose name is a soft or external link is listed with its link and not opened.
    static func weights(of group: Group) throws -> [WeightInfo] {
        guard try group.hasAttribute("weight_names") else { return [] }
        return try group.attribute("weight_names").strings().map { name in
            guard try group.contains(name) else {
                throw KerasFormatError(
                    .malformed, file: group.file.path,
                    "weight_names lists '\(name)' but \(group.path) has no such dataset")
            }
            if let link = try linkDescription(group.linkKind(of: name)) {
                let path = (group.path == "/" ? "" : group.path) + "/" + name
                return WeightInfo(name: name, dataset: path, shape: [], storedType: .other("link"), link: link)
            }
            return try weightInfo(group.dataset(name), name: name)
        }
    }

    /// A weight read from its dataset, with any reason its bytes may not lie inside the file.
    static func weightInfo(_ dataset: Dataset, name: String) throws -> WeightInfo {
        WeightInfo(
            name: name, dataset: dataset.path, shape: dataset.shape, storedType: dataset.storedType,
            storageProblem: try dataset.outsideStorage ?? dataset.allocationProblem())
    }

    /// The scopes of a weight name: `outer/head/kernel:0` -> `[outer, head]`.
    static func scopes(of name: String) -> [String] {
        Array(name.split(separator: "/").dropLast().map(String.init))
    }

    /// Words for a link that is not the object itself; nil for an ordinary (hard) link.
    static func linkDescription(_ kind: Group.LinkKind) -> String? {
        switch kind {
        case .hard: nil
        case .soft(let target): "a soft link to \(target)"
        case .external(let file, let path): "an external link to \(file):\(path)"
        case .other: "a user-defined link"
        }
    }
}
