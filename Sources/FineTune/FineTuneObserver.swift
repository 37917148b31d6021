/// What a fine-tune tells as it works.
public enum FineTuneEvent: Sendable, Equatable {
    /// An epoch of a training phase (`mask`, or the L1 method's `debias`) ended; the held-out loss is that of
    /// the current weights with the current mask applied.
    case epochEnded(phase: String, epoch: Int, of: Int, heldOutLoss: Double)
    /// One solve of the L1 path ended at penalty `strength` with `zeros` of the `target` zeros.
    case l1Solved(strength: Float, zeros: Int, target: Int)
}

/// Receives a fine-tune's events, from the thread that runs it.
///
/// Epoch events cost a pass over the held-out rows each; a fine-tune without an observer skips them.
public protocol FineTuneObserver: Sendable {
    /// The fine-tune has done `fraction` (0 to 1) of its work, and `event` happened.
    func fineTuneProgressed(_ fraction: Double, _ event: FineTuneEvent)
}
