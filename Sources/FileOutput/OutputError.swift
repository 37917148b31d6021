/// An output that cannot be written where asked.
///
/// `message` says what went wrong and `hint` what to do, in the library's terms; the CLI prints them as one
/// line, and adds a hint by `code` where the remedy is one of its own options (which the library does not
/// know). Refusals whose only remedy is such an option (`.alreadyExists`: allow replacing) carry no hint.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable {
            case writeFailed, placeFailed, emptyName, namesDirectory, nameTooLong, existsAsDirectory, notRegularFile,
                alreadyExists, directoryMissing, directoryNotWritable, outputIsInput
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// Writing the content failed: a system call refused (disk full, file too large, I/O error).
        public static let writeFailed = Code(.writeFailed)
        /// The complete content could not be given its final name.
        public static let placeFailed = Code(.placeFailed)
        /// The output's name is empty.
        public static let emptyName = Code(.emptyName)
        /// The output's name names a directory (it ends in `/`, or is `.` or `..`), not a file.
        public static let namesDirectory = Code(.namesDirectory)
        /// The output's file name is longer than a file system takes (`OutputPath.nameMax` bytes).
        public static let nameTooLong = Code(.nameTooLong)
        /// A directory exists where the output would go.
        public static let existsAsDirectory = Code(.existsAsDirectory)
        /// Something other than a regular file or a directory (a device, a FIFO, a socket, a dangling link)
        /// exists where the output would go; it is never replaced.
        public static let notRegularFile = Code(.notRegularFile)
        /// A file exists where the output would go, and replacing it was not allowed.
        public static let alreadyExists = Code(.alreadyExists)
        /// The output's directory does not exist.
        public static let directoryMissing = Code(.directoryMissing)
        /// The output's directory cannot be written in.
        public static let directoryNotWritable = Code(.directoryNotWritable)
        /// The output is the input file itself, and replacing the input was not allowed.
        public static let outputIsInput = Code(.outputIsInput)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The output the error is about, as the user named it.
    public var path: String
    /// What went wrong.
    public var message: String
    /// How to fix it, when there is something to do.
    public var hint: String?
    /// The underlying failure (a library's error), when there is one.
    public var cause: (any Error)?

    /// An error of kind `code` about the output `path`.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - path: the output, as the user named it.
    ///   - message: what went wrong.
    ///   - hint: how to fix it, in the library's terms.
    ///   - cause: the underlying failure.
    public init(_ code: Code, path: String, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// An error about the output `path`, of kind `code` (a write failure unless said).
    ///
    /// - Parameters:
    ///   - path: the output, as the user named it.
    ///   - message: what went wrong.
    ///   - hint: how to fix it, in the library's terms.
    ///   - code: the kind of failure.
    ///   - cause: the underlying failure.
    public init(
        path: String, _ message: String, hint: String? = nil, code: Code = .writeFailed,
        cause: (any Error)? = nil
    ) {
        self.init(code, path: path, message, hint: hint, cause: cause)
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
