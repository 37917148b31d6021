import FileOutput
import FineTune
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// A request checked against its input: the layer, its kernel and slots, and the exact zero count, all
/// known before any weight value is read.
struct ConversionPlan {
    /// What was asked.
    let request: ConversionRequest
    /// The opened input.
    let model: KerasModel
    /// The layer to prune.
    let layer: LayerInfo
    /// Its kernel.
    let kernel: WeightInfo
    /// The kernel's optimizer slots.
    let slots: [WeightInfo]
    /// Why the file's optimizer slots are left as they are, when they are.
    let slotNote: String?
    /// Zeros the kernel ends with.
    let targetZeros: Int

    /// Finds the layer and its weights in `model` and the pattern's zero count for its kernel.
    /// - Throws: `KerasFormatError` when the layer cannot be pruned, `PruningError` when the pattern does
    ///   not fit its kernel.
    init(request: ConversionRequest, model: KerasModel) throws {
        self.request = request
        self.model = model
        layer = try model.targetLayer(named: request.layer)
        guard let kernel = layer.kernel else { preconditionFailure("target layer without a kernel") }
        self.kernel = kernel
        targetZeros = try request.pattern.targetZeros(shape: kernel.shape)
        (slots, slotNote) = model.optimizerSlots(for: layer)
    }

    /// The kernel's values as float32, read whole.
    func readKernel() throws -> [Float] { try readWeight(kernel.dataset) }

    /// The bias's values as float32, read whole; nil for a layer without one.
    func readBias() throws -> [Float]? { try layer.bias.map { try readWeight($0.dataset) } }

    private func readWeight(_ dataset: String) throws -> [Float] {
        try File.withOpen(model.weightsFile) { try $0.root().dataset(dataset).readAll(as: Float.self) }
    }

    /// The output file, reserved beside its destination.
    func reserveOutput() throws -> AtomicOutput {
        try AtomicOutput(destination: request.output, replacing: request.overwrite || request.inPlace)
    }
}
