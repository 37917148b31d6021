/// How a dataset's elements are laid out in the file.
public enum StorageLayout: Equatable, Sendable {
    /// Stored in the object header (small datasets).
    case compact
    /// Stored as one block of bytes in the file.
    case contiguous
    /// Stored in chunks of these dimensions, each possibly filtered (compressed).
    case chunked([Int])
    /// Any other layout (virtual).
    case other
}
