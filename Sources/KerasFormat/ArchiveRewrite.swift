import FileOutput
import Foundation
import Glibc
import ZIPFoundation

/// The output side of a `.keras` input: the private staged copy of its `model.weights.h5`, and the writing of
/// the new archive from it.
///
/// The staged copy is this run's own file, in a staging directory removed when this object goes away: libhdf5
/// opens it by path, and a conversion rewrites it in place. `write(to:)` then builds the output archive with
/// every member of the input as it was read (name, order, compression, time), the weights taken from the
/// staged copy and every other member streamed from the input archive a bounded buffer at a time.
final class ArchiveRewrite {
    /// The input archive's path, as the user named it.
    let archivePath: String
    /// The input's members in stored order.
    let members: [ArchiveMember]
    /// The staged weights file, for libhdf5.
    let stagedWeights: String
    /// Keeps the staged copy alive; removing it on deinit.
    private let staging: StagingDirectory

    init(archivePath: String, members: [ArchiveMember], stagedWeights: String, staging: StagingDirectory) {
        self.archivePath = archivePath
        self.members = members
        self.stagedWeights = stagedWeights
        self.staging = staging
    }

    /// Writes the new archive into `output`'s reserved file, which must still be empty and unnamed or
    /// temporary; errors name `output.destination`. The same inputs give the same bytes.
    ///
    /// The reserved file (an unnamed one, reached as `/proc/self/fd/N`, where the file system allows) first
    /// becomes an empty archive, which the zip writer then opens for update by that path.
    /// - Throws: `KerasFormatError` when the input archive changed or its members are corrupt, `OutputError`
    ///   when the output cannot be written.
    func write(to output: AtomicOutput) throws {
        do {
            let source = try ArchiveContents.openArchive(
                archivePath,
                hint: "the .keras file may have changed while kprune ran")
            let entries = Array(source)
            guard entries.map(\.path) == members.map(\.name) else {
                throw KerasFormatError(
                    .malformed, file: archivePath, "the archive's members changed while kprune ran",
                    hint: "run again once the file is no longer being written")
            }
            try Self.writeEmptyArchive(at: output.temporaryPath, naming: output.destination)
            let archive = try Archive(url: URL(fileURLWithPath: output.temporaryPath), accessMode: .update)
            for (member, entry) in zip(members, entries) {
                let method: CompressionMethod = member.compressed ? .deflate : .none
                if member.name == ArchiveContents.weightsMember {
                    try addStagedWeights(as: member, method: method, to: archive)
                } else {
                    try MemberStream.copy(
                        member, from: source, entry: entry, archivePath: archivePath, to: archive,
                        method: method)
                }
            }
        } catch let error as KerasFormatError {
            throw error
        } catch {
            throw OutputError(
                .writeFailed, path: output.destination, "cannot write the archive: \(error)",
                cause: error)
        }
    }

    /// Adds the staged weights file as `member`, read a chunk at a time as the zip writer asks.
    private func addStagedWeights(as member: ArchiveMember, method: CompressionMethod, to archive: Archive) throws {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: stagedWeights))
        defer {
            do { try handle.close() } catch { /* opened for reading only: nothing to flush */  }
        }
        let size = try handle.seekToEnd()
        try archive.addEntry(
            with: member.name, type: .file, uncompressedSize: Int64(size),
            modificationDate: member.modified, compressionMethod: method
        ) { position, chunk in
            try handle.seek(toOffset: UInt64(position))
            return try handle.read(upToCount: chunk) ?? Data()
        }
    }

    /// Makes the file at `path` an empty zip archive: only the 22-byte end-of-central-directory record.
    private static func writeEmptyArchive(at path: String, naming destination: String) throws {
        var record = [UInt8](repeating: 0, count: 22)
        record[0...3] = [0x50, 0x4B, 0x05, 0x06]
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else {
            throw OutputError(.writeFailed, path: destination, "cannot open the output: \(lastSystemError())")
        }
        defer { close(fd) }
        let written = record.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == record.count else {
            throw OutputError(.writeFailed, path: destination, "cannot write the output: \(lastSystemError())")
        }
    }
}
