import FileOutput
import Dispatch
import Foundation

/// Runs per-segment work on the machine's cores (two at most: the work is memory-bound beyond that).
public enum Workers {
    public static let available = max(1, min(2, ProcessInfo.processInfo.activeProcessorCount))

    /// Calls `body(worker, segment)` for every segment; worker `w` takes segments `w`, `w + workers`, ...
    /// in order. The first error thrown stops the remaining segments and is rethrown.
    public static func run(segments: Int, workers: Int, _ body: @Sendable (_ worker: Int, _ segment: Int) throws -> Void)
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

/// How far a conversion has come: a fraction of the work, and for a fine-tune what it is doing
/// (`epoch 12/100, held-out loss 0.0831`).
public struct ConversionProgress: Sendable {
    /// The fraction of the work done, from 0 to 1.
    public var fraction: Double
    /// What the work is doing now, when there is more to say than the fraction.
    public var detail: String?

    /// Progress at `fraction`, with an optional `detail`.
    public init(fraction: Double, detail: String? = nil) {
        self.fraction = fraction
        self.detail = detail
    }
}

/// Counts finished segments across workers and reports the fraction of the work done.
public final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let report: (@Sendable (ConversionProgress) -> Void)?

    public init(total: Int, report: (@Sendable (ConversionProgress) -> Void)?) {
        self.total = max(total, 1)
        self.report = report
    }

    public func step() {
        guard let report else { return }
        let fraction = lock.withLock {
            done += 1
            return min(Double(done) / Double(total), 1)
        }
        report(ConversionProgress(fraction: fraction, detail: nil))
    }
}

/// The first error any worker met.
public final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?

    public var isSet: Bool { lock.withLock { stored != nil } }
    public var error: (any Error)? { lock.withLock { stored } }
    public func set(_ error: any Error) { lock.withLock { if stored == nil { stored = error } } }
}

/// Hands a value to concurrent workers that each touch disjoint parts of what it refers to.
public struct Shared<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
