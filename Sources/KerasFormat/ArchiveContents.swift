import Foundation
import ZIPFoundation

/// A `.keras` archive, read: its config, metadata and the extracted weights file.
///
/// The weights are extracted into a private staging directory removed when this object goes away; the
/// archive's other members are kept in memory (they are small JSON files) so a rewritten archive can carry
/// them unchanged.
final class ArchiveContents {
    static let weightsMember = "model.weights.h5"
    static let configMember = "config.json"
    static let metadataMember = "metadata.json"

    /// The archive's path.
    let path: String
    /// The member names in stored order, with their compression and modification time.
    let members: [Member]
    /// Every member but the weights, by name.
    let memberData: [String: Data]
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

    private init(path: String, members: [Member], memberData: [String: Data],
                 config: ModelConfig, kerasVersion: String?, weightsFile: String, stagingDirectory: URL)
    {
        self.path = path
        self.members = members
        self.memberData = memberData
        self.config = config
        self.kerasVersion = kerasVersion
        self.weightsFile = weightsFile
        self.stagingDirectory = stagingDirectory
    }

    deinit {
        do { try FileManager.default.removeItem(at: stagingDirectory) } catch { /* already gone */ }
        PendingFiles.shared.remove(weightsFile)
        PendingFiles.shared.remove(stagingDirectory.path)
    }

    static func extract(_ path: String, into directory: String?) throws -> ArchiveContents {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw KerasFormatError(.malformed, file: path, "unreadable zip archive: \(error)",
                                   hint: "the .keras file may be truncated")
        }
        let parent = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
        let staging = parent.appendingPathComponent(".kprune-\(UUID().uuidString).staging")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw KerasFormatError(.unsupported, file: path, "cannot create a staging directory in \(parent.path)",
                                   hint: "check that the directory exists and is writable")
        }
        // Registered so an interrupted run removes the staged copy too.
        PendingFiles.shared.add(staging.path)
        PendingFiles.shared.add(staging.appendingPathComponent(weightsMember).path)
        var result: ArchiveContents?
        defer {
            if result == nil {
                do { try FileManager.default.removeItem(at: staging) } catch { /* nothing was staged */ }
                PendingFiles.shared.remove(staging.appendingPathComponent(weightsMember).path)
                PendingFiles.shared.remove(staging.path)
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
                } else {
                    var bytes = Data()
                    _ = try archive.extract(entry) { bytes.append($0) }
                    data[entry.path] = bytes
                }
            }
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
        let contents = ArchiveContents(path: path, members: members, memberData: data, config: config,
                                       kerasVersion: version, weightsFile: weightsURL.path, stagingDirectory: staging)
        result = contents
        return contents
    }

    /// Writes an archive with the same members in the same order, compression and times, the weights taken
    /// from `weightsFile`, to `destination`. The same inputs give the same bytes.
    func write(to destination: String, weightsFile: String) throws {
        let url = URL(fileURLWithPath: destination)
        // The destination is a reserved, empty temporary file; the zip writer creates its own.
        unlink(destination)
        let archive = try Archive(url: url, accessMode: .create)
        for member in members {
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
                let bytes = memberData[member.name] ?? Data()
                try archive.addEntry(with: member.name, type: .file, uncompressedSize: Int64(bytes.count),
                                     modificationDate: member.modified, compressionMethod: method) { position, size in
                    bytes.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
        }
    }
}
