import FileOutput
import Foundation

/// What a file's first bytes say it is.
enum FileKind {
    case hdf5, zip, other

    /// The HDF5 format signature, `\u{89}HDF\r\n\u{1a}\n`.
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads the signature: `PK\u{3}\u{4}` at offset 0 for a zip; for HDF5, its signature at offset 0 or, in a
    /// file that carries a user block (made by `h5jam`, say), at the end of the block: 512, 1024, 2048, …
    /// bytes in, as the HDF5 format specifies for the superblock.
    static func sniff(_ path: String) throws -> FileKind {
        // Neither opens nor blocks: opening a FIFO would wait for a writer, a device would never end.
        switch FileType(at: path) {
        case nil: throw KerasFormatError(.notKeras, file: path, "no such file")
        case .regular?: break
        case .directory?:
            throw KerasFormatError(.notKeras, file: path, "is a directory", hint: "name a Keras model file")
        case let other?:
            throw KerasFormatError(
                .notKeras, file: path, "is \(other.described), not a regular file",
                hint: "name a Keras model file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw KerasFormatError(.notKeras, file: path, "cannot be read", hint: "check its permissions")
        }
        defer { handle.closeFile() }
        do {
            let head = try handle.read(upToCount: 8).map { [UInt8]($0) } ?? []
            if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .zip }
            if head == hdf5Signature { return .hdf5 }
            let size = try handle.seekToEnd()
            var offset: UInt64 = 512
            while offset + 8 <= size {
                try handle.seek(toOffset: offset)
                if try handle.read(upToCount: 8).map({ [UInt8]($0) }) == hdf5Signature { return .hdf5 }
                offset *= 2
            }
        } catch {
            throw KerasFormatError(.notKeras, file: path, "cannot be read: \(error.localizedDescription)", cause: error)
        }
        return .other
    }
}
