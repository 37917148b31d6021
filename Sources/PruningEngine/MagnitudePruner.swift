import HDF5

/// Applies a cut: moves the kernel from `source` to `destination` segment by segment, zeroing the pruned
/// weights, and zeroes the same positions in the optimizer slots that belong to the kernel.
enum MagnitudePruner {
    /// A slot shaped like the kernel, read from the input and written to the output.
    struct Slot<T: KernelElement> {
        let source: ElementStore<T>
        let destination: ElementStore<T>
    }

    /// - Returns: the zero count of the written kernel.
    static func apply<T: KernelElement>(_ selection: MagnitudeSelection<T>, source: ElementStore<T>,
                                        destination: ElementStore<T>, slots: [Slot<T>], segmentation: Segmentation,
                                        workers: Int = Workers.available, progress: ProgressCounter? = nil) throws
        -> Int
    {
        let segments = segmentation.segments
        let cut = selection.threshold?.value.magnitudeKey ?? 0
        let concurrent = source.allowsConcurrentIO && destination.allowsConcurrentIO
            && slots.allSatisfy { $0.source.allowsConcurrentIO && $0.destination.allowsConcurrentIO }
        // Without per-segment tie counts, ties must be consumed in row-major order by one worker.
        let tiesPerSegment = selection.tiesPerSegment
        let workerCount = concurrent && tiesPerSegment != nil ? workers : 1
        var sequentialTies = selection.threshold?.ties ?? 0

        var zeros = [Int](repeating: 0, count: segments.count)
        let size = segmentation.maxSegment
        let buffers = (0..<workerCount).map { _ in
            (values: UnsafeMutableBufferPointer<T>.allocate(capacity: size),
             pruned: UnsafeMutableBufferPointer<Bool>.allocate(capacity: slots.isEmpty ? 0 : size),
             slot: UnsafeMutableBufferPointer<T>.allocate(capacity: slots.isEmpty ? 0 : size))
        }
        defer { buffers.forEach { $0.values.deallocate(); $0.pruned.deallocate(); $0.slot.deallocate() } }

        try zeros.withUnsafeMutableBufferPointer { zeroCounts in
            try withUnsafeMutablePointer(to: &sequentialTies) { tiesLeft in
                let shared = Shared((zeroCounts, tiesLeft, buffers, source, destination, slots))
                try Workers.run(segments: segments.count, workers: workerCount) { worker, index in
                    let (zeroCounts, tiesLeft, buffers, source, destination, slots) = shared.value
                    let range = segments[index]
                    let values = UnsafeMutableBufferPointer(rebasing: buffers[worker].values[0..<range.count])
                    let pruned = slots.isEmpty ? UnsafeMutableBufferPointer<Bool>(start: nil, count: 0)
                        : UnsafeMutableBufferPointer(rebasing: buffers[worker].pruned[0..<range.count])
                    try source.read(range, into: values)
                    let ties: Int
                    if let tiesPerSegment {
                        ties = tiesPerSegment[index]
                    } else {
                        ties = tiesLeft.pointee
                    }
                    let (used, zeros) = prune(values, below: cut, ties: ties, marking: pruned)
                    if tiesPerSegment == nil { tiesLeft.pointee -= used }
                    zeroCounts[index] = zeros
                    try destination.write(range, from: UnsafeBufferPointer(values))
                    for slot in slots {
                        let slotValues = UnsafeMutableBufferPointer(rebasing: buffers[worker].slot[0..<range.count])
                        try slot.source.read(range, into: slotValues)
                        for i in slotValues.indices where pruned[i] { slotValues[i] = 0 }
                        try slot.destination.write(range, from: UnsafeBufferPointer(slotValues))
                    }
                    progress?.step()
                }
            }
        }
        return zeros.reduce(0, +)
    }

    /// Zeroes every non-zero value whose key is below `cut`, then the first `ties` values whose key equals
    /// it; marks what it zeroed when `marking` is not empty.
    /// - Returns: how many ties it zeroed, and the zeros in `values` afterwards.
    @inline(__always)
    static func prune<T: KernelElement>(_ values: UnsafeMutableBufferPointer<T>, below cut: T.Key, ties: Int,
                                        marking pruned: UnsafeMutableBufferPointer<Bool>) -> (ties: Int, zeros: Int)
    {
        var zeros = KeyLoops.prune(values, below: cut, marking: pruned)
        guard ties > 0, cut > 0 else { return (0, zeros) }
        var left = ties
        for i in values.indices where values[i].magnitudeKey == cut {
            values[i] = 0
            if !pruned.isEmpty { pruned[i] = true }
            zeros += 1
            left -= 1
            if left == 0 { break }
        }
        return (ties - left, zeros)
    }

    /// Counts values equal to zero (of either sign).
    static func countZeros<T: KernelElement>(_ values: UnsafeBufferPointer<T>) -> Int {
        KeyLoops.count(values, low: 1).zeros
    }
}
