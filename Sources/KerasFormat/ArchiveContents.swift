import Foundation
import ZIPFoundation

/// A `.keras` archive, read: its config and metadata, and the rewrite session holding its staged weights.
///
/// The weights are extracted into a private staging directory owned by `rewrite`. No other member is held
/// whole: `config.json` and `metadata.json` are read up to a size limit, and a rewritten archive streams every
/// other member from the input archive to the output, a bounded buffer at a time.
struct ArchiveContents {
    static let weightsMember = "model.weights.h5"
    static let configMember = "config.json"
    static let metadataMember = "metadata.json"
    /// The largest `config.json` read: Keras configs are kilobytes; a model of thousands of layers stays
    /// far below this.
    static let maximumConfigBytes = 64 << 20
    /// The largest `metadata.json` read; the rest is informative only.
    static let maximumMetadataBytes = 1 << 20

    let config: ModelConfig
    let kerasVersion: String?
    /// The members as read and the staged weights file, for writing the output.
    let rewrite: ArchiveRewrite

    /// Opens the `.keras` zip for reading; `hint` says what may have gone wrong.
    static func openArchive(_ path: String, hint: String) throws -> Archive {
        do {
            return try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw KerasFormatError(.malformed, file: path, "unreadable zip archive: \(error)", hint: hint, cause: error)
        }
    }

    /// Reads the archive at `path`: its config and metadata, and its weights extracted into a new staging
    /// directory in `directory` (the system's temporary directory when nil).
    ///
    /// - Throws: `KerasFormatError` when the archive is unreadable, lacks `config.json` or the weights, or its
    ///   config cannot be parsed; `.stagingFailed` when nothing can be staged in `directory`.
    static func extract(_ path: String, into directory: String?) throws -> ArchiveContents {
        let archive = try openArchive(path, hint: "the .keras file may be truncated")
        let staging = try StagingDirectory(in: directory, for: path)
        let weights = staging.file(named: weightsMember)
        let (members, texts) = try readMembers(of: archive, path: path, weightsTo: weights)
        guard members.contains(where: { $0.name == weightsMember }), let configText = texts[configMember] else {
            throw KerasFormatError(
                .notKeras, file: path, "zip archive without \(configMember) and \(weightsMember)",
                hint: "expected a .keras file written by Keras 3 model.save")
        }
        let config = try KerasModel.parseConfig(configText, file: path)
        let rewrite = ArchiveRewrite(archivePath: path, members: members, stagedWeights: weights, staging: staging)
        return ArchiveContents(
            config: config, kerasVersion: texts[metadataMember].flatMap(kerasVersion(inMetadata:)),
            rewrite: rewrite)
    }

    /// Lists the members in stored order, extracting the weights to `weightsPath` and reading `config.json`
    /// and `metadata.json` as text (each up to its limit).
    private static func readMembers(of archive: Archive, path: String, weightsTo weightsPath: String) throws
        -> (members: [ArchiveMember], texts: [String: String])
    {
        var members: [ArchiveMember] = []
        var texts: [String: String] = [:]
        do {
            for entry in archive {
                let modified = entry.fileAttributes[.modificationDate] as? Date ?? Date(timeIntervalSince1970: 0)
                members.append(ArchiveMember(name: entry.path, compressed: entry.isCompressed, modified: modified))
                if entry.path == weightsMember {
                    _ = try archive.extract(entry, to: URL(fileURLWithPath: weightsPath))
                } else if entry.path == configMember || entry.path == metadataMember {
                    let limit = entry.path == configMember ? maximumConfigBytes : maximumMetadataBytes
                    let bytes = try readBounded(entry, of: archive, path: path, limit: limit)
                    texts[entry.path] = String(decoding: bytes, as: UTF8.self)
                }
            }
        } catch let error as KerasFormatError {
            throw error
        } catch {
            throw KerasFormatError(
                .malformed, file: path, "cannot extract the archive: \(error)",
                hint: "the .keras file may be truncated or corrupt", cause: error)
        }
        return (members, texts)
    }

    /// `keras_version` from `metadata.json`; nil when it is absent or the metadata is not JSON, since the
    /// metadata is informative only.
    private static func kerasVersion(inMetadata text: String) -> String? {
        do {
            return try JSONValue.parse(text)["keras_version"]?.string
        } catch {
            return nil
        }
    }

    /// Reads a member whole, refusing one larger than `limit` (by its header, and by what it really holds).
    private static func readBounded(_ entry: Entry, of archive: Archive, path: String, limit: Int) throws -> Data {
        let tooLarge = KerasFormatError(
            .malformed, file: path, "\(entry.path) is larger than \(limit >> 20) MiB",
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
