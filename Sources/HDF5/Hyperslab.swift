/// A rectangular block of a dataset: `start ..< start + count` along each dimension.
public struct Hyperslab: Equatable, Sendable, CustomStringConvertible {
    /// The first index along each dimension.
    public var start: [Int]
    /// The extent along each dimension.
    public var count: [Int]

    /// A block from its corner and extents.
    public init(start: [Int], count: [Int]) {
        precondition(start.count == count.count, "hyperslab rank mismatch")
        self.start = start
        self.count = count
    }

    /// The number of elements in the block.
    public var elements: Int { count.reduce(1, *) }

    /// The corner and extents, for messages.
    public var description: String { "start \(start) count \(count)" }

    /// The fewest rectangular blocks that together hold the flat, row-major range `range` of an array of
    /// `shape`, in row-major order, so that block `i` fills the `i`-th contiguous part of a buffer holding the
    /// range.
    ///
    /// The range is cut at every boundary it does not fill: a partial line first, then whole lines up to
    /// the next plane, whole planes up to the next cube, and so on up to whole rows of the first dimension,
    /// then back down at the end. That is at most `2 × rank − 1` blocks; a range of whole first-dimension rows
    /// is one block. A scalar (rank 0) has one element and one block with no dimensions.
    ///
    /// - Precondition: `range` lies inside `0 ..< shape.product`.
    public static func blocks(covering range: Range<Int>, of shape: [Int]) -> [Hyperslab] {
        let total = shape.reduce(1, *)
        precondition(range.lowerBound >= 0 && range.upperBound <= total, "range \(range) outside \(total) elements")
        if range.isEmpty { return [] }
        if shape.isEmpty { return [Hyperslab(start: [], count: [])] }
        let rank = shape.count
        // unit[k]: the elements in one index of dimension k.
        var unit = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { unit[axis] = unit[axis + 1] * shape[axis + 1] }

        var blocks: [Hyperslab] = []
        var position = range.lowerBound
        func take(_ axis: Int, _ indices: Int) {
            guard indices > 0 else { return }
            var start = [Int](repeating: 0, count: rank)
            for dimension in 0...axis { start[dimension] = (position / unit[dimension]) % shape[dimension] }
            let count = [Int](repeating: 1, count: axis) + [indices] + shape[(axis + 1)...]
            blocks.append(Hyperslab(start: start, count: count))
            position += indices * unit[axis]
        }
        // Up: complete each level the start is inside, innermost first, while the range reaches its end.
        for axis in stride(from: rank - 1, to: 0, by: -1) {
            let outer = unit[axis - 1]
            guard position % outer != 0 else { continue }
            let end = (position / outer + 1) * outer
            if end > range.upperBound { break }
            take(axis, (end - position) / unit[axis])
        }
        // Down: as many whole indices of each level as remain, outermost first.
        for axis in 0..<rank { take(axis, (range.upperBound - position) / unit[axis]) }
        precondition(position == range.upperBound, "blocks end at \(position), range at \(range.upperBound)")
        return blocks
    }
}
