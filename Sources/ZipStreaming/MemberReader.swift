import Foundation
import ZIPFoundation

/// Reads one zip member's uncompressed bytes front to back, a bounded buffer at a time, without extracting it.
///
/// A reader thread decompresses into a small `ChunkQueue`; `read(into:at:)` takes from it. Reading forward
/// skips bytes; reading backward starts the member again from its beginning, so a pass over the member costs
/// one decompression and memory stays at a few chunks whatever the member's size.
public final class MemberReader: @unchecked Sendable {
    /// The archive's path.
    public let archivePath: String
    /// The member's path inside the archive.
    public let memberPath: String
    /// The member's uncompressed size as its header gives it; reads past it fail.
    public let size: Int
    private var queue: ChunkQueue?
    private var finished: DispatchSemaphore?
    private var position = 0
    private let lock = NSLock()

    /// Opens `memberPath` in the zip at `archivePath` for streaming.
    ///
    /// - Throws: `ZipStreamError` when the archive cannot be read or has no such member.
    public init(archivePath: String, memberPath: String) throws {
        self.archivePath = archivePath
        self.memberPath = memberPath
        let entry = try Self.entry(memberPath, in: archivePath).entry
        guard entry.uncompressedSize <= UInt64(Int.max) else {
            throw ZipStreamError(.corrupt, archivePath, "member \(memberPath) declares an impossible size")
        }
        size = Int(entry.uncompressedSize)
    }

    deinit { stop() }

    private static func entry(_ memberPath: String, in archivePath: String) throws -> (archive: Archive, entry: Entry) {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: archivePath), accessMode: .read)
        } catch {
            throw ZipStreamError(.unreadable, archivePath, "not a readable zip archive (\(error))", cause: error)
        }
        guard let entry = archive[memberPath] else {
            throw ZipStreamError(.noSuchMember, archivePath, "no member \(memberPath)")
        }
        return (archive, entry)
    }

    /// Fills `buffer` with the member's bytes from `offset` on.
    ///
    /// - Throws: `ZipStreamError` when the member ends first or cannot be decompressed.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        lock.lock()
        defer { lock.unlock() }
        precondition(offset >= 0, "negative offset")
        if offset < position || queue == nil { try restart() }
        guard let queue else { preconditionFailure("restart leaves a queue") }
        do {
            while position < offset {
                let skip = min(offset - position, 1 << 20)
                _ = try queue.take(skip)
                position += skip
            }
            let data = try queue.take(buffer.count)
            data.copyBytes(to: buffer)
            position += buffer.count
        } catch is ChunkQueue.Ended {
            stop()
            throw ZipStreamError(
                .truncated, archivePath, "member \(memberPath) ends before byte \(offset + buffer.count)")
        }
    }

    /// Starts decompressing from the member's first byte.
    private func restart() throws {
        stop()
        let (archive, entry) = try Self.entry(memberPath, in: archivePath)
        let queue = ChunkQueue(capacity: 4)
        let finished = DispatchSemaphore(value: 0)
        let job = Job(archive: archive, entry: entry, queue: queue, finished: finished)
        Thread { job.run() }.start()
        self.queue = queue
        self.finished = finished
        position = 0
    }

    /// Stops the reader thread and waits for it.
    private func stop() {
        guard let queue, let finished else { return }
        queue.close()
        finished.wait()
        self.queue = nil
        self.finished = nil
    }

    /// The extraction, run on its own thread; it owns its `Archive` while it runs.
    private final class Job: @unchecked Sendable {
        let archive: Archive
        let entry: Entry
        let queue: ChunkQueue
        let finished: DispatchSemaphore

        init(archive: Archive, entry: Entry, queue: ChunkQueue, finished: DispatchSemaphore) {
            self.archive = archive
            self.entry = entry
            self.queue = queue
            self.finished = finished
        }

        func run() {
            do {
                _ = try archive.extract(entry) { chunk in try queue.put(chunk) }
            } catch {
                // Closed by the consumer, or a corrupt member: either way the consumer sees the data end.
            }
            queue.finish()
            finished.signal()
        }
    }
}
