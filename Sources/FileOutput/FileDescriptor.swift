public import Foundation

/// An open file descriptor, closed when released.
public final class FileDescriptor {
    /// The descriptor.
    public let descriptor: Int32
    /// The path it was opened from, for messages.
    public let path: String

    /// Opens `path` with `flags` (plus `O_CLOEXEC`). The corresponding C function is `open`.
    /// - Throws: `OutputError` naming `path` when it cannot be opened.
    public init(path: String, flags: Int32) throws {
        let fd = open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError(path: path, "cannot open: \(lastSystemError())") }
        descriptor = fd
        self.path = path
    }

    /// Closes, reporting a failure (a deferred write error surfaces here).
    public func close() throws {
        // Closed at most once: deinit checks `closed`.
        guard !closed else { return }
        closed = true
        if Foundation.close(descriptor) != 0 {
            throw OutputError(path: path, "cannot finish writing: \(lastSystemError())", hint: "is the disk full?")
        }
    }

    private var closed = false

    deinit { if !closed { Foundation.close(descriptor) } }
}
