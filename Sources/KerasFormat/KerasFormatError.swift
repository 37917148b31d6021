/// A Keras file kprune cannot work with, or a request that does not fit the file.
///
/// `message` says what is wrong, `hint` how to fix it in the library's terms; the CLI prints them as one line,
/// and may add to the hint by `code` (naming its own options, which the library does not know).
public struct KerasFormatError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable {
            case notKeras, unsupported, noSuchLayer, ambiguousLayer, noKernel, malformed, recurrentLayer, outputName,
                layerNameNotUnique, brokenFinalLayer, stagingFailed
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// An HDF5 or zip file without the structure of any Keras format.
        public static let notKeras = Code(.notKeras)
        /// A Keras file using something kprune does not handle (a dtype, a layout).
        public static let unsupported = Code(.unsupported)
        /// The requested layer name names no layer in the file.
        public static let noSuchLayer = Code(.noSuchLayer)
        /// The file does not say which layer is final (several outputs, merged branches, no config); the hint
        /// lists the layers with a kernel, one of which may be requested by name.
        public static let ambiguousLayer = Code(.ambiguousLayer)
        /// The requested layer has no kernel.
        public static let noKernel = Code(.noKernel)
        /// The file claims to be Keras but contradicts itself (missing weights, bad config).
        public static let malformed = Code(.malformed)
        /// The last weighted layer is recurrent, which is pruned only when requested by name; the hint lists
        /// the layers with a kernel.
        public static let recurrentLayer = Code(.recurrentLayer)
        /// The output's name does not fit the input's format.
        public static let outputName = Code(.outputName)
        /// The requested name is the own name of several nested layers; the hint lists their full paths.
        public static let layerNameNotUnique = Code(.layerNameNotUnique)
        /// The final layer's kernel is missing or unusable (the file may be damaged); the hint lists the other
        /// layers with a kernel, which may still be requested by name.
        public static let brokenFinalLayer = Code(.brokenFinalLayer)
        /// A `.keras` archive's weights cannot be staged: the staging directory cannot be created.
        public static let stagingFailed = Code(.stagingFailed)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The file concerned.
    public var file: String
    /// What is wrong.
    public var message: String
    /// How to fix it, when there is something to suggest.
    public var hint: String?
    /// The underlying failure (a zip library's or a system error), when there is one.
    public var cause: (any Error)?
    /// For an error about which layer to prune, the layers that may be asked for by name (full paths, in
    /// forward order): those with a kernel, or the layers sharing an ambiguous name; empty otherwise.
    public var candidates: [String]

    /// An error about `file`.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - file: the file concerned, as the user named it.
    ///   - message: what is wrong.
    ///   - hint: how to fix it, in the library's terms.
    ///   - cause: the underlying failure.
    ///   - candidates: for an error about which layer to prune, the layers that may be asked for by name.
    public init(
        _ code: Code, file: String, _ message: String, hint: String? = nil, cause: (any Error)? = nil,
        candidates: [String] = []
    ) {
        self.code = code
        self.file = file
        self.message = message
        self.hint = hint
        self.cause = cause
        self.candidates = candidates
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
