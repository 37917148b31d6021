/// Text that is not JSON, even with Python's `NaN` and `Infinity`, or nested deeper than the parser follows.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable { case syntax, tooDeep }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The text stops following the JSON grammar.
        public static let syntax = Code(.syntax)
        /// Arrays and objects nest deeper than the parser follows (`JSONParser.maximumDepth` levels).
        public static let tooDeep = Code(.tooDeep)
    }

    /// What kind of failure this is.
    public var code: Code = .syntax
    /// The byte offset where parsing stopped.
    public var offset: Int
    /// What was expected there.
    public var expected: String

    /// `expected X at byte N`.
    public var description: String { "expected \(expected) at byte \(offset)" }
}
