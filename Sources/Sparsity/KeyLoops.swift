import FileOutput

/// The per-element loops of both passes, written without branches so the compiler vectorizes them.
///
/// Keys are non-negative signed integers, so `(a &- b) >> (bitWidth - 1)` is -1 when `a < b` and 0
/// otherwise; counts subtract those masks and selections AND them.
package enum KeyLoops {
    /// Counts of one segment: zeros, NaN or infinite values, and keys below `low` (zeros included).
    package struct Counts {
        package var zeros = 0
        package var nonFinite = 0
        package var belowLow = 0
    }

    @inline(__always)
    package static func count<T: KernelElement>(_ values: UnsafeBufferPointer<T>, low: T.Key) -> Counts {
        let shift = T.Key(T.Key.bitWidth - 1)
        let largestFinite = T.infinityKey &- 1
        var zeros: T.Key = 0
        var nonFinite: T.Key = 0
        var belowLow: T.Key = 0
        for x in values {
            let key = x.magnitudeKey
            zeros &-= (key &- 1) &>> shift
            nonFinite &-= (largestFinite &- key) &>> shift
            belowLow &-= (key &- low) &>> shift
        }
        return Counts(zeros: Int(zeros), nonFinite: Int(nonFinite), belowLow: Int(belowLow))
    }

    /// Appends the keys in [low, high] to `into` from index `start`; `into` must have room for every value.
    /// - Returns: the new end index.
    @inline(__always)
    package static func gather<T: KernelElement>(
        _ values: UnsafeBufferPointer<T>, low: T.Key, high: T.Key,
        into keys: UnsafeMutablePointer<T.Key>, start: Int
    ) -> Int {
        let shift = T.Key(T.Key.bitWidth - 1)
        var end = start
        for x in values {
            let key = x.magnitudeKey
            keys[end] = key
            end &+= Int(1 &+ (((key &- low) | (high &- key)) &>> shift))
        }
        return end
    }

    /// Zeroes every value whose key is in (0, cut); existing zeros keep their sign bit. Marks what it zeroed
    /// when `marking` is not empty. Works on the values' bit patterns (a key has the value's width), so
    /// zeroing is an AND with a mask.
    /// - Returns: the zeros in `values` afterwards.
    @inline(__always)
    package static func prune<T: KernelElement>(
        _ values: UnsafeMutableBufferPointer<T>, below cut: T.Key,
        marking pruned: UnsafeMutableBufferPointer<Bool>
    ) -> Int {
        precondition(MemoryLayout<T>.stride == MemoryLayout<T.Key>.stride, "keys must be as wide as values")
        let shift = T.Key(T.Key.bitWidth - 1)
        let limit = cut &- 1
        var zeros: T.Key = 0
        values.withMemoryRebound(to: T.Key.self) { bits in
            if pruned.isEmpty {
                for i in bits.indices {
                    let key = bits[i] & T.Key.max
                    let isZero = (key &- 1) &>> shift
                    let hit = ((key &- 1) &- limit) &>> shift & ~isZero
                    bits[i] &= ~hit
                    zeros &-= hit | isZero
                }
            } else {
                for i in bits.indices {
                    let key = bits[i] & T.Key.max
                    let isZero = (key &- 1) &>> shift
                    let hit = ((key &- 1) &- limit) &>> shift & ~isZero
                    bits[i] &= ~hit
                    pruned[i] = hit != 0
                    zeros &-= hit | isZero
                }
            }
        }
        return Int(zeros)
    }
}
