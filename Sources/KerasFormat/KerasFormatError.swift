/// A Keras file kprune cannot work with, or a request that does not fit the file.
///
/// `message` says what is wrong, `hint` how to fix the call; the CLI prints them as one line.
public struct KerasFormatError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable {
            case notKeras, unsupported, noSuchLayer, ambiguousLayer, noKernel, malformed, recurrentLayer, outputName
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// An HDF5 or zip file without the structure of any Keras format.
        public static let notKeras = Code(.notKeras)
        /// A Keras file using something kprune does not handle (a dtype, a layout).
        public static let unsupported = Code(.unsupported)
        /// `--layer` names no layer in the file.
        public static let noSuchLayer = Code(.noSuchLayer)
        /// The file does not say which layer is final (several outputs, no config).
        public static let ambiguousLayer = Code(.ambiguousLayer)
        /// The chosen layer has no kernel.
        public static let noKernel = Code(.noKernel)
        /// The file claims to be Keras but contradicts itself (missing weights, bad config).
        public static let malformed = Code(.malformed)
        /// The last weighted layer is recurrent, which is pruned only when named.
        public static let recurrentLayer = Code(.recurrentLayer)
        /// The output's name does not fit the input's format.
        public static let outputName = Code(.outputName)
    }

    public var code: Code
    /// The file concerned.
    public var file: String
    /// What is wrong.
    public var message: String
    /// How to fix the call, when there is something to suggest.
    public var hint: String?

    public init(_ code: Code, file: String, _ message: String, hint: String? = nil) {
        self.code = code
        self.file = file
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
