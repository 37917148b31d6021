import FileOutput
import Foundation
import Glibc
import ZIPFoundation

/// A `.keras` archive, read: its config, metadata and the extracted weights file.
///
/// The weights are extracted into a private staging directory removed when this object goes away. No other
/// member is held whole: `config.json` and `metadata.json` are read up to a size limit, and a rewritten
/// archive streams every other member from the input archive to the output, a bounded buffer at a time.
final class ArchiveContents {
    static let weightsMember = "model.weights.h5"
    static let configMember = "config.json"
    static let metadataMember = "metadata.json"
    /// The largest `config.json` read: Keras configs are kilobytes; a model of thousands of layers stays
    /// far below this.
    static let maximumConfigBytes = 64 << 20
    /// The largest `metadata.json` read; the rest is informative only.
    static let maximumMetadataBytes = 1 << 20

    /// The archive's path.
    let path: String
    /// The member names in stored order, with their compression and modification time.
    let members: [Member]
    let config: ModelConfig
    let kerasVersion: String?
    /// The extracted weights file.
    let weightsFile: String
    private let stagingDirectory: URL

    struct Member {
        let name: String
        let compressed: Bool
        let modified: Date
    }

    private init(path: String, members: [Member],
                 config: ModelConfig, kerasVersion: String?, weightsFile: String, stagingDirectory: URL)
    {
        self.path = path
        self.members = members
        self.config = config
        self.kerasVersion = kerasVersion
        self.weightsFile = weightsFile
        self.stagingDirectory = stagingDirectory
    }

    deinit {
        do { try FileManager.default.removeItem(at: stagingDirectory) } catch { /* already gone */ }
        CleanupRegistry.shared.remove(weightsFile)
        CleanupRegistry.shared.remove(stagingDirectory.path)
    }

    /// Opens the `.keras` zip for reading; `hint` says what may have gone wrong.
    private static func openArchive(_ path: String, hint: String) throws -> Archive {
        do {
            return try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw KerasFormatError(.malformed, file: path, "unreadable zip archive: \(error)", hint: hint)
        }
    }

    static func extract(_ path: String, into directory: String?) throws -> ArchiveContents {
        let archive = try openArchive(path, hint: "the .keras file may be truncated")
        let parent = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
        let staging = parent.appendingPathComponent("\(TemporaryName.prefix)\(UUID().uuidString).staging")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw KerasFormatError(.unsupported, file: path, "cannot create a staging directory in \(parent.path)",
                                   hint: "check that the directory exists and is writable")
        }
        // Registered so an interrupted run removes the staged copy too.
        CleanupRegistry.shared.add(staging.path)
        CleanupRegistry.shared.add(staging.appendingPathComponent(weightsMember).path)
        var result: ArchiveContents?
        defer {
            if result == nil {
                do { try FileManager.default.removeItem(at: staging) } catch { /* nothing was staged */ }
                CleanupRegistry.shared.remove(staging.appendingPathComponent(weightsMember).path)
                CleanupRegistry.shared.remove(staging.path)
            }
        }

        var members: [Member] = []
        var data: [String: Data] = [:]
        let weightsURL = staging.appendingPathComponent(weightsMember)
        do {
            for entry in archive {
                let modified = entry.fileAttributes[.modificationDate] as? Date ?? Date(timeIntervalSince1970: 0)
                members.append(Member(name: entry.path, compressed: entry.isCompressed, modified: modified))
                if entry.path == weightsMember {
                    _ = try archive.extract(entry, to: weightsURL)
                } else if entry.path == configMember || entry.path == metadataMember {
                    data[entry.path] = try readBounded(entry, of: archive, path: path,
                                                       limit: entry.path == configMember ? maximumConfigBytes
                                                           : maximumMetadataBytes)
                }
            }
        } catch let error as KerasFormatError {
            throw error
        } catch {
            throw KerasFormatError(.malformed, file: path, "cannot extract the archive: \(error)",
                                   hint: "the .keras file may be truncated or corrupt")
        }
        guard members.contains(where: { $0.name == weightsMember }), let configData = data[configMember] else {
            throw KerasFormatError(.notKeras, file: path, "zip archive without \(configMember) and \(weightsMember)",
                                   hint: "expected a .keras file written by Keras 3 model.save")
        }
        let config = try KerasModel.parseConfig(String(decoding: configData, as: UTF8.self), file: path)
        var version: String?
        if let metadata = data[metadataMember] {
            do {
                version = try JSONValue.parse(String(decoding: metadata, as: UTF8.self))["keras_version"]?.string
            } catch {
                version = nil  // metadata is informative only; the version stays unknown
            }
        }
        let contents = ArchiveContents(path: path, members: members, config: config,
                                       kerasVersion: version, weightsFile: weightsURL.path, stagingDirectory: staging)
        result = contents
        return contents
    }

    /// Writes an archive with the same members in the same order, compression and times, the weights taken
    /// from `weightsFile`, to `destination`. The same inputs give the same bytes.
    func write(to destination: String, weightsFile: String) throws {
        let url = URL(fileURLWithPath: destination)
        let source = try ArchiveContents.openArchive(path, hint: "the .keras file may have changed while kprune ran")
        let entries = Array(source)
        guard entries.map(\.path) == members.map(\.name) else {
            throw KerasFormatError(.malformed, file: path, "the archive's members changed while kprune ran",
                                   hint: "run again once the file is no longer being written")
        }
        // The destination is a reserved file (an unnamed one, reached as /proc/self/fd/N, where the file system
        // allows): it becomes an empty archive, which the zip writer then opens for update by that path.
        try ArchiveContents.writeEmptyArchive(at: destination)
        let archive = try Archive(url: url, accessMode: .update)
        for (index, member) in members.enumerated() {
            let method: CompressionMethod = member.compressed ? .deflate : .none
            if member.name == ArchiveContents.weightsMember {
                let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: weightsFile))
                defer { handle.closeFile() }
                let size = Int64(handle.seekToEndOfFile())
                try archive.addEntry(with: member.name, type: .file, uncompressedSize: size,
                                     modificationDate: member.modified, compressionMethod: method) { position, chunk in
                    handle.seek(toFileOffset: UInt64(position))
                    return handle.readData(ofLength: chunk)
                }
            } else {
                try MemberStream.copy(member, from: source, entry: entries[index], archivePath: path, to: archive,
                                      method: method)
            }
        }
    }

    /// Makes the file at `path` an empty zip archive: only the 22-byte end-of-central-directory record.
    private static func writeEmptyArchive(at path: String) throws {
        var record = [UInt8](repeating: 0, count: 22)
        record[0...3] = [0x50, 0x4B, 0x05, 0x06]
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError(path: path, "cannot open the output: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = record.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == record.count else {
            throw OutputError(path: path, "cannot write the output: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a member whole, refusing one larger than `limit` (by its header, and by what it really holds).
    private static func readBounded(_ entry: Entry, of archive: Archive, path: String, limit: Int) throws -> Data {
        let tooLarge = KerasFormatError(.malformed, file: path, "\(entry.path) is larger than \(limit >> 20) MiB",
                                        hint: "Keras writes it in kilobytes; the archive is corrupt or crafted")
        guard entry.uncompressedSize <= UInt64(limit) else { throw tooLarge }
        var bytes = Data()
        _ = try archive.extract(entry) { chunk in
            guard bytes.count + chunk.count <= limit else { throw tooLarge }
            bytes.append(chunk)
        }
        return bytes
    }
}
