internal import CHDF5

/// Owns one libhdf5 identifier and releases it exactly once.
///
/// Handles are not `Sendable`: libhdf5 identifiers belong to the code that opened them. `deinit` closes as a
/// fallback; code that must see a close failure (a file opened for writing) calls `close()`.
final class Handle {
    let id: hid_t
    private let closer: (hid_t) -> herr_t
    private let closeName: String
    private(set) var isOpen = true

    init(_ id: hid_t, closeName: String, closer: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.closer = closer
        self.closeName = closeName
    }

    /// Closes the identifier, throwing libhdf5's reason, about `object` in `file`, if it fails.
    func close(in file: File, object: String?) throws {
        guard isOpen else { return }
        Library.ensureInitialized()
        isOpen = false
        if closer(id) < 0 { throw file.error(.closeFailed, closeName, object: object) }
    }

    deinit {
        if isOpen {
            Library.ensureInitialized()
            // A failure here has no caller to report to; clear the stack so it does not leak into the next error.
            if closer(id) < 0 { _ = takeErrorStack() }
        }
    }
}
