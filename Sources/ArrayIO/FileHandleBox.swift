import Foundation

/// An open file, closed when the last reader lets go.
final class FileHandleBox: @unchecked Sendable {
    let descriptor: Int32

    /// Opens `path` for reading.
    ///
    /// - Parameter name: the array as the user named it, for errors.
    /// - Throws: `DataError` `.readFailed` when the file cannot be opened.
    init(path: String, name: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DataError(.readFailed, name, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }
}
