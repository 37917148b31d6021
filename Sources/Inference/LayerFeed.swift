import HDF5
public import KerasFormat
public import Numerics

/// The inputs one layer of a model receives, computed from the model's inputs by running only the layers
/// that lead to it, in the rows its kernel multiplies: what a fine-tune of that layer trains on.
///
/// - A `Dense` layer: one row per sample, or per position when it applies to every position of a sequence
///   or an image (and so a `TimeDistributed` Dense layer, one row per step).
/// - A separable convolution: its pointwise kernel's rows, the depthwise outputs at each position.
/// - A convolution: one row per output position, the patch it reads (window offsets, then input channels:
///   the kernel's own order), so that the layer's outputs are the rows times the kernel reshaped to
///   patch × filters.
/// - A convolution whose outputs are only averaged over positions before anything non-linear happens (its
///   activation is linear and global average pooling follows): the mean patch, one row per sample. The
///   pooled outputs are exactly that row times the kernel plus the bias, so the fine-tune works on the
///   model's own pooled outputs at the cost of a `Dense` layer.
public struct LayerFeed {
    /// How rows are made from the layer's input.
    public enum Rows: Sendable, Equatable {
        /// The input's last axis as rows (a `Dense` layer).
        case features
        /// One patch per output position (a convolution).
        case patches
        /// The mean patch of each sample (a convolution whose outputs are globally averaged).
        case pooledPatches
    }

    /// The graphs that compute the layer's inputs, outermost first (see `Graph.feeding`).
    private let stages: [Graph]
    /// The most samples run at once (see `Graph.run(inParts:size:)`).
    private let partSize = PartSize()
    private let path: [String]
    private let target: any ForwardLayer
    /// How the rows are made.
    public let rows: Rows
    /// The shape of one sample of each of the model's inputs: nil when the config gives none, a nil dimension
    /// where it leaves one open.
    public let inputShapes: [[Int?]?]
    /// Values in one row: the kernel's inputs.
    public let columns: Int

    /// Prepares the part of `model` that feeds `layer`.
    /// - Parameters:
    ///   - layer: the layer whose inputs are wanted (top level, or inside nested models).
    ///   - pooled: whether the layer's outputs are globally averaged before anything else touches them; a
    ///     convolution then gives one mean patch per sample.
    ///   - blas: the run's matrix products.
    /// - Throws: `InferenceError` when a layer on the way cannot be run, the model takes several inputs, or
    ///   `layer` is not a `Dense` layer or a plain convolution.
    public init(model: KerasModel, layer: LayerPath, pooled: Bool, blas: BLAS) throws {
        guard let config = model.config else {
            throw InferenceError(.noConfig, "the file has no model config, so the layers before \(layer) are unknown")
        }
        let shapes = GraphBuilder.inputShapes(config)
        let graph = try File.withOpen(model.weightsFile) { file in
            var builder = GraphBuilder(model: model, root: try file.root(), blas: blas)
            builder.folds = false
            return try builder.graph(config, prefix: [])
        }
        inputShapes = shapes.count == graph.inputs.count ? shapes : [[Int?]?](repeating: nil, count: graph.inputs.count)
        path = layer.models + [layer.name]
        (stages, target) = try graph.feeding(path[...])
        switch Self.unwrapped(target) {
        case let dense as DenseLayer:
            rows = .features
            columns = dense.kernel.rows
        case let convolution as ConvolutionLayer:
            guard convolution.groups == 1 else {
                throw InferenceError(
                    .unsupportedConfig, layer: layer.description,
                    "layer \(layer) convolves \(convolution.groups) groups apart; its inputs are not one "
                        + "patch matrix")
            }
            rows = pooled ? .pooledPatches : .patches
            columns = convolution.kernel.count / max(convolution.kernel.shape.last ?? 1, 1)
        case let separable as SeparableConvolutionLayer:
            rows = pooled ? .pooledPatches : .patches
            columns = separable.pointwise.kernel.count / max(separable.pointwise.kernel.shape.last ?? 1, 1)
        default:
            throw InferenceError(
                .unsupportedConfig, layer: layer.description,
                "layer \(layer) is not a Dense layer or a convolution, whose inputs kprune can "
                    + "compute")
        }
    }

    /// The layer's rows for a batch of model inputs (one tensor per input, the first axis the samples): a
    /// matrix of `columns` columns, the rows of each sample together, in sample order.
    /// - Throws: `InferenceError` when the inputs do not fit the model.
    public func rows(for batch: [Tensor]) throws -> Tensor {
        var inputs = batch
        for stage in stages { inputs = try stage.run(inParts: inputs, size: partSize) }
        let input = try single(inputs, path.joined(separator: "/"))
        let received = target is HalfPrecision ? HalfPrecision.rounded(input) : input
        switch (rows, Self.unwrapped(target)) {
        case (.features, _):
            guard received.shape.last == columns else {
                throw InferenceError(
                    .shapeMismatch, layer: path.joined(separator: "/"),
                    "layer \(path.joined(separator: "/")) takes \(columns) features, its input has "
                        + "shape \(received.shape)")
            }
            return received.reshaped([received.count / max(columns, 1), columns])
        case (_, let convolution as ConvolutionLayer):
            let patches = try convolution.patches(of: received)
            return rows == .pooledPatches ? Self.mean(patches, samples: received.shape.first ?? 0) : patches
        case (_, let separable as SeparableConvolutionLayer):
            // The pointwise kernel, the one pruned, reads the depthwise outputs one position at a time.
            let patches = try separable.pointwise.patches(of: try separable.depthwise.forward([received]))
            return rows == .pooledPatches ? Self.mean(patches, samples: received.shape.first ?? 0) : patches
        default:
            preconditionFailure("rows of a layer that is neither Dense nor a convolution")
        }
    }

    /// The layer that computes: inside a float16 rounding, or a `TimeDistributed` wrapper (a Dense layer
    /// applied to every step takes the steps as rows).
    private static func unwrapped(_ layer: any ForwardLayer) -> any ForwardLayer {
        let inner = (layer as? HalfPrecision)?.inner ?? layer
        return (inner as? TimeDistributedLayer).map { $0.inner } ?? inner
    }

    /// The mean of each sample's consecutive rows.
    private static func mean(_ patches: Tensor, samples: Int) -> Tensor {
        let perSample = samples == 0 ? 0 : patches.rows / samples
        var pooled = Tensor(zeros: samples, patches.columns)
        let scale = 1 / Float(max(perSample, 1))
        for n in 0..<samples {
            for p in 0..<perSample {
                let from = (n * perSample + p) * patches.columns
                for c in 0..<patches.columns { pooled.values[n * patches.columns + c] += patches.values[from + c] }
            }
            for c in 0..<patches.columns { pooled.values[n * patches.columns + c] *= scale }
        }
        return pooled
    }
}

extension Graph {
    /// The one call of the layer named `name` (a layer called several times feeds several inputs).
    private func onlyCall(of name: String, path: ArraySlice<String>) throws -> Node {
        let calls = nodes.filter { $0.name == name }
        guard let node = calls.first else {
            throw InferenceError(.unsupportedConfig, "the model has no layer \(path.joined(separator: "/"))")
        }
        guard calls.count == 1 else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) is called \(calls.count) times, so its inputs are not one array")
        }
        return node
    }

    /// The layer at `path` (a node's name, then names inside nested models), and the graphs that compute its
    /// inputs from the model's: one per level of nesting, each holding only the nodes the next level (or the
    /// layer) needs, its inputs the previous one's outputs.
    func feeding(_ path: ArraySlice<String>) throws -> (stages: [Graph], layer: any ForwardLayer) {
        guard let first = path.first else { throw InferenceError(.unsupportedConfig, "no layer named") }
        let node = try onlyCall(of: first, path: path)
        // Nodes run in dependency order: walking back from the layer's inbound tensors finds every node they
        // need.
        func key(_ layer: String, _ call: Int) -> String { "\(call)#\(layer)" }
        var needed = Set(node.inbound.map { key($0.layer, $0.node) })
        var prefix: [Node] = []
        for earlier in nodes.reversed() where needed.contains(key(earlier.name, earlier.call)) {
            prefix.append(earlier)
            needed.formUnion(earlier.inbound.map { key($0.layer, $0.node) })
        }
        let stage = try Graph(name: name, inputs: inputs, nodes: prefix.reversed(), outputs: node.inbound)
        guard path.count > 1 else { return ([stage], node.layer) }
        guard let nested = node.layer as? Graph else {
            throw InferenceError(.unsupportedConfig, layer: first, "layer \(first) is not a nested model")
        }
        let inner = try nested.feeding(path.dropFirst())
        return ([stage] + inner.stages, inner.layer)
    }
}
