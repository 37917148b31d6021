/// Calibration data kprune cannot use: a missing file, an unreadable array, a shape or values that do not fit.
///
/// `message` says what is wrong and `hint` how to fix it, in the library's terms.
public struct DataError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable {
            case noSuchFile, notRegularFile, unknownFormat, memberRequired, memberNotAllowed, noSuchMember,
                notStoredInside,
                unsupportedType, malformed, truncated, readFailed, writeFailed, shapeMismatch, tooFewRows, invalidValues
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The named file does not exist (or is a directory).
        public static let noSuchFile = Code(.noSuchFile)
        /// The named path is not a regular file (a FIFO, a device, a socket, a directory): reading it could
        /// block for ever or never end.
        public static let notRegularFile = Code(.notRegularFile)
        /// The file is not an `.npy`, `.npz` or HDF5 file.
        public static let unknownFormat = Code(.unknownFormat)
        /// An `.npz` or HDF5 file was named without the array in it (`file.npz:NAME`, `file.h5:/PATH`).
        public static let memberRequired = Code(.memberRequired)
        /// An array inside an `.npy` file was named: it holds one array.
        public static let memberNotAllowed = Code(.memberNotAllowed)
        /// The named array is not in the file.
        public static let noSuchMember = Code(.noSuchMember)
        /// The array's elements are not stored inside the file (a link, external storage).
        public static let notStoredInside = Code(.notStoredInside)
        /// The elements are of a type that cannot be read as numbers (strings, structured arrays).
        public static let unsupportedType = Code(.unsupportedType)
        /// The file's header or records contradict themselves or claim impossible sizes (corrupt or crafted).
        public static let malformed = Code(.malformed)
        /// The file ends before the data its header promises.
        public static let truncated = Code(.truncated)
        /// Reading failed: a system call or a library refused.
        public static let readFailed = Code(.readFailed)
        /// Writing an array failed (the disk is full, the file went away).
        public static let writeFailed = Code(.writeFailed)
        /// The array's shape does not fit its use (a scalar, rows or columns that do not match).
        public static let shapeMismatch = Code(.shapeMismatch)
        /// Too few rows to use (fewer than two samples, none left for training).
        public static let tooFewRows = Code(.tooFewRows)
        /// Values that cannot be used as given (NaN or infinity, a label out of range); the default.
        public static let invalidValues = Code(.invalidValues)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The array concerned, as the user named it (`h.npz:features`).
    public var source: String
    /// What is wrong.
    public var message: String
    /// How to fix it, when there is something to suggest.
    public var hint: String?
    /// The underlying failure (libhdf5's or the zip reader's), when there is one.
    public var cause: (any Error)?

    /// An error of kind `code` about the array `source`.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - source: the array, as the user named it.
    ///   - message: what is wrong.
    ///   - hint: how to fix it.
    ///   - cause: the underlying failure.
    public init(_ code: Code, _ source: String, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.source = source
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// An error about the array `source`, of kind `code` (values that cannot be used, unless said).
    ///
    /// - Parameters:
    ///   - source: the array, as the user named it.
    ///   - message: what is wrong.
    ///   - hint: how to fix it.
    ///   - code: the kind of failure.
    ///   - cause: the underlying failure.
    public init(
        _ source: String, _ message: String, hint: String? = nil, code: Code = .invalidValues,
        cause: (any Error)? = nil
    ) {
        self.init(code, source, message, hint: hint, cause: cause)
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
