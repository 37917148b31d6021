import HDF5

/// Applies a threshold: streams the kernel from `source` to `destination`, zeroing the pruned weights, and
/// zeroes the same positions in the optimizer slots that belong to the kernel.
enum MagnitudePruner {
    /// A slot dataset shaped like the kernel, read from the input and written to the output.
    struct Slot {
        let source: Dataset
        let destination: Dataset
    }

    /// Rewrites the kernel slab by slab in row-major order, so ties are consumed lowest index first.
    ///
    /// - Returns: the zero count of the written kernel.
    static func apply<T: KernelElement>(_ threshold: Threshold<T>?, source: Dataset, destination: Dataset,
                                        slots: [Slot], stream: KernelStream, as type: T.Type) throws -> Int
    {
        var zeros = 0
        var tiesLeft = threshold?.ties ?? 0
        let capacity = min(stream.slabRows * stream.rowElements, max(stream.count, 1))
        let values = UnsafeMutableBufferPointer<T>.allocate(capacity: capacity)
        defer { values.deallocate() }
        let pruned = UnsafeMutableBufferPointer<Bool>.allocate(capacity: slots.isEmpty ? 0 : capacity)
        defer { pruned.deallocate() }
        let slotValues = UnsafeMutableBufferPointer<T>.allocate(capacity: slots.isEmpty ? 0 : capacity)
        defer { slotValues.deallocate() }

        for slab in stream.slabs {
            let start = stream.start(row: slab.row)
            let count = stream.count(rows: slab.rows)
            let slabValues = UnsafeMutableBufferPointer(rebasing: values[0..<slab.count])
            try source.read(start: start, count: count, into: slabValues)
            if let threshold {
                let cut = threshold.value
                for index in slabValues.indices {
                    let m = abs(slabValues[index])
                    var prune = m != 0 && m < cut
                    if !prune, m == cut, m != 0, tiesLeft > 0 {
                        prune = true
                        tiesLeft -= 1
                    }
                    if prune { slabValues[index] = 0 }
                    if !slots.isEmpty { pruned[index] = prune }
                }
            }
            for value in slabValues where value == 0 { zeros += 1 }
            try destination.write(start: start, count: count, from: UnsafeBufferPointer(slabValues))

            guard threshold != nil else { continue }
            for slot in slots {
                let slab = UnsafeMutableBufferPointer(rebasing: slotValues[0..<slab.count])
                try slot.source.read(start: start, count: count, into: slab)
                for index in slab.indices where pruned[index] { slab[index] = 0 }
                try slot.destination.write(start: start, count: count, from: UnsafeBufferPointer(slab))
            }
        }
        return zeros
    }
}
