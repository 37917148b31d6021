public import Foundation

/// A bounded queue of bytes between one producer and one consumer thread.
public final class ChunkQueue: @unchecked Sendable {
    /// The other side stopped: the producer's data ran out, or the consumer wants no more.
    public struct Ended: Error {}

    private let condition = NSCondition()
    private var chunks: [Data] = []
    private var pending = Data()
    private var producerDone = false
    private var consumerDone = false
    private let capacity: Int

    /// A queue holding at most `capacity` chunks.
    public init(capacity: Int) { self.capacity = capacity }

    /// Queues a chunk, waiting while the queue is full. Throws `Ended` once the consumer has closed.
    public func put(_ chunk: Data) throws {
        condition.lock()
        defer { condition.unlock() }
        while chunks.count >= capacity && !consumerDone { condition.wait() }
        guard !consumerDone else { throw Ended() }
        chunks.append(chunk)
        condition.broadcast()
    }

    /// The producer has no more data.
    public func finish() {
        condition.lock()
        producerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether bytes were queued that the consumer never took.
    public var hasLeftover: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !pending.isEmpty || chunks.contains { !$0.isEmpty }
    }

    /// The consumer wants no more data.
    public func close() {
        condition.lock()
        consumerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// Exactly `count` bytes, waiting for the producer. Throws `Ended` when the data runs out first.
    public func take(_ count: Int) throws -> Data {
        condition.lock()
        defer { condition.unlock() }
        while pending.count < count {
            if !chunks.isEmpty {
                pending.append(chunks.removeFirst())
                condition.broadcast()
            } else if producerDone {
                throw Ended()
            } else {
                condition.wait()
            }
        }
        let result = pending.prefix(count)
        pending = Data(pending.dropFirst(count))
        return Data(result)
    }
}
