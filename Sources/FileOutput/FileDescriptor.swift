import Foundation

/// An open file descriptor, closed when released.
public final class FileDescriptor {
    /// The descriptor.
    public let descriptor: Int32
    /// The file as messages name it: the path it was opened from, unless it was opened under another name
    /// (an output's temporary file is named by its destination).
    public let path: String
    /// Whether it was opened for writing; a failure is then the output's, else the input's.
    private let writable: Bool

    /// Opens `path` with `flags` (plus `O_CLOEXEC`). The corresponding C function is `open`.
    ///
    /// - Parameters:
    ///   - path: the file to open.
    ///   - flags: `O_RDONLY`, `O_RDWR`, ...
    ///   - name: the file as errors name it, when not `path`.
    /// - Throws: `InputError` naming the file when it cannot be opened for reading, `OutputError` when it
    ///   cannot be opened for writing.
    public init(path: String, flags: Int32, name: String? = nil) throws {
        let name = name ?? path
        writable = flags & O_ACCMODE != O_RDONLY
        let fd = open(path, flags | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = "cannot open: \(lastSystemError())"
            if writable { throw OutputError(.writeFailed, path: name, reason) }
            throw InputError(.openFailed, path: name, reason)
        }
        descriptor = fd
        self.path = name
    }

    /// Closes, reporting a failure (a deferred write error surfaces here). The corresponding C function is
    /// `close`.
    ///
    /// - Throws: `OutputError` for a descriptor opened for writing, `InputError` for one opened for reading.
    public func close() throws {
        // Closed at most once: deinit checks `closed`.
        guard !closed else { return }
        closed = true
        if Foundation.close(descriptor) != 0 {
            if !writable { throw InputError(.readFailed, path: path, "cannot close: \(lastSystemError())") }
            throw OutputError(
                .writeFailed, path: path, "cannot finish writing: \(lastSystemError())",
                hint: "is the disk full?")
        }
    }

    private var closed = false

    deinit { if !closed { Foundation.close(descriptor) } }
}
