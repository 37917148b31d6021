import Foundation
import ZIPFoundation
import ZipStreaming

/// Copies one zip member from an archive being read to an archive being written, a bounded buffer at a time.
///
/// ZIPFoundation reads a member by pushing chunks to a consumer and writes one by pulling chunks from a
/// provider; a reader thread pushes into a small bounded queue that the writer pulls from, so memory stays at
/// a few chunks whatever the member's size and nothing is staged on disk.
enum MemberStream {
    /// Chunks queued between reader and writer.
    static let queuedChunks = 4

    static func copy(
        _ member: ArchiveMember, from source: Archive, entry: Entry, archivePath: String,
        to destination: Archive, method: CompressionMethod
    ) throws {
        let queue = ChunkQueue(capacity: queuedChunks)
        let reader = Reader(source: source, entry: entry, queue: queue)
        let thread = Thread { reader.run() }
        thread.start()
        var writeError: (any Error)?
        do {
            try destination.addEntry(
                with: member.name, type: .file, uncompressedSize: Int64(entry.uncompressedSize),
                modificationDate: member.modified, compressionMethod: method
            ) { _, size in
                try queue.take(size)
            }
        } catch {
            writeError = error
        }
        // Whatever the writer took, the reader is stopped and waited for before the archives are used again.
        queue.close()
        reader.finished.wait()
        let shortOrLong = KerasFormatError(
            .malformed, file: archivePath,
            "member \(member.name) does not hold the size its header says",
            hint: "the .keras file is corrupt or crafted")
        if let error = writeError {
            if error is ChunkQueue.Ended { throw shortOrLong }
            throw error
        }
        // A member longer than its header says leaves bytes the writer never took.
        if queue.hasLeftover { throw shortOrLong }
        switch reader.outcome {
        case .some(.failure(let error)) where error is ChunkQueue.Ended: throw shortOrLong
        case .some(.failure(let error)):
            throw KerasFormatError(
                .malformed, file: archivePath, "cannot read member \(member.name): \(error)",
                hint: "the .keras file may be truncated or corrupt", cause: error)
        default: return
        }
    }

    /// Runs the extraction on its own thread; its outcome is read after `finished` is signalled.
    private final class Reader: @unchecked Sendable {
        let source: Archive
        let entry: Entry
        let queue: ChunkQueue
        let finished = DispatchSemaphore(value: 0)
        var outcome: Result<Void, any Error>?

        init(source: Archive, entry: Entry, queue: ChunkQueue) {
            self.source = source
            self.entry = entry
            self.queue = queue
        }

        func run() {
            do {
                _ = try source.extract(entry) { chunk in try queue.put(chunk) }
                queue.finish()
                outcome = .success(())
            } catch {
                queue.finish()
                outcome = .failure(error)
            }
            finished.signal()
        }
    }
}
