import HDF5
public import KerasFormat
public import Numerics

/// Runs a Keras model's inference in Swift: dropout and noise off, normalization on its stored statistics.
///
/// The model is built once from the file's config and weights (read whole); `predict` then runs batches.
public struct Predictor {
    private let graph: Graph
    /// The most samples run at once (see `Graph.run(inParts:size:)`).
    private let partSize = PartSize()

    /// The model's output layers, in order.
    public var outputNames: [String] { graph.outputs.map(\.layer) }
    /// How many inputs the model takes.
    public var inputCount: Int { graph.inputs.count }
    /// The shape of one sample of each input (without the samples' axis): nil when the config gives none, a nil
    /// dimension where it leaves one open.
    public let inputShapes: [[Int?]?]

    /// Builds the forward pass of `model`.
    /// - Parameter blas: the run's matrix products.
    /// - Throws: `InferenceError` naming the first layer it cannot run (its class), or a file without a
    ///   config; read errors.
    /// - Parameter replacing: values run in place of stored weights, by dataset path (each of the weight's
    ///   size): a pruned kernel evaluated before it is written.
    public init(model: KerasModel, blas: BLAS, replacing: [String: [Float]] = [:]) throws {
        guard let config = model.config else {
            throw InferenceError(.noConfig, "the file has no model config, so the model's graph is unknown")
        }
        try self.init(model: model, config: config, blas: blas, replacing: replacing)
    }

    /// Builds the forward pass of `config` (the model's own, or an edited copy naming the same layers) with the
    /// weights of `model`, `replacing` some by dataset path.
    init(model: KerasModel, config: ModelConfig, blas: BLAS, replacing: [String: [Float]] = [:]) throws {
        inputShapes = GraphBuilder.inputShapes(config)
        graph = try File.withOpen(model.weightsFile) { file in
            try GraphBuilder(model: model, root: try file.root(), blas: blas, replacing: replacing)
                .graph(config, prefix: [])
        }
    }

    /// The model's outputs for one batch, one tensor per input (the first axis is the samples).
    /// - Throws: `InferenceError` when the inputs do not fit the model.
    public func predict(_ inputs: [Tensor]) throws -> [Tensor] {
        try graph.run(inParts: inputs, size: partSize)
    }
}
