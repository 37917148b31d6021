import Foundation
import HDF5

/// The HDF5 layout of Keras 3 `.weights.h5` and of `model.weights.h5` inside `.keras` archives.
///
/// Keras 3 names each saveable by its class in snake case, numbered per container in layer order
/// (`dense`, `dense_1`, ...; a nested Sequential is `sequential`), and stores its variables as `vars/0`,
/// `vars/1`, ... in the layer's own order. Without a config the file does not say which layer is last:
/// groups sort by name (`dense_10` before `dense_2`).
///
/// A subclassed model's `.weights.h5` has no `/layers`: Keras stores its layers under the names of the
/// attributes that hold them (`self.a = Dense(...)` at `/a/vars`), at the root beside the model's own `/vars`
/// and `/optimizer`; a list attribute is a group of layers (`/blocks/dense/vars`).
enum NativeLayout {
    static func read(
        file: File, userPath: String, format: KerasFileFormat, kerasVersion: String?,
        config: ModelConfig?, archive: ArchiveRewrite?
    ) throws -> KerasModel {
        let root = try file.root()
        var layers: [LayerInfo] = []
        let hasLayers = try root.contains("layers") && root.kind(of: "layers") == .group
        let container = hasLayers ? try root.group("layers") : nil
        if let config {
            try collect(model: config, group: container, prefix: [], depth: 0, into: &layers)
        } else if let container {
            try collectGroups(group: container, prefix: [], depth: 0, into: &layers)
        } else {
            try collectGroups(group: root, prefix: [], depth: 0, skipping: rootGroups, into: &layers)
        }
        var optimizer: [WeightInfo] = []
        if try root.contains("optimizer/vars") {
            optimizer = try variables(in: root.group("optimizer/vars"))
        }
        return KerasModel(
            path: userPath, format: format, kerasVersion: kerasVersion, config: config, layers: layers,
            optimizerWeights: optimizer, weightsFile: file.path, archive: archive)
    }

    /// Keras' name for a class: `SeparableConv2D` -> `separable_conv2d`, `EinsumDense` -> `einsum_dense`.
    ///
    /// The same three rewrites Keras applies: drop non-word characters, split before a capitalised word,
    /// split between a lowercase letter and a capital, then lowercase.
    static func snakeCase(_ className: String) -> String {
        var name = className.filter { $0.isLetter || $0.isNumber || $0 == "_" }
        for (pattern, template) in [("(.)([A-Z][a-z]+)", "$1_$2"), ("([a-z])([A-Z])", "$1_$2")] {
            let regex: NSRegularExpression
            do {
                regex = try NSRegularExpression(pattern: pattern)
            } catch {
                preconditionFailure("invalid constant pattern \(pattern)")
            }
            let range = NSRange(name.startIndex..., in: name)
            name = regex.stringByReplacingMatches(in: name, range: range, withTemplate: template)
        }
        return name.lowercased()
    }

    /// Deepest nesting of models (and of a wrapper's sublayers) followed in the file: Keras models nest a
    /// handful deep; deeper files are refused rather than walked.
    static let maximumNesting = 64

    /// Refuses nesting deeper than `maximumNesting`.
    private static func checkNesting(_ depth: Int, at group: Group) throws {
        guard depth <= maximumNesting else {
            throw KerasFormatError(
                .malformed, file: group.file.path,
                "groups nest more than \(maximumNesting) deep at \(group.path.prefix(200))...",
                hint: "Keras files nest models a few levels deep; the file is corrupt or crafted")
        }
    }

    /// Each container group is opened once from its parent's handle, so the walk costs one lookup per object
    /// whatever the depth (paths resolved from the root made it grow like depth³).
    private static func collect(
        model: ModelConfig, group: Group?, prefix: [String], depth: Int,
        into layers: inout [LayerInfo]
    ) throws {
        if let group { try checkNesting(depth, at: group) }
        var used: [String: Int] = [:]
        for layer in model.layers {
            let base = snakeCase(layer.className)
            let count = used[base, default: -1] + 1
            used[base] = count
            let saveable = count == 0 ? base : "\(base)_\(count)"
            let own = try group.flatMap { group in
                try group.contains(saveable) && group.kind(of: saveable) == .group ? try group.group(saveable) : nil
            }
            if let inner = layer.model {
                let innerLayers = try own.flatMap { own in
                    try own.contains("layers") && own.kind(of: "layers") == .group ? try own.group("layers") : nil
                }
                try collect(
                    model: inner, group: innerLayers, prefix: prefix + [layer.name], depth: depth + 1,
                    into: &layers)
                continue
            }
            let weights = try own.map { try allVariables(below: $0) } ?? []
            layers.append(LayerInfo(path: LayerPath(models: prefix, name: layer.name), layer: layer, weights: weights))
        }
    }

    /// The groups at the root of a subclassed model's `.weights.h5` that are not its layers: the model's own
    /// variables and the optimizer's.
    static let rootGroups: Set<String> = ["vars", "optimizer"]

    /// Whether an HDF5 root without `/layers` holds a subclassed model's weights: the model's own `vars` group
    /// (Keras writes it, empty or not, for every model) beside the groups of its layers.
    static func isSubclassedLayout(_ root: Group) throws -> Bool {
        try root.contains("vars") && root.kind(of: "vars") == .group
    }

    /// Without a config: every group under `group` (`/layers`, or the root of a subclassed model's file minus
    /// `skipping`), named by its group name. A nested model (a group with `layers`) and a group of layers
    /// (one without `vars`, a subclassed model's list attribute) are recursed into, their layers named below
    /// theirs.
    private static func collectGroups(
        group: Group, prefix: [String], depth: Int, skipping: Set<String> = [],
        into layers: inout [LayerInfo]
    ) throws {
        try checkNesting(depth, at: group)
        for name in try group.childNames() where !skipping.contains(name) {
            guard try group.kind(of: name) == .group else { continue }
            let child = try group.group(name)
            if try child.contains("layers"), try child.kind(of: "layers") == .group {
                try collectGroups(
                    group: child.group("layers"), prefix: prefix + [name], depth: depth + 1,
                    into: &layers)
            } else if try !child.contains("vars") {
                try collectGroups(group: child, prefix: prefix + [name], depth: depth + 1, into: &layers)
                continue
            }
            let weights = try allVariables(below: child, skippingModels: true)
            if weights.isEmpty { continue }
            var layer = LayerInfo(path: LayerPath(models: prefix, name: name), weights: weights)
            // With no class to go by, the layer's own first variable is taken as the kernel when it is a matrix
            // or more; variables of sublayers (a wrapper's cells) are listed but not taken.
            let own = weights[0].name.hasPrefix("vars/") && weights[0].link == nil && weights[0].shape.count >= 2
            layer.kernelIndex = own ? 0 : nil
            layer.kernelProblem = nil
            layers.append(layer)
        }
    }

    /// A layer's variables: its own `vars`, then those of the sublayers nested below it (a wrapper's
    /// `forward_layer/cell/vars`, a `TimeDistributed` layer's `layer/vars`), depth first, named by their path
    /// below the layer (`forward_layer/cell/vars/0`). Forward sublayers come before backward ones.
    /// - Parameter skippingModels: leave out a nested model's `layers` group, which holds layers of its own.
    static func allVariables(
        below group: Group, skippingModels: Bool = false, prefix: String = "",
        depth: Int = 0
    ) throws -> [WeightInfo] {
        try checkNesting(depth, at: group)
        var found: [WeightInfo] = []
        if try group.contains("vars"), try group.kind(of: "vars") == .group {
            found += try variables(in: group.group("vars"), prefix: prefix)
        }
        let children = try group.childNames().filter { $0 != "vars" && !(skippingModels && $0 == "layers") }
            .sorted { ($0.hasPrefix("forward") ? 0 : 1, $0) < ($1.hasPrefix("forward") ? 0 : 1, $1) }
        for child in children where try group.kind(of: child) == .group {
            found += try allVariables(
                below: group.group(child), skippingModels: skippingModels,
                prefix: prefix + child + "/", depth: depth + 1)
        }
        return found
    }

    /// The datasets of a `vars` group in numeric order (`0`, `1`, ..., `10`), named `<prefix>vars/<i>`.
    ///
    /// A variable that is a soft or external link is listed with its link and not opened.
    static func variables(in group: Group, prefix: String = "") throws -> [WeightInfo] {
        let names = try group.childNames().compactMap { name in Int(name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        return try names.map { _, name in
            if let link = try LegacyLayout.linkDescription(group.linkKind(of: name)) {
                return WeightInfo(
                    name: "\(prefix)vars/\(name)", dataset: "\(group.path)/\(name)", shape: [],
                    storedType: .other("link"), link: link)
            }
            return try LegacyLayout.weightInfo(group.dataset(name), name: "\(prefix)vars/\(name)")
        }
    }
}
