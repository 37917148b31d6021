/// A small seeded generator (SplitMix64), so that shuffles and splits repeat exactly for a seed, on every
/// platform and Swift release.
public struct SplitMix64: RandomNumberGenerator {
    @usableFromInline var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    @inlinable public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Shuffles `values` by Fisher-Yates with this generator (the standard library's shuffle may change
    /// between releases).
    @inlinable
    public mutating func shuffle<Element>(_ values: inout [Element]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            values.swapAt(i, j)
        }
    }
}
