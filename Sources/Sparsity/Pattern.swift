/// Which of a kernel's weights may end as zeros: the form of the sparsity asked for.
///
/// Today one pattern exists, `ExactCount`: an exact number of zeros anywhere in the kernel. A structured
/// pattern (N of every M weights along an axis) joins by conforming. Callers ask a pattern for the zeros a
/// kernel ends with, for the weights to keep given their scores, and for the data-free rewrite of a stored
/// kernel; none of them assumes where zeros may go.
public protocol SparsityPattern: Sendable, CustomStringConvertible {
    /// The zeros a kernel of `shape` (Keras order, row-major) holds under the pattern.
    /// - Throws: `PruningError` `.invalidTarget` when the pattern does not fit the kernel.
    func targetZeros(shape: [Int]) throws(PruningError) -> Int

    /// The weights to keep (true) so that exactly `zeros` of them are pruned, by score: higher scores are
    /// kept. `zeros` is `targetZeros(shape:)` for the final mask, and fewer on the way there (a gradual
    /// schedule); the mask respects the pattern as far as the count allows.
    /// - Precondition: `scores` has one entry per element of `shape`, and `0 <= zeros <= scores.count`.
    func keepMask(scores: [Float], shape: [Int], zeros: Int) -> [Bool]

    /// Reads the stored kernel from `store` (one pass, or a few for huge kernels) and returns the rewrite that
    /// gives it exactly `zeros` zeros by magnitude, without holding it in memory.
    /// - Parameters:
    ///   - path: the kernel's dataset path, for messages.
    ///   - progress: counts the segments read.
    /// - Throws: `PruningError` when the kernel holds NaN or infinity, or more zeros than `zeros`; store errors.
    func dataFreeRewrite<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation, zeros: Int,
        path: String, progress: ProgressCounter?
    ) throws -> PlannedRewrite<T>
}

/// A data-free rewrite and what choosing it found.
public struct PlannedRewrite<T: KernelElement> {
    /// The rewrite that applies the selection.
    public var rewrite: KernelRewrite<T>
    /// Zeros in the kernel as read.
    public var zerosBefore: Int
    /// Full reads of the kernel the selection took.
    public var passes: Int

    /// A planned rewrite.
    public init(rewrite: KernelRewrite<T>, zerosBefore: Int, passes: Int) {
        self.rewrite = rewrite
        self.zerosBefore = zerosBefore
        self.passes = passes
    }
}

/// An exact number of zeros anywhere in the kernel: the weights of smallest magnitude (or score) are pruned,
/// and among equal ones at the cut the lowest row-major indices first, so the same kernel always loses the
/// same weights.
public struct ExactCount: SparsityPattern, Equatable {
    /// How many zeros, as a fraction or a count.
    public let target: ZeroTarget

    /// The pattern of `target` zeros.
    public init(_ target: ZeroTarget) { self.target = target }

    /// `target`'s count for the kernel's size.
    public func targetZeros(shape: [Int]) throws(PruningError) -> Int {
        try target.count(forSize: shape.reduce(1, *))
    }

    /// The `scores.count - zeros` highest scores, in linear time: the cut is found by quickselect, then one
    /// pass keeps what lies above it and the last ties.
    public func keepMask(scores: [Float], shape: [Int], zeros: Int) -> [Bool] {
        precondition((0...scores.count).contains(zeros), "\(zeros) zeros of \(scores.count) weights")
        let keep = scores.count - zeros
        var mask = [Bool](repeating: false, count: scores.count)
        guard keep > 0 else { return mask }
        guard keep < scores.count else { return [Bool](repeating: true, count: scores.count) }
        var magnitudes = scores.map { abs($0) }
        // The keep-th largest is the (count - keep)-th smallest.
        let cut = MagnitudeSelector.nthSmallest(&magnitudes, zeros)
        scores.withUnsafeBufferPointer { scores in
            mask.withUnsafeMutableBufferPointer { mask in
                var ties = keep
                for index in 0..<scores.count where abs(scores[index]) > cut {
                    mask[index] = true
                    ties -= 1
                }
                for index in stride(from: scores.count - 1, through: 0, by: -1)
                where ties > 0 && abs(scores[index]) == cut {
                    mask[index] = true
                    ties -= 1
                }
            }
        }
        return mask
    }

    /// Selects the exact magnitude cut (`MagnitudeSelector`) and prunes below it (`MagnitudePruner`).
    public func dataFreeRewrite<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation, zeros: Int,
        path: String, progress: ProgressCounter?
    ) throws -> PlannedRewrite<T> {
        let selection = try MagnitudeSelector.select(
            store, segmentation: segmentation, target: zeros, path: path,
            progress: progress)
        return PlannedRewrite(
            rewrite: MagnitudePruner.rewrite(selection), zerosBefore: selection.zerosBefore,
            passes: selection.passes)
    }

    /// `80% zeros` or `1000 zeros`.
    public var description: String {
        switch target {
        case .sparsity(let fraction): "\(fraction * 100)% zeros"
        case .zeros(let count): "\(count) zeros"
        }
    }
}
