import Foundation

/// What a file's first bytes say it is.
enum FileKind {
    case hdf5, zip, other

    /// Reads the signature: `PK\u{3}\u{4}` for a zip, `\u{89}HDF\r\n\u{1a}\n` at offset 0 for HDF5 (files with a
    /// user block put it later; libhdf5 itself is asked then).
    static func sniff(_ path: String) throws -> FileKind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KerasFormatError(.notKeras, file: path, "no such file")
        }
        guard !isDirectory.boolValue else {
            throw KerasFormatError(.notKeras, file: path, "is a directory", hint: "name a Keras model file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw KerasFormatError(.notKeras, file: path, "cannot be read", hint: "check its permissions")
        }
        defer { handle.closeFile() }
        let head = [UInt8](handle.readData(ofLength: 8))
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .zip }
        if head == [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] { return .hdf5 }
        if head.isEmpty { return .other }
        return .other
    }
}
