import Foundation

/// Receives how far a pass over a kernel has come, from any worker thread.
public protocol ProgressObserver: Sendable {
    /// `fraction` (0 to 1) of the passes' segments are done.
    func progressed(_ fraction: Double)
}

/// Counts finished segments across workers and tells an observer the fraction of the work done.
public final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let observer: (any ProgressObserver)?

    /// A counter of `total` segments (all passes together), telling `observer`.
    public init(total: Int, observer: (any ProgressObserver)?) {
        self.total = max(total, 1)
        self.observer = observer
    }

    /// One more segment is done.
    public func step() {
        guard let observer else { return }
        let fraction = lock.withLock {
            done += 1
            return Double(done) / Double(total)
        }
        observer.progressed(fraction)
    }
}
