import Foundation

/// How the layer reaches its zero count.
public enum PruningMethod: String, Sendable, CaseIterable, Encodable {
    /// Gradual magnitude pruning with regrowth, then a fine-tune of the kept weights.
    case mask
    /// A proximal L1 path to the count, an exact projection, then a debiasing fine-tune.
    case l1
    /// Exact magnitude pruning, no training.
    case magnitude
}

/// The fine-tune's knobs.
public struct FineTuneOptions: Sendable {
    /// How the layer reaches its count.
    public var method: PruningMethod
    /// Passes over the training rows; nil for the automatic count (`FineTuneOptions.automaticEpochs`).
    public var epochs: Int?
    /// Rows per optimizer step.
    public var batchSize: Int
    /// The momentum step; nil for the automatic one, `1 / L` with `L` the loss gradient's Lipschitz bound on
    /// the calibration data.
    public var learningRate: Double?
    /// Fixes the held-out split and every shuffle: the same seed gives the same result.
    public var seed: UInt64
    /// The fraction of the samples held out to measure before and after.
    public var validationSplit: Double
    /// Calibration data up to this many bytes (as float32) is read into memory; larger data is streamed from
    /// its files in blocks.
    public var inMemoryLimit: Int

    /// Options with the given values; the defaults are kprune's.
    public init(
        method: PruningMethod = .mask, epochs: Int? = nil, batchSize: Int = 64, learningRate: Double? = nil,
        seed: UInt64 = 0, validationSplit: Double = 0.1, inMemoryLimit: Int = 1 << 30
    ) {
        self.method = method
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seed = seed
        self.validationSplit = validationSplit
        self.inMemoryLimit = inMemoryLimit
    }
}

extension FineTuneOptions {
    /// The automatic number of epochs for `batches` mini-batches per epoch: at least 100 epochs and at least
    /// 2,000 steps (small calibration sets need more passes), at most 1,000 epochs.
    public static func automaticEpochs(batches: Int) -> Int {
        min(1000, max(100, (2000 + batches - 1) / max(batches, 1)))
    }
}
