/// How a dataset's elements are laid out in the file.
public enum StorageLayout: Equatable, Sendable {
    case compact, contiguous
    /// Stored in chunks of these dimensions, each possibly filtered (compressed).
    case chunked([Int])
    case other
}
