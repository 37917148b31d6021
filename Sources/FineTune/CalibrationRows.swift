package import ArrayIO
import Foundation
package import Numerics
import Sparsity

/// Calibration data taken a block of rows at a time. Streamed from its files (for data larger than memory,
/// memory use is bounded by a window of blocks whatever the number of rows), or with every block retained
/// in memory after its first read. Both give the same rows in the same order, so the memory setting never
/// changes the output.
///
/// - The held-out rows are chosen by a hash of the seed and the row number, so the split needs no memory.
/// - Each epoch visits the blocks in a shuffled order and shuffles the training rows within a window of
///   blocks (as a shuffle buffer does), so mini-batches mix rows from across the file.
/// - Targets are computed per block from the original kernel and bias, and the labels of the same rows.
/// - A first pass over the data checks every value (NaN, label range) before training starts, and takes the
///   inputs' scales.
package final class CalibrationRows: TrainingData {
    package let features: ArraySource
    package let labels: ArraySource?
    package let decoder: LabelDecoder?
    package let kernel: Tensor
    package let bias: [Float]
    package let activation: Activation
    /// How a sample's rows reach the model's output when the loss is taken there: each row of the features
    /// is then one sample's rows side by side, so that the split, shuffles and batches keep them together.
    package let group: RowGroup?
    package let split: HeldOutSplit
    /// Whether the columns are centred (the layer has a bias to absorb their means).
    package let centred: Bool
    /// Rows per block read.
    package let blockRows: Int
    /// Blocks per shuffle window.
    package let windowBlocks: Int
    /// Whether blocks are kept in memory once read, instead of read again from the files.
    package let retainsBlocks: Bool
    /// Whether blocks are read from the files on each pass (not retained).
    package var streamed: Bool { !retainsBlocks }
    private var rawBlocks: [Int: Block] = [:]
    private var trainingBlocks: [Int: (x: Tensor, targets: Tensor)] = [:]
    private var heldOutBlocks: [Int: HeldOutBlock] = [:]

    /// A block's rows as read: features, label targets and class ids, and the original layer's outputs
    /// when the survey computed them for a retained block.
    package typealias Block = (range: Range<Int>, x: Tensor, labels: Tensor?, classes: [Int]?, teacher: Tensor?)

    package private(set) var trainCount = 0
    package private(set) var heldOutCount = 0
    package private(set) var standardizer = Standardizer(sums: [], squares: [], count: 0, centred: false)

    /// The run's matrix products.
    package let blas: BLAS

    package var blocks: Int { (features.rows + blockRows - 1) / blockRows }

    /// - Parameter blockBytes: the size of a block of feature rows; a window holds 16 blocks.
    /// - Parameter retainsBlocks: keep every block in memory after its first read.
    package init(
        features: ArraySource, labels: ArraySource?, kernel: Tensor, bias: [Float], activation: Activation,
        validationSplit: Double, seed: UInt64, centred: Bool, retainsBlocks: Bool = false,
        blockBytes: Int = 4 << 20, group: RowGroup? = nil, blas: BLAS = BLAS(threads: Workers.available)
    ) throws {
        try Self.check(features: features, kernel: kernel, rowsPerSample: group?.rows ?? 1)
        self.group = group
        self.blas = blas
        self.retainsBlocks = retainsBlocks
        self.features = features
        self.labels = labels
        let outputs = group?.outputs(units: kernel.columns) ?? kernel.columns
        decoder = try labels.map {
            try LabelDecoder($0, samples: features.rows, units: outputs, activation: activation)
        }
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
        split = HeldOutSplit(rows: features.rows, fraction: validationSplit, seed: seed)
        self.centred = centred
        blockRows = max(1, min(features.rows, blockBytes / max(4 * features.columns, 1)))
        windowBlocks = 16
        try survey()
        if retainsBlocks {
            // Every block was kept by the survey: standardize once, then keep only what training uses.
            for index in 0..<blocks {
                trainingBlocks[index] = try readTrainingRows(of: index)
                heldOutBlocks[index] = try readHeldOutRows(of: index)
            }
            rawBlocks = [:]
        }
    }

    /// Rows moved into the standardized coordinates, in place; a sample's positions each as a row of their own.
    private func standardize(_ x: inout Tensor) {
        guard let group else { return standardizer.apply(&x) }
        var positions = group.positions(x)
        standardizer.apply(&positions)
        x = Tensor(rows: x.rows, columns: x.columns, values: positions.values)
    }

    /// The values per row the loss is taken on: the layer's units, or what a row group makes of them.
    private var outputColumns: Int { group?.outputs(units: kernel.columns) ?? kernel.columns }

    /// Whether row `row` is held out.
    package func isHeldOut(_ row: Int) -> Bool { split.contains(row) }

    /// Checks that `features` fit a layer with `kernel`; the error names the file.
    package static func check(features: ArraySource, kernel: Tensor, rowsPerSample: Int = 1) throws {
        guard features.columns == kernel.rows * rowsPerSample else {
            throw DataError(
                .shapeMismatch, features.name,
                "features have \(features.columns) columns but the layer takes \(kernel.rows) inputs",
                hint: "give the final layer's inputs, one row per sample")
        }
        guard features.rows >= 2 else { throw DataError(features.name, "at least two samples are needed") }
    }

    /// Reads rows `range` of the features, refusing NaN and infinity with the row's number.
    package static func read(_ features: ArraySource, rows range: Range<Int>) throws -> Tensor {
        var x = Tensor(zeros: range.count, features.columns)
        try x.values.withUnsafeMutableBufferPointer { try features.read(rows: range, into: $0) }
        if let bad = x.values.firstIndex(where: { !$0.isFinite }) {
            throw DataError(
                features.name, "features hold NaN or infinity (row \(range.lowerBound + bad / x.columns))",
                hint: "clean the calibration data")
        }
        return x
    }

    /// Refuses rows on which the original layer's outputs are not finite: they overflow float32.
    package static func checkTeacher(_ teacher: Tensor, firstRow: Int, features name: String) throws {
        if let bad = teacher.values.firstIndex(where: { !$0.isFinite }) {
            throw DataError(
                name,
                "the layer's outputs overflow on these features (row \(firstRow + bad / max(teacher.columns, 1)))",
                hint: "the features are far outside the range the model was trained on")
        }
    }

    /// Rows of block `index`: features, label targets and classes.
    private func read(block index: Int) throws -> Block {
        if let block = rawBlocks[index] { return block }
        return try read(rows: (index * blockRows)..<min(features.rows, (index + 1) * blockRows))
    }

    private func read(rows range: Range<Int>) throws -> Block {
        let x = try Self.read(features, rows: range)
        guard let labels, let decoder else { return (range, x, nil, nil, nil) }
        var values = [Float](repeating: 0, count: range.count * labels.columns)
        try values.withUnsafeMutableBufferPointer { try labels.read(rows: range, into: $0) }
        let decoded = try decoder.decode(values, firstRow: range.lowerBound)
        return (range, x, decoded.matrix, decoded.classes, nil)
    }

    /// The first pass: checks every row and the layer's outputs on it, counts the split and takes the
    /// training rows' moments.
    private func survey() throws {
        var sums = [Double](repeating: 0, count: kernel.rows)
        var squares = sums
        for index in 0..<blocks {
            var block = try read(block: index)
            let teacher = FineTune.targets(
                block.x, kernel: kernel, bias: bias, activation: activation,
                labels: nil, blas: blas, group: group
            ).teacher
            try Self.checkTeacher(teacher, firstRow: block.range.lowerBound, features: features.name)
            // A retained block keeps the outputs, which its targets are made from once the survey is done.
            if retainsBlocks {
                block.teacher = teacher
                rawBlocks[index] = block
            }
            let kept = (0..<block.range.count).filter { !isHeldOut(block.range.lowerBound + $0) }
            heldOutCount += block.range.count - kept.count
            trainCount += kept.count
            let rows = block.x.rows(kept)
            Standardizer.moments(group?.positions(rows) ?? rows, into: &sums, &squares)
        }
        guard trainCount > 0 else {
            throw DataError(
                .tooFewRows, features.name,
                "no training rows are left after holding out \(heldOutCount)")
        }
        standardizer = Standardizer(
            sums: sums, squares: squares, count: trainCount * (group?.rows ?? 1),
            centred: centred)
    }

    /// Training rows of a block with their targets.
    private func trainingRows(of block: Int) throws -> (x: Tensor, targets: Tensor) {
        if let rows = trainingBlocks[block] { return rows }
        return try readTrainingRows(of: block)
    }

    private func readTrainingRows(of block: Int) throws -> (x: Tensor, targets: Tensor) {
        let data = try read(block: block)
        let kept = (0..<data.range.count).filter { !isHeldOut(data.range.lowerBound + $0) }
        var x = data.x.rows(kept)
        let targets = targets(of: data, rows: kept)
        standardize(&x)
        return (x, targets.targets)
    }

    /// The targets and the original layer's outputs for rows `kept` of a block (the raw rows). The outputs
    /// are those of the whole block, the survey's when it kept them, so that retained and streamed blocks
    /// give the same numbers.
    private func targets(of data: Block, rows kept: [Int]) -> (targets: Tensor, teacher: Tensor) {
        let outputs =
            data.teacher
            ?? FineTune.targets(
                data.x, kernel: kernel, bias: bias, activation: activation,
                labels: nil, blas: blas, group: group
            ).teacher
        let teacher = outputs.rows(kept)
        return (mixedTargets(teacher: teacher, labels: data.labels?.rows(kept)), teacher)
    }

    package func sample(limit: Int, seed: UInt64) throws -> (x: Tensor, targets: Tensor) {
        // Every training row when there are no more than the limit; else rows drawn at random (seeded)
        // from the whole file, read one by one.
        var chosen: [Int] = []
        if trainCount <= limit {
            chosen = (0..<features.rows).filter { !isHeldOut($0) }
        } else {
            var random = SplitMix64(seed: seed)
            var seen = Set<Int>()
            while seen.count < limit {
                let row = Int(random.next() % UInt64(features.rows))
                if !isHeldOut(row) { seen.insert(row) }
            }
            chosen = seen.sorted()
        }
        var x = Tensor(zeros: chosen.count, features.columns)
        var labels: Tensor? = nil
        var start = 0
        while start < chosen.count {
            // Consecutive rows are read together.
            var end = start + 1
            while end < chosen.count, chosen[end] == chosen[end - 1] + 1 { end += 1 }
            let data = try read(rows: chosen[start]..<(chosen[end - 1] + 1))
            for offset in 0..<(end - start) {
                for i in 0..<x.columns { x[start + offset, i] = data.x[offset, i] }
            }
            if let block = data.labels {
                var gathered = labels ?? Tensor(zeros: chosen.count, block.columns)
                labels = nil  // the one reference left, so the rows are written in place
                for offset in 0..<(end - start) {
                    for j in 0..<block.columns { gathered[start + offset, j] = block[offset, j] }
                }
                labels = gathered
            }
            start = end
        }
        let targets = FineTune.targets(
            x, kernel: kernel, bias: bias, activation: activation, labels: labels,
            blas: blas, group: group)
        standardize(&x)
        return (x, targets.targets)
    }

    package func forEachBatch(
        epochs: Int, batchSize: Int, seed: UInt64, _ body: (Tensor, Tensor) -> Void,
        epochEnded: (Int) throws -> Void
    ) throws {
        var random = SplitMix64(seed: seed)
        var order = Array(0..<blocks)
        for epoch in 0..<epochs {
            random.shuffle(&order)
            // Rows carried over from the last window, so that every batch but an epoch's last is full.
            var carried: (x: Tensor, targets: Tensor)? = nil
            for windowStart in stride(from: 0, to: order.count, by: windowBlocks) {
                var poolX: [Float] = carried?.x.values ?? []
                var poolTargets: [Float] = carried?.targets.values ?? []
                for block in order[windowStart..<min(windowStart + windowBlocks, order.count)] {
                    let rows = try trainingRows(of: block)
                    poolX += rows.x.values
                    poolTargets += rows.targets.values
                }
                let pool = (
                    x: Tensor(rows: poolX.count / features.columns, columns: features.columns, values: poolX),
                    targets: Tensor(
                        rows: poolTargets.count / outputColumns, columns: outputColumns,
                        values: poolTargets)
                )
                var rows = Array(0..<pool.x.rows)
                random.shuffle(&rows)
                // The last full batch of the window waits: the epoch's leftover rows join it at the end.
                let full = rows.count / batchSize * batchSize
                let emitted = max(0, full - batchSize)
                for start in stride(from: 0, to: emitted, by: batchSize) {
                    let batch = Array(rows[start..<(start + batchSize)])
                    body(pool.x.rows(batch), pool.targets.rows(batch))
                }
                let rest = Array(rows[emitted...])
                carried = (pool.x.rows(rest), pool.targets.rows(rest))
            }
            // Carried rows are fewer than two batches: the last full batch with the part that did not fill one.
            if let carried, carried.x.rows > 0 { body(carried.x, carried.targets) }
            try epochEnded(epoch + 1)
        }
    }

    package func forEachHeldOut(_ body: (HeldOutBlock) -> Void) throws {
        guard heldOutCount > 0 else { return }
        for index in 0..<blocks {
            guard let block = try heldOutBlocks[index] ?? readHeldOutRows(of: index) else { continue }
            body(block)
        }
    }

    /// The held-out rows of a block with their targets, the teacher's outputs and the classes; nil when the
    /// block has none.
    private func readHeldOutRows(of index: Int) throws -> HeldOutBlock? {
        let data = try read(block: index)
        let kept = (0..<data.range.count).filter { isHeldOut(data.range.lowerBound + $0) }
        guard !kept.isEmpty else { return nil }
        var x = data.x.rows(kept)
        let (targets, teacher) = targets(of: data, rows: kept)
        standardize(&x)
        return HeldOutBlock(
            x: x, targets: targets, teacher: teacher, classes: data.classes.map { c in kept.map { c[$0] } })
    }
}
