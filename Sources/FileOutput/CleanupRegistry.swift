import Foundation
import Synchronization

/// The named temporary files and staging directories not yet committed or removed, kept so a signal handler
/// can unlink them.
///
/// Entries live in a singly linked list of C nodes that only grows: a node's path is swapped in and out
/// atomically, and freed nodes are reused, so the list is as long as the most entries ever held at once and
/// has no fixed capacity. `unlinkAll()` reads it without locking or allocating. A path is freed only after
/// its node is cleared; a handler that loaded the pointer just before may read freed (still mapped) memory
/// and unlink a garbled name, which fails harmlessly.
public final class CleanupRegistry: @unchecked Sendable {
    /// The process's registry: signal handlers are the process's too.
    public static let shared = CleanupRegistry()

    private struct Node: ~Copyable {
        /// The path's `strdup` copy as a bit pattern, or 0 when the node is free.
        let path: Atomic<UInt>
        let next: UnsafeMutablePointer<Node>?
    }

    private let lock = NSLock()
    /// The newest node; nodes are never freed.
    private let head = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: 1)

    /// The process keeps one registry, `shared`; separate ones exist for tests.
    public init() { head.initialize(to: Atomic(0)) }

    /// Registers `path` for removal by `unlinkAll()`.
    public func add(_ path: String) {
        guard let copy = strdup(path) else { preconditionFailure("out of memory") }
        let bits = UInt(bitPattern: copy)
        lock.withLock {
            var node = firstNode()
            while let current = node {
                if current.pointee.path.compareExchange(expected: 0, desired: bits, ordering: .sequentiallyConsistent)
                    .exchanged
                {
                    return
                }
                node = current.pointee.next
            }
            let fresh = UnsafeMutablePointer<Node>.allocate(capacity: 1)
            fresh.initialize(to: Node(path: Atomic(bits), next: firstNode()))
            head.pointee.store(UInt(bitPattern: fresh), ordering: .sequentiallyConsistent)
        }
        // Outside a signal handler, the walk's metadata is made now, with a path to walk over.
        walk(removing: false, directories: false)
    }

    /// Forgets `path` (it was committed or removed).
    public func remove(_ path: String) {
        lock.withLock {
            var node = firstNode()
            while let current = node {
                let bits = current.pointee.path.load(ordering: .sequentiallyConsistent)
                if let stored = UnsafeMutablePointer<CChar>(bitPattern: bits), strcmp(stored, path) == 0 {
                    current.pointee.path.store(0, ordering: .sequentiallyConsistent)
                    free(stored)
                    return
                }
                node = current.pointee.next
            }
        }
    }

    /// How many paths are registered.
    public var count: Int {
        lock.withLock {
            var total = 0
            var node = firstNode()
            while let current = node {
                if current.pointee.path.load(ordering: .sequentiallyConsistent) != 0 { total += 1 }
                node = current.pointee.next
            }
            return total
        }
    }

    /// Unlinks registered files, then removes registered (by then empty) directories. Async-signal-safe:
    /// it allocates nothing and takes no lock, provided the walk's type metadata already exists, which
    /// `add` makes sure of by walking the list once itself (a signal handler that asked the Swift runtime
    /// for metadata would call `malloc`, and deadlock if the signal came inside `malloc`).
    public func unlinkAll() {
        walk(removing: true, directories: false)
        walk(removing: true, directories: true)
    }

    /// One pass over the registered paths; with `removing` false it only touches each path.
    private func walk(removing: Bool, directories: Bool) {
        var node = firstNode()
        while let current = node {
            if let path = UnsafeMutablePointer<CChar>(
                bitPattern: current.pointee.path.load(ordering: .sequentiallyConsistent)), removing
            {
                if directories { rmdir(path) } else { unlink(path) }
            }
            node = current.pointee.next
        }
    }

    private func firstNode() -> UnsafeMutablePointer<Node>? {
        UnsafeMutablePointer<Node>(bitPattern: head.pointee.load(ordering: .sequentiallyConsistent))
    }
}
