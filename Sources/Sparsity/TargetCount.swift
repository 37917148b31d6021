import FileOutput
/// How many zeros the kernel must end with.
public enum ZeroTarget: Sendable, Equatable {
    /// A fraction of the kernel's elements, 0 ≤ F ≤ 1.
    case sparsity(Double)
    /// An exact count.
    case zeros(Int)

    /// Checks the target on its own: a sparsity must lie in [0, 1] (`-0` counts as negative), a count must
    /// not be negative.
    /// - Throws: `PruningError` `.invalidTarget` saying which.
    public func validate() throws(PruningError) {
        switch self {
        case .sparsity(let fraction):
            guard fraction.isFinite, (0...1).contains(fraction), fraction.sign == .plus else {
                throw PruningError(.invalidTarget, "sparsity \(fraction) is outside [0, 1]"
                                       + (fraction.sign == .minus ? ": it is negative" : ""),
                                   hint: "give a fraction such as 0.8")
            }
        case .zeros(let count):
            guard count >= 0 else {
                throw PruningError(.invalidTarget, "a count of \(count) zeros is negative")
            }
        }
    }

    /// The exact zero count for a kernel of `size` elements.
    ///
    /// A sparsity becomes `F × size` rounded to the nearest integer, halves away from zero (0.5 × 5 = 2.5 → 3).
    /// - Throws: `PruningError` when the target is not valid (`validate()`) or the count exceeds `size`.
    public func count(forSize size: Int) throws(PruningError) -> Int {
        try validate()
        switch self {
        case .sparsity(let fraction):
            return Int((fraction * Double(size)).rounded(.toNearestOrAwayFromZero))
        case .zeros(let count):
            guard count <= size else {
                throw PruningError(.invalidTarget, "\(count) zeros exceed the kernel size \(size)",
                                   hint: "give a count from 0 to \(size)")
            }
            return count
        }
    }
}

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

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
