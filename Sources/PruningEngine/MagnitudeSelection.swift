import Dispatch
import HDF5

/// Where to cut: every non-zero weight of magnitude below `value` is pruned, and so are the first `ties`
/// weights of magnitude exactly `value` in row-major order. Ties are thereby broken by position, lowest
/// flat index first, so the same kernel always loses the same weights.
public struct Threshold<T: KernelElement>: Sendable, Equatable {
    public var value: T
    public var ties: Int
}

/// What a read of the kernel found, and the cut that reaches the target.
public struct MagnitudeSelection<T: KernelElement>: Sendable {
    /// Zeros in the kernel as read.
    public var zerosBefore: Int
    /// The cut; nil when the kernel already has exactly the target count.
    public var threshold: Threshold<T>?
    /// Full reads of the kernel the selection took (1 when the sample's bracket held).
    public var passes: Int
}

/// Finds the exact magnitude threshold for a target zero count without holding a large kernel in memory.
///
/// Kernels of up to `Limits.inMemory` elements are read once and selected in memory. Larger ones are streamed:
/// a small sample (spread segments of rows) brackets the threshold's magnitude; one pass counts the weights
/// below the bracket and gathers those inside it; the exact cut is selected among the gathered. If the
/// bracket misses, or gathers more than `Limits.gather`, a histogram over magnitude bits narrows the cut
/// exactly, 16 bits per pass.
enum MagnitudeSelector {
    /// How the selection may use memory. The defaults keep a large kernel's selection under ~16 MiB.
    struct Limits: Sendable {
        /// Kernels of at most this many elements are selected in memory.
        var inMemory = 1 << 22
        /// At most this many magnitudes are gathered inside the bracket before falling back to histograms.
        var gather = 1 << 21
    }

    static func select<T: KernelElement>(_ dataset: Dataset, stream: KernelStream, target: Int, as type: T.Type,
                                         limits: Limits = Limits()) throws -> MagnitudeSelection<T>
    {
        if stream.count <= limits.inMemory {
            return try selectInMemory(dataset, stream: stream, target: target, as: type)
        }
        return try selectStreaming(dataset, stream: stream, target: target, as: type, gatherLimit: limits.gather)
    }

    /// Validates the counts of a scan and returns the rank (1-based, among non-zero magnitudes) of the
    /// weight at the cut, or nil when nothing is to be pruned.
    static func rankToCut(zeros: Int, nonFinite: Int, target: Int, path: String) throws -> Int? {
        if nonFinite > 0 {
            throw PruningError(.nonFinite, "the kernel \(path) holds \(nonFinite) NaN or infinite values",
                               hint: "the model's weights are broken; retrain or restore them")
        }
        if zeros > target {
            throw PruningError(.tooManyZeros,
                               "the kernel \(path) already has \(zeros) zeros, more than the target \(target)",
                               hint: "regrowing weights needs calibration data; or ask for at least \(zeros) zeros")
        }
        return zeros == target ? nil : target - zeros
    }

    // MARK: In memory

    private static func selectInMemory<T: KernelElement>(_ dataset: Dataset, stream: KernelStream, target: Int,
                                                         as type: T.Type) throws -> MagnitudeSelection<T>
    {
        var magnitudes: [T] = []
        magnitudes.reserveCapacity(stream.count)
        var zeros = 0
        var nonFinite = 0
        try stream.forEachSlab(of: dataset, as: T.self) { _, values in
            for x in values {
                let m = abs(x)
                if !(m < .infinity) { nonFinite += 1 } else if m == 0 { zeros += 1 } else { magnitudes.append(m) }
            }
        }
        guard let rank = try rankToCut(zeros: zeros, nonFinite: nonFinite, target: target, path: dataset.path) else {
            return MagnitudeSelection(zerosBefore: zeros, threshold: nil, passes: 1)
        }
        return MagnitudeSelection(zerosBefore: zeros, threshold: cut(in: &magnitudes, rank: rank, below: 0), passes: 1)
    }

    /// The cut at `rank` counting `below` smaller magnitudes outside `candidates`.
    static func cut<T: KernelElement>(in candidates: inout [T], rank: Int, below: Int) -> Threshold<T> {
        let local = rank - below
        precondition(local >= 1 && local <= candidates.count, "rank outside the candidates")
        let value = nthSmallest(&candidates, local - 1)
        var smaller = 0
        for m in candidates where m < value { smaller += 1 }
        return Threshold(value: value, ties: local - smaller)
    }

    /// The element that would stand at `index` were `values` sorted ascending; reorders `values`.
    /// Quickselect with median-of-three pivots; falls back to sorting the remaining range if it degenerates.
    static func nthSmallest<T: Comparable>(_ values: inout [T], _ index: Int) -> T {
        var low = 0
        var high = values.count - 1
        var budget = 2 * (Int.bitWidth - values.count.leadingZeroBitCount) + 8
        while high > low {
            if budget == 0 {
                values[low...high].sort()
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
                while values[i] < pivot { i += 1 }
                while pivot < values[j] { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
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

    // MARK: Streaming

    private struct ScanPart<T: KernelElement> {
        var zeros = 0
        var nonFinite = 0
        var below = 0
        var gathered: [T] = []
        var overflow = false
    }

    private static func selectStreaming<T: KernelElement>(_ dataset: Dataset, stream: KernelStream, target: Int,
                                                          as type: T.Type, gatherLimit: Int)
        throws -> MagnitudeSelection<T>
    {
        let (low, high) = try bracket(dataset, stream: stream, target: target, as: type)
        let perPart = max(gatherLimit / 2, 1)
        var parts = [ScanPart<T>(), ScanPart<T>()]
        try stream.forEachSlab(of: dataset, as: T.self) { _, values in
            let half = values.count / 2
            let base = SharedPointer(UnsafeBufferPointer(values))
            parts.withUnsafeMutableBufferPointer { partBuffer in
                // Each of the two workers owns one half of the slab and one part record.
                let partsPointer = SharedPointer(partBuffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: 2) { part in
                    let all = base.value
                    let slice = part == 0 ? UnsafeBufferPointer(rebasing: all[0..<half])
                        : UnsafeBufferPointer(rebasing: all[half...])
                    scan(slice, low: low, high: high, limit: perPart, into: &partsPointer.value[part])
                }
            }
        }
        let zeros = parts[0].zeros + parts[1].zeros
        let nonFinite = parts[0].nonFinite + parts[1].nonFinite
        guard let rank = try rankToCut(zeros: zeros, nonFinite: nonFinite, target: target, path: dataset.path) else {
            return MagnitudeSelection(zerosBefore: zeros, threshold: nil, passes: 1)
        }
        let below = parts[0].below + parts[1].below
        let overflow = parts[0].overflow || parts[1].overflow
        var gathered = parts[0].gathered + parts[1].gathered
        parts = []
        if !overflow, rank > below, rank - below <= gathered.count {
            return MagnitudeSelection(zerosBefore: zeros, threshold: cut(in: &gathered, rank: rank, below: below),
                                      passes: 1)
        }
        gathered = []
        let (threshold, passes) = try refineByHistogram(dataset, stream: stream, rank: rank, as: type)
        return MagnitudeSelection(zerosBefore: zeros, threshold: threshold, passes: 1 + passes)
    }

    @inline(__always)
    private static func scan<T: KernelElement>(_ values: UnsafeBufferPointer<T>, low: T, high: T, limit: Int,
                                               into part: inout ScanPart<T>)
    {
        var zeros = 0, nonFinite = 0, below = 0
        for x in values {
            let m = abs(x)
            if !(m < .infinity) {
                nonFinite += 1
            } else if m == 0 {
                zeros += 1
            } else if m < low {
                below += 1
            } else if m <= high {
                if part.gathered.count < limit { part.gathered.append(m) } else { part.overflow = true }
            }
        }
        part.zeros += zeros
        part.nonFinite += nonFinite
        part.below += below
    }

    /// Estimates magnitudes bracketing the cut from a sample of 256 segments of up to 1,024 elements,
    /// spread evenly over the kernel's rows (rows taken along the last dimension).
    private static func bracket<T: KernelElement>(_ dataset: Dataset, stream: KernelStream, target: Int,
                                                  as type: T.Type) throws -> (T, T)
    {
        let shape = stream.shape
        let columns = shape.last ?? 1
        let rows = stream.count / max(columns, 1)
        let segments = min(256, rows)
        let length = min(columns, 1024)
        var sample: [T] = []
        sample.reserveCapacity(segments * length)
        var buffer = [T](repeating: 0, count: length)
        for segment in 0..<segments {
            let row = (segment * rows) / segments + (rows / segments) / 2
            // A fixed, position-dependent column offset keeps the sample deterministic but not aligned.
            let column = columns > length ? (segment &* 7919) % (columns - length + 1) : 0
            var start: [Int] = []
            var remainder = row
            for extent in shape.dropLast().reversed() {
                start.insert(remainder % extent, at: 0)
                remainder /= extent
            }
            start.append(column)
            let count = [Int](repeating: 1, count: shape.count - 1) + [length]
            try buffer.withUnsafeMutableBufferPointer { try dataset.read(start: start, count: count, into: $0) }
            for x in buffer { sample.append(abs(x)) }
        }
        sample.sort()
        let m = Double(sample.count)
        let q = Double(target) / Double(stream.count)
        // Segments are clustered samples: take the effective size as a sixteenth of the sample.
        let standardError = (q * (1 - q) / (m / 16)).squareRoot()
        let margin = 4 * standardError + 0.002
        let lowIndex = Int(((q - margin) * m).rounded(.down))
        let highIndex = Int(((q + margin) * m).rounded(.up))
        let low = lowIndex <= 0 ? T(0) : sample[min(lowIndex, sample.count - 1)]
        let high = highIndex >= sample.count ? T.greatestFiniteMagnitude : sample[max(highIndex, 0)]
        return (low, high)
    }

    /// Narrows the cut exactly by histograms of magnitude bits, most significant 16 bits first: one full
    /// read per 16 bits (2 for float32, 4 for float64). Any number of equal magnitudes is handled, since the
    /// last step ends on a single value and its ties are counted, never gathered.
    private static func refineByHistogram<T: KernelElement>(_ dataset: Dataset, stream: KernelStream, rank: Int,
                                                            as type: T.Type) throws -> (Threshold<T>, Int)
    {
        var prefix: UInt64 = 0
        var shift = T.keyBits
        var smaller = 0
        var passes = 0
        while shift > 0 {
            let width = min(16, shift)
            let next = shift - width
            let mask = (UInt64(1) << UInt64(width)) - 1
            var histogram = [Int](repeating: 0, count: 1 << width)
            var below = 0
            try stream.forEachSlab(of: dataset, as: T.self) { _, values in
                for x in values {
                    let key = x.magnitudeKey
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
        return (Threshold(value: T(magnitudeKey: prefix), ties: rank - smaller), passes)
    }
}

/// Hands a pointer to concurrent workers that each touch a disjoint part of what it points to.
struct SharedPointer<P>: @unchecked Sendable {
    let value: P
    init(_ value: P) { self.value = value }
}
