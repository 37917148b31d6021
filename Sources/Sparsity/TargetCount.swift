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
                throw PruningError(
                    .invalidTarget,
                    "sparsity \(fraction) is outside [0, 1]"
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
                throw PruningError(
                    .invalidTarget, "\(count) zeros exceed the kernel size \(size)",
                    hint: "give a count from 0 to \(size)")
            }
            return count
        }
    }
}
