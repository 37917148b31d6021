/// A model kprune cannot run, or inputs that do not fit it.
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable { case unsupportedLayer, unsupportedConfig, noConfig, shapeMismatch }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// A layer class the forward pass does not implement (a custom layer, a Lambda, one not yet covered).
        public static let unsupportedLayer = Code(.unsupportedLayer)
        /// A known layer with a setting the forward pass does not implement.
        public static let unsupportedConfig = Code(.unsupportedConfig)
        /// The file has no model config (a weights-only file): the graph is unknown.
        public static let noConfig = Code(.noConfig)
        /// Inputs or weights whose shapes do not fit the layer.
        public static let shapeMismatch = Code(.shapeMismatch)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The layer concerned, when there is one.
    public var layer: String?
    /// What is wrong, in the user's terms.
    public var message: String
    /// The failure underneath, when there is one.
    public var cause: (any Error)?

    /// An error of kind `code` about `layer`.
    public init(_ code: Code, layer: String? = nil, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.layer = layer
        self.message = message
        self.cause = cause
    }

    /// The message.
    public var description: String { message }
}
