import FileOutput
public import FineTune
import HDF5
import KerasFormat
import Numerics
public import Sparsity

/// What a conversion tells as it works: its input's structure was read, passes over the kernel advanced,
/// the fine-tune ended an epoch or an L1 solve. Every requirement has a default that does nothing; calls may
/// come from any thread.
public protocol PruningObserver: ProgressObserver, FineTuneObserver {
    /// The input's structure (format, config, layers, where the kernel and its slots lie) has been read and
    /// checked; the kernel's values and any calibration data are read next.
    func structureRead()
    /// Whether the observer wants the fine-tune's events. Each epoch event costs a pass over the held-out
    /// rows, which a fine-tune nobody watches skips.
    var wantsFineTuneEvents: Bool { get }
}

extension PruningObserver {
    /// Does nothing.
    public func structureRead() {}
    /// Does nothing.
    public func progressed(_ fraction: Double) {}
    /// Does nothing.
    public func fineTuneProgressed(_ fraction: Double, _ event: FineTuneEvent) {}
    /// True: an observer that implements `fineTuneProgressed` wants the events.
    public var wantsFineTuneEvents: Bool { true }
}
