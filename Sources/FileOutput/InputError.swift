/// An input file that cannot be read: it cannot be opened, a read fails, or it changes while being read.
///
/// `message` says what went wrong and `hint` what to do, in the library's terms.
public struct InputError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable { case openFailed, readFailed, changed }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The input cannot be opened (missing, no permission).
        public static let openFailed = Code(.openFailed)
        /// Reading the input failed: a system call refused (an I/O error).
        public static let readFailed = Code(.readFailed)
        /// The input changed while it was read (it shrank).
        public static let changed = Code(.changed)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The input the error is about, as the user named it.
    public var path: String
    /// What went wrong.
    public var message: String
    /// How to fix it, when there is something to do.
    public var hint: String?
    /// The underlying failure (a library's error), when there is one.
    public var cause: (any Error)?

    /// An error of kind `code` about the input `path`.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - path: the input, as the user named it.
    ///   - message: what went wrong.
    ///   - hint: how to fix it.
    ///   - cause: the underlying failure.
    public init(_ code: Code, path: String, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
