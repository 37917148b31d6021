/// A pruning request that cannot be carried out on this kernel.
public struct PruningError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable {
            case invalidTarget, nonFinite, tooManyZeros, unsupportedType, notFineTunable, diverged
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// The sparsity or zero count does not fit the kernel.
        public static let invalidTarget = Code(.invalidTarget)
        /// The kernel holds NaN or infinity.
        public static let nonFinite = Code(.nonFinite)
        /// The kernel already has more zeros than the target; only a fine-tune with data can regrow weights.
        public static let tooManyZeros = Code(.tooManyZeros)
        /// The kernel's element type, its layer, or what follows the layer is of a kind kprune cannot handle.
        public static let unsupportedType = Code(.unsupportedType)
        /// The layer, its activation or a layer after it is of a kind the fine-tune cannot follow; pruning by
        /// magnitude alone still can.
        public static let notFineTunable = Code(.notFineTunable)
        /// The fine-tune ended with weights or a loss that are not finite numbers.
        public static let diverged = Code(.diverged)
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong, in the user's terms.
    public var message: String
    /// How to fix it, when there is something to suggest that names no command-line flag.
    public var hint: String?
    /// The failure underneath, when there is one.
    public var cause: (any Error)?

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
