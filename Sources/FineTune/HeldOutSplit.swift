import Numerics
import Sparsity

/// Which calibration rows are held out to measure the fine-tune, the same whether the data is read whole or
/// streamed, so that the memory setting never changes the output.
///
/// Each row gets a hash of the seed and its number (distinct rows get distinct hashes: the hash is a
/// bijection of the row number). The rows with the `count` smallest hashes are held out, `count` being the
/// fraction times the rows rounded to nearest, at least 1 and at most all rows but one when the fraction is
/// positive. The cut is found in two passes over the hashes with a fixed-size histogram, so no per-row memory
/// is needed however many rows the data has.
package struct HeldOutSplit: Sendable {
    package let rows: Int
    package let seed: UInt64
    /// How many rows are held out.
    package let count: Int
    /// The largest hash held out; nil when none is.
    private let cut: UInt64?

    package init(rows: Int, fraction: Double, seed: UInt64) {
        self.rows = rows
        self.seed = seed
        var count = Int((fraction * Double(rows)).rounded())
        if fraction > 0, rows >= 2 { count = min(max(count, 1), rows - 1) }
        count = min(max(count, 0), max(rows - 1, 0))
        self.count = count
        cut = count == 0 ? nil : Self.kthSmallestHash(count, rows: rows, seed: seed)
    }

    /// Whether row `row` is held out.
    package func contains(_ row: Int) -> Bool {
        guard let cut else { return false }
        return Self.hash(row, seed: seed) <= cut
    }

    /// The `k`-th smallest hash (1-based) among rows `0..<rows`: a histogram of the top 16 bits finds its
    /// bin, then the hashes in that bin are gathered and sorted.
    private static func kthSmallestHash(_ k: Int, rows: Int, seed: UInt64) -> UInt64 {
        var bins = [Int](repeating: 0, count: 1 << 16)
        for row in 0..<rows { bins[Int(hash(row, seed: seed) >> 48)] += 1 }
        var before = 0
        var bin = 0
        while before + bins[bin] < k {
            before += bins[bin]
            bin += 1
        }
        var inBin: [UInt64] = []
        inBin.reserveCapacity(bins[bin])
        for row in 0..<rows {
            let value = hash(row, seed: seed)
            if Int(value >> 48) == bin { inBin.append(value) }
        }
        inBin.sort()
        return inBin[k - before - 1]
    }

    private static func hash(_ row: Int, seed: UInt64) -> UInt64 {
        var mix = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: row) &* 0xD1B5_4A32_D192_ED03))
        return mix.next()
    }
}
