import FileOutput
import Foundation

/// How a kernel's elements change, segment by segment: the one description both the data-free path and the
/// fine-tune give the write-back.
public struct KernelRewrite<T: KernelElement> {
    /// Whether segments may be rewritten on several threads at once.
    public let concurrent: Bool
    /// Rewrites the values of segment `index` (the flat range `range`, as read from the input) in place,
    /// marks in `newlyZero` each position that was non-zero and is now zero (when `newlyZero` is not empty),
    /// and returns the zeros in the segment afterwards.
    public let apply:
        (
            _ index: Int, _ range: Range<Int>, _ values: UnsafeMutableBufferPointer<T>,
            _ newlyZero: UnsafeMutableBufferPointer<Bool>
        ) throws -> Int

    /// A rewrite applying `apply` to each segment, on several threads when `concurrent`.
    public init(
        concurrent: Bool,
        apply:
            @escaping (
                _ index: Int, _ range: Range<Int>,
                _ values: UnsafeMutableBufferPointer<T>,
                _ newlyZero: UnsafeMutableBufferPointer<Bool>
            ) throws -> Int
    ) {
        self.concurrent = concurrent
        self.apply = apply
    }
}

/// What rewriting a kernel did.
public struct RewriteOutcome: Sendable {
    /// Zeros in the kernel as written.
    public var zeros: Int
    /// Optimizer slots in which entries were zeroed: every slot of the kernel when some weight newly
    /// became zero, else 0.
    public var slotsRewritten: Int
    /// Full reads of the kernel.
    public var passes: Int

    /// An outcome of `zeros` zeros after `passes` reads, with `slotsRewritten` slots changed.
    public init(zeros: Int, slotsRewritten: Int, passes: Int) {
        self.zeros = zeros
        self.slotsRewritten = slotsRewritten
        self.passes = passes
    }
}

/// Moves a kernel from one store to another segment by segment, rewriting each on the way.
public enum KernelRewriter {
    /// Moves the kernel from `source` to `destination` segment by segment through `rewrite`, and zeroes the
    /// slots where the kernel newly became zero.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func apply<T: KernelElement>(
        _ rewrite: KernelRewrite<T>, source: ElementStore<T>,
        destination: ElementStore<T>, slots: [any SlotRewriter],
        segmentation: Segmentation, workers: Int = Workers.available,
        progress: ProgressCounter? = nil
    ) throws -> RewriteOutcome {
        let segments = segmentation.segments
        let concurrent =
            rewrite.concurrent && source.allowsConcurrentIO && destination.allowsConcurrentIO
            && slots.allSatisfy(\.allowsConcurrentIO)
        let workerCount = concurrent ? workers : 1
        var zeros = [Int](repeating: 0, count: segments.count)
        var newly = zeros
        let size = segmentation.maxSegment
        let buffers = (0..<workerCount).map { _ in
            (
                values: UnsafeMutableBufferPointer<T>.allocate(capacity: size),
                marks: UnsafeMutableBufferPointer<Bool>.allocate(capacity: slots.isEmpty ? 0 : size)
            )
        }
        defer {
            for buffer in buffers {
                buffer.values.deallocate()
                buffer.marks.deallocate()
            }
        }
        try zeros.withUnsafeMutableBufferPointer { zeroCounts in
            try newly.withUnsafeMutableBufferPointer { newlyCounts in
                let shared = Shared((zeroCounts, newlyCounts, buffers, source, destination, slots, rewrite))
                try Workers.run(segments: segments.count, workers: workerCount) { worker, index in
                    let (zeroCounts, newlyCounts, buffers, source, destination, slots, rewrite) = shared.value
                    let range = segments[index]
                    let values = UnsafeMutableBufferPointer(rebasing: buffers[worker].values[0..<range.count])
                    let marks =
                        slots.isEmpty
                        ? UnsafeMutableBufferPointer<Bool>(start: nil, count: 0)
                        : UnsafeMutableBufferPointer(rebasing: buffers[worker].marks[0..<range.count])
                    if !marks.isEmpty { marks.initialize(repeating: false) }
                    try source.read(range, into: values)
                    zeroCounts[index] = try rewrite.apply(index, range, values, marks)
                    try destination.write(range, from: UnsafeBufferPointer(values))
                    for slot in slots { try slot.zero(range, where: UnsafeBufferPointer(marks)) }
                    newlyCounts[index] = marks.reduce(0) { $0 + ($1 ? 1 : 0) }
                    progress?.step()
                }
            }
        }
        let changed = newly.reduce(0, +) > 0
        return RewriteOutcome(zeros: zeros.reduce(0, +), slotsRewritten: changed ? slots.count : 0, passes: 1)
    }
}

/// An optimizer slot shaped like the kernel, read from the input and written to the output with zeros where
/// the kernel newly became zero.
public protocol SlotRewriter {
    var allowsConcurrentIO: Bool { get }
    /// Copies the slot's `range`, zeroing the positions marked.
    func zero(_ range: Range<Int>, where marks: UnsafeBufferPointer<Bool>) throws
}

/// A slot of element type `U`, whatever the kernel's.
public struct SlotZeroer<U: KernelElement>: SlotRewriter {
    /// Where the slot is read.
    public let source: ElementStore<U>
    /// Where it is written.
    public let destination: ElementStore<U>

    /// A slot read from `source` and written to `destination`.
    public init(source: ElementStore<U>, destination: ElementStore<U>) {
        self.source = source
        self.destination = destination
    }

    /// Whether both stores allow disjoint ranges to move on several threads.
    public var allowsConcurrentIO: Bool { source.allowsConcurrentIO && destination.allowsConcurrentIO }

    @specialized(where U == Float)
    @specialized(where U == Double)
    /// Copies the slot's `range`, zeroing the positions marked.
    public func zero(_ range: Range<Int>, where marks: UnsafeBufferPointer<Bool>) throws {
        let values = UnsafeMutableBufferPointer<U>.allocate(capacity: range.count)
        defer { values.deallocate() }
        try source.read(range, into: values)
        for i in values.indices where marks[i] { values[i] = 0 }
        try destination.write(range, from: UnsafeBufferPointer(values))
    }
}
