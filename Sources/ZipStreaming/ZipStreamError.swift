/// A zip archive that cannot be streamed from: unreadable, missing the member, or inconsistent.
public struct ZipStreamError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable { case unreadable, noSuchMember, corrupt, truncated }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The file cannot be read, or is not a zip archive.
        public static let unreadable = Code(.unreadable)
        /// The archive has no member of that name.
        public static let noSuchMember = Code(.noSuchMember)
        /// The archive's records contradict themselves or point outside the file.
        public static let corrupt = Code(.corrupt)
        /// A member ends before the size its header gives.
        public static let truncated = Code(.truncated)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The archive concerned.
    public var archive: String
    /// What is wrong.
    public var message: String
    /// The underlying failure (the zip library's), when there is one.
    public var cause: (any Error)?

    /// An error of kind `code` about `archive`.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - archive: the archive's path.
    ///   - message: what is wrong.
    ///   - cause: the underlying failure.
    public init(_ code: Code, _ archive: String, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.archive = archive
        self.message = message
        self.cause = cause
    }

    /// The message.
    public var description: String { message }
}
