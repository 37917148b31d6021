import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

@Suite struct ZeroTargetTests {
    @Test(arguments: [
        (0.8, 64, 51), (0.5, 5, 3), (0.25, 10, 3), (0.75, 10, 8), (0.0, 7, 0), (1.0, 7, 7), (0.95, 60, 57),
        (0.1, 15, 2),
    ])
    func roundsHalvesAwayFromZero(_ sparsity: Double, _ size: Int, _ expected: Int) throws {
        #expect(try ZeroTarget.sparsity(sparsity).count(forSize: size) == expected)
    }

    @Test(arguments: [-0.01, 1.01, Double.nan, Double.infinity])
    func refusesSparsityOutsideTheUnitInterval(_ sparsity: Double) {
        #expect(throws: PruningError.self) { try ZeroTarget.sparsity(sparsity).count(forSize: 10) }
    }

    @Test func takesExactCountsUpToTheKernelSize() throws {
        #expect(try ZeroTarget.zeros(10).count(forSize: 10) == 10)
        let error = try #require(throws: PruningError.self) { try ZeroTarget.zeros(11).count(forSize: 10) }
        #expect(error.code == .invalidTarget)
        #expect(error.message.contains("11"))
    }
}

@Suite struct SelectionTests {
    @Test(arguments: [1, 2, 3, 10, 101, 1000, 4096])
    func nthSmallestAgreesWithSorting(_ count: Int) {
        var random = SplitMix64(seed: UInt64(count))
        // Few distinct values, so duplicates are everywhere.
        let values = (0..<count).map { _ in Float(random.next() % 17) / 4 }
        let sorted = values.sorted()
        for index in Set([0, count / 3, count / 2, count - 1]) {
            var scratch = values
            #expect(MagnitudeSelector.nthSmallest(&scratch, index) == sorted[index])
        }
    }

    @Test func keyLoopsCountGatherAndPruneWithoutBranches() {
        let values: [Float] = [0, -0.0, 0.5, -0.25, 1, -2, .infinity, .nan, 0.75, -0.5]
        values.withUnsafeBufferPointer { buffer in
            let counts = KeyLoops.count(buffer, low: Float(0.5).magnitudeKey)
            #expect(counts.zeros == 2)
            #expect(counts.nonFinite == 2)
            #expect(counts.belowLow == 3)  // 0, -0, -0.25
            let keys = UnsafeMutablePointer<Int32>.allocate(capacity: values.count + 1)
            defer { keys.deallocate() }
            let end = KeyLoops.gather(
                buffer, low: Float(0.5).magnitudeKey, high: Float(1).magnitudeKey,
                into: keys, start: 0)
            #expect(
                Array(UnsafeBufferPointer(start: keys, count: end)).map { Float(magnitudeKey: $0) }
                    == [0.5, 1, 0.75, 0.5])
        }
        var pruned = values
        var marks = [Bool](repeating: false, count: values.count)
        let zeros = pruned.withUnsafeMutableBufferPointer { buffer in
            marks.withUnsafeMutableBufferPointer { KeyLoops.prune(buffer, below: Float(0.6).magnitudeKey, marking: $0) }
        }
        #expect(zeros == 5)
        #expect(pruned[1].sign == .minus, "an existing -0 keeps its bits")
        #expect(marks == [false, false, true, true, false, false, false, false, false, true])
        #expect(pruned[4] == 1 && pruned[8] == 0.75)
    }
}

@Suite struct PatternTests {
    /// Validation is one rule: `-0` is a negative sparsity, a negative count is refused, and both are
    /// refused by `count(forSize:)` as by `validate()`.
    @Test func validationIsOneRule() throws {
        for target in [ZeroTarget.sparsity(-0.0), .sparsity(-0.5), .sparsity(2), .zeros(-1)] {
            #expect(throws: PruningError.self) { try target.validate() }
            #expect(throws: PruningError.self) { try target.count(forSize: 100) }
        }
        try ZeroTarget.sparsity(0).validate()
        try ZeroTarget.zeros(0).validate()
    }

    /// `ExactCount`'s target follows the kernel's size whatever its shape, and its masks hold exactly the
    /// zeros asked for, the lowest scores pruned first.
    @Test(arguments: [[64], [16, 4], [3, 3, 2, 4]])
    func exactCountFitsAnyShape(_ shape: [Int]) throws {
        let pattern = ExactCount(.sparsity(0.75))
        let size = shape.reduce(1, *)
        let zeros = try pattern.targetZeros(shape: shape)
        #expect(zeros == Int((0.75 * Double(size)).rounded(.toNearestOrAwayFromZero)))
        let scores = (0..<size).map { Float(($0 * 29) % size) }
        let mask = pattern.keepMask(scores: scores, shape: shape, zeros: zeros)
        #expect(mask.filter { !$0 }.count == zeros)
        let keptLowest = zip(scores, mask).filter { $0.1 }.map(\.0).min() ?? .infinity
        let prunedHighest = zip(scores, mask).filter { !$0.1 }.map(\.0).max() ?? -.infinity
        #expect(prunedHighest <= keptLowest)
    }
}
