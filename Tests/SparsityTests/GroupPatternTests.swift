import Testing

@testable import Numerics
@testable import Sparsity

/// N:M and balanced patterns: the exact count, every group exact, the largest magnitudes kept in each group,
/// refusals naming what fits.
@Suite struct GroupPatternTests {
    /// Seeded values in [-1, 1), a few of them equal to test the tie rule.
    static func scores(_ count: Int, seed: UInt64 = 7) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(random.next() % 2001) / 1000 - 1 }
    }

    /// The groups of `shape` as lists of flat indices: M consecutive rows (inputs) of one column (unit).
    static func groups(_ shape: [Int], size: Int) -> [[Int]] {
        let units = shape[shape.count - 1], rows = shape.reduce(1, *) / units
        return (0..<(rows / size)).flatMap { group in
            (0..<units).map { unit in (0..<size).map { (group * size + $0) * units + unit } }
        }
    }

    /// Whether `kept` are the group's largest magnitudes, ties kept at the higher index.
    static func keepsTheLargest(_ scores: [Float], _ group: [Int], _ mask: [Bool], kept: Int) -> Bool {
        let ordered = group.sorted { (abs(scores[$0]), $0) > (abs(scores[$1]), $1) }
        return Set(ordered.prefix(kept)) == Set(group.filter { mask[$0] })
    }

    @Test(arguments: [[16, 10], [3, 3, 8, 4], [5, 12, 3]])
    func nOfMKeepsTheLargestInEveryGroup(_ shape: [Int]) throws {
        let pattern = try NMPattern(kept: 2, of: 4)
        let count = shape.reduce(1, *)
        let zeros = try pattern.targetZeros(shape: shape)
        #expect(zeros == count / 2)
        let scores = Self.scores(count)
        let mask = pattern.keepMask(scores: scores, shape: shape, zeros: zeros)
        #expect(mask.count { !$0 } == zeros)
        for group in Self.groups(shape, size: 4) {
            #expect(group.count { mask[$0] } == 2)
            #expect(Self.keepsTheLargest(scores, group, mask, kept: 2), "group \(group)")
        }
    }

    /// Equal magnitudes: the lowest indices are pruned first, as in unstructured pruning.
    @Test func tiesPruneTheLowestIndexFirst() throws {
        let pattern = try NMPattern(kept: 1, of: 4)
        let mask = pattern.keepMask(scores: [Float](repeating: 0.5, count: 8), shape: [4, 2], zeros: 6)
        // Column 0 is indices 0, 2, 4, 6; column 1 is 1, 3, 5, 7: each keeps its last.
        #expect(mask == [false, false, false, false, false, false, true, true])
    }

    /// On the way to the pattern (a gradual schedule), no group holds more zeros than M − N, and the count is
    /// exact.
    @Test func fewerZerosRespectThePattern() throws {
        let pattern = try NMPattern(kept: 1, of: 4)
        let shape = [32, 6]
        let scores = Self.scores(192, seed: 3)
        for zeros in [0, 1, 37, 100, 143] {
            let mask = pattern.keepMask(scores: scores, shape: shape, zeros: zeros)
            #expect(mask.count { !$0 } == zeros)
            for group in Self.groups(shape, size: 4) { #expect(group.count { !mask[$0] } <= 3) }
        }
    }

    @Test func refusesAFanInTheGroupDoesNotDivide() throws {
        let pattern = try NMPattern(kept: 2, of: 4)
        let error = try #require(throws: PruningError.self) { try pattern.targetZeros(shape: [10, 3]) }
        #expect(error.message == "the kernel's input axis has 10 weights, which is not a multiple of 4 (pattern 2:4)")
        #expect(error.hint == "M must divide 10: 2, 5, 10")
        #expect(throws: PruningError.self) { try NMPattern(kept: 5, of: 4) }
        #expect(throws: PruningError.self) { try NMPattern(kept: 1, of: 0) }
    }

    /// Every unit keeps round-half-away(fan-in × (1 − S)); `--zeros` must split evenly over the units.
    @Test func balancedKeepsTheSameCountInEveryUnit() throws {
        let shape = [64, 10]
        let pattern = BalancedPattern(.sparsity(0.8))
        // 64 × 0.2 = 12.8 kept → 13 per unit: 51 zeros each, 510 in all (unstructured 0.8 gives 512).
        #expect(try pattern.zerosPerUnit(shape: shape) == 51)
        #expect(try pattern.targetZeros(shape: shape) == 510)
        let scores = Self.scores(640, seed: 11)
        let mask = pattern.keepMask(scores: scores, shape: shape, zeros: 510)
        for unit in 0..<10 {
            let column = (0..<64).map { $0 * 10 + unit }
            #expect(column.count { mask[$0] } == 13)
            #expect(Self.keepsTheLargest(scores, column, mask, kept: 13))
        }
        #expect(try BalancedPattern(.zeros(500)).targetZeros(shape: shape) == 500)
        let uneven = try #require(throws: PruningError.self) {
            try BalancedPattern(.zeros(505)).targetZeros(shape: shape)
        }
        #expect(uneven.message == "505 zeros do not split evenly over 10 output units")
        #expect(uneven.hint == "give a multiple of 10, such as 500 or 510")
    }
}
