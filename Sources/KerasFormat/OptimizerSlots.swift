extension KerasModel {
    /// The optimizer slots (Adam's moments, SGD's momentum) that belong to `layer`'s kernel.
    ///
    /// Where the file names its optimizer weights, a slot belongs to the kernel when it has the kernel's
    /// shape and its name carries the kernel's name: as scopes (`Adam/m/dense/kernel:0`,
    /// `Adam/dense/kernel/m:0`) or flattened (`adam/dense_kernel_momentum`). Keras 3 native files store
    /// slots unnamed, one block per trainable variable in model order; there the kernel's block is found by
    /// counting same-shaped variables, and only when the counts line up (and, in a `.weights.h5` without a
    /// config, whose layers are not in model order, only when the kernel's shape is unique). Keras 2.0 files name slots
    /// `training/Adam/Variable_N:0`, grouped by slot kind (every `m`, then every `v`): there the kernel's slots
    /// stand at its rank among same-shaped variables, once per group.
    /// - Returns: the slots, and a note when slots of the kernel's shape exist but could not be attributed.
    public func optimizerSlots(for layer: LayerInfo) -> (slots: [WeightInfo], note: String?) {
        guard let kernel = layer.kernel else { return ([], nil) }
        let sameShape = optimizerWeights.filter { $0.shape == kernel.shape }
        if sameShape.isEmpty { return ([], nil) }
        let unmatched = "optimizer slots of shape \(kernel.shape) could not be matched to the kernel; left unchanged"
        let modelSameShape = layers.flatMap(\.weights).filter { $0.shape == kernel.shape }
        guard let rank = modelSameShape.firstIndex(of: kernel), sameShape.count % modelSameShape.count == 0 else {
            return ([], unmatched)
        }
        let perVariable = sameShape.count / modelSameShape.count
        switch format {
        case .keras3WeightsH5 where config == nil && modelSameShape.count > 1:
            // Without a config the layers are in the file's (alphabetical) order, not the model's: the rank
            // among same-shaped variables, and so the block, is unknown.
            return ([], unmatched)
        case .keras3Archive, .keras3WeightsH5:
            return (Array(sameShape[(rank * perVariable)..<((rank + 1) * perVariable)]), nil)
        case .keras2H5, .keras2WeightsH5, .keras3H5:
            let kernelScopes = Self.nameComponents(kernel.name)
            let flattened = kernelScopes.joined(separator: "_") + "_"
            let slots = sameShape.filter { slot in
                let components = Self.nameComponents(slot.name)
                return Self.containsRun(components, kernelScopes)
                    || components.last.map { $0.hasPrefix(flattened) } == true
            }
            if !slots.isEmpty { return (slots, nil) }
            let unnamed = sameShape.allSatisfy { Self.nameComponents($0.name).last?.hasPrefix("Variable") == true }
            guard unnamed else { return ([], unmatched) }
            return (stride(from: rank, to: sameShape.count, by: modelSameShape.count).map { sameShape[$0] }, nil)
        }
    }

    /// `Adam/m/dense/kernel:0` -> `[Adam, m, dense, kernel]`.
    static func nameComponents(_ name: String) -> [String] {
        name.split(separator: "/").map { component in
            component.hasSuffix(":0") ? String(component.dropLast(2)) : String(component)
        }
    }

    /// Whether `run` appears as consecutive elements of `list`.
    static func containsRun(_ list: [String], _ run: [String]) -> Bool {
        guard !run.isEmpty, run.count <= list.count else { return false }
        return (0...(list.count - run.count)).contains { Array(list[$0..<($0 + run.count)]) == run }
    }
}
