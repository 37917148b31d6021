import Dispatch

/// Runs `body` on the ranges that split `0..<count` into about `threads` equal parts, in parallel; the
/// ranges do not overlap, so each call may write its own part of an output. One range (no threads woken)
/// when `threads` is 1 or the work (`count` × `cost`, in multiply-adds or elements moved) is too small to
/// be worth waking a thread for. Returns when every part is done.
func parallelRanges(_ count: Int, threads: Int, cost: Int, _ body: (Range<Int>) -> Void) {
    let parts = min(count, cost * count < 1 << 16 ? 1 : max(threads, 1))
    guard parts > 1 else {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        // The callers' bodies write disjoint ranges of buffers they lend for the duration of this call, and
        // concurrentPerform returns only after every iteration: nothing is shared beyond that.
        let task = UncheckedTask(body: body)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            task.body((part * count / parts)..<((part + 1) * count / parts))
        }
    }
}

/// A body run on several threads at once, each on its own range.
private struct UncheckedTask: @unchecked Sendable {
    let body: (Range<Int>) -> Void
}
