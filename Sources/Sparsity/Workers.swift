import Dispatch
import FileOutput
import Foundation

/// Runs per-segment work on the machine's cores (two at most: the work is memory-bound beyond that).
public enum Workers {
    /// The workers a pass uses: the machine's cores, two at most.
    public static let available = max(1, min(2, ProcessInfo.processInfo.activeProcessorCount))

    /// Calls `body(worker, segment)` for every segment; worker `w` takes segments `w`, `w + workers`, ...
    /// in order. The first error thrown stops the remaining segments and is rethrown.
    package static func run(
        segments: Int, workers: Int, _ body: @Sendable (_ worker: Int, _ segment: Int) throws -> Void
    )
        throws
    {
        let failure = FirstError()
        let count = max(1, min(workers, segments))
        DispatchQueue.concurrentPerform(iterations: count) { worker in
            for segment in stride(from: worker, to: segments, by: count) {
                if failure.isSet { return }
                do {
                    try body(worker, segment)
                } catch {
                    failure.set(error)
                    return
                }
            }
        }
        if let error = failure.error { throw error }
    }
}

/// The first error any worker met.
package final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?

    package var isSet: Bool { lock.withLock { stored != nil } }
    package var error: (any Error)? { lock.withLock { stored } }
    package func set(_ error: any Error) { lock.withLock { if stored == nil { stored = error } } }
}

/// Hands a value to concurrent workers that each touch disjoint parts of what it refers to.
package struct Shared<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
