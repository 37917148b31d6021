import FileOutput
import HDF5

/// Where to cut: every non-zero weight of magnitude below `value` is pruned, and so are the first `ties`
/// weights of magnitude exactly `value` in row-major order. Ties are thereby broken by position, lowest
/// flat index first, so the same kernel always loses the same weights.
public struct Threshold<T: KernelElement>: Sendable, Equatable {
    /// The magnitude at the cut.
    public var value: T
    /// How many weights of exactly that magnitude are pruned, lowest flat index first.
    public var ties: Int
}

/// What the selection pass found, and the cut that reaches the target.
public struct MagnitudeSelection<T: KernelElement>: Sendable {
    /// Zeros in the kernel as read.
    public var zerosBefore: Int
    /// The cut; nil when the kernel already has exactly the target count.
    public var threshold: Threshold<T>?
    /// Full reads of the kernel the selection took (1 unless the histogram fallback ran).
    public var passes: Int
    /// How many of the tied weights each segment prunes, in segment order; nil when only a sequential
    /// pass in row-major order can tell (after the histogram fallback).
    public var tiesPerSegment: [Int]?
}

/// Finds the exact magnitude cut for a target zero count without holding a large kernel in memory.
///
/// Magnitudes are compared as integer keys (their bit patterns). Kernels of up to `Limits.inMemory` elements
/// have every non-zero key gathered in one pass. Larger ones are streamed: a sample of 256 short runs spread
/// over the kernel brackets the cut; one pass counts the keys below the bracket and gathers those inside it;
/// the exact cut is selected among the gathered. If the bracket misses, or gathers more than
/// `Limits.gather` keys, histograms of key bits narrow the cut exactly, 16 bits per pass.
public enum MagnitudeSelector {
    /// How the selection may use memory. The defaults keep a large kernel's selection under ~16 MiB.
    public struct Limits: Sendable {
        /// Kernels of up to this many elements are selected in memory, in one pass.
        public var inMemory: Int
        /// At most this many keys are gathered around the cut of a streamed kernel.
        public var gather: Int

        /// Limits of `inMemory` elements selected in one pass and `gather` keys gathered around a cut.
        public init(inMemory: Int = 1 << 22, gather: Int = 1 << 21) {
            self.inMemory = inMemory
            self.gather = gather
        }
    }

    /// Per-segment counts of the selection pass, and where its gathered keys sit in its worker's list.
    private struct SegmentScan {
        var zeros = 0
        var nonFinite = 0
        var below = 0
        var gathered: Range<Int> = 0..<0
        var worker = 0
    }

    /// Selects the cut that leaves exactly `target` zeros in the kernel `store` holds.
    /// - Parameters:
    ///   - path: the kernel's dataset path, for messages.
    ///   - limits: how much may be held in memory.
    ///   - workers: threads for the pass, when the store allows concurrent reads.
    ///   - progress: counts the segments read.
    /// - Throws: `PruningError` when the kernel holds NaN or infinity, or more zeros than `target`; store
    ///   errors.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func select<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation, target: Int,
        path: String, limits: Limits = Limits(), workers: Int = Workers.available,
        progress: ProgressCounter? = nil
    ) throws -> MagnitudeSelection<T> {
        let inMemory = segmentation.count <= limits.inMemory
        let (low, high) =
            inMemory
            ? (T.Key(1), T.infinityKey &- 1)
            : try bracket(store, segmentation: segmentation, target: target)
        let workerCount = store.allowsConcurrentIO ? workers : 1
        let perWorker = inMemory ? segmentation.count : limits.gather / workerCount
        // Each worker gathers into its own buffer, with room for one more segment than its limit.
        let capacity = min(perWorker, segmentation.count) + segmentation.maxSegment
        let keyBuffers = (0..<workerCount).map { _ in UnsafeMutablePointer<T.Key>.allocate(capacity: capacity) }
        defer { for buffer in keyBuffers { buffer.deallocate() } }
        let pass = try scan(
            store, segmentation: segmentation, keys: low...high, into: keyBuffers,
            perWorker: perWorker, progress: progress)
        let gathered = (0..<workerCount).map { UnsafeBufferPointer(start: keyBuffers[$0], count: pass.ends[$0]) }

        let zeros = pass.scans.reduce(0) { $0 + $1.zeros }
        let nonFinite = pass.scans.reduce(0) { $0 + $1.nonFinite }
        guard let rank = try rankToCut(zeros: zeros, nonFinite: nonFinite, target: target, path: path) else {
            return MagnitudeSelection(
                zerosBefore: zeros, threshold: nil, passes: 1,
                tiesPerSegment: [Int](repeating: 0, count: pass.scans.count))
        }
        let below = pass.scans.reduce(0) { $0 + $1.below }
        let gatheredCount = gathered.reduce(0) { $0 + $1.count }
        guard !pass.overflow.contains(true), rank > below, rank - below <= gatheredCount else {
            let (cut, ties, passes) = try refineByHistogram(store, segmentation: segmentation, rank: rank)
            return MagnitudeSelection(
                zerosBefore: zeros, threshold: Threshold(value: T(magnitudeKey: cut), ties: ties),
                passes: 1 + passes, tiesPerSegment: nil)
        }
        let (cut, ties, perSegment) = cutAmong(gathered, scans: pass.scans, local: rank - below)
        return MagnitudeSelection(
            zerosBefore: zeros, threshold: Threshold(value: T(magnitudeKey: cut), ties: ties),
            passes: 1, tiesPerSegment: perSegment)
    }

    /// The selection pass: each segment's counts, and the keys within `keys` gathered per worker (until a
    /// worker holds more than `perWorker`, which marks it as overflowing).
    private static func scan<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation,
        keys: ClosedRange<T.Key>, into keyBuffers: [UnsafeMutablePointer<T.Key>],
        perWorker: Int, progress: ProgressCounter?
    ) throws
        -> (scans: [SegmentScan], ends: [Int], overflow: [Bool])
    {
        let segments = segmentation.segments
        let workerCount = keyBuffers.count
        var scans = [SegmentScan](repeating: SegmentScan(), count: segments.count)
        var ends = [Int](repeating: 0, count: workerCount)
        var overflow = [Bool](repeating: false, count: workerCount)
        let buffers = (0..<workerCount).map { _ in
            UnsafeMutableBufferPointer<T>.allocate(capacity: segmentation.maxSegment)
        }
        defer { for buffer in buffers { buffer.deallocate() } }
        let (low, high) = (keys.lowerBound, keys.upperBound)
        try scans.withUnsafeMutableBufferPointer { scanBuffer in
            try ends.withUnsafeMutableBufferPointer { endBuffer in
                try overflow.withUnsafeMutableBufferPointer { overflowBuffer in
                    let shared = Shared((scanBuffer, endBuffer, overflowBuffer, buffers, keyBuffers, store))
                    try Workers.run(segments: segments.count, workers: workerCount) { worker, index in
                        let (scans, ends, overflow, buffers, keyBuffers, store) = shared.value
                        let range = segments[index]
                        let values = UnsafeMutableBufferPointer(rebasing: buffers[worker][0..<range.count])
                        try store.read(range, into: values)
                        let counts = KeyLoops.count(UnsafeBufferPointer(values), low: low)
                        var scan = SegmentScan(
                            zeros: counts.zeros, nonFinite: counts.nonFinite,
                            below: counts.belowLow - counts.zeros, worker: worker)
                        let start = ends[worker]
                        if !overflow[worker] {
                            let end = KeyLoops.gather(
                                UnsafeBufferPointer(values), low: low, high: high,
                                into: keyBuffers[worker], start: start)
                            if end > perWorker { overflow[worker] = true } else { ends[worker] = end }
                        }
                        scan.gathered = start..<ends[worker]
                        scans[index] = scan
                        progress?.step()
                    }
                }
            }
        }
        return (scans, ends, overflow)
    }

    /// The `local`-th smallest gathered key, how many keys equal to it are pruned, and how many of those each
    /// segment holds, handed out in row-major order (segment by segment, as many as each holds).
    private static func cutAmong<Key: FixedWidthInteger>(
        _ gathered: [UnsafeBufferPointer<Key>], scans: [SegmentScan],
        local: Int
    ) -> (cut: Key, ties: Int, perSegment: [Int]) {
        var candidates = [Key]()
        candidates.reserveCapacity(gathered.reduce(0) { $0 + $1.count })
        for keys in gathered { candidates.append(contentsOf: keys) }
        let cut = nthSmallest(&candidates, local - 1)
        let smaller = candidates.reduce(0) { $0 + ($1 < cut ? 1 : 0) }
        candidates = []
        var tiesLeft = local - smaller
        let ties = tiesLeft
        let perSegment = scans.map { scan -> Int in
            let available = gathered[scan.worker][scan.gathered].reduce(0) { $0 + ($1 == cut ? 1 : 0) }
            let taken = min(available, tiesLeft)
            tiesLeft -= taken
            return taken
        }
        precondition(tiesLeft == 0, "ties not all placed")
        return (cut, ties, perSegment)
    }

    /// Checks a scan's counts; returns the rank (1-based, among non-zero magnitudes) of the weight at the
    /// cut, or nil when nothing is to be pruned.
    public static func rankToCut(zeros: Int, nonFinite: Int, target: Int, path: String) throws -> Int? {
        try NonFinite.refuse(count: nonFinite, in: "the kernel \(path)")
        if zeros > target {
            throw PruningError(
                .tooManyZeros,
                "the kernel \(path) already has \(zeros) zeros, more than the target \(target)",
                hint: "regrowing weights needs calibration data; or ask for at least \(zeros) zeros")
        }
        return zeros == target ? nil : target - zeros
    }

    /// Brackets the cut's key from a sample of short runs spread evenly over the kernel's lines (along the
    /// last dimension): 2,048 runs of 128 where runs are cheap to read (direct stores), 256 runs of 1,024
    /// through libhdf5. Elements of one run share their row's scale, so the bracket counts the sample as
    /// worth an eighth (short runs) or a sixteenth (long runs) of its size, and spans four standard errors.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func bracket<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation,
        target: Int
    ) throws -> (T.Key, T.Key) {
        let cheapRuns = store.allowsConcurrentIO && !(store is HDF5Store<T>)
        let columns = segmentation.shape.last ?? 1
        let lines = segmentation.count / max(columns, 1)
        let runs = min(cheapRuns ? 2048 : 256, lines)
        let length = min(columns, cheapRuns ? 128 : 1024)
        let clustering = cheapRuns ? 8.0 : 16.0
        var sample: [T.Key] = []
        sample.reserveCapacity(runs * length)
        var buffer = [T](repeating: 0, count: length)
        for run in 0..<runs {
            let line = (run * lines) / runs + (lines / runs) / 2
            // A fixed, position-dependent column keeps the sample deterministic but not aligned.
            let column = columns > length ? (run &* 7919) % (columns - length + 1) : 0
            let start = line * columns + column
            try buffer.withUnsafeMutableBufferPointer { try store.read(start..<(start + length), into: $0) }
            for x in buffer { sample.append(x.magnitudeKey) }
        }
        let m = Double(sample.count)
        let q = Double(target) / Double(segmentation.count)
        let margin = 4 * (q * (1 - q) / (m / clustering)).squareRoot() + 0.001
        let lowIndex = Int(((q - margin) * m).rounded(.down))
        let highIndex = Int(((q + margin) * m).rounded(.up))
        let low = lowIndex <= 0 ? T.Key(1) : max(nthSmallest(&sample, min(lowIndex, sample.count - 1)), 1)
        let high = highIndex >= sample.count ? T.infinityKey &- 1 : nthSmallest(&sample, max(highIndex, 0))
        return (low, max(low, high))
    }

    /// Narrows the cut exactly by histograms of key bits, most significant 16 first: one read per 16 bits (2
    /// for float32, 4 for float64). Any number of equal magnitudes is handled: the last step ends on a single
    /// key, whose ties are counted, never gathered.
    private static func refineByHistogram<T: KernelElement>(
        _ store: ElementStore<T>, segmentation: Segmentation,
        rank: Int
    ) throws -> (T.Key, Int, Int) {
        var prefix: UInt64 = 0
        var shift = T.keyBits
        var smaller = 0
        var passes = 0
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: segmentation.maxSegment)
        defer { buffer.deallocate() }
        while shift > 0 {
            let width = min(16, shift)
            let next = shift - width
            let mask = (UInt64(1) << UInt64(width)) - 1
            var histogram = [Int](repeating: 0, count: 1 << width)
            var below = 0
            for range in segmentation.segments {
                let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<range.count])
                try store.read(range, into: values)
                for x in values {
                    let key = UInt64(x.magnitudeKey)
                    if key == 0 { continue }
                    let top = key >> UInt64(shift)
                    if top < prefix {
                        below += 1
                    } else if top == prefix {
                        histogram[Int((key >> UInt64(next)) & mask)] += 1
                    }
                }
            }
            passes += 1
            var cumulative = below
            var bin = 0
            while cumulative + histogram[bin] < rank {
                cumulative += histogram[bin]
                bin += 1
            }
            prefix = (prefix << UInt64(width)) | UInt64(bin)
            shift = next
            smaller = cumulative
        }
        return (T.Key(prefix), rank - smaller, passes)
    }

    /// The element that would stand at `index` were `values` sorted ascending; reorders `values`.
    /// Quickselect with median-of-three pivots; sorts the remaining range if it degenerates.
    static func nthSmallest<V: Comparable>(_ values: inout [V], _ index: Int) -> V {
        values.withUnsafeMutableBufferPointer { nthSmallest($0, index) }
    }

    static func nthSmallest<V: Comparable>(_ values: UnsafeMutableBufferPointer<V>, _ index: Int) -> V {
        precondition(values.indices.contains(index), "index outside the values")
        var low = 0
        var high = values.count - 1
        var budget = 2 * (Int.bitWidth - values.count.leadingZeroBitCount) + 8
        while high > low {
            if budget == 0 {
                var rest = UnsafeMutableBufferPointer(rebasing: values[low...high])
                rest.sort()
                return values[index]
            }
            budget -= 1
            let middle = low + (high - low) / 2
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low
            var j = high
            while i <= j {
                while values[i] < pivot { i &+= 1 }
                while pivot < values[j] { j &-= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i &+= 1
                    j &-= 1
                }
            }
            if index <= j {
                high = j
            } else if index >= i {
                low = i
            } else {
                return values[index]
            }
        }
        return values[index]
    }
}
