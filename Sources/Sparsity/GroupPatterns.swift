/// Structured patterns over a kernel seen as a matrix: its rows are the layer's inputs (for a convolution, the
/// kernel positions and input channels, in the kernel's own order), its columns the output units. Both patterns
/// select within groups of one column, so every output unit keeps weights; magnitude (or score) decides inside
/// a group, the lowest index pruned first among ties, as `ExactCount` does.

/// `N:M`: in each output unit, N kept of every M consecutive weights along the input axis (a Dense kernel's M
/// consecutive rows of one column; a convolution's M consecutive input channels at one kernel position and
/// filter). `2:4` keeps 2 of 4: `keptPerGroup` 2, `zerosPerGroup` 2.
public struct NMPattern: SparsityPattern, Equatable {
    /// Weights kept in each group (N).
    public let keptPerGroup: Int
    /// Weights in each group (M).
    public let groupSize: Int

    /// Zeros in each group (M − N).
    public var zerosPerGroup: Int { groupSize - keptPerGroup }

    /// N of every M kept.
    /// - Throws: `PruningError` `.invalidTarget` unless 0 ≤ N ≤ M and 1 ≤ M ≤ 1024.
    public init(kept: Int, of group: Int) throws(PruningError) {
        guard (1...1024).contains(group), (0...group).contains(kept) else {
            throw PruningError(
                .invalidTarget, "the pattern \(kept):\(group) keeps N of every M with 0 ≤ N ≤ M ≤ 1024",
                hint: "give N:M such as 2:4")
        }
        keptPerGroup = kept
        groupSize = group
    }

    /// `(in/M)·(M−N)·(other dims)`: every group holds exactly M − N zeros.
    /// - Throws: `PruningError` `.invalidTarget` when the kernel has no input axis or its input axis is not a
    ///   multiple of M, naming the M values that divide it.
    public func targetZeros(shape: [Int]) throws(PruningError) -> Int {
        guard shape.count >= 2, let units = shape.last, units > 0 else {
            throw PruningError(
                .invalidTarget, "a kernel of shape \(shape) has no input axis for the pattern \(description)")
        }
        let inputs = shape[shape.count - 2]
        guard inputs % groupSize == 0 else {
            let divisors = (2...max(2, min(inputs, 64))).filter { inputs % $0 == 0 }
            throw PruningError(
                .invalidTarget,
                "the kernel's input axis has \(inputs) weights, which is not a multiple of \(groupSize) "
                    + "(pattern \(description))",
                hint: divisors.isEmpty
                    ? "\(inputs) has no divisor from 2 to 64: choose --pattern balanced"
                    : "M must divide \(inputs): \(divisors.map(String.init).joined(separator: ", "))")
        }
        let count = shape.reduce(1, *)
        return count / groupSize * zerosPerGroup
    }

    /// Per group, the weights that may be zero: its M − N lowest scores. With fewer zeros than the pattern's
    /// (a gradual schedule), those of the lowest scores among all groups' candidates.
    public func keepMask(scores: [Float], shape: [Int], zeros: Int) -> [Bool] {
        let units = max(shape.last ?? 1, 1)
        let rows = scores.count / units
        let groups = (0..<(rows / groupSize)).flatMap { group in
            (0..<units).map { column in
                (0..<groupSize).map { (group * groupSize + $0) * units + column }
            }
        }
        return GroupSelection.keepMask(
            scores: scores, groups: groups, zerosPerGroup: { _ in zerosPerGroup }, zeros: zeros)
    }

    /// The data-free result: magnitude within each group, from the kernel read whole. A group already holding
    /// more zeros than M − N is refused.
    public func dataFreeRewrite<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation, zeros: Int,
        path: String, progress: ProgressCounter?
    ) throws -> PlannedRewrite<T> {
        try GroupSelection.rewrite(store, shape: segmentation.shape, pattern: self, zeros: zeros, path: path)
    }

    /// `2:4 (2 kept of every 4 inputs)`.
    public var description: String { "\(keptPerGroup):\(groupSize)" }
}

/// Balanced: every output unit keeps exactly round-half-away(fan-in × (1 − S)) of its weights (for `--zeros Z`,
/// Z / units zeros each, Z a multiple of the units). The total may differ from `ExactCount`'s at the same
/// sparsity by up to half a weight per unit.
public struct BalancedPattern: SparsityPattern, Equatable {
    /// The sparsity or the total count asked for.
    public let target: ZeroTarget

    /// Balanced `target`.
    public init(_ target: ZeroTarget) { self.target = target }

    /// Zeros per output unit of a kernel of `shape`.
    /// - Throws: `PruningError` `.invalidTarget` for a target out of range, or a count that the units do not
    ///   divide.
    public func zerosPerUnit(shape: [Int]) throws(PruningError) -> Int {
        try target.validate()
        guard shape.count >= 2, let units = shape.last, units > 0 else {
            throw PruningError(.invalidTarget, "a kernel of shape \(shape) has no output units to balance")
        }
        let fanIn = shape.reduce(1, *) / units
        switch target {
        case .sparsity(let fraction):
            let kept = Int((Double(fanIn) * (1 - fraction)).rounded(.toNearestOrAwayFromZero))
            return fanIn - min(max(kept, 0), fanIn)
        case .zeros(let count):
            guard count <= fanIn * units else {
                throw PruningError(
                    .invalidTarget, "\(count) zeros exceed the kernel size \(fanIn * units)",
                    hint: "give a count from 0 to \(fanIn * units)")
            }
            guard count % units == 0 else {
                throw PruningError(
                    .invalidTarget, "\(count) zeros do not split evenly over \(units) output units",
                    hint:
                        "give a multiple of \(units), such as \(count / units * units) or \((count / units + 1) * units)"
                )
            }
            return count / units
        }
    }

    public func targetZeros(shape: [Int]) throws(PruningError) -> Int {
        try zerosPerUnit(shape: shape) * (shape.last ?? 0)
    }

    /// Per output unit, the weights that may be zero: its lowest scores, `zeros` / units of them (rounded up).
    /// At the pattern's count every unit loses exactly its share; with fewer zeros (a gradual schedule), those of
    /// the lowest scores among all units' candidates. The share follows `zeros`, not the pattern's target, so one
    /// pattern serves every count of a sweep.
    public func keepMask(scores: [Float], shape: [Int], zeros: Int) -> [Bool] {
        let units = max(shape.last ?? 1, 1)
        let rows = scores.count / units
        let perUnit = min((max(zeros, 0) + units - 1) / units, rows)
        let groups = (0..<units).map { column in (0..<rows).map { $0 * units + column } }
        return GroupSelection.keepMask(scores: scores, groups: groups, zerosPerGroup: { _ in perUnit }, zeros: zeros)
    }

    /// The data-free result: magnitude within each unit, from the kernel read whole.
    public func dataFreeRewrite<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation, zeros: Int,
        path: String, progress: ProgressCounter?
    ) throws -> PlannedRewrite<T> {
        try GroupSelection.rewrite(store, shape: segmentation.shape, pattern: self, zeros: zeros, path: path)
    }

    public var description: String {
        switch target {
        case .sparsity(let fraction): "balanced, \(fraction * 100)% zeros per output unit"
        case .zeros(let count): "balanced, \(count) zeros"
        }
    }
}

/// Selection within groups of indices, shared by the structured patterns.
enum GroupSelection {
    /// Keeps all but `zeros` weights: each group offers its `zerosPerGroup` lowest scores (by magnitude, the
    /// lowest index first among ties), and of all offered, the `zeros` lowest are pruned (same order). When
    /// `zeros` is every offered weight, each group loses exactly its share.
    static func keepMask(
        scores: [Float], groups: [[Int]], zerosPerGroup: (Int) -> Int, zeros: Int
    ) -> [Bool] {
        var mask = [Bool](repeating: true, count: scores.count)
        var offered: [(magnitude: Float, index: Int)] = []
        for (number, group) in groups.enumerated() {
            let share = min(zerosPerGroup(number), group.count)
            guard share > 0 else { continue }
            let ordered = group.sorted { (abs(scores[$0]), $0) < (abs(scores[$1]), $1) }
            offered += ordered.prefix(share).map { (abs(scores[$0]), $0) }
        }
        let pruned = min(max(zeros, 0), offered.count)
        if pruned == offered.count {
            for (_, index) in offered { mask[index] = false }
        } else {
            offered.sort { ($0.magnitude, $0.index) < ($1.magnitude, $1.index) }
            for (_, index) in offered.prefix(pruned) { mask[index] = false }
        }
        return mask
    }

    /// Reads the kernel whole, refuses non-finite values and groups already sparser than the pattern, and
    /// returns the rewrite zeroing what `pattern.keepMask` prunes.
    static func rewrite<T: KernelElement>(
        _ store: ElementStore<T>, shape: [Int], pattern: some SparsityPattern, zeros: Int, path: String
    ) throws -> PlannedRewrite<T> {
        let count = shape.reduce(1, *)
        var values = [T](repeating: .zero, count: count)
        try values.withUnsafeMutableBufferPointer { try store.read(0..<count, into: $0) }
        let floats = values.map { Float($0) }
        if let bad = floats.firstIndex(where: { !$0.isFinite }) {
            throw PruningError(.nonFinite, "\(path) holds NaN or infinity (element \(bad))")
        }
        let keep = pattern.keepMask(scores: floats, shape: shape, zeros: zeros)
        let zerosBefore = floats.count { $0 == 0 }
        // A weight already zero outside the pruned ones: its group holds more zeros than the pattern allows.
        if let extra = floats.indices.first(where: { floats[$0] == 0 && keep[$0] }) {
            throw PruningError(
                .tooManyZeros,
                "\(path) already holds more zeros than the pattern \(pattern) allows where element \(extra) lies",
                hint: "give calibration data (--data or --features) to regrow weights")
        }
        let rewrite = KernelRewrite<T>(concurrent: true) { _, range, buffer, newlyZero in
            var zeros = 0
            for (offset, index) in range.enumerated() {
                let pruned = !keep[index]
                if !newlyZero.isEmpty { newlyZero[offset] = pruned && buffer[offset] != .zero }
                if pruned { buffer[offset] = .zero }
                zeros += buffer[offset] == .zero ? 1 : 0
            }
            return zeros
        }
        return PlannedRewrite(rewrite: rewrite, zerosBefore: zerosBefore, passes: 1)
    }
}
