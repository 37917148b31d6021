import FileOutput
import HDF5

/// Applies a cut: zeroes the kernel's weights below it, and the first ties at it in row-major order.
public enum MagnitudePruner {
    /// The rewrite that applies `selection`'s cut, segment by segment.
    ///
    /// Segments can be rewritten concurrently when the selection knows how many ties each segment prunes;
    /// otherwise ties are consumed in row-major order by one worker.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func rewrite<T: KernelElement>(_ selection: MagnitudeSelection<T>) -> KernelRewrite<T> {
        let cut = selection.threshold?.value.magnitudeKey ?? 0
        let tiesPerSegment = selection.tiesPerSegment
        let sequential = TiesLeft(selection.threshold?.ties ?? 0)
        return KernelRewrite(concurrent: tiesPerSegment != nil) { index, _, values, newlyZero in
            let ties = tiesPerSegment?[index] ?? sequential.count
            let (used, zeros) = prune(values, below: cut, ties: ties, marking: newlyZero)
            if tiesPerSegment == nil { sequential.count -= used }
            return zeros
        }
    }

    /// Ties still to prune when segments go in row-major order on one worker.
    private final class TiesLeft {
        var count: Int
        init(_ count: Int) { self.count = count }
    }

    /// Zeroes every non-zero value whose key is below `cut`, then the first `ties` values whose key equals
    /// it; marks what it zeroed when `marking` is not empty.
    /// - Returns: how many ties it zeroed, and the zeros in `values` afterwards.
    @inline(__always)
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func prune<T: KernelElement>(
        _ values: UnsafeMutableBufferPointer<T>, below cut: T.Key, ties: Int,
        marking pruned: UnsafeMutableBufferPointer<Bool>
    ) -> (ties: Int, zeros: Int) {
        var zeros = KeyLoops.prune(values, below: cut, marking: pruned)
        guard ties > 0, cut > 0 else { return (0, zeros) }
        var left = ties
        for i in values.indices where values[i].magnitudeKey == cut {
            values[i] = 0
            if !pruned.isEmpty { pruned[i] = true }
            zeros += 1
            left -= 1
            if left == 0 { break }
        }
        return (ties - left, zeros)
    }

    /// Counts values equal to zero (of either sign).
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func countZeros<T: KernelElement>(_ values: UnsafeBufferPointer<T>) -> Int {
        KeyLoops.count(values, low: 1).zeros
    }
}
