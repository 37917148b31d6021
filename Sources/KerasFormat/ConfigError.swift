/// A model config kprune cannot follow.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable { case incomplete, tooDeep, invalidValue }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// Something every Keras config has is missing: a class name, a layer's name, a layer list, outputs.
        public static let incomplete = Code(.incomplete)
        /// Models nest deeper than `ModelConfig.maximumNesting`.
        public static let tooDeep = Code(.tooDeep)
        /// A value the config gives is outside what it may be: an index that is not a whole number in range.
        public static let invalidValue = Code(.invalidValue)
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong with the config.
    public var message: String

    /// An error of kind `code`.
    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
